/**
 * A plain in-memory model of the Registry contract (contracts/Registry.sol: RegistryCore.sol with the extensions
 * RegistryBatch.sol and RegistryImport.sol; IRegistry.sol) for the model-based property test: repositories,
 * packages, versions with their CIDs as published, yanked flags, owners, pending owners, maintainers, the curated
 * flag and the importer.
 *
 * Every operation takes the model and the caller, and returns the {@link Outcome} the contract should have:
 * a revert with the exact custom error and arguments, or success with the events it should emit. On success
 * the operation updates the model; on a revert it changes nothing (a batch is all or nothing).
 *
 * Conventions: ids, CIDs and other bytes are lowercase 0x-hex strings; addresses are checksummed.
 * The model re-implements the rules from their documentation (name and version shapes, CID headers,
 * the compact batch encoding) instead of reusing contract code, and follows the contract's order of checks
 * where one call breaks several rules at once.
 */
import { AbiCoder, ZeroAddress, getAddress, getBytes, hexlify, keccak256, toUtf8Bytes } from "ethers";

// ---------------------------------------------------------------- state

/** One published version. `srcCid` is "0x" for repository versions. */
export interface VersionRecord {
  readonly version: string;
  readonly metaCid: string;
  readonly srcCid: string;
  yanked: boolean;
}

/** Who controls a repository or package id. `maintainers` is a set; the contract does not promise an order. */
export interface AccessRecord {
  owner: string;
  pendingOwner: string;
  readonly maintainers: string[];
}

export interface RepositoryRecord {
  readonly id: string;
  readonly name: string;
  curated: boolean;
  /** Registration order. */
  readonly packageIds: string[];
  /** Publication order, oldest first. */
  readonly versions: VersionRecord[];
}

export interface PackageRecord {
  readonly id: string;
  readonly repositoryId: string;
  readonly name: string;
  /** Publication order, oldest first. */
  readonly versions: VersionRecord[];
}

export interface RegistryModel {
  /** Zero when the registry has no importer or the import was sealed. */
  importer: string;
  readonly access: Map<string, AccessRecord>;
  readonly repositories: Map<string, RepositoryRecord>;
  readonly packages: Map<string, PackageRecord>;
  /** Creation order. */
  readonly repositoryIds: string[];
}

/** `PackageReleases` of IRegistry.sol, with bytes as hex. */
export interface PackageReleases {
  readonly repositoryId: string;
  readonly name: string;
  readonly versions: string;
  readonly metaCidHeader: string;
  readonly metaDigests: readonly string[];
  readonly srcCidHeader: string;
  readonly srcDigests: readonly string[];
}

// ---------------------------------------------------------------- outcomes

export type RegistryErrorName =
  | "RegistryInvalidName"
  | "RegistryInvalidVersion"
  | "RegistryUnsupportedCid"
  | "RegistryRepositoryExists"
  | "RegistryPackageExists"
  | "RegistryUnknownRepository"
  | "RegistryUnknownPackage"
  | "RegistryUnknownId"
  | "RegistryVersionExists"
  | "RegistryEquivalentVersionExists"
  | "RegistryUnknownVersion"
  | "RegistryMalformedBatch"
  | "RegistryInvalidCursor"
  | "RegistryUnauthorized"
  | "RegistryNotPendingOwner"
  | "RegistryZeroAddress"
  | "RegistryImportSealed"
  | "RegistryNotImporter";

export type RegistryEventName =
  | "RepositoryCreated"
  | "RepositoryCurationChanged"
  | "PackageRegistered"
  | "Published"
  | "PublishedBatch"
  | "YankChanged"
  | "RepositoryPublished"
  | "RepositoryYankChanged"
  | "MaintainerAdded"
  | "MaintainerRemoved"
  | "OwnershipTransferStarted"
  | "OwnershipTransferred"
  | "ImportSealed";

export interface ExpectedEvent {
  readonly name: RegistryEventName;
  readonly args: readonly (string | boolean)[];
}

export type Outcome =
  | { readonly kind: "ok"; readonly events: readonly ExpectedEvent[] }
  | { readonly kind: "revert"; readonly error: RegistryErrorName; readonly args: readonly (string | bigint)[] };

/** Thrown inside an operation to abort it; turned into a revert {@link Outcome}. */
class Revert extends Error {
  constructor(
    readonly error: RegistryErrorName,
    readonly args: readonly (string | bigint)[],
  ) {
    super(error);
  }
}

function fail(error: RegistryErrorName, ...args: (string | bigint)[]): never {
  throw new Revert(error, args);
}

