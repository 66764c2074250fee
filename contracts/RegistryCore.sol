// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";
import {IRegistry} from "./IRegistry.sol";
import {CidCodec} from "./libraries/CidCodec.sol";
import {Validation} from "./libraries/Validation.sol";
import {VersionList} from "./libraries/VersionList.sol";

/**
 * @title RegistryCore
 * @dev The core of the package registry of {IRegistry}: repositories, packages, their versions, owners and
 * maintainers, and yanking. Anyone may create a repository; in an open repository anyone may register a package
 * (and owns it, as on crates.io), in a curated one only its owner and maintainers (as in nixpkgs). Published
 * versions are immutable; yanking is a flag.
 *
 * It is built as OpenZeppelin's tokens are, for extensions to build on:
 *
 * - every external function that changes state is a guard plus an `internal virtual` worker (`_publish`,
 *   `_setYanked`, `_registerPackage`, `_transferOwnership`, ...) that changes state and emits only on a real
 *   change; extensions reach state through the workers;
 * - every guard is an `internal virtual` `_check*` hook (`_checkOwner`, `_checkMaintainer`,
 *   `_checkPackageMaintainer`, `_checkRegistrar`, `_checkRepository`). When the caller holds no role the call
 *   needs, the hooks end in {_checkAuthority}, which reverts with {RegistryUnauthorized}: an extension that grants
 *   powers beyond the roles overrides that one hook, and the roles' common case (the owner calling) never runs
 *   its code.
 *
 * The contract is abstract: {publishBatch} comes from {RegistryBatch}. The deployed {Registry} adds it and
 * {RegistryImport} (the migration account's powers).
 */
