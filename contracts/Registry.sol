// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";
import {IRegistry} from "./IRegistry.sol";
import {CidCodec} from "./libraries/CidCodec.sol";
import {Validation} from "./libraries/Validation.sol";
import {VersionList} from "./libraries/VersionList.sol";

/**
 * @title Registry
 * @dev The package registry of {IRegistry}. Anyone may create a repository; in an open repository anyone
 * may register a package (and owns it, as on crates.io), in a curated one only its owner and maintainers
 * (as in nixpkgs). Published versions are immutable; yanking is a flag.
 *
 * Migration: the account passed to the constructor as `importer` may act as owner of every repository
 * and package and set owners directly, so that a migration script can copy a whole registry through the
 * ordinary (batch) paths. It gives those powers up for good with {sealImport}; a registry deployed with a
 * zero importer never has them.
 */
contract Registry is IRegistry {
    using EnumerableSet for EnumerableSet.AddressSet;
    using VersionList for VersionList.List;

    /// @dev Who controls a repository or package. Repository and package ids never collide (different preimages).
    struct Access {
        address owner; // zero: the id does not exist
        address pendingOwner;
        EnumerableSet.AddressSet maintainers;
    }

    struct Repository {
        string name;
        bool curated;
        bytes32[] packageIds; // registration order
        VersionList.List versions;
    }

    struct Package {
        bytes32 repositoryId;
        string name;
        VersionList.List versions;
    }

    mapping(bytes32 id => Access) private _access;
    mapping(bytes32 repositoryId => Repository) private _repositories;
    mapping(bytes32 packageId => Package) private _packages;
    bytes32[] private _repositoryIds;

    /// @dev The migration account while an import is open; zero afterwards.
    address public importer;

    constructor(address importer_) {
        importer = importer_;
    }

    // ================================================================ guards

    /// @dev Reverts unless `id` exists and the caller is its owner (or the importer).
    modifier onlyOwnerOf(bytes32 id) {
        _checkOwner(id);
        _;
    }

    /// @dev Reverts unless `repositoryId_` is a repository and the caller owns or maintains it (or is the importer).
    modifier onlyRepositoryMaintainer(bytes32 repositoryId_) {
        _checkRepository(repositoryId_);
        _checkMaintainer(repositoryId_);
        _;
    }

    function _checkOwner(bytes32 id) internal view virtual {
        address current = _access[id].owner;
        if (current == address(0)) revert RegistryUnknownId(id);
        if (msg.sender != current && msg.sender != importer) revert RegistryUnauthorized(id, msg.sender);
    }

    function _checkMaintainer(bytes32 id) internal view virtual {
        Access storage access = _access[id];
        address current = access.owner;
        if (current == address(0)) revert RegistryUnknownId(id);
        // the owner is the common case and costs no extra storage read
        if (msg.sender != current && !access.maintainers.contains(msg.sender) && msg.sender != importer) {
            revert RegistryUnauthorized(id, msg.sender);
        }
    }

    /// @dev Every repository has a name, nothing else in `_repositories` does.
    function _checkRepository(bytes32 repositoryId_) internal view virtual {
        if (bytes(_repositories[repositoryId_].name).length == 0) revert RegistryUnknownRepository(repositoryId_);
    }

    /**
     * @dev Reverts unless the package exists and the caller owns or maintains it (or is the importer). The id was
     * derived from a repository id and a name, so it cannot be a repository's id: its owner alone proves it is
     * a registered package, and the common case (the owner publishing) costs one storage read.
     */
    function _checkPackageMaintainer(bytes32 packageId_) internal view virtual {
        Access storage access = _access[packageId_];
        address current = access.owner;
        if (current == address(0)) revert RegistryUnknownPackage(packageId_);
        if (msg.sender != current && !access.maintainers.contains(msg.sender) && msg.sender != importer) {
            revert RegistryUnauthorized(packageId_, msg.sender);
        }
    }

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
        Validation.checkName(name);
        repositoryId_ = keccak256(bytes(name));
        if (_access[repositoryId_].owner != address(0)) revert RegistryRepositoryExists(repositoryId_, name);
        _access[repositoryId_].owner = msg.sender;
        Repository storage repository = _repositories[repositoryId_];
        repository.name = name;
        repository.curated = curated;
        _repositoryIds.push(repositoryId_);
        emit RepositoryCreated(repositoryId_, name, msg.sender, curated);
    }

    /**
     * @dev Makes a repository curated (only maintainers register packages) or open.
     *
     * Requirements:
     * - the caller owns the repository.
     *
     * Emits a {RepositoryCurationChanged} event when the flag changes.
     */
    function setCurated(bytes32 repositoryId_, bool curated) external {
        _checkRepository(repositoryId_);
        _checkOwner(repositoryId_);
        Repository storage repository = _repositories[repositoryId_];
        if (repository.curated == curated) return;
        repository.curated = curated;
        emit RepositoryCurationChanged(repositoryId_, curated);
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
        _checkRepository(repositoryId_);
        Repository storage repository = _repositories[repositoryId_];
        if (repository.curated) _checkMaintainer(repositoryId_);
        Validation.checkName(name);
        packageId_ = _packageIdOf(repositoryId_, name);
        if (_access[packageId_].owner != address(0)) revert RegistryPackageExists(packageId_, name);
        _access[packageId_].owner = msg.sender;
        Package storage package = _packages[packageId_];
        package.repositoryId = repositoryId_;
        package.name = name;
        repository.packageIds.push(packageId_);
        emit PackageRegistered(repositoryId_, packageId_, name, msg.sender);
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
     * @dev Publishes many versions of many packages in one transaction, each as by {publish}; all or nothing.
     * See {PackageReleases} for the compact encoding.
     *
     * Requirements:
     * - for every entry, the caller owns or maintains the package;
     * - every version is semver-shaped and new, also ignoring build metadata (as by {publish}), every CID header
     *   supported;
     * - every entry's `versions` splits into exactly as many versions as it has meta and src digests.
     *
     * Emits a {PublishedBatch} event per entry.
     */
    function publishBatch(PackageReleases[] calldata batch) external {
        for (uint256 i = 0; i < batch.length; ++i) {
            PackageReleases calldata entry = batch[i];
            bytes32 packageId_ = _packageIdOf(entry.repositoryId, entry.name);
            _checkPackageMaintainer(packageId_);
            uint8 metaKind = CidCodec.kindOfHeader(entry.metaCidHeader);
            uint8 srcKind = CidCodec.kindOfHeader(entry.srcCidHeader);
            VersionList.List storage versions = _packages[packageId_].versions;
            bytes calldata packed = entry.versions;
            uint256 count = entry.metaDigests.length;
            if (entry.srcDigests.length != count) revert RegistryMalformedBatch(i);
            // head and count stay in memory for the whole entry and are written once
            bytes28 head = versions.head;
            uint256 offset = 0;
            uint256 packedLength = packed.length;
            for (uint256 j = 0; j < count; ++j) {
                // bounds are checked here once, so the reads below skip Solidity's per-access checks;
                // unchecked: offsets are bounded by the calldata length, j by `count`
                string calldata version;
                unchecked {
                    if (offset >= packedLength) revert RegistryMalformedBatch(i);
                    uint256 start = offset + 1;
                    uint256 end = start + uint8(bytes1(_byteAt(packed, offset)));
                    if (end > packedLength) revert RegistryMalformedBatch(i);
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
            if (offset != packedLength) revert RegistryMalformedBatch(i);
            versions.setHead(head, versions.count + uint32(count));
            emit PublishedBatch(entry.repositoryId, packageId_, packed);
        }
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

    /// @dev Adds a version; the caller's rights are checked already. Emits {Published}.
    function _publish(
        bytes32 repositoryId_,
        bytes32 packageId_,
        string calldata version,
        bytes calldata metaCid,
        bytes calldata srcCid
    ) private {
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
     * @dev Reverts with the reason a package version was refused as existing: {RegistryVersionExists} when that
     * very version is published, else {RegistryEquivalentVersionExists} (one differing only in build metadata is).
     * Only on the failure path, so its storage read and second shape check cost successful publishes nothing.
     */
    function _revertVersionExists(bytes32 packageId_, VersionList.List storage versions, string calldata version)
        private
        view
    {
        if (versions.records[VersionList.keyOf(version)].metaKind != 0) {
            revert RegistryVersionExists(packageId_, version);
        }
        uint256 withoutBuild = Validation.checkVersion(version);
        uint256 length = withoutBuild == 0 ? bytes(version).length : withoutBuild;
        revert RegistryEquivalentVersionExists(packageId_, version, string(bytes(version)[:length]));
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
        VersionList.Record storage record = _packages[packageId_].versions.get(version);
        if (record.metaKind == 0) revert RegistryUnknownVersion(packageId_, version);
        if (record.yanked == yanked) return;
        record.yanked = yanked;
        emit YankChanged(repositoryId_, packageId_, version, yanked);
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
        if (account == address(0)) revert RegistryZeroAddress();
        if (_access[id].maintainers.add(account)) emit MaintainerAdded(id, account);
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
        if (_access[id].maintainers.remove(account)) emit MaintainerRemoved(id, account);
    }

    /**
     * @dev Offers ownership of `id` to `newOwner`; it moves when they call {acceptOwnership}. The importer
     * sets the owner at once instead (also of what it created itself), since the accounts it copies cannot
     * answer during a migration.
     *
     * Requirements:
     * - the caller owns `id`.
     *
     * Emits an {OwnershipTransferStarted} event (an {OwnershipTransferred} event for the importer).
     */
    function transferOwnership(bytes32 id, address newOwner) external onlyOwnerOf(id) {
        Access storage access = _access[id];
        if (msg.sender == importer) {
            if (newOwner == address(0)) revert RegistryZeroAddress();
            _setOwner(id, access, newOwner);
            return;
        }
        access.pendingOwner = newOwner;
        emit OwnershipTransferStarted(id, access.owner, newOwner);
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
        Access storage access = _access[id];
        if (access.pendingOwner != msg.sender || msg.sender == address(0)) {
            revert RegistryNotPendingOwner(id, msg.sender);
        }
        _setOwner(id, access, msg.sender);
    }

    function _setOwner(bytes32 id, Access storage access, address newOwner) private {
        address previous = access.owner;
        access.owner = newOwner;
        delete access.pendingOwner;
        emit OwnershipTransferred(id, previous, newOwner);
    }

    /**
     * @dev Ends the importer's powers for good.
     *
     * Requirements:
     * - the caller is the importer.
     *
     * Emits an {ImportSealed} event.
     */
    function sealImport() external {
        address current = importer;
        if (msg.sender != current || current == address(0)) revert RegistryUnauthorized(bytes32(0), msg.sender);
        importer = address(0);
        emit ImportSealed(current);
    }

    // ================================================================ views

    function repositoryId(string calldata name) external pure returns (bytes32) {
        return keccak256(bytes(name));
    }

    function packageId(bytes32 repositoryId_, string calldata name) external pure returns (bytes32) {
        return _packageIdOf(repositoryId_, name);
    }

    function owner(bytes32 id) external view returns (address) {
        return _access[id].owner;
    }

    function pendingOwner(bytes32 id) external view returns (address) {
        return _access[id].pendingOwner;
    }

    function isMaintainer(bytes32 id, address account) external view returns (bool) {
        return _access[id].maintainers.contains(account);
    }

    function getMaintainers(bytes32 id) external view returns (address[] memory) {
        return _access[id].maintainers.values();
    }

    function repositoryCount() external view returns (uint256) {
        return _repositoryIds.length;
    }

    function getRepositoryIds(uint256 offset, uint256 limit) external view returns (bytes32[] memory) {
        return _slice(_repositoryIds, offset, limit);
    }

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

    function getRepositoryPackages(bytes32 repositoryId_, uint256 offset, uint256 limit)
        external
        view
        returns (bytes32[] memory)
    {
        return _slice(_repositories[repositoryId_].packageIds, offset, limit);
    }

    function getRepositoryVersion(bytes32 repositoryId_, string calldata version)
        external
        view
        returns (VersionView memory)
    {
        return _versionView(repositoryId_, _repositories[repositoryId_].versions, version);
    }

    function getRepositoryVersions(bytes32 repositoryId_, bytes32 cursor, uint256 limit)
        external
        view
        returns (VersionView[] memory page, bytes32 nextCursor)
    {
        return _page(repositoryId_, _repositories[repositoryId_].versions, cursor, limit);
    }

    function getPackageVersion(bytes32 packageId_, string calldata version) external view returns (VersionView memory) {
        return _versionView(packageId_, _packages[packageId_].versions, version);
    }

    function getPackageVersions(bytes32 packageId_, bytes32 cursor, uint256 limit)
        external
        view
        returns (VersionView[] memory page, bytes32 nextCursor)
    {
        return _page(packageId_, _packages[packageId_].versions, cursor, limit);
    }

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
