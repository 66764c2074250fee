// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {RegistryCore} from "../RegistryCore.sol";
import {CidCodec} from "../libraries/CidCodec.sol";
import {Validation} from "../libraries/Validation.sol";
import {VersionList} from "../libraries/VersionList.sol";

/**
 * @title RegistryBatch
 * @dev Extension of {RegistryCore} with {publishBatch}: many versions of many packages in one transaction, in the
 * compact {IRegistry-PackageReleases} encoding (mirrors, migrations). Each entry is authorized by the same
 * {RegistryCore-_checkPackageMaintainer} hook as {RegistryCore-publish}, so whatever an extension grants or refuses
 * there holds for batches too.
 */
abstract contract RegistryBatch is RegistryCore {
    using VersionList for VersionList.List;

    /**
     * @dev Publishes many versions of many packages in one transaction, each as by {RegistryCore-publish}; all or
     * nothing. See {IRegistry-PackageReleases} for the compact encoding.
     *
     * Requirements:
     * - for every entry, the caller owns or maintains the package;
     * - every version is semver-shaped and new, also ignoring build metadata (as by {RegistryCore-publish}), every
     *   CID header supported;
     * - every entry's `versions` splits into exactly as many versions as it has meta and src digests.
     *
     * Emits a {PublishedBatch} event per entry.
     */
    function publishBatch(PackageReleases[] calldata batch) external {
        for (uint256 i = 0; i < batch.length; ++i) {
            PackageReleases calldata entry = batch[i];
            bytes32 packageId_ = _packageIdOf(entry.repositoryId, entry.name);
            _checkPackageMaintainer(packageId_);
            _publishReleases(packageId_, entry, i);
        }
    }

    /**
     * @dev Adds the versions of one {publishBatch} entry, `index`, to the package `packageId_` derived from it; the
     * caller's rights are not checked. The list's head and count stay in memory for the whole entry and are written
     * once.
     *
     * Requirements:
     * - as {publishBatch} for one entry, but the caller's rights.
     *
     * Emits a {PublishedBatch} event.
     */
    function _publishReleases(bytes32 packageId_, PackageReleases calldata entry, uint256 index) internal virtual {
        uint8 metaKind = CidCodec.kindOfHeader(entry.metaCidHeader);
        uint8 srcKind = CidCodec.kindOfHeader(entry.srcCidHeader);
        VersionList.List storage versions = _packageVersions(packageId_);
        bytes calldata packed = entry.versions;
        uint256 count = entry.metaDigests.length;
        if (entry.srcDigests.length != count) revert RegistryMalformedBatch(index);
        bytes28 head = versions.head;
        uint256 offset = 0;
        uint256 packedLength = packed.length;
        for (uint256 j = 0; j < count; ++j) {
            // bounds are checked here once, so the reads below skip Solidity's per-access checks;
            // unchecked: offsets are bounded by the calldata length, j by `count`
            string calldata version;
            unchecked {
                if (offset >= packedLength) revert RegistryMalformedBatch(index);
                uint256 start = offset + 1;
                uint256 end = start + uint8(bytes1(_byteAt(packed, offset)));
                if (end > packedLength) revert RegistryMalformedBatch(index);
                assembly ("memory-safe") {
                    version.offset := add(packed.offset, start)
                    version.length := sub(end, start)
                }
                offset = end;
            }
            uint256 withoutBuild = Validation.checkVersion(version);
            (bytes32 metaDigest, bytes32 srcDigest) = (_at(entry.metaDigests, j), _at(entry.srcDigests, j));
            bytes28 key = versions.insert(head, version, withoutBuild, metaDigest, metaKind, srcDigest, srcKind);
            if (key == 0) _revertVersionExists(packageId_, versions, version);
            head = key;
        }
        if (offset != packedLength) revert RegistryMalformedBatch(index);
        versions.setHead(head, versions.count + uint32(count));
        emit PublishedBatch(entry.repositoryId, packageId_, packed);
    }

    /// @dev `data[index]` without a bounds check.
    function _byteAt(bytes calldata data, uint256 index) private pure returns (bytes32 b) {
        assembly ("memory-safe") {
            b := calldataload(add(data.offset, index))
        }
    }

    /// @dev `items[index]` without a bounds check: callers loop over `index < items.length`.
    function _at(bytes32[] calldata items, uint256 index) private pure returns (bytes32 item) {
        assembly ("memory-safe") {
            item := calldataload(add(items.offset, shl(5, index)))
        }
    }
}
