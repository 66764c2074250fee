/**
 * Locking a repository: every package at its newest usable version as of one block (a rolling release), and
 * the lock a command works from when it is given a repository id ({@link chooseRepositoryLock}).
 *
 * A repository with no published versions is a rolling release: "its packages" are their latest versions,
 * resolved at one block; resolving again at that block gives the same lock.
 */
import { PkgError } from "../errors";
import { pickVersion } from "../fetch";
import { checksumAddress } from "../chain/hash";
import { serializeRepositoryLock, type LockedPackage, type RepositoryLock } from "../repolock";
import type { ContentStore } from "../content";
import type { RegistryClient } from "../chain/registry";
import { ERR_REPO_INVALID_BLOCK, ERR_REPO_NO_MATCHING_VERSION } from "./errors";
import { compareRepositoryVersions, pickRepositoryVersion } from "./names";
import { readRepositoryVersion, readVersionRecord, requireRepository } from "./read";

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
  const lock: RepositoryLock = { name, block, chainId: Number(await client.chainId()), registry: checksumAddress(client.address), packages };
  return { lock, warnings };
}

export interface RepositoryLockChoice {
  lock: RepositoryLock;
  /** The repo.lock's text: as published (its bytes hash to `meta`), or the fresh lock serialized. */
  text: string;
  /** The published version used; null for a rolling repository (locked now, or at `block`). */
  version: string | null;
  /** CID of the published repo.lock; null for a rolling repository. */
  meta: string | null;
  /** Whether the published version used is yanked (a warning says so too). */
  yanked: boolean;
  warnings: string[];
}

/**
 * The repo.lock `repo fetch|instantiate|build NAME[:VERSION]` work from: the version named, else the newest that
 * is not yanked, else (no versions: a rolling release) its packages' newest versions at `block` (default: now).
 * @throws PkgError ERR_REPO_NO_MATCHING_VERSION when every version is yanked (the hint names `repo COMMAND`).
 */
export async function chooseRepositoryLock(params: {
  client: LockRepositoryParams["client"] & Pick<RegistryClient, "getRepositoryVersions">;
  content: Pick<ContentStore, "getBytes" | "getBlock">;
  name: string;
  version: string | null;
  block?: number;
  /** The `repo` command the hints name (default `fetch`). */
  command?: string;
}): Promise<RepositoryLockChoice> {
  const { client, content, name } = params;
  if (params.version !== null) {
    const published = await readRepositoryVersion({ client, content, name, version: params.version });
    const warnings = published.yanked ? [`${name}:${published.version} is yanked`] : [];
    return { lock: published.lock, text: published.text, version: published.version, meta: published.meta, yanked: published.yanked, warnings };
  }
  await requireRepository(client, name);
  const versions = await client.getRepositoryVersions(name);
  if (versions.length === 0) {
    const { lock, warnings } = await lockRepository({ client, name, block: params.block });
    return { lock, text: serializeRepositoryLock(lock), version: null, meta: null, yanked: false, warnings };
  }
  const picked = pickRepositoryVersion(versions, null);
  if (picked === null) {
    const available = versions.map((v) => v.version).sort((a, b) => compareRepositoryVersions(b, a));
    throw new PkgError(ERR_REPO_NO_MATCHING_VERSION, `every version of ${name} is yanked (${available.join(", ")})`, {
      details: { repository: name, available },
      hint: `name one explicitly, e.g. \`repo ${params.command ?? "fetch"} ${name}:${available[0]}\``,
    });
  }
  const published = await readVersionRecord(content, name, picked);
  return { lock: published.lock, text: published.text, version: published.version, meta: published.meta, yanked: false, warnings: [] };
}