function ok(...events: ExpectedEvent[]): Outcome {
  return { kind: "ok", events };
}

function event(name: RegistryEventName, ...args: (string | boolean)[]): ExpectedEvent {
  return { name, args };
}

/** Runs `body` against a copy-on-success view of the model: state changes only when no rule is broken. */
function attempt(model: RegistryModel, body: (draft: RegistryModel) => Outcome): Outcome {
  const draft = cloneModel(model);
  try {
    const outcome = body(draft);
    commit(model, draft);
    return outcome;
  } catch (e) {
    if (e instanceof Revert) return { kind: "revert", error: e.error, args: e.args };
    throw e;
  }
}

// ---------------------------------------------------------------- ids, names, versions, CIDs

export const MAX_NAME_LENGTH = 64;
export const MAX_VERSION_LENGTH = 64;
/** Versions up to this many bytes are stored inline; longer ones take the contract's hashed-key path. */
export const INLINE_VERSION_LENGTH = 28;

export function repositoryIdOf(name: string): string {
  return keccak256(toUtf8Bytes(name));
}

/** keccak256(abi.encode(repositoryId, name)), for any repository id (known or not). */
export function packageIdOf(repositoryId: string, name: string): string {
  return keccak256(AbiCoder.defaultAbiCoder().encode(["bytes32", "string"], [repositoryId, name]));
}

function byteLength(text: string): number {
  return toUtf8Bytes(text).length;
}

/** 1..64 bytes of [a-z0-9-_.], starting with [a-z0-9]. */
export function isValidName(name: string): boolean {
  return byteLength(name) <= MAX_NAME_LENGTH && /^[a-z0-9][a-z0-9._-]*$/.test(name);
}

const NUMBER = "(?:0|[1-9][0-9]*)";
const IDENTIFIERS = "[0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*";
const VERSION_SHAPE = new RegExp(`^${NUMBER}\\.${NUMBER}\\.${NUMBER}(?:-${IDENTIFIERS})?(?:\\+${IDENTIFIERS})?$`);

/** MAJOR.MINOR.PATCH without leading zeros, optional -PRE and +BUILD identifiers, 1..64 bytes. */
export function isValidVersion(version: string): boolean {
  return byteLength(version) <= MAX_VERSION_LENGTH && VERSION_SHAPE.test(version);
}

const RELEASE_NAME = /^[0-9A-Za-z](?:[0-9A-Za-z+-]|\.(?!\.))*[0-9A-Za-z]$|^[0-9A-Za-z]$/;

/** A repository version: a release name (semver, or calendar style like 23.05), 1..64 bytes. */
export function isValidReleaseName(version: string): boolean {
  return byteLength(version) <= MAX_VERSION_LENGTH && RELEASE_NAME.test(version);
}

/** Binary CID headers (the CID without its 32-byte digest) the registry stores. */
export const SUPPORTED_CID_HEADERS: readonly string[] = [
  "0x1220", // CIDv0
  "0x01551220", // CIDv1 raw sha2-256
  "0x01701220", // CIDv1 dag-pb sha2-256
  "0x01711220", // CIDv1 dag-cbor sha2-256
  "0x01551e20", // CIDv1 raw blake3
  "0x01701e20", // CIDv1 dag-pb blake3
  "0x01711e20", // CIDv1 dag-cbor blake3
];

export function isSupportedCidHeader(header: string): boolean {
  return SUPPORTED_CID_HEADERS.includes(header.toLowerCase());
}

/** A supported header followed by a 32-byte digest. */
export function isSupportedCid(cid: string): boolean {
  const bytes = getBytes(cid);
  return bytes.length >= 32 && isSupportedCidHeader(hexlify(bytes.subarray(0, bytes.length - 32)));
}

// ---------------------------------------------------------------- model

export function createModel(importer: string): RegistryModel {
  return {
    importer: getAddress(importer),
    access: new Map(),
    repositories: new Map(),
    packages: new Map(),
    repositoryIds: [],
  };
}

function cloneVersions(versions: readonly VersionRecord[]): VersionRecord[] {
  return versions.map((v) => ({ ...v }));
}

export function cloneModel(model: RegistryModel): RegistryModel {
  return {
    importer: model.importer,
    access: new Map(
      [...model.access].map(([id, a]) => [id, { owner: a.owner, pendingOwner: a.pendingOwner, maintainers: [...a.maintainers] }]),
    ),
    repositories: new Map(
      [...model.repositories].map(([id, r]) => [
        id,
        { ...r, packageIds: [...r.packageIds], versions: cloneVersions(r.versions) },
      ]),
    ),
    packages: new Map([...model.packages].map(([id, p]) => [id, { ...p, versions: cloneVersions(p.versions) }])),
    repositoryIds: [...model.repositoryIds],
  };
}

