/**
 * Repositories: create one, lock its packages at a block, publish a version whose meta is that lock, read
 * a published version back, fetch everything a version pins, yank.
 *
 * - A repository with no published versions is a rolling release: "its packages" are their latest
 *   versions, resolved at one block ({@link lockRepository}); resolving again at that block gives the
 *   same lock.
 * - A repository version is immutable: its meta CID is the repo.lock published with it, and every byte
 *   read back is checked against that CID (the content store verifies every block).
 * - Everything that can be checked is checked before the first transaction, as `pkg publish` does; the
 *   lock goes into the content store (pinned) before the version that names it goes on chain.
 * - A published lock is not checked against the current chain when read: migrated registries keep their
 *   repository versions, whose locks name the chain they were made on. Its CIDs are valid anywhere.
 */
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { getAddress } from "ethers";
import { CID } from "multiformats/cid";
import * as semver from "semver";
import { isPkgError, PkgError } from "./errors";
import { IdError } from "./errors/files";
import { ERR_FETCH_META_CONFLICT, pickVersion, removeStaleStaging, stagingName, writePackageTree } from "./fetch";
import { collectBytes } from "./files/limits";
import { lexists } from "./files/nofollow";
import { quoteValue } from "./files/name";
import { compareUtf8 } from "./files/order";
import { checkRepositoryVersion, ERR_ID_INVALID_VERSION, ERR_ID_SYNTAX, hashRepositoryId, parseRepositorySpec, versionHint } from "./ids";
import {
  checkRepositoryLockChain,
  parseRepositoryLock,
  REPOLOCK_FILE_NAME,
  REPOLOCK_LIMIT,
  serializeRepositoryLock,
  type LockedPackage,
  type RepositoryLock,
} from "./repolock";
import type { ContentStore } from "./content";
import type { RegistryClient, RepositoryRecord, VersionRecord } from "./chain/registry";

export const ERR_REPO_UNKNOWN = "ERR_REPO_UNKNOWN";
export const ERR_REPO_EXISTS = "ERR_REPO_EXISTS";
export const ERR_REPO_UNKNOWN_VERSION = "ERR_REPO_UNKNOWN_VERSION";
export const ERR_REPO_NO_MATCHING_VERSION = "ERR_REPO_NO_MATCHING_VERSION";
export const ERR_REPO_VERSION_EXISTS = "ERR_REPO_VERSION_EXISTS";
export const ERR_REPO_INVALID_BLOCK = "ERR_REPO_INVALID_BLOCK";
export const ERR_REPO_LOCK_MISMATCH = "ERR_REPO_LOCK_MISMATCH";
export const ERR_REPO_META_MISMATCH = "ERR_REPO_META_MISMATCH";
export const ERR_REPO_META_CONFLICT = "ERR_REPO_META_CONFLICT";
export const ERR_REPO_DESTINATION_EXISTS = "ERR_REPO_DESTINATION_EXISTS";

export type RepositoryErrorCode =
  | typeof ERR_REPO_UNKNOWN
  | typeof ERR_REPO_EXISTS
  | typeof ERR_REPO_UNKNOWN_VERSION
  | typeof ERR_REPO_NO_MATCHING_VERSION
  | typeof ERR_REPO_VERSION_EXISTS
  | typeof ERR_REPO_INVALID_BLOCK
  | typeof ERR_REPO_LOCK_MISMATCH
  | typeof ERR_REPO_META_MISMATCH
  | typeof ERR_REPO_META_CONFLICT
  | typeof ERR_REPO_DESTINATION_EXISTS;

/** A transaction as commands report it. */
export interface TxReceipt {
  hash: string;
  block: number;
}

/** Packages fetched in parallel by {@link fetchRepository}. */
const FETCH_CONCURRENCY = 4;

// ---------------------------------------------------------------- names and versions

/**
 * A repository name from the command line, where a version makes no sense (`repo create`, maintainers).
 * @throws IdError ERR_ID_SYNTAX when the id carries a version; the errors of parseRepositorySpec otherwise.
 */
export function parseRepositoryName(input: string): string {
  const spec = parseRepositorySpec(input);
  if (spec.version !== null) {
    // parsed already: the name and version are short and plain, but the input is still quoted as every id is
    throw new IdError(ERR_ID_SYNTAX, `invalid id ${quoteValue(input)}: a repository name is expected, without a version`, { input, field: "repository version" },
      `write ${spec.name}`);
  }
  return spec.name;
}