abstract contract RegistryCore is IRegistry {
    using EnumerableSet for EnumerableSet.AddressSet;
    using VersionList for VersionList.List;

    /**
     * @dev Who controls a repository or package. Repository and package ids never collide (different preimages).
     *
     * Slots (4): 0 `owner` (20 bytes; the other 12 free: `pendingOwner` is 20 bytes too and cannot share it),
     * 1 `pendingOwner` (20 bytes), 2..3 `maintainers` (the length of its values array, then its positions map).
     * The owner is alone in its slot on purpose: a publish's owner check is this one SLOAD.
     */
    struct Access {
        address owner; // zero: the id does not exist
        address pendingOwner;
        EnumerableSet.AddressSet maintainers;
    }

    /**
     * @dev A repository. Slots (6): 0 `name` (a name of at most 31 bytes is stored in the slot with its length,
     * a longer one at keccak256(slot)), 1 `curated` (1 byte, 31 free: nothing else is small enough to join it),
     * 2 `packageIds` (its length; the ids at keccak256(slot)), 3..5 `versions` (a {VersionList-List}).
     */
    struct Repository {
        string name;
        bool curated;
        bytes32[] packageIds; // registration order
        VersionList.List versions;
    }

    /**
     * @dev A package. Slots (5): 0 `repositoryId` (32 bytes), 1 `name` (stored as in {Repository}),
     * 2..4 `versions` (a {VersionList-List}: head and count packed in its first slot).
     */
    struct Package {
        bytes32 repositoryId;
        string name;
        VersionList.List versions;
    }

    mapping(bytes32 id => Access) private _access;
    mapping(bytes32 repositoryId => Repository) private _repositories;
    mapping(bytes32 packageId => Package) private _packages;
    bytes32[] private _repositoryIds;

    // ================================================================ guards

    /// @dev Reverts unless `id` exists and the caller owns it (see {_checkOwner}).
    modifier onlyOwnerOf(bytes32 id) {
        _checkOwner(id);
        _;
    }

    /// @dev Reverts unless `repositoryId_` is a repository and the caller owns it.
    modifier onlyRepositoryOwner(bytes32 repositoryId_) {
        _checkRepository(repositoryId_);
        _checkOwner(repositoryId_);
        _;
    }

    /// @dev Reverts unless `repositoryId_` is a repository and the caller owns or maintains it.
    modifier onlyRepositoryMaintainer(bytes32 repositoryId_) {
        _checkRepository(repositoryId_);
        _checkMaintainer(repositoryId_);
        _;
    }

    /**
     * @dev Reverts unless `id` exists and the caller owns it; other callers go through {_checkAuthority}.
     *
     * Requirements:
     * - `id` is a repository or package ({RegistryUnknownId} otherwise).
     */
    function _checkOwner(bytes32 id) internal view virtual {
        address current = _access[id].owner;
        if (current == address(0)) revert RegistryUnknownId(id);
        if (msg.sender != current) _checkAuthority(id, msg.sender);
    }

    /**
     * @dev Reverts unless `id` exists and the caller owns or maintains it; other callers go through
     * {_checkAuthority}. The owner, the common case, costs no read of the maintainers.
     *
     * Requirements:
     * - `id` is a repository or package ({RegistryUnknownId} otherwise).
     */
    function _checkMaintainer(bytes32 id) internal view virtual {
        Access storage access = _access[id];
        address current = access.owner;
        if (current == address(0)) revert RegistryUnknownId(id);
        if (msg.sender != current && !access.maintainers.contains(msg.sender)) _checkAuthority(id, msg.sender);
    }

    /**
     * @dev Reverts unless the package exists and the caller owns or maintains it; other callers go through
     * {_checkAuthority}. The id was derived from a repository id and a name, so it cannot be a repository's id:
     * its owner alone proves it is a registered package, and the common case (the owner publishing) costs one
     * storage read.
     *
     * Requirements:
     * - `packageId_` is a package ({RegistryUnknownPackage} otherwise).
     */
    function _checkPackageMaintainer(bytes32 packageId_) internal view virtual {
        Access storage access = _access[packageId_];
        address current = access.owner;
        if (current == address(0)) revert RegistryUnknownPackage(packageId_);
        if (msg.sender != current && !access.maintainers.contains(msg.sender)) {
            _checkAuthority(packageId_, msg.sender);
        }
    }

    /**
     * @dev Reverts unless `repositoryId_` is a repository: every repository has a name, nothing else in
     * `_repositories` does.
     */
    function _checkRepository(bytes32 repositoryId_) internal view virtual {
        if (bytes(_repositories[repositoryId_].name).length == 0) revert RegistryUnknownRepository(repositoryId_);
    }

    /**
     * @dev Reverts unless the caller may register packages in the repository: anyone in an open one, its owner and
     * maintainers in a curated one (through {_checkMaintainer}).
     *
     * Requirements:
     * - `repositoryId_` is a repository ({RegistryUnknownRepository} otherwise).
     */
    function _checkRegistrar(bytes32 repositoryId_) internal view virtual {
        _checkRepository(repositoryId_);
        if (_repositories[repositoryId_].curated) _checkMaintainer(repositoryId_);
    }

    /**
     * @dev Called by the other `_check*` hooks when `account` holds no role on `id` that the call needs: reverts
     * with {RegistryUnauthorized}. Extensions that grant powers beyond the roles override it and return for the
     * accounts they empower (see {RegistryImport}); it runs only on that path, so it costs the roles nothing.
     */
    function _checkAuthority(bytes32 id, address account) internal view virtual {
        revert RegistryUnauthorized(id, account);
    }

    /// @dev The id of the package `name` of a repository (see {IRegistry}).
    function _packageIdOf(bytes32 repositoryId_, string calldata name) internal pure returns (bytes32) {
        return keccak256(abi.encode(repositoryId_, name));
    }

    // ================================================================ repositories

    /**
     * @dev Creates the repository `name`, owned by the caller.
     *
     * Requirements:
     * - `name` is a valid name and no repository has it.
     *
     * Emits a {RepositoryCreated} event.
     */
    function createRepository(string calldata name, bool curated) external returns (bytes32 repositoryId_) {
        return _createRepository(name, curated, msg.sender);
    }

    /**
     * @dev Makes a repository curated (only maintainers register packages) or open.
     *
     * Requirements:
     * - the caller owns the repository.
     *
     * Emits a {RepositoryCurationChanged} event when the flag changes.
     */
    function setCurated(bytes32 repositoryId_, bool curated) external onlyRepositoryOwner(repositoryId_) {
        _setCurated(repositoryId_, curated);
    }

    /**
     * @dev Publishes a repository version; `metaCid` is the repository lock it pins.
     *
     * Requirements:
     * - the caller owns or maintains the repository;
     * - `version` is a release name (semver, or calendar style such as `23.05`) never published in this
     *   repository;
     * - `metaCid` is a supported CID.
     *
     * Emits a {RepositoryPublished} event.
     */
    function publishRepository(bytes32 repositoryId_, string calldata version, bytes calldata metaCid)
        external
        onlyRepositoryMaintainer(repositoryId_)
    {
        _publishRepository(repositoryId_, version, metaCid);
    }

    /**
     * @dev Sets the yanked flag of a repository version.
     *
     * Requirements:
     * - the caller owns or maintains the repository;
     * - the version was published.
     *
     * Emits a {RepositoryYankChanged} event when the flag changes.
     */
    function setRepositoryYanked(bytes32 repositoryId_, string calldata version, bool yanked)
        external
        onlyRepositoryMaintainer(repositoryId_)
    {
        _setRepositoryYanked(repositoryId_, version, yanked);
    }

    /**
     * @dev Creates the repository `name` owned by `owner_`; the caller's rights are not checked.
     *
     * Requirements:
     * - `name` is a valid name and no repository has it.
     *
     * Emits a {RepositoryCreated} event.
     */
    function _createRepository(string calldata name, bool curated, address owner_)
        internal
        virtual
        returns (bytes32 repositoryId_)
    {
        Validation.checkName(name);
        repositoryId_ = keccak256(bytes(name));
        Access storage access = _access[repositoryId_];
        if (access.owner != address(0)) revert RegistryRepositoryExists(repositoryId_, name);
        access.owner = owner_;
        Repository storage repository = _repositories[repositoryId_];
        repository.name = name;
        repository.curated = curated;
        _repositoryIds.push(repositoryId_);
        emit RepositoryCreated(repositoryId_, name, owner_, curated);
    }

    /**
     * @dev Sets the curated flag of an existing repository; the caller's rights are not checked.
     *
     * Emits a {RepositoryCurationChanged} event when the flag changes.
     */
    function _setCurated(bytes32 repositoryId_, bool curated) internal virtual {
        Repository storage repository = _repositories[repositoryId_];
        if (repository.curated == curated) return;
        repository.curated = curated;
        emit RepositoryCurationChanged(repositoryId_, curated);
    }

    /**
     * @dev Adds a version to an existing repository; the caller's rights are not checked.
     *
     * Requirements:
     * - `version` is a release name never published in this repository, `metaCid` a supported CID.
     *
     * Emits a {RepositoryPublished} event.
     */
    function _publishRepository(bytes32 repositoryId_, string calldata version, bytes calldata metaCid)
        internal
        virtual
    {
        Validation.checkReleaseName(version);
        (bytes32 metaDigest, uint8 metaKind) = CidCodec.encode(metaCid);
        // release names are compared as text: a repository version is referenced exactly, never by a range
        VersionList.List storage versions = _repositories[repositoryId_].versions;
        if (!versions.add(version, 0, metaDigest, metaKind, 0, CidCodec.KIND_NONE)) {
            revert RegistryVersionExists(repositoryId_, version);
        }
        emit RepositoryPublished(repositoryId_, version, metaCid);
    }

    /**
     * @dev Sets the yanked flag of a repository version; the caller's rights are not checked.
     *
     * Requirements:
     * - the version was published.
     *
     * Emits a {RepositoryYankChanged} event when the flag changes.
     */
    function _setRepositoryYanked(bytes32 repositoryId_, string calldata version, bool yanked) internal virtual {
        VersionList.Record storage record = _repositories[repositoryId_].versions.get(version);
        if (record.metaKind == 0) revert RegistryUnknownVersion(repositoryId_, version);
        if (record.yanked == yanked) return;
        record.yanked = yanked;
        emit RepositoryYankChanged(repositoryId_, version, yanked);
    }

    // ================================================================ packages

    /**
     * @dev Registers the package `name` in a repository, owned by the caller.
     *
     * Requirements:
     * - the repository exists; if it is curated, the caller owns or maintains it;
     * - `name` is a valid name and the repository has no package of that name.
     *
     * Emits a {PackageRegistered} event.
     */
    function registerPackage(bytes32 repositoryId_, string calldata name) external returns (bytes32 packageId_) {
        _checkRegistrar(repositoryId_);
        return _registerPackage(repositoryId_, name, msg.sender);
    }

    /**
     * @dev Publishes a new version of a package.
     *
     * Requirements:
     * - the caller owns or maintains the package;
     * - `version` is semver-shaped and was never published for this package, nor was any version that differs
     *   from it only in build metadata (`1.0.0` and `1.0.0+linux` are one version under semver);
     * - `metaCid` and `srcCid` are supported CIDs.
     *
     * Emits a {Published} event.
     */
    function publish(
        bytes32 repositoryId_,
        string calldata name,
        string calldata version,
        bytes calldata metaCid,
        bytes calldata srcCid
    ) external {
        bytes32 packageId_ = _packageIdOf(repositoryId_, name);
        _checkPackageMaintainer(packageId_);
        _publish(repositoryId_, packageId_, version, metaCid, srcCid);
    }

    /**
     * @dev Sets the yanked flag of a package version: a yanked version stays fetchable for existing locks,
     * but new resolutions skip it.
     *
     * Requirements:
     * - the caller owns or maintains the package;
     * - the version was published.
     *
     * Emits a {YankChanged} event when the flag changes.
     */
    function setYanked(bytes32 repositoryId_, string calldata name, string calldata version, bool yanked) external {
        bytes32 packageId_ = _packageIdOf(repositoryId_, name);
        _checkPackageMaintainer(packageId_);
        _setYanked(repositoryId_, packageId_, version, yanked);
    }

    /**
     * @dev Registers the package `name` in an existing repository, owned by `owner_`; the caller's rights are not
     * checked.
     *
     * Requirements:
     * - `name` is a valid name and the repository has no package of that name.
     *
     * Emits a {PackageRegistered} event.
     */
    function _registerPackage(bytes32 repositoryId_, string calldata name, address owner_)
        internal
        virtual
        returns (bytes32 packageId_)
    {
        Validation.checkName(name);
        packageId_ = _packageIdOf(repositoryId_, name);
        Access storage access = _access[packageId_];
        if (access.owner != address(0)) revert RegistryPackageExists(packageId_, name);
        access.owner = owner_;
        Package storage package = _packages[packageId_];
        package.repositoryId = repositoryId_;
        package.name = name;
        _repositories[repositoryId_].packageIds.push(packageId_);
        emit PackageRegistered(repositoryId_, packageId_, name, owner_);
    }

    /**
     * @dev Adds a version to the package `packageId_` of the repository `repositoryId_` (the caller derived the one
     * from the other); the caller's rights are not checked.
     *
     * Requirements:
     * - `version` is semver-shaped and new, also ignoring build metadata; `metaCid` and `srcCid` are supported.
     *
     * Emits a {Published} event.
     */
    function _publish(
        bytes32 repositoryId_,
        bytes32 packageId_,
        string calldata version,
        bytes calldata metaCid,
        bytes calldata srcCid
    ) internal virtual {
        uint256 withoutBuild = Validation.checkVersion(version);
        (bytes32 metaDigest, uint8 metaKind) = CidCodec.encode(metaCid);
        (bytes32 srcDigest, uint8 srcKind) = CidCodec.encode(srcCid);
        VersionList.List storage versions = _packages[packageId_].versions;
        if (!versions.add(version, withoutBuild, metaDigest, metaKind, srcDigest, srcKind)) {
            _revertVersionExists(packageId_, versions, version);
        }
        emit Published(repositoryId_, packageId_, version);
    }

    /**
     * @dev Sets the yanked flag of a version of the package `packageId_` of the repository `repositoryId_`; the
     * caller's rights are not checked.
     *
     * Requirements:
     * - the version was published.
     *
     * Emits a {YankChanged} event when the flag changes.
     */
    function _setYanked(bytes32 repositoryId_, bytes32 packageId_, string calldata version, bool yanked)
        internal
        virtual
    {
        VersionList.Record storage record = _packages[packageId_].versions.get(version);
        if (record.metaKind == 0) revert RegistryUnknownVersion(packageId_, version);
        if (record.yanked == yanked) return;
        record.yanked = yanked;
        emit YankChanged(repositoryId_, packageId_, version, yanked);
    }

    /**
     * @dev The version list of a package, for extensions that write versions their own way (see
     * {RegistryBatch}): they must keep its invariants (see {VersionList}) and emit the events of what they add.
     */
    function _packageVersions(bytes32 packageId_) internal view returns (VersionList.List storage) {
        return _packages[packageId_].versions;
    }

    /**
     * @dev Reverts with the reason a package version was refused as existing: {RegistryVersionExists} when that
     * very version is published, else {RegistryEquivalentVersionExists} (one differing only in build metadata is).
     * Only on the failure path, so its storage read and second shape check cost successful publishes nothing.
     */
    function _revertVersionExists(bytes32 packageId_, VersionList.List storage versions, string calldata version)
        internal
        view
    {
        if (versions.records[VersionList.keyOf(version)].metaKind != 0) {
            revert RegistryVersionExists(packageId_, version);
        }
        uint256 withoutBuild = Validation.checkVersion(version);
        uint256 length = withoutBuild == 0 ? bytes(version).length : withoutBuild;
        revert RegistryEquivalentVersionExists(packageId_, version, string(bytes(version)[:length]));
    }

    // ================================================================ owners and maintainers

    /**
     * @dev Makes `account` a maintainer of the repository or package `id`.
     *
     * Requirements:
     * - the caller owns `id`; `account` is not zero.
     *
     * Emits a {MaintainerAdded} event when `account` was not a maintainer.
     */
    function addMaintainer(bytes32 id, address account) external onlyOwnerOf(id) {
        _addMaintainer(id, account);
    }

    /**
     * @dev Removes `account` from the maintainers of `id`.
     *
     * Requirements:
     * - the caller owns `id`.
     *
     * Emits a {MaintainerRemoved} event when `account` was a maintainer.
     */
    function removeMaintainer(bytes32 id, address account) external onlyOwnerOf(id) {
        _removeMaintainer(id, account);
    }

    /**
     * @dev Offers ownership of `id` to `newOwner`; it moves when they call {acceptOwnership}. Zero cancels an
     * offer.
     *
     * Requirements:
     * - the caller owns `id`.
     *
     * Emits an {OwnershipTransferStarted} event.
     */
    function transferOwnership(bytes32 id, address newOwner) public virtual onlyOwnerOf(id) {
        _offerOwnership(id, newOwner);
    }

    /**
     * @dev Completes a transfer offered by {transferOwnership}.
     *
     * Requirements:
     * - the caller is the pending owner of `id`.
     *
     * Emits an {OwnershipTransferred} event.
     */
    function acceptOwnership(bytes32 id) external {
        if (_access[id].pendingOwner != msg.sender || msg.sender == address(0)) {
            revert RegistryNotPendingOwner(id, msg.sender);
        }
        _transferOwnership(id, msg.sender);
    }

    /**
     * @dev Makes `account` a maintainer of `id`; the caller's rights are not checked.
     *
     * Requirements:
     * - `account` is not zero.
     *
     * Emits a {MaintainerAdded} event when `account` was not a maintainer.
     */
    function _addMaintainer(bytes32 id, address account) internal virtual {
        if (account == address(0)) revert RegistryZeroAddress();
        if (_access[id].maintainers.add(account)) emit MaintainerAdded(id, account);
    }

    /**
     * @dev Removes `account` from the maintainers of `id`; the caller's rights are not checked.
     *
     * Emits a {MaintainerRemoved} event when `account` was a maintainer.
     */
    function _removeMaintainer(bytes32 id, address account) internal virtual {
        if (_access[id].maintainers.remove(account)) emit MaintainerRemoved(id, account);
    }

    /**
     * @dev Offers ownership of `id` to `newOwner` (zero cancels an offer); the caller's rights are not checked.
     *
     * Emits an {OwnershipTransferStarted} event.
     */
    function _offerOwnership(bytes32 id, address newOwner) internal virtual {
        Access storage access = _access[id];
        access.pendingOwner = newOwner;
        emit OwnershipTransferStarted(id, access.owner, newOwner);
    }

    /**
     * @dev Makes `newOwner` the owner of `id` at once and withdraws any offer; the caller's rights are not checked
     * (callers make sure `newOwner` is not zero: a zero owner would make `id` unknown).
     *
     * Emits an {OwnershipTransferred} event.
     */
    function _transferOwnership(bytes32 id, address newOwner) internal virtual {
        Access storage access = _access[id];
        address previous = access.owner;
        access.owner = newOwner;
        delete access.pendingOwner;
        emit OwnershipTransferred(id, previous, newOwner);
    }

    // ================================================================ views

    /// @inheritdoc IRegistry
    function repositoryId(string calldata name) external pure returns (bytes32) {
        return keccak256(bytes(name));
    }

    /// @inheritdoc IRegistry
    function packageId(bytes32 repositoryId_, string calldata name) external pure returns (bytes32) {
        return _packageIdOf(repositoryId_, name);
    }

    /// @inheritdoc IRegistry
    function owner(bytes32 id) external view returns (address) {
        return _access[id].owner;
    }

    /// @inheritdoc IRegistry
    function pendingOwner(bytes32 id) external view returns (address) {
        return _access[id].pendingOwner;
    }

    /// @inheritdoc IRegistry
    function isMaintainer(bytes32 id, address account) external view returns (bool) {
        return _access[id].maintainers.contains(account);
    }

    /// @inheritdoc IRegistry
    function getMaintainers(bytes32 id) external view returns (address[] memory) {
        return _access[id].maintainers.values();
    }

    /// @inheritdoc IRegistry
    function repositoryCount() external view returns (uint256) {
        return _repositoryIds.length;
    }

    /// @inheritdoc IRegistry
    function getRepositoryIds(uint256 offset, uint256 limit) external view returns (bytes32[] memory) {
        return _slice(_repositoryIds, offset, limit);
    }

    /// @inheritdoc IRegistry
    function getRepository(bytes32 repositoryId_) external view returns (RepositoryView memory) {
        Repository storage repository = _repositories[repositoryId_];
        // owners of packages live in the same table; a package id is not a repository
        bool known = bytes(repository.name).length != 0;
        Access storage access = _access[repositoryId_];
        return RepositoryView({
            repositoryId: repositoryId_,
            name: repository.name,
            owner: known ? access.owner : address(0),
            pendingOwner: known ? access.pendingOwner : address(0),
            curated: repository.curated,
            versionCount: repository.versions.count,
            packageCount: repository.packageIds.length
        });
    }

    /// @inheritdoc IRegistry
    function getRepositoryPackages(bytes32 repositoryId_, uint256 offset, uint256 limit)
        external
        view
        returns (bytes32[] memory)
    {
        return _slice(_repositories[repositoryId_].packageIds, offset, limit);
    }

    /// @inheritdoc IRegistry
    function getRepositoryVersion(bytes32 repositoryId_, string calldata version)
        external
        view
        returns (VersionView memory)
    {
        return _versionView(repositoryId_, _repositories[repositoryId_].versions, version);
    }

    /// @inheritdoc IRegistry
    function getRepositoryVersions(bytes32 repositoryId_, bytes32 cursor, uint256 limit)
        external
        view
        returns (VersionView[] memory page, bytes32 nextCursor)
    {
        return _page(repositoryId_, _repositories[repositoryId_].versions, cursor, limit);
    }

    /// @inheritdoc IRegistry
    function getPackageVersion(bytes32 packageId_, string calldata version) external view returns (VersionView memory) {
        return _versionView(packageId_, _packages[packageId_].versions, version);
    }

    /// @inheritdoc IRegistry
    function getPackageVersions(bytes32 packageId_, bytes32 cursor, uint256 limit)
        external
        view
        returns (VersionView[] memory page, bytes32 nextCursor)
    {
        return _page(packageId_, _packages[packageId_].versions, cursor, limit);
    }

    /// @inheritdoc IRegistry
    function getPackages(bytes32[] calldata packageIds, uint256 versionLimit)
        external
        view
        returns (PackageView[] memory views)
    {
        views = new PackageView[](packageIds.length);
        for (uint256 i = 0; i < packageIds.length; ++i) {
            bytes32 id = packageIds[i];
            Package storage package = _packages[id];
            (VersionView[] memory versions, bytes32 next) = _page(id, package.versions, 0, versionLimit);
            views[i] = PackageView({
                packageId: id,
                repositoryId: package.repositoryId,
                name: package.name,
                // owners of repositories live in the same table; a repository id is not a package
                owner: package.repositoryId != 0 ? _access[id].owner : address(0),
                versionCount: package.versions.count,
                versions: versions,
                nextCursor: next
            });
        }
    }

    // ================================================================ view helpers

    function _versionView(bytes32 id, VersionList.List storage list, string calldata version)
        private
        view
        returns (VersionView memory)
    {
        VersionList.Record storage record = list.get(version);
        if (record.metaKind == 0) revert RegistryUnknownVersion(id, version);
        return _toView(list, VersionList.lookupKeyOf(version), record);
    }

    function _page(bytes32 id, VersionList.List storage list, bytes32 cursor, uint256 limit)
        private
        view
        returns (VersionView[] memory page, bytes32 nextCursor)
    {
        bytes28 key = cursor == 0 ? list.head : bytes28(cursor);
        if (cursor != 0 && (bytes32(key) != cursor || list.records[key].metaKind == 0)) {
            revert RegistryInvalidCursor(id, cursor);
        }
        uint256 available = list.count;
        page = new VersionView[](limit < available ? limit : available);
        uint256 n = 0;
        while (n < page.length && key != 0) {
            VersionList.Record storage record = list.records[key];
            page[n++] = _toView(list, key, record);
            key = record.previous;
        }
        // shrink to what was read (a cursor in the middle of the list leaves fewer than `count`)
        assembly ("memory-safe") {
            mstore(page, n)
        }
        nextCursor = bytes32(key);
    }

    function _toView(VersionList.List storage list, bytes28 key, VersionList.Record storage record)
        private
        view
        returns (VersionView memory)
    {
        return VersionView({
            version: list.versionOf(key),
            metaCid: CidCodec.decode(record.metaDigest, record.metaKind),
            srcCid: CidCodec.decode(record.srcDigest, record.srcKind),
            yanked: record.yanked
        });
    }

    function _slice(bytes32[] storage items, uint256 offset, uint256 limit)
        private
        view
        returns (bytes32[] memory slice)
    {
        uint256 length = items.length;
        if (offset >= length) return new bytes32[](0);
        uint256 end = length - offset < limit ? length : offset + limit;
        slice = new bytes32[](end - offset);
        for (uint256 i = offset; i < end; ++i) slice[i - offset] = items[i];
    }
}