function commit(target: RegistryModel, source: RegistryModel): void {
  target.importer = source.importer;
  for (const [from, to] of [
    [source.access, target.access],
    [source.repositories, target.repositories],
    [source.packages, target.packages],
  ] as const) {
    (to as Map<string, unknown>).clear();
    for (const [key, value] of from as Map<string, unknown>) (to as Map<string, unknown>).set(key, value);
  }
  target.repositoryIds.splice(0, target.repositoryIds.length, ...source.repositoryIds);
}

export function ownerOf(model: RegistryModel, id: string): string {
  return model.access.get(id)?.owner ?? ZeroAddress;
}

export function pendingOwnerOf(model: RegistryModel, id: string): string {
  return model.access.get(id)?.pendingOwner ?? ZeroAddress;
}

export function maintainersOf(model: RegistryModel, id: string): readonly string[] {
  return model.access.get(id)?.maintainers ?? [];
}

/** The versions of a package or repository, newest first, as the views return them. */
export function versionsNewestFirst(record: { readonly versions: readonly VersionRecord[] } | undefined): VersionRecord[] {
  return record ? [...record.versions].reverse() : [];
}

/** A package version without its build metadata: what semver compares (`1.0.0+linux` → `1.0.0`). */
export function withoutBuild(version: string): string {
  const plus = version.indexOf("+");
  return plus < 0 ? version : version.slice(0, plus);
}

/** Refuses a package version that exists, or one equal to it but for build metadata (checked in that order). */
function requireNewPackageVersion(pkg: PackageRecord, id: string, version: string): void {
  if (findVersion(pkg, version)) fail("RegistryVersionExists", id, version);
  const base = withoutBuild(version);
  if (pkg.versions.some((v) => withoutBuild(v.version) === base)) fail("RegistryEquivalentVersionExists", id, version, base);
}

export function findVersion(
  record: { readonly versions: readonly VersionRecord[] } | undefined,
  version: string,
): VersionRecord | undefined {
  return record?.versions.find((v) => v.version === version);
}

function isImporter(model: RegistryModel, caller: string): boolean {
  return model.importer !== ZeroAddress && caller === model.importer;
}

/** The owner (or the importer, while the import is open) of an existing id. */
export function mayOwn(model: RegistryModel, id: string, caller: string): boolean {
  const access = model.access.get(id);
  return access !== undefined && (caller === access.owner || isImporter(model, caller));
}

/** The owner, a maintainer (or the importer) of an existing id. */
export function mayMaintain(model: RegistryModel, id: string, caller: string): boolean {
  return mayOwn(model, id, caller) || (model.access.get(id)?.maintainers.includes(caller) ?? false);
}

/** The access record of an existing id, or a revert with `unknown`. */
function requireAccess(model: RegistryModel, id: string, unknown: () => never): AccessRecord {
  return model.access.get(id) ?? unknown();
}

function requireOwner(model: RegistryModel, id: string, caller: string): AccessRecord {
  const access = requireAccess(model, id, () => fail("RegistryUnknownId", id));
  if (!mayOwn(model, id, caller)) fail("RegistryUnauthorized", id, caller);
  return access;
}

function requireRepository(model: RegistryModel, id: string): RepositoryRecord {
  return model.repositories.get(id) ?? fail("RegistryUnknownRepository", id);
}

function requireRepositoryMaintainer(model: RegistryModel, id: string, caller: string): RepositoryRecord {
  const repository = requireRepository(model, id);
  if (!mayMaintain(model, id, caller)) fail("RegistryUnauthorized", id, caller);
  return repository;
}

function requirePackageMaintainer(model: RegistryModel, id: string, caller: string): PackageRecord {
  const pkg = model.packages.get(id) ?? fail("RegistryUnknownPackage", id);
  if (!mayMaintain(model, id, caller)) fail("RegistryUnauthorized", id, caller);
  return pkg;
}

function requireName(name: string): void {
  if (!isValidName(name)) fail("RegistryInvalidName", name);
}

function requireVersion(version: string): void {
  if (!isValidVersion(version)) fail("RegistryInvalidVersion", version);
}

function requireCid(cid: string): string {
  if (!isSupportedCid(cid)) fail("RegistryUnsupportedCid", cid.toLowerCase());
  return cid.toLowerCase();
}