/** @throws IdError ERR_ID_INVALID_VERSION unless `version` is a repository version (semver, or a release like 23.05). */
export function checkedRepositoryVersion(name: string, version: string): string {
  const problem = checkRepositoryVersion(version);
  if (problem !== null) {
    const input = `${name}:${version}`;
    throw new IdError(ERR_ID_INVALID_VERSION, `invalid id ${quoteValue(input)}: repository version ${quoteValue(version)} ${problem}`,
      { input: input.slice(0, 256), field: "repository version" }, `${versionHint(version)}, or a release like 23.05`);
  }
  return version;
}

/** Release names (`23.05`) order as MAJOR.MINOR.0; anything else the registry holds is semver. */
function repositoryVersionKey(version: string): semver.SemVer | null {
  const release = /^([0-9]+)\.([0-9]+)$/.exec(version);
  if (release !== null) return semver.parse(`${Number(release[1])}.${Number(release[2])}.0`);
  return semver.parse(version);
}

/** Orders repository versions by precedence (release names as MAJOR.MINOR.0); unparsable ones first. */
export function compareRepositoryVersions(a: string, b: string): number {
  const ka = repositoryVersionKey(a);
  const kb = repositoryVersionKey(b);
  if (ka === null || kb === null) return ka === kb ? compareUtf8(a, b) : ka === null ? -1 : 1;
  return semver.compareBuild(ka, kb) || compareUtf8(a, b);
}

/** The version a repository spec names: the exact one, or the highest non-yanked release (pre-releases only if nothing else). */
export function pickRepositoryVersion(versions: readonly VersionRecord[], wanted: string | null): VersionRecord | null {
  if (wanted !== null) return versions.find((v) => v.version === wanted) ?? null;
  const live = versions.filter((v) => !v.yanked).sort((a, b) => compareRepositoryVersions(b.version, a.version));
  return live.find((v) => repositoryVersionKey(v.version)?.prerelease.length === 0) ?? live[0] ?? null;
}

// ---------------------------------------------------------------- the repository itself

/**
 * The repository's record (at `blockTag` when given).
 * @throws PkgError ERR_REPO_UNKNOWN, with a hint to create it.
 */
export async function requireRepository(
  client: Pick<RegistryClient, "getRepository">,
  name: string,
  options: { blockTag?: number } = {},
): Promise<RepositoryRecord> {
  const record = await client.getRepository(name, { blockTag: options.blockTag });
  if (record !== null) return record;
  const at = options.blockTag === undefined ? "" : ` at block ${options.blockTag}`;
  throw new PkgError(ERR_REPO_UNKNOWN, `repository ${name} does not exist${at}`, {
    details: { repository: name, block: options.blockTag ?? null },
    hint: options.blockTag === undefined
      ? `create it with \`repo create ${name}\` (add --curated to let only its maintainers register packages)`
      : `check the name, or pass a later --block (or create it with \`repo create ${name}\`)`,
  });
}

export interface CreateRepositoryParams {
  client: Pick<RegistryClient, "getRepository" | "createRepository">;
  name: string;
  /** Curated: only maintainers register packages. Open (default): anyone does. */
  curated?: boolean;
}

export interface CreateRepositoryResult {
  name: string;
  id: string;
  owner: string;
  curated: boolean;
  tx: TxReceipt;
}

/** Creates a repository owned by the signer. @throws PkgError ERR_REPO_EXISTS before any transaction. */
export async function createRepository(params: CreateRepositoryParams): Promise<CreateRepositoryResult> {
  const { client, name } = params;
  const curated = params.curated ?? false;
  const id = hashRepositoryId(name);
  const existing = await client.getRepository(name);
  if (existing !== null) {
    throw new PkgError(ERR_REPO_EXISTS, `repository ${name} exists already (owner ${existing.owner})`, {
      details: { repository: name, id, owner: existing.owner },
      hint: "choose another name, or ask its owner to make you a maintainer (`repo maintainer add`)",
    });
  }
  const tx = await client.createRepository(name, curated);
  const created = await requireRepository(client, name);
  return { name, id, owner: created.owner, curated: created.curated, tx: { hash: tx.hash, block: tx.blockNumber } };
}

export interface SetCuratedResult {
  name: string;
  curated: boolean;
  /** False when the repository already was as asked (no transaction sent). */
  changed: boolean;
  tx: TxReceipt | null;
}

