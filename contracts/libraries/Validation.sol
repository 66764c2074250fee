// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IRegistry} from "../IRegistry.sol";

/**
 * @dev On-chain shape checks for names and versions. They keep garbage out of the registry cheaply;
 * the CLI applies the full rules (semver precedence, SPDX, ranges) before a transaction is sent.
 */
library Validation {
    uint256 internal constant MAX_NAME_LENGTH = 64;
    uint256 internal constant MAX_VERSION_LENGTH = 64;

    /// @dev 1..64 bytes of [a-z0-9-_.], starting with [a-z0-9] (so no name looks like a path: `.`, `..`).
    function checkName(string calldata name) internal pure {
        bytes calldata b = bytes(name);
        uint256 length = b.length;
        if (length == 0 || length > MAX_NAME_LENGTH || !_isLowerAlnum(b[0])) {
            revert IRegistry.RegistryInvalidName(name);
        }
        for (uint256 i = 1; i < length; ++i) {
            bytes1 c = b[i];
            if (!_isLowerAlnum(c) && c != "-" && c != "_" && c != ".") revert IRegistry.RegistryInvalidName(name);
        }
    }

    /**
     * @dev Semver shape: MAJOR.MINOR.PATCH (digits, no leading zeros), then an optional `-PRE` and an optional
     * `+BUILD`, each dot-separated non-empty identifiers of [0-9A-Za-z-]; at most 64 bytes. Returns where its
     * build metadata starts: the length of the part semver compares, `1.0.0` in `1.0.0+linux`; zero when it has
     * none.
     *
     * This runs on every publish, a hundred times in a batch, so it is one pass in assembly instead of
     * bounds-checked indexing (about 1,100 gas for "1.2.3" instead of 1,800). Reads past the end are harmless:
     * every loop condition also requires `p < end`; `c - 0x30 < 10` style range checks rely on wrapping
     * subtraction.
     */
    function checkVersion(string calldata version) internal pure returns (uint256 withoutBuild) {
        bool valid;
        assembly ("memory-safe") {
            let length := version.length
            let p := version.offset
            let end := add(p, length)
            valid := and(gt(length, 0), iszero(gt(length, MAX_VERSION_LENGTH)))
            for { let part := 0 } and(valid, lt(part, 3)) { part := add(part, 1) } {
                if part {
                    switch and(lt(p, end), eq(byte(0, calldataload(p)), 0x2e)) // "."
                    case 0 { valid := 0 }
                    default { p := add(p, 1) }
                }
                let start := p
                for {} and(lt(p, end), lt(sub(byte(0, calldataload(p)), 0x30), 10)) {} { p := add(p, 1) }
                let digits := sub(p, start)
                // empty, or a leading zero followed by more digits
                if or(iszero(digits), and(gt(digits, 1), eq(byte(0, calldataload(start)), 0x30))) { valid := 0 }
            }
            if and(valid, lt(p, end)) {
                // 1: in the pre-release ("-"), 2: in the build metadata ("+")
                let phase := 0
                switch byte(0, calldataload(p))
                case 0x2d { phase := 1 }
                case 0x2b { phase := 2 withoutBuild := sub(p, version.offset) }
                default { valid := 0 }
                p := add(p, 1)
                let identifier := 0 // length of the current identifier
                for {} and(valid, lt(p, end)) { p := add(p, 1) } {
                    let c := byte(0, calldataload(p))
                    switch c
                    case 0x2e {
                        if iszero(identifier) { valid := 0 }
                        identifier := 0
                    }
                    case 0x2b {
                        if or(eq(phase, 2), iszero(identifier)) { valid := 0 }
                        phase := 2
                        identifier := 0
                        withoutBuild := sub(p, version.offset)
                    }
                    default {
                        let alnum := or(lt(sub(c, 0x30), 10), or(lt(sub(c, 0x41), 26), lt(sub(c, 0x61), 26)))
                        if iszero(or(alnum, eq(c, 0x2d))) { valid := 0 }
                        identifier := add(identifier, 1)
                    }
                }
                if iszero(identifier) { valid := 0 }
            }
        }
        if (!valid) revert IRegistry.RegistryInvalidVersion(version);
    }

    /**
     * @dev A repository version: semver-shaped, or a release name such as `23.05` or `2026.11-lts` (distributions
     * name releases by date). 1..64 bytes of [0-9A-Za-z.+-], starting and ending with [0-9A-Za-z], no `..`.
     * Repository versions are referenced exactly, never by range, so no ordering is implied, and `+` is plain
     * text in them: `1.0.0` and `1.0.0+b5` are two repository versions (unlike package versions).
     */
    function checkReleaseName(string calldata version) internal pure {
        bytes calldata b = bytes(version);
        uint256 length = b.length;
        if (length == 0 || length > MAX_VERSION_LENGTH || !_isAlnum(b[0]) || !_isAlnum(b[length - 1])) {
            revert IRegistry.RegistryInvalidVersion(version);
        }
        for (uint256 i = 1; i < length - 1; ++i) {
            bytes1 c = b[i];
            if (c == ".") {
                if (b[i + 1] == ".") revert IRegistry.RegistryInvalidVersion(version);
            } else if (!_isAlnum(c) && c != "-" && c != "+") {
                revert IRegistry.RegistryInvalidVersion(version);
            }
        }
    }

    function _isAlnum(bytes1 c) private pure returns (bool) {
        return _isLowerAlnum(c) || (c >= "A" && c <= "Z");
    }

    function _isLowerAlnum(bytes1 c) private pure returns (bool) {
        return (c >= "a" && c <= "z") || (c >= "0" && c <= "9");
    }
}