// ---------------------------------------------------------------- repositories

export function createRepository(model: RegistryModel, caller: string, name: string, curated: boolean): Outcome {
  return attempt(model, (m) => {
    requireName(name);
    const id = repositoryIdOf(name);
    if (m.access.has(id)) fail("RegistryRepositoryExists", id, name);
    m.access.set(id, { owner: caller, pendingOwner: ZeroAddress, maintainers: [] });
    m.repositories.set(id, { id, name, curated, packageIds: [], versions: [] });
    m.repositoryIds.push(id);
    return ok(event("RepositoryCreated", id, name, caller, curated));
  });
}

export function setCurated(model: RegistryModel, caller: string, id: string, curated: boolean): Outcome {
  return attempt(model, (m) => {
    const repository = requireRepository(m, id);
    requireOwner(m, id, caller);
    if (repository.curated === curated) return ok();
    repository.curated = curated;
    return ok(event("RepositoryCurationChanged", id, curated));
  });
}

export function publishRepository(model: RegistryModel, caller: string, id: string, version: string, metaCid: string): Outcome {
  return attempt(model, (m) => {
    const repository = requireRepositoryMaintainer(m, id, caller);
    if (!isValidReleaseName(version)) fail("RegistryInvalidVersion", version);
    const meta = requireCid(metaCid);
    if (findVersion(repository, version)) fail("RegistryVersionExists", id, version);
    repository.versions.push({ version, metaCid: meta, srcCid: "0x", yanked: false });
    return ok(event("RepositoryPublished", id, version, meta));
  });
}

export function setRepositoryYanked(model: RegistryModel, caller: string, id: string, version: string, yanked: boolean): Outcome {
  return attempt(model, (m) => {
    const repository = requireRepositoryMaintainer(m, id, caller);
    const record = findVersion(repository, version) ?? fail("RegistryUnknownVersion", id, version);
    if (record.yanked === yanked) return ok();
    record.yanked = yanked;
    return ok(event("RepositoryYankChanged", id, version, yanked));
  });
}

// ---------------------------------------------------------------- packages

export function registerPackage(model: RegistryModel, caller: string, repositoryId: string, name: string): Outcome {
  return attempt(model, (m) => {
    const repository = requireRepository(m, repositoryId);
    if (repository.curated && !mayMaintain(m, repositoryId, caller)) fail("RegistryUnauthorized", repositoryId, caller);
    requireName(name);
    const id = packageIdOf(repositoryId, name);
    if (m.access.has(id)) fail("RegistryPackageExists", id, name);
    m.access.set(id, { owner: caller, pendingOwner: ZeroAddress, maintainers: [] });
    m.packages.set(id, { id, repositoryId, name, versions: [] });
    repository.packageIds.push(id);
    return ok(event("PackageRegistered", repositoryId, id, name, caller));
  });
}

export function publish(
  model: RegistryModel,
  caller: string,
  repositoryId: string,
  name: string,
  version: string,
  metaCid: string,
  srcCid: string,
): Outcome {
  return attempt(model, (m) => {
    const id = packageIdOf(repositoryId, name);
    const pkg = requirePackageMaintainer(m, id, caller);
    requireVersion(version);
    const meta = requireCid(metaCid);
    const src = requireCid(srcCid);
    requireNewPackageVersion(pkg, id, version);
    pkg.versions.push({ version, metaCid: meta, srcCid: src, yanked: false });
    return ok(event("Published", repositoryId, id, version));
  });
}

/**
 * Splits `versions` of a {@link PackageReleases} entry as IRegistry.sol documents it (a length byte, then
 * that many bytes of version), checking each version as it is read: the first broken rule wins.
 */