/** Switches a repository between open and curated; sends nothing when it already is as asked. */
export async function setRepositoryCurated(params: {
  client: Pick<RegistryClient, "getRepository" | "setCurated">;
  name: string;
  curated: boolean;
}): Promise<SetCuratedResult> {
  const { client, name, curated } = params;
  const record = await requireRepository(client, name);
  if (record.curated === curated) return { name, curated, changed: false, tx: null };
  const tx = await client.setCurated(name, curated);
  return { name, curated, changed: true, tx: { hash: tx.hash, block: tx.blockNumber } };
}

// ---------------------------------------------------------------- locking

export interface LockRepositoryParams {
  client: Pick<RegistryClient, "address" | "chainId" | "blockNumber" | "getRepository" | "getRepositoryPackageNames" | "getPackages">;
  name: string;
  /** Read the registry as of this block; default: the latest. */
  block?: number;
}

export interface LockRepositoryResult {
  lock: RepositoryLock;
  /** Packages left out (nothing published, or every version yanked), one line each. */
  warnings: string[];
}

/**
 * Every package of the repository at one block, each at its highest non-yanked version (a pre-release only
 * when it has nothing else): the repository as a rolling release. Packages with no usable version are left
 * out and named in `warnings`. Every read is at the same block, so locking again there gives the same lock.
 */
export async function lockRepository(params: LockRepositoryParams): Promise<LockRepositoryResult> {
  const { client, name } = params;
  const latest = await client.blockNumber();
  const block = params.block ?? latest;
  if (!Number.isSafeInteger(block) || block < 0 || block > latest) {
    throw new PkgError(ERR_REPO_INVALID_BLOCK, `block ${block} is not a block of this chain yet (the latest is ${latest})`, {
      details: { block, latest },
      hint: `pass a --block between 0 and ${latest}, or leave it out to lock at the latest`,
    });
  }
  await requireRepository(client, name, { blockTag: block });
  const names = await client.getRepositoryPackageNames(name, { blockTag: block });
  const records = await client.getPackages(names.map((pkg) => ({ repository: name, name: pkg })), { blockTag: block });
  const packages: Record<string, LockedPackage> = {};
  const warnings: string[] = [];
  names.forEach((pkg, i) => {
    const versions = records[i]?.versions ?? [];
    const picked = pickVersion(versions, null);
    if (picked === null || picked.src === null) {
      warnings.push(versions.length === 0
        ? `${name}/${pkg} has no published version; it is left out of the lock`
        : `${name}/${pkg} has every version yanked; it is left out of the lock`);
      return;
    }
    packages[pkg] = { version: picked.version, meta: picked.meta, src: picked.src };
  });
  const lock: RepositoryLock = { name, block, chainId: Number(await client.chainId()), registry: getAddress(client.address), packages };
  return { lock, warnings };
}

// ---------------------------------------------------------------- reading a published version

export interface RepositoryVersion {
  name: string;
  version: string;
  /** CID of the version's repo.lock. */
  meta: string;
  yanked: boolean;
  lock: RepositoryLock;
  /** The repo.lock exactly as published (its bytes hash to `meta`). */
  text: string;
}

async function readVersionRecord(content: Pick<ContentStore, "getBytes">, name: string, record: VersionRecord): Promise<RepositoryVersion> {
  // a published meta may be hostile: reading stops past the size limit, before anything is parsed
  const file = `${name}:${record.version} (meta ${record.meta})`;
  const text = (await collectBytes(content.getBytes(CID.parse(record.meta)), file, REPOLOCK_LIMIT)).toString("utf8");
  const lock = parseRepositoryLock(text, file);
  if (lock.name !== name) {
    throw new PkgError(ERR_REPO_META_MISMATCH, `${name}:${record.version}: its published lock (meta ${record.meta}) is for repository ${lock.name}`, {
      details: { repository: name, version: record.version, meta: record.meta, lockName: lock.name },
      hint: `the version was published with a wrong lock; its maintainers should yank it (\`repo yank ${name}:${record.version}\`) and publish another`,
    });
  }
  return { name, version: record.version, meta: record.meta, yanked: record.yanked, lock, text };
}

function unknownVersion(name: string, version: string, versions: readonly VersionRecord[]): PkgError {
  const available = versions.map((v) => v.version).sort((a, b) => compareRepositoryVersions(b, a));
  return new PkgError(ERR_REPO_UNKNOWN_VERSION, `${name}:${version} is not published (available: ${available.join(", ") || "none"})`, {
    details: { repository: name, version, available },
    hint: available.length === 0 ? `${name} is a rolling release; leave the version out (\`repo fetch ${name}\`)` : `name one of the available versions`,
  });
}

