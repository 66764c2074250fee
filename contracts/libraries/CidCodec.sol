// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IRegistry} from "../IRegistry.sol";

/**
 * @dev Compact storage of binary CIDs: a 32-byte digest plus a one-byte kind that stands for the
 * CID's header (version, codec, hash function, digest length). Decoding returns the exact bytes
 * that were encoded, so a client gets back the CID it published.
 *
 * Kinds (0 means "no CID"):
 *   1  CIDv0                      header 12 20           (dag-pb, sha2-256; "Qm…")
 *   2  CIDv1 raw      sha2-256    header 01 55 12 20     ("bafkrei…", a file of one block)
 *   3  CIDv1 dag-pb   sha2-256    header 01 70 12 20     ("bafybei…", UnixFS files and directories)
 *   4  CIDv1 dag-cbor sha2-256    header 01 71 12 20
 *   5  CIDv1 raw      blake3      header 01 55 1e 20
 *   6  CIDv1 dag-pb   blake3      header 01 70 1e 20
 *   7  CIDv1 dag-cbor blake3      header 01 71 1e 20
 */
library CidCodec {
    uint8 internal constant KIND_NONE = 0;

    /// @dev Splits a binary CID into its digest and kind. Reverts with {IRegistry-RegistryUnsupportedCid}.
    function encode(bytes calldata cid) internal pure returns (bytes32 digest, uint8 kind) {
        uint256 length = cid.length;
        kind = length < 32 ? KIND_NONE : _kindOf(cid[0:length - 32]);
        if (kind == KIND_NONE) revert IRegistry.RegistryUnsupportedCid(cid);
        digest = bytes32(cid[length - 32:length]);
    }

    /// @dev The kind of a CID header (a binary CID without its digest). Reverts when unsupported.
    function kindOfHeader(bytes calldata header) internal pure returns (uint8 kind) {
        kind = _kindOf(header);
        if (kind == KIND_NONE) revert IRegistry.RegistryUnsupportedCid(header);
    }

    function _kindOf(bytes calldata header) private pure returns (uint8) {
        uint256 length = header.length;
        if (length == 2) {
            if (bytes2(header) == 0x1220) return 1;
        } else if (length == 4) {
            bytes4 h = bytes4(header);
            if (h == 0x01551220) return 2;
            if (h == 0x01701220) return 3;
            if (h == 0x01711220) return 4;
            if (h == 0x01551e20) return 5;
            if (h == 0x01701e20) return 6;
            if (h == 0x01711e20) return 7;
        }
        return KIND_NONE;
    }

    /// @dev The binary CID for a digest and kind; empty for {KIND_NONE}.
    function decode(bytes32 digest, uint8 kind) internal pure returns (bytes memory) {
        if (kind == KIND_NONE) return "";
        if (kind == 1) return abi.encodePacked(bytes2(0x1220), digest);
        bytes4 header;
        if (kind == 2) header = 0x01551220;
        else if (kind == 3) header = 0x01701220;
        else if (kind == 4) header = 0x01711220;
        else if (kind == 5) header = 0x01551e20;
        else if (kind == 6) header = 0x01701e20;
        else header = 0x01711e20;
        return abi.encodePacked(header, digest);
    }
}
