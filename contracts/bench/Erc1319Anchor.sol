// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/**
 * @dev Benchmark anchor only, never deployed by the product: the storage an ERC-1319 reference registry
 * (EthPM's) writes for one release, rewritten here so that `bench/gas.ts` can measure it in the same run
 * as {Registry}. Per release it stores an existence flag, a timestamp, the package id, the version and the
 * manifest URI as strings, the release in a global and a per-package index, and bumps two counters and the
 * package's `updatedAt` — the "strings in storage" design this project's registry is compared against.
 */
contract Erc1319Anchor {
    struct Package {
        bool exists;
        uint256 createdAt;
        uint256 updatedAt;
        uint256 releaseCount;
        string name;
    }

    struct Release {
        bool exists;
        uint256 createdAt;
        bytes32 packageId;
        string version;
        string manifestURI;
    }

    error AnchorReleaseExists();

    event VersionRelease(string packageName, string version, string manifestURI);

    mapping(bytes32 packageId => Package) private _packages;
    mapping(bytes32 releaseId => Release) private _releases;
    mapping(bytes32 packageReleaseKey => bytes32 releaseId) private _packageReleases;
    mapping(uint256 index => bytes32 packageId) private _allPackages;
    mapping(uint256 index => bytes32 releaseId) private _allReleases;
    uint256 public packageCount;
    uint256 public releaseCount;

    function release(string calldata packageName, string calldata version, string calldata manifestURI)
        external
        returns (bytes32 releaseId)
    {
        bytes32 packageId = keccak256(bytes(packageName));
        releaseId = keccak256(abi.encodePacked(packageName, version));
        Package storage package = _packages[packageId];
        if (!package.exists) {
            package.exists = true;
            package.createdAt = block.timestamp;
            package.name = packageName;
            _allPackages[packageCount++] = packageId;
        }
        package.updatedAt = block.timestamp;
        Release storage entry = _releases[releaseId];
        if (entry.exists) revert AnchorReleaseExists();
        entry.exists = true;
        entry.createdAt = block.timestamp;
        entry.packageId = packageId;
        entry.version = version;
        entry.manifestURI = manifestURI;
        _allReleases[releaseCount++] = releaseId;
        _packageReleases[keccak256(abi.encodePacked(packageId, package.releaseCount++))] = releaseId;
        emit VersionRelease(packageName, version, manifestURI);
    }
}