/** A published repository version: its repo.lock read from the content store (verified against its CID) and parsed. */
export async function readRepositoryVersion(params: {
  client: Pick<RegistryClient, "getRepository" | "getRepositoryVersions">;
  content: Pick<ContentStore, "getBytes">;
  name: string;
  version: string;
}): Promise<RepositoryVersion> {
  const { client, name } = params;
  const version = checkedRepositoryVersion(name, params.version);
  await requireRepository(client, name);
  const versions = await client.getRepositoryVersions(name);
  const record = versions.find((v) => v.version === version);
  if (!record) throw unknownVersion(name, version, versions);
  return readVersionRecord(params.content, name, record);
}

// ---------------------------------------------------------------- publishing

export interface PublishRepositoryParams {
  client: LockRepositoryParams["client"] & Pick<RegistryClient, "getRepositoryVersions" | "publishRepository">;
  content: Pick<ContentStore, "putBytes">;
  name: string;
  version: string;
  /** The lock to publish (e.g. read from a file); default: {@link lockRepository} at the latest block. */
  lock?: RepositoryLock;
  /** Where `lock` came from, for messages. */
  lockFile?: string;
  /** Check and put the lock in the content store, send no transaction. */
  dryRun?: boolean;
  onStep?: (step: string) => void;
}

export interface PublishRepositoryResult {
  name: string;
  version: string;
  /** CID of the published repo.lock. */
  meta: string;
  /** The block the lock was resolved at. */
  block: number;
  packages: number;
  lock: RepositoryLock;
  warnings: string[];
  /** Null on a dry run. */
  tx: TxReceipt | null;
}

/** Every pin of a given lock must be a published version of this registry with exactly these CIDs. */
async function checkPins(client: Pick<RegistryClient, "getPackages">, lock: RepositoryLock, file: string): Promise<string[]> {
  const names = Object.keys(lock.packages).sort(compareUtf8);
  const records = await client.getPackages(names.map((pkg) => ({ repository: lock.name, name: pkg })));
  const warnings: string[] = [];
  names.forEach((pkg, i) => {
    const pinned = lock.packages[pkg];
    const id = `${lock.name}/${pkg}:${pinned.version}`;
    const found = records[i]?.versions.find((v) => v.version === pinned.version);
    if (!found) {
      throw new PkgError(ERR_REPO_LOCK_MISMATCH, `${file}: [packages.${pkg}]: ${id} is not published`, {
        details: { file, package: id },
        hint: "a repository version can only pin published package versions; regenerate the lock with `repo lock`",
      });
    }
    if (found.meta !== pinned.meta || found.src !== pinned.src) {
      throw new PkgError(ERR_REPO_LOCK_MISMATCH, `${file}: [packages.${pkg}]: ${id} is published with other CIDs (meta ${found.meta}, src ${found.src})`, {
        details: { file, package: id, meta: found.meta, src: found.src, lockMeta: pinned.meta, lockSrc: pinned.src },
        hint: "published versions never change; regenerate the lock with `repo lock`",
      });
    }
    if (found.yanked) warnings.push(`${id} is yanked; the repository version pins it anyway`);
  });
  return warnings;
}

/**
 * Publishes a repository version whose meta is the repo lock: checks the repository exists and the version
 * is new, checks a given lock against the chain (or locks the repository at the latest block), puts the lock
 * in the content store (pinned), then sends the transaction.
 */
