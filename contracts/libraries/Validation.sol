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
     * `+BUILD`, each dot-separated non-empty identifiers of [0-9A-Za-z-]; at most 64 bytes.
     */
    function checkVersion(string calldata version) internal pure {
        bytes calldata b = bytes(version);
        uint256 length = b.length;
        if (length == 0 || length > MAX_VERSION_LENGTH) revert IRegistry.RegistryInvalidVersion(version);
        uint256 i = 0;
        for (uint256 part = 0; part < 3; ++part) {
            if (part != 0) {
                if (i >= length || b[i] != ".") revert IRegistry.RegistryInvalidVersion(version);
                ++i;
            }
            uint256 start = i;
            while (i < length && _isDigit(b[i])) ++i;
            // empty, or a leading zero followed by more digits
            if (i == start || (b[start] == "0" && i - start > 1)) revert IRegistry.RegistryInvalidVersion(version);
        }
        if (i < length && b[i] == "-") i = _identifiers(b, i + 1, version);
        if (i < length && b[i] == "+") i = _identifiers(b, i + 1, version);
        if (i != length) revert IRegistry.RegistryInvalidVersion(version);
    }

    /// @dev Dot-separated non-empty identifiers from `i`, up to a `+` or the end; returns where they stop.
    function _identifiers(bytes calldata b, uint256 i, string calldata version) private pure returns (uint256) {
        uint256 length = b.length;
        uint256 start = i;
        for (; i < length; ++i) {
            bytes1 c = b[i];
            if (c == ".") {
                if (i == start) revert IRegistry.RegistryInvalidVersion(version);
                start = i + 1;
            } else if (c == "+") {
                break;
            } else if (!_isDigit(c) && !_isLowerAlnum(c) && !(c >= "A" && c <= "Z") && c != "-") {
                revert IRegistry.RegistryInvalidVersion(version);
            }
        }
        if (i == start) revert IRegistry.RegistryInvalidVersion(version);
        return i;
    }

    function _isDigit(bytes1 c) private pure returns (bool) {
        return c >= "0" && c <= "9";
    }

    function _isLowerAlnum(bytes1 c) private pure returns (bool) {
        return (c >= "a" && c <= "z") || (c >= "0" && c <= "9");
    }
}
