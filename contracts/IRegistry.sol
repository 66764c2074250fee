// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/**
 * @dev The package registry: repositories (named, optionally versioned collections of packages) and
 * packages (per version a meta CID, a src CID and a yanked flag), after the seed's data model:
 *
 *   Chain      { repositories: Name => Repository, packages: PackageId => Package }
 *   Repository { meta: Version => Cid, yanked: Version => bool, packages: Name => PackageId }
 *   Package    { meta: Version => Cid, src: Version => Cid, yanked: Version => bool }
 *
 * Identifiers are derived, never assigned, so clients compute them offline:
 *   repositoryId = keccak256(bytes(repositoryName))
 *   packageId    = keccak256(abi.encode(repositoryId, packageName))
 *
 * CIDs cross this interface as binary CIDs (CIDv0 or CIDv1, 32-byte digest); they are stored as the
 * digest plus a one-byte kind and returned byte for byte as published.
 *
 * A repository or package is controlled by one owner (two-step transfer) and a set of maintainers.
 * Maintainers and the owner publish and yank; only the owner manages maintainers and ownership.
 *
 * The deployed {Registry} composes a core ({RegistryCore}: everything above) with two extensions:
 * {RegistryBatch} ({publishBatch}) and {RegistryImport} (a migration account's powers, ended by `sealImport()`).
 * This interface declares the events and errors of all three.
 */
interface IRegistry {
    // ---------------------------------------------------------------- views' types

    /// @dev One version of a package. `srcCid` is empty for repository versions.
    struct VersionView {
        string version;
        bytes metaCid;
        bytes srcCid;
        bool yanked;
    }

    /// @dev A package with one page of its versions, newest first. `owner` is zero for an unknown id.
    struct PackageView {
        bytes32 packageId;
        bytes32 repositoryId;
        string name;
        address owner;
        uint256 versionCount;
        VersionView[] versions;
        bytes32 nextCursor;
    }

    /// @dev A repository's header. `owner` is zero for an unknown id.
    struct RepositoryView {
        bytes32 repositoryId;
        string name;
        address owner;
        address pendingOwner;
        bool curated;
        uint256 versionCount;
        uint256 packageCount;
    }

    /**
     * @dev Releases of one package in a {publishBatch} call, in a compact form for mirrors and migrations
     * (calldata is most of a bulk publish's cost above storage). The package is named as in {publish}.
     * `versions` holds each version as one length byte followed by its ASCII bytes; the i-th version's
     * CIDs are `metaCidHeader ++ metaDigests[i]` and `srcCidHeader ++ srcDigests[i]`, where a header is
     * the binary CID without its digest (0x01551220 for CIDv1 raw sha2-256, 0x1220 for CIDv0, ...).
     * Versions whose CIDs have other headers go in another entry for the same package.
     */
    struct PackageReleases {
        bytes32 repositoryId;
        string name;
        bytes versions;
        bytes metaCidHeader;
        bytes32[] metaDigests;
        bytes srcCidHeader;
        bytes32[] srcDigests;
    }

    // ---------------------------------------------------------------- events

    /// @dev A repository was created by `owner`.
    event RepositoryCreated(bytes32 indexed repositoryId, string name, address indexed owner, bool curated);

    /// @dev A repository switched between open (anyone registers packages) and curated (maintainers only).
    event RepositoryCurationChanged(bytes32 indexed repositoryId, bool curated);

    /// @dev A package was registered in a repository; `owner` is the registrant.
    event PackageRegistered(
        bytes32 indexed repositoryId,
        bytes32 indexed packageId,
        string name,
        address indexed owner
    );

    /// @dev A package version was published. Its CIDs are read through {getPackageVersion} (views, not logs,
    /// are the source of truth for resolvers; leaving them out of the log keeps publishing near the storage floor).
    event Published(bytes32 indexed repositoryId, bytes32 indexed packageId, string version);

    /// @dev Versions of a package were published by {publishBatch}; `versions` is encoded as in {PackageReleases}.
    event PublishedBatch(bytes32 indexed repositoryId, bytes32 indexed packageId, bytes versions);

    /// @dev A package version was yanked (`yanked` true) or unyanked.
    event YankChanged(bytes32 indexed repositoryId, bytes32 indexed packageId, string version, bool yanked);

    /// @dev A repository version was published; its meta CID is the repository lock.
    event RepositoryPublished(bytes32 indexed repositoryId, string version, bytes metaCid);

    /// @dev A repository version was yanked or unyanked.
    event RepositoryYankChanged(bytes32 indexed repositoryId, string version, bool yanked);

    /// @dev `account` became a maintainer of the repository or package `id`.
    event MaintainerAdded(bytes32 indexed id, address indexed account);

    /// @dev `account` stopped being a maintainer of the repository or package `id`.
    event MaintainerRemoved(bytes32 indexed id, address indexed account);

    /// @dev The owner of `id` offered ownership to `newOwner` (zero cancels an offer).
    event OwnershipTransferStarted(bytes32 indexed id, address indexed previousOwner, address indexed newOwner);

    /// @dev Ownership of `id` moved to `newOwner`.
    event OwnershipTransferred(bytes32 indexed id, address indexed previousOwner, address indexed newOwner);

    /// @dev A registry was deployed with `importer` as its migration account (see {RegistryImport}).
    event ImportOpened(address indexed importer);

    /// @dev The importer gave up its migration powers for good.
    event ImportSealed(address indexed importer);

    // ---------------------------------------------------------------- errors

    /// @dev A repository or package name is empty, too long, or has a character outside [a-z0-9-_.].
    error RegistryInvalidName(string name);

    /// @dev A version is empty, too long, or not shaped MAJOR.MINOR.PATCH[-PRE][+BUILD].
    error RegistryInvalidVersion(string version);

    /// @dev A CID is not a CIDv0 or a supported CIDv1 with a 32-byte digest.
    error RegistryUnsupportedCid(bytes cid);

    /// @dev A repository of that name already exists.
    error RegistryRepositoryExists(bytes32 repositoryId, string name);

    /// @dev A package of that name already exists in the repository.
    error RegistryPackageExists(bytes32 packageId, string name);

    /// @dev No repository has that id.
    error RegistryUnknownRepository(bytes32 repositoryId);

    /// @dev No package has that id.
    error RegistryUnknownPackage(bytes32 packageId);

    /// @dev Neither a repository nor a package has that id.
    error RegistryUnknownId(bytes32 id);

    /// @dev The version was published before; published versions never change.
    error RegistryVersionExists(bytes32 id, string version);

    /**
     * @dev A package version equal to `version` under semver was published before: `version` and it differ only
     * in build metadata (`+BUILD`), which semver ignores when comparing, so ranges could not tell them apart.
     * `withoutBuild` is `version` without its build metadata; the one published is `withoutBuild` itself or
     * `withoutBuild` with other build metadata.
     */
    error RegistryEquivalentVersionExists(bytes32 id, string version, string withoutBuild);

    /// @dev The version was never published.
    error RegistryUnknownVersion(bytes32 id, string version);

    /// @dev A {PackageReleases} entry is malformed: `versions` does not split into as many versions as digests.
    error RegistryMalformedBatch(uint256 index);

    /// @dev A pagination cursor does not name a version of `id`.
    error RegistryInvalidCursor(bytes32 id, bytes32 cursor);

    /// @dev `account` may not do this to `id` (a repository or package).
    error RegistryUnauthorized(bytes32 id, address account);

    /// @dev `account` is not the pending owner of `id`.
    error RegistryNotPendingOwner(bytes32 id, address account);

    /// @dev The zero address cannot own or maintain anything.
    error RegistryZeroAddress();

    /// @dev No import is open: its importer sealed it already, or the registry was deployed without an importer.
    error RegistryImportSealed();

    /// @dev `account` is not the importer of the open import; only the importer may seal it.
    error RegistryNotImporter(address account);

    // ---------------------------------------------------------------- repositories

    /// @dev Creates the repository `name` owned by the caller. Open repositories let anyone register packages.
    function createRepository(string calldata name, bool curated) external returns (bytes32 repositoryId);

    /// @dev Switches a repository between open and curated. Owner only.
    function setCurated(bytes32 repositoryId, bool curated) external;

    /// @dev Publishes a repository version whose meta CID is the repository lock. Owner or maintainer.
    function publishRepository(bytes32 repositoryId, string calldata version, bytes calldata metaCid) external;

    /// @dev Sets the yanked flag of a repository version. Owner or maintainer.
    function setRepositoryYanked(bytes32 repositoryId, string calldata version, bool yanked) external;

    // ---------------------------------------------------------------- packages

    /// @dev Registers the package `name` in a repository; the caller becomes its owner.
    function registerPackage(bytes32 repositoryId, string calldata name) external returns (bytes32 packageId);

    /**
     * @dev Publishes a new version of the package `name` of a repository. Owner or maintainer of the package.
     * Package mutations name the package by repository id and name: the contract derives the package id, so
     * events index both ids without a storage read. Versions that differ only in build metadata (`1.0.0`,
     * `1.0.0+linux`) are one version: only the first of them can be published (crates.io's rule).
     */
    function publish(
        bytes32 repositoryId_,
        string calldata name,
        string calldata version,
        bytes calldata metaCid,
        bytes calldata srcCid
    ) external;

    /// @dev Publishes many versions of many packages in one transaction (mirrors, migrations); all or nothing.
    function publishBatch(PackageReleases[] calldata batch) external;

    /// @dev Sets the yanked flag of a package version. Owner or maintainer of the package.
    function setYanked(bytes32 repositoryId_, string calldata name, string calldata version, bool yanked) external;

    // -------------------------------------------------------------- owners and maintainers (repositories and packages)

    /// @dev Makes `account` a maintainer of the repository or package `id`. Owner only.
    function addMaintainer(bytes32 id, address account) external;

    /// @dev Removes `account` from the maintainers of the repository or package `id`. Owner only.
    function removeMaintainer(bytes32 id, address account) external;

    /// @dev Offers ownership of `id` to `newOwner`, who must {acceptOwnership}; zero cancels the offer.
    function transferOwnership(bytes32 id, address newOwner) external;

    /// @dev Completes the transfer of `id` that {transferOwnership} offered to the caller.
    function acceptOwnership(bytes32 id) external;

    // ---------------------------------------------------------------- views

    /// @dev The id of the repository `name`: `keccak256(bytes(name))`, whether it exists or not.
    function repositoryId(string calldata name) external pure returns (bytes32);

    /// @dev The id of the package `name` of a repository: `keccak256(abi.encode(repositoryId_, name))`.
    function packageId(bytes32 repositoryId_, string calldata name) external pure returns (bytes32);

    /// @dev The owner of the repository or package `id`; zero when `id` does not exist.
    function owner(bytes32 id) external view returns (address);

    /// @dev The account {transferOwnership} offered `id` to; zero when there is no offer.
    function pendingOwner(bytes32 id) external view returns (address);

    /// @dev Whether `account` is a maintainer of `id` (the owner is not one unless added).
    function isMaintainer(bytes32 id, address account) external view returns (bool);

    /// @dev The maintainers of `id`, in no particular order.
    function getMaintainers(bytes32 id) external view returns (address[] memory);

    /// @dev How many repositories exist.
    function repositoryCount() external view returns (uint256);

    /// @dev Up to `limit` repository ids from `offset` on, in creation order.
    function getRepositoryIds(uint256 offset, uint256 limit) external view returns (bytes32[] memory);

    /// @dev A repository's header; its `owner` is zero for an unknown id (or a package's id).
    function getRepository(bytes32 repositoryId_) external view returns (RepositoryView memory);

    /// @dev Up to `limit` ids of a repository's packages from `offset` on, in registration order.
    function getRepositoryPackages(bytes32 repositoryId_, uint256 offset, uint256 limit)
        external
        view
        returns (bytes32[] memory);

    /// @dev One repository version. Reverts with {RegistryUnknownVersion} when it was never published.
    function getRepositoryVersion(bytes32 repositoryId_, string calldata version)
        external
        view
        returns (VersionView memory);

    /// @dev One page of a repository's versions, newest first; `cursor` 0 starts at the newest.
    function getRepositoryVersions(bytes32 repositoryId_, bytes32 cursor, uint256 limit)
        external
        view
        returns (VersionView[] memory page, bytes32 nextCursor);

    /// @dev One package version. Reverts with {RegistryUnknownVersion} when it was never published.
    function getPackageVersion(bytes32 packageId_, string calldata version) external view returns (VersionView memory);

    /// @dev One page of a package's versions, newest first; `cursor` 0 starts at the newest.
    function getPackageVersions(bytes32 packageId_, bytes32 cursor, uint256 limit)
        external
        view
        returns (VersionView[] memory page, bytes32 nextCursor);

    /// @dev Many packages at once, each with up to `versionLimit` of its newest versions: one call per graph level.
    function getPackages(bytes32[] calldata packageIds, uint256 versionLimit)
        external
        view
        returns (PackageView[] memory);
}