export function publishBatch(model: RegistryModel, caller: string, batch: readonly PackageReleases[]): Outcome {
  return attempt(model, (m) => {
    const events: ExpectedEvent[] = [];
    batch.forEach((entry, index) => {
      const id = packageIdOf(entry.repositoryId, entry.name);
      const pkg = requirePackageMaintainer(m, id, caller);
      if (!isSupportedCidHeader(entry.metaCidHeader)) fail("RegistryUnsupportedCid", entry.metaCidHeader.toLowerCase());
      if (!isSupportedCidHeader(entry.srcCidHeader)) fail("RegistryUnsupportedCid", entry.srcCidHeader.toLowerCase());
      const count = entry.metaDigests.length;
      if (entry.srcDigests.length !== count) fail("RegistryMalformedBatch", BigInt(index));
      const packed = getBytes(entry.versions);
      let offset = 0;
      for (let j = 0; j < count; j++) {
        if (offset >= packed.length) fail("RegistryMalformedBatch", BigInt(index));
        const end = offset + 1 + packed[offset];
        if (end > packed.length) fail("RegistryMalformedBatch", BigInt(index));
        const version = new TextDecoder().decode(packed.subarray(offset + 1, end));
        offset = end;
        requireVersion(version);
        requireNewPackageVersion(pkg, id, version);
        pkg.versions.push({
          version,
          metaCid: (entry.metaCidHeader + entry.metaDigests[j].slice(2)).toLowerCase(),
          srcCid: (entry.srcCidHeader + entry.srcDigests[j].slice(2)).toLowerCase(),
          yanked: false,
        });
      }
      if (offset !== packed.length) fail("RegistryMalformedBatch", BigInt(index));
      events.push(event("PublishedBatch", entry.repositoryId, id, entry.versions.toLowerCase()));
    });
    return ok(...events);
  });
}

/** The compact `versions` field of a {@link PackageReleases}: each version as a length byte and its bytes. */
export function packVersions(versions: readonly string[]): string {
  const parts: number[] = [];
  for (const version of versions) {
    const bytes = toUtf8Bytes(version);
    if (bytes.length > 255) throw new RangeError(`version too long to pack: ${version}`);
    parts.push(bytes.length, ...bytes);
  }
  return hexlify(new Uint8Array(parts));
}

export function setYanked(
  model: RegistryModel,
  caller: string,
  repositoryId: string,
  name: string,
  version: string,
  yanked: boolean,
): Outcome {
  return attempt(model, (m) => {
    const id = packageIdOf(repositoryId, name);
    const pkg = requirePackageMaintainer(m, id, caller);
    const record = findVersion(pkg, version) ?? fail("RegistryUnknownVersion", id, version);
    if (record.yanked === yanked) return ok();
    record.yanked = yanked;
    return ok(event("YankChanged", repositoryId, id, version, yanked));
  });
}

// ---------------------------------------------------------------- owners and maintainers

export function addMaintainer(model: RegistryModel, caller: string, id: string, account: string): Outcome {
  return attempt(model, (m) => {
    const access = requireOwner(m, id, caller);
    if (account === ZeroAddress) fail("RegistryZeroAddress");
    if (access.maintainers.includes(account)) return ok();
    access.maintainers.push(account);
    return ok(event("MaintainerAdded", id, account));
  });
}

export function removeMaintainer(model: RegistryModel, caller: string, id: string, account: string): Outcome {
  return attempt(model, (m) => {
    const access = requireOwner(m, id, caller);
    const index = access.maintainers.indexOf(account);
    if (index < 0) return ok();
    access.maintainers.splice(index, 1);
    return ok(event("MaintainerRemoved", id, account));
  });
}

/**
 * The owner offers ownership (zero cancels); the importer sets the owner at once, as RegistryImport.sol documents
 * ("the importer sets the owner at once instead, since the accounts it copies cannot answer during a migration").
 *
 * That includes ids the importer owns itself (everything a migration creates).
 */
export function transferOwnership(model: RegistryModel, caller: string, id: string, newOwner: string): Outcome {
  return attempt(model, (m) => {
    const access = requireOwner(m, id, caller);
    const previous = access.owner;
    if (isImporter(m, caller)) {
      if (newOwner === ZeroAddress) fail("RegistryZeroAddress");
      access.owner = newOwner;
      access.pendingOwner = ZeroAddress;
      return ok(event("OwnershipTransferred", id, previous, newOwner));
    }
    access.pendingOwner = newOwner;
    return ok(event("OwnershipTransferStarted", id, previous, newOwner));
  });
}

export function acceptOwnership(model: RegistryModel, caller: string, id: string): Outcome {
  return attempt(model, (m) => {
    const access = m.access.get(id);
    if (access === undefined || access.pendingOwner !== caller || caller === ZeroAddress) {
      fail("RegistryNotPendingOwner", id, caller);
    }
    const previous = access.owner;
    access.owner = caller;
    access.pendingOwner = ZeroAddress;
    return ok(event("OwnershipTransferred", id, previous, caller));
  });
}

export function sealImport(model: RegistryModel, caller: string): Outcome {
  return attempt(model, (m) => {
    if (m.importer === ZeroAddress) fail("RegistryImportSealed");
    if (caller !== m.importer) fail("RegistryNotImporter", caller);
    m.importer = ZeroAddress;
    return ok(event("ImportSealed", caller));
  });
}
