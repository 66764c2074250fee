// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {RegistryCore} from "../RegistryCore.sol";

/**
 * @title RegistryImport
 * @dev Extension of {RegistryCore} for migrations: the account given to the constructor as `importer_` may act as
 * owner of every repository and package (and so also as maintainer, and register packages in curated
 * repositories), and its {transferOwnership} sets the owner at once, so that a migration script can copy a whole
 * registry through the ordinary (batch) paths. It gives those powers up for good with {sealImport}; a registry
 * deployed with a zero importer never has them.
 *
 * The powers are one override of the {RegistryCore-_checkAuthority} hook, which the core calls only when the caller
 * holds no role: the owners and maintainers of a registry with an importer pay nothing for it.
 */
abstract contract RegistryImport is RegistryCore {
    /// @dev Slot: 20 bytes (12 free). The migration account while an import is open; zero afterwards.
    address private _importer;

    /**
     * @dev Opens an import for `importer_`; zero deploys a registry that never has one.
     *
     * Emits an {ImportOpened} event when `importer_` is not zero.
     */
    constructor(address importer_) {
        if (importer_ != address(0)) {
            _importer = importer_;
            emit ImportOpened(importer_);
        }
    }

    /// @dev The migration account while an import is open; zero after {sealImport} or when there never was one.
    function importer() public view virtual returns (address) {
        return _importer;
    }

    /**
     * @dev Ends the importer's powers for good.
     *
     * Requirements:
     * - an import is open ({RegistryImportSealed} otherwise: sealed already, or never opened);
     * - the caller is the importer ({RegistryNotImporter} otherwise).
     *
     * Emits an {ImportSealed} event.
     */
    function sealImport() external {
        address current = _importer;
        if (current == address(0)) revert RegistryImportSealed();
        if (msg.sender != current) revert RegistryNotImporter(msg.sender);
        _sealImport();
    }

    /**
     * @dev Offers ownership of `id` to `newOwner` as {RegistryCore-transferOwnership} does, except for the importer:
     * it sets the owner at once (also of what it created itself), since the accounts it copies cannot answer during
     * a migration.
     *
     * Requirements:
     * - the caller owns `id` (the importer may act as its owner);
     * - for the importer, `newOwner` is not zero.
     *
     * Emits an {OwnershipTransferStarted} event, or an {OwnershipTransferred} event for the importer.
     */
    function transferOwnership(bytes32 id, address newOwner) public virtual override {
        if (msg.sender != _importer) return super.transferOwnership(id, newOwner);
        _checkOwner(id);
        if (newOwner == address(0)) revert RegistryZeroAddress();
        _transferOwnership(id, newOwner);
    }

    /**
     * @dev Ends the open import; the caller's rights are not checked.
     *
     * Emits an {ImportSealed} event.
     */
    function _sealImport() internal virtual {
        address current = _importer;
        delete _importer;
        emit ImportSealed(current);
    }

    /// @dev Lets the importer through wherever an owner or maintainer may act, while the import is open.
    function _checkAuthority(bytes32 id, address account) internal view virtual override {
        if (account != _importer) super._checkAuthority(id, account);
    }
}
