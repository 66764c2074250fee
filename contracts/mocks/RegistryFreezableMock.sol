// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {RegistryBatch} from "../extensions/RegistryBatch.sol";

/**
 * @dev Test only, never deployed by the product: a registry of {RegistryCore} and {RegistryBatch} without
 * {RegistryImport}, whose package writes can be frozen by one override of the
 * {RegistryCore-_checkPackageMaintainer} hook. test/contracts/extensions.test.ts uses it to show that the `_check*`
 * hooks are the extension points: {publish}, {publishBatch} and {setYanked} all obey the override.
 */
contract RegistryFreezableMock is RegistryBatch {
    bool private _frozen;

    /// @dev Package writes are frozen.
    error RegistryFrozen(bytes32 packageId);

    /// @dev Freezes package writes for good (anyone may: a mock).
    function freeze() external {
        _frozen = true;
    }

    /// @dev Refuses every package write once frozen, then checks the roles as the core does.
    function _checkPackageMaintainer(bytes32 packageId_) internal view override {
        if (_frozen) revert RegistryFrozen(packageId_);
        super._checkPackageMaintainer(packageId_);
    }
}
