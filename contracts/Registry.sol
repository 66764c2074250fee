// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {RegistryCore} from "./RegistryCore.sol";
import {RegistryBatch} from "./extensions/RegistryBatch.sol";
import {RegistryImport} from "./extensions/RegistryImport.sol";

/**
 * @title Registry
 * @dev The deployed package registry of {IRegistry}: the core ({RegistryCore}: repositories, packages, versions,
 * owners, maintainers, yanking) with {publishBatch} ({RegistryBatch}) and a migration account's powers until
 * {sealImport} ({RegistryImport}). It adds nothing of its own but resolves the hooks both bases override.
 */
contract Registry is RegistryBatch, RegistryImport {
    /// @dev `importer_` is the migration account (see {RegistryImport}); zero for a registry that never has one.
    constructor(address importer_) RegistryImport(importer_) {}

    /// @inheritdoc RegistryImport
    function transferOwnership(bytes32 id, address newOwner) public override(RegistryCore, RegistryImport) {
        super.transferOwnership(id, newOwner);
    }

    /// @inheritdoc RegistryImport
    function _checkAuthority(bytes32 id, address account) internal view override(RegistryCore, RegistryImport) {
        super._checkAuthority(id, account);
    }
}