export async function publishRepository(params: PublishRepositoryParams): Promise<PublishRepositoryResult> {
  const { client, content, name } = params;
  const step = params.onStep ?? (() => {});
  const version = checkedRepositoryVersion(name, params.version);

  step(`checking repository ${name} and ${name}:${version} on chain`);
  await requireRepository(client, name);
  const published = (await client.getRepositoryVersions(name)).find((v) => v.version === version);
  if (published) {
    throw new PkgError(ERR_REPO_VERSION_EXISTS, `${name}:${version} is already published (meta ${published.meta}); published versions never change`, {
      details: { repository: name, version, meta: published.meta },
      hint: "publish a new version number",
    });
  }

  let lock: RepositoryLock;
  let warnings: string[];
  if (params.lock) {
    const file = params.lockFile ?? REPOLOCK_FILE_NAME;
    lock = params.lock;
    if (lock.name !== name) {
      throw new PkgError(ERR_REPO_LOCK_MISMATCH, `${file}: [repository].name: the lock is for repository ${lock.name}, not ${name}`, {
        details: { file, repository: name, lockName: lock.name },
        hint: `lock ${name} with \`repo lock ${name} -o ${file}\``,
      });
    }
    checkRepositoryLockChain(lock, { chainId: Number(await client.chainId()), registry: client.address }, file);
    step(`checking the ${Object.keys(lock.packages).length} package versions of ${file} on chain`);
    warnings = await checkPins(client, lock, file);
  } else {
    step(`locking every package of ${name} at the latest block`);
    ({ lock, warnings } = await lockRepository({ client, name }));
  }
  if (Object.keys(lock.packages).length === 0) warnings.push(`${name}:${version} pins no packages`);

  step("adding the repository lock to the content store");
  const meta = (await content.putBytes(serializeRepositoryLock(lock), { pin: true })).toString();
  const result = { name, version, meta, block: lock.block, packages: Object.keys(lock.packages).length, lock, warnings };
  if (params.dryRun) return { ...result, tx: null };

  step(`publishing ${name}:${version}`);
  const tx = await client.publishRepository(name, version, meta);
  return { ...result, tx: { hash: tx.hash, block: tx.blockNumber } };
}

// ---------------------------------------------------------------- yanking

export interface YankRepositoryResult {
  name: string;
  version: string;
  yanked: boolean;
  /** False when the version already was as asked (no transaction sent). */
  changed: boolean;
  tx: TxReceipt | null;
}

/** Sets a repository version's yanked flag; sends nothing when it already is as asked. */
export async function yankRepositoryVersion(params: {
  client: Pick<RegistryClient, "getRepository" | "getRepositoryVersions" | "setRepositoryYanked">;
  name: string;
  version: string;
  yanked: boolean;
}): Promise<YankRepositoryResult> {
  const { client, name, yanked } = params;
  const version = checkedRepositoryVersion(name, params.version);
  await requireRepository(client, name);
  const versions = await client.getRepositoryVersions(name);
  const record = versions.find((v) => v.version === version);
  if (!record) throw unknownVersion(name, version, versions);
  if (record.yanked === yanked) return { name, version, yanked, changed: false, tx: null };
  const tx = await client.setRepositoryYanked(name, version, yanked);
  return { name, version, yanked, changed: true, tx: { hash: tx.hash, block: tx.blockNumber } };
}

// ---------------------------------------------------------------- fetching

export interface FetchRepositoryParams {
  client: LockRepositoryParams["client"] & Pick<RegistryClient, "getRepositoryVersions">;
  content: Pick<ContentStore, "getBytes" | "getTree">;
  name: string;
  /** A published version; null: the latest non-yanked one, or for a rolling repository its packages' latest. */
  version: string | null;
  /** The directory in which `NAME-VERSION/` is created (`NAME-rolling-BLOCK/` for a rolling repository). */
  destination: string;
  /** Rolling repositories only: lock as of this block (default: the latest). */
  block?: number;
  onProgress?: (done: number, total: number, name: string) => void;
}

export interface FetchedRepositoryPackage extends LockedPackage {
  name: string;
  destination: string;
}

export interface FetchRepositoryResult {
  name: string;
  /** Null for a rolling repository (no published versions). */
  version: string | null;
  /** CID of the published repo.lock; null for a rolling repository. */
  meta: string | null;
  yanked: boolean;
  block: number;
  /** The directory created: it holds repo.lock and one `PKG-VERSION/` directory per package. */
  destination: string;
  lock: RepositoryLock;
  packages: FetchedRepositoryPackage[];
  warnings: string[];
}

/** One pinned package's sources and pkg.toml into `dir` (which must not exist), as `pkg fetch` lays them out (and checks them: a hostile tree is refused the same way). */
async function fetchPinned(content: FetchRepositoryParams["content"], id: string, entry: LockedPackage, dir: string): Promise<void> {
  try {
    await writePackageTree(content, { id, meta: entry.meta, src: entry.src }, dir);
  } catch (error) {
    // the code repo fetch has always given this (stable codes are never renamed)
    if (isPkgError(error, ERR_FETCH_META_CONFLICT)) throw new PkgError(ERR_REPO_META_CONFLICT, error.message, { details: error.details });
    throw error;
  }
}

