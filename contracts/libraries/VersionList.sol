// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IRegistry} from "../IRegistry.sol";

/**
 * @dev The versions of one package or repository: a map from version to record that is also a list
 * (newest first), at three new storage slots per version — the floor for two 32-byte digests plus an
 * enumerable entry. The trick is the key: a version of at most 28 bytes *is* its key (left-aligned ASCII),
 * so the record's third slot holds both the link to the previous version and the flags, and no separate
 * index array or reverse map is needed. Longer versions (29..64 bytes) are keyed by a hash whose first
 * byte is zero — never the first byte of an ASCII version — and cost extra slots for the string itself.
 *
 * Package versions that differ only in build metadata (`1.0.0`, `1.0.0+a`, `1.0.0+b`) are one version under
 * semver, so {insert} adds only the first of them: inserting `V+BUILD` also marks the record of `V` (without
 * publishing it) with `buildVariant`, and a version is refused when its own record, or for `V+BUILD` the record
 * of `V`, is published or marked. The mark lives in the record's third slot, which the existence check reads
 * anyway, so versions without build metadata pay only for a mask and a branch.
 */
library VersionList {
    /// @dev One version. Slots (3): two digests of 32 bytes each alone in theirs, then one shared by the rest.
    struct Record {
        bytes32 metaDigest; // slot 0
        bytes32 srcDigest; // slot 1 (unused by repository versions)
        // slot 2: 28 + 1 + 1 + 1 + 1 bytes
        bytes28 previous; // key of the next older version; zero for the oldest
        uint8 metaKind; // CidCodec kind, never zero once published: the existence flag
        uint8 srcKind;
        bool yanked;
        bool buildVariant; // set on the (never published) record of V once a V+BUILD was added
    }

    /// @dev The versions of one package or repository. Slots (3): head and count share the first, so that adding a
    /// version reads and writes one slot of the list; the two maps take a slot each (their entries live elsewhere).
    struct List {
        // slot 0: 28 + 4 bytes
        bytes28 head; // key of the newest version; zero when empty
        uint32 count;
        mapping(bytes28 key => Record) records; // slot 1
        mapping(bytes28 key => string) longVersions; // slot 2: versions of 29..64 bytes, by their hashed key
    }

    uint256 private constant _INLINE_LENGTH = 28;
    /// @dev In the record's third slot: metaKind (bits 224..231) and buildVariant (bits 248..255).
    uint256 private constant _TAKEN_MASK = (uint256(0xff) << 224) | (uint256(0xff) << 248);

    /// @dev The key of a shape-checked `version` (non-empty, no NUL bytes): what publishing uses.
    function keyOf(string calldata version) internal pure returns (bytes28 key) {
        bytes calldata b = bytes(version);
        if (b.length <= _INLINE_LENGTH) {
            // the bytes past the end are masked off (the word read may hold the next argument)
            assembly ("memory-safe") {
                key := and(calldataload(b.offset), not(sub(shl(mul(sub(32, b.length), 8), 1), 1)))
            }
        } else {
            key = bytes28(keccak256(b) >> 8);
        }
    }

    /**
     * @dev The key of a version to look up, which nobody checked: a short version with a NUL byte is refused,
     * since "1.0.0\0" would otherwise share the key of "1.0.0". (Publishing checks the shape first and uses
     * {keyOf}, saving this on the hot path.)
     */
    function lookupKeyOf(string calldata version) internal pure returns (bytes28 key) {
        key = keyOf(version);
        bytes calldata b = bytes(version);
        if (b.length <= _INLINE_LENGTH) {
            bool hasNul;
            assembly ("memory-safe") {
                // is any of the first `length` bytes zero? (the tail is filled with 0x01 first)
                let ones := 0x0101010101010101010101010101010101010101010101010101010101010101
                let v := or(key, and(sub(shl(mul(sub(32, b.length), 8), 1), 1), ones))
                hasNul := iszero(iszero(and(and(sub(v, ones), not(v)), shl(7, ones))))
            }
            if (hasNul) revert IRegistry.RegistryInvalidVersion(version);
        }
    }

    /// @dev The version string behind `key`.
    function versionOf(List storage list, bytes28 key) internal view returns (string memory version) {
        if (key[0] == 0) return list.longVersions[key];
        uint256 length = 0;
        while (length < _INLINE_LENGTH && key[length] != 0) ++length;
        version = new string(length);
        assembly ("memory-safe") {
            mstore(add(version, 32), key)
        }
    }

    /**
     * @dev Appends a version as the newest. Returns false, changing nothing, when the version exists (or, for
     * a package version, one equal to it but for build metadata; see {insert}). `metaKind` must not be zero.
     */
    function add(
        List storage list,
        string calldata version,
        uint256 withoutBuild,
        bytes32 metaDigest,
        uint8 metaKind,
        bytes32 srcDigest,
        uint8 srcKind
    ) internal returns (bool) {
        (bytes28 head, uint32 count) = (list.head, list.count);
        bytes28 key = insert(list, head, version, withoutBuild, metaDigest, metaKind, srcDigest, srcKind);
        if (key == 0) return false;
        setHead(list, key, count + 1);
        return true;
    }

    /// @dev Moves the head and count (one slot: head in bits 0..223, count in 224..255) in one SSTORE.
    function setHead(List storage list, bytes28 head, uint32 count) internal {
        uint256 packed = uint256(uint224(head)) | (uint256(count) << 224);
        assembly ("memory-safe") {
            sstore(list.slot, packed)
        }
    }

    /**
     * @dev Writes the record of a new version linked to `head`, without moving the list's head: the caller
     * must then set `head` to the returned key and add one to `count` per inserted version (a batch does it
     * once per package). Returns zero, changing nothing, when the version exists or its record is marked.
     *
     * `withoutBuild` is where the build metadata of a package version `V+BUILD` starts, the length of `V`, as
     * returned by {Validation-checkVersion}; zero when there is none, and always zero for repository versions
     * (release names are compared as text). When it is not zero, the version is also refused when `V` is
     * published or marked (another `V+OTHER` was added), and else `V` is marked.
     */
    function insert(
        List storage list,
        bytes28 head,
        string calldata version,
        uint256 withoutBuild,
        bytes32 metaDigest,
        uint8 metaKind,
        bytes32 srcDigest,
        uint8 srcKind
    ) internal returns (bytes28 key) {
        key = keyOf(version);
        Record storage record = list.records[key];
        if (_isTaken(record)) return 0;
        if (withoutBuild != 0) {
            Record storage base = list.records[keyOf(_prefix(version, withoutBuild))];
            if (_isTaken(base)) return 0;
            base.buildVariant = true;
        }
        record.metaDigest = metaDigest;
        if (srcKind != 0) record.srcDigest = srcDigest;
        // The third slot in one SSTORE. Solidity packs members from the low-order end: previous (bits 0..223) |
        // metaKind (224..231) | srcKind (232..239) | yanked (240..247, false) | buildVariant (248..255, false: a
        // marked record was refused above).
        uint256 packed = uint256(uint224(head)) | (uint256(metaKind) << 224) | (uint256(srcKind) << 232);
        assembly ("memory-safe") {
            sstore(add(record.slot, 2), packed)
        }
        if (key[0] == 0) list.longVersions[key] = version;
    }

    /// @dev The record of `version`; `metaKind` is zero when it was never published.
    function get(List storage list, string calldata version) internal view returns (Record storage) {
        return list.records[lookupKeyOf(version)];
    }

    /// @dev Whether the record's version is published, or marked as taken by a build of it: one SLOAD.
    function _isTaken(Record storage record) private view returns (bool taken) {
        uint256 mask = _TAKEN_MASK;
        assembly ("memory-safe") {
            taken := iszero(iszero(and(sload(add(record.slot, 2)), mask)))
        }
    }

    /// @dev The first `length` bytes of `version` (at most its length), without a copy.
    function _prefix(string calldata version, uint256 length) private pure returns (string calldata prefix) {
        assembly ("memory-safe") {
            prefix.offset := version.offset
            prefix.length := length
        }
    }
}