/** Runs `run` over `items`, `limit` at a time; on a failure starts nothing new, waits for the rest, then throws it. */
async function forEachLimit<T>(items: readonly T[], limit: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | null = null;
  const worker = async () => {
    while (failure === null && next < items.length) {
      const item = items[next++];
      try {
        await run(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== null) throw (failure as { error: unknown }).error;
}

/** The lock a fetch uses: a published version's, the latest non-yanked one's, or (rolling) a fresh one. */
async function lockToFetch(params: FetchRepositoryParams): Promise<{ published: RepositoryVersion | null; lock: RepositoryLock; text: string; warnings: string[] }> {
  const { client, content, name } = params;
  if (params.version !== null) {
    const published = await readRepositoryVersion({ client, content, name, version: params.version });
    return { published, lock: published.lock, text: published.text, warnings: published.yanked ? [`${name}:${published.version} is yanked`] : [] };
  }
  await requireRepository(client, name);
  const versions = await client.getRepositoryVersions(name);
  if (versions.length === 0) {
    const { lock, warnings } = await lockRepository({ client, name, block: params.block });
    return { published: null, lock, text: serializeRepositoryLock(lock), warnings };
  }
  const picked = pickRepositoryVersion(versions, null);
  if (picked === null) {
    const available = versions.map((v) => v.version).sort((a, b) => compareRepositoryVersions(b, a));
    throw new PkgError(ERR_REPO_NO_MATCHING_VERSION, `every version of ${name} is yanked (${available.join(", ")})`, {
      details: { repository: name, available },
      hint: `name one explicitly, e.g. \`repo fetch ${name}:${available[0]}\``,
    });
  }
  const published = await readVersionRecord(content, name, picked);
  return { published, lock: published.lock, text: published.text, warnings: [] };
}

/**
 * A repository's lock and every package it pins, into `destination/NAME-VERSION/`: `repo.lock` (as published)
 * and `PKG-VERSION/` with each package's sources and pkg.toml, every byte verified against its CID. All of it
 * is written into a temporary sibling renamed into place at the end; on any error nothing is left behind.
 */
export async function fetchRepository(params: FetchRepositoryParams): Promise<FetchRepositoryResult> {
  const { client, content, name } = params;
  if (params.version !== null && params.block !== undefined) {
    throw new PkgError(ERR_REPO_INVALID_BLOCK, `a block applies to rolling repositories only, not to ${name}:${params.version}`, {
      hint: "leave out the version or the block",
    });
  }
  const { published, lock, text, warnings } = await lockToFetch(params);
  const destination = path.resolve(params.destination, `${name}-${published?.version ?? `rolling-${lock.block}`}`);
  if (await lexists(destination)) {
    throw new PkgError(ERR_REPO_DESTINATION_EXISTS, `${destination} exists already`, {
      details: { destination },
      hint: "pass --output with another directory, or remove it",
    });
  }
  const names = Object.keys(lock.packages).sort(compareUtf8);
  if (published !== null && names.length > 0) {
    // A published lock may pin versions yanked since: they still fetch, with a warning (as pkg.lock does).
    const records = await client.getPackages(names.map((pkg) => ({ repository: name, name: pkg })));
    names.forEach((pkg, i) => {
      const version = lock.packages[pkg].version;
      if (records[i]?.versions.find((v) => v.version === version)?.yanked) warnings.push(`${name}/${pkg}:${version} is yanked`);
    });
  }

  await mkdir(path.dirname(destination), { recursive: true });
  // as pkg fetch: `.NAME.partial-PID-…` beside it, and what a killed fetch left there is removed first
  await removeStaleStaging(path.dirname(destination), path.basename(destination));
  const staging = path.join(path.dirname(destination), stagingName(path.basename(destination)));
  const packages: FetchedRepositoryPackage[] = [];
  try {
    await mkdir(staging);
    await writeFile(path.join(staging, REPOLOCK_FILE_NAME), text);
    let done = 0;
    await forEachLimit(names, FETCH_CONCURRENCY, async (pkg) => {
      const entry = lock.packages[pkg];
      const dir = `${pkg}-${entry.version}`;
      await fetchPinned(content, `${name}/${pkg}:${entry.version}`, entry, path.join(staging, dir));
      packages.push({ name: pkg, ...entry, destination: path.join(destination, dir) });
      params.onProgress?.(++done, names.length, pkg);
    });
    await rename(staging, destination);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
  packages.sort((a, b) => compareUtf8(a.name, b.name));
  return {
    name,
    version: published?.version ?? null,
    meta: published?.meta ?? null,
    yanked: published?.yanked ?? false,
    block: lock.block,
    destination,
    lock,
    packages,
    warnings,
  };
}
