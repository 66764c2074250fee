/**
 * `repo fetch`: a repository version's repo.lock and every package it pins, into one directory, every byte
 * verified against its CID. All of it is written into a temporary sibling renamed into place at the end; on
 * any error nothing is left behind. As `pkg fetch -o DIR` writes the package into DIR, `repo fetch -o DIR`
 * writes the repository into DIR: `DIR/repo.lock` and `DIR/PKG-VERSION/` per package.
 */
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { forEachLimit } from "../concurrency";
import { isPkgError, PkgError } from "../errors";
import { defaultFetchDestination, ERR_FETCH_META_CONFLICT, removeStaleStaging, stagingName, writePackageTree } from "../fetch";
import { lexists } from "../files/nofollow";
import { compareUtf8 } from "../files/order";
import { packageVersionId } from "../ids";
import { REPOLOCK_FILE_NAME, type LockedPackage, type RepositoryLock } from "../repolock";
import type { ContentStore } from "../content";
import type { RegistryClient } from "../chain/registry";
import { ERR_REPO_DESTINATION_EXISTS, ERR_REPO_INVALID_BLOCK, ERR_REPO_META_CONFLICT } from "./errors";
import { chooseRepositoryLock, type LockRepositoryParams } from "./lock";

/** Packages fetched in parallel by {@link fetchRepository}. */
const FETCH_CONCURRENCY = 4;

export interface FetchRepositoryParams {
  client: LockRepositoryParams["client"] & Pick<RegistryClient, "getRepositoryVersions">;
  content: Pick<ContentStore, "getBytes" | "getTree" | "getBlock">;
  name: string;
  /** A published version; null: the latest non-yanked one, or for a rolling repository its packages' latest. */
  version: string | null;
  /**
   * The directory to create (it must not exist): it gets repo.lock and one `PKG-VERSION/` per package. Null:
   * `NAME-VERSION/` in `cwd` (`NAME-rolling-BLOCK/` for a rolling repository), as `pkg fetch` makes `NAME-VERSION/`.
   */
  destination: string | null;
  /** Where a null destination goes (default: the current directory). */
  cwd?: string;
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

/** A repository's lock and every package it pins into `destination` (see the top of this file). */
export async function fetchRepository(params: FetchRepositoryParams): Promise<FetchRepositoryResult> {
  const { client, content, name } = params;
  if (params.version !== null && params.block !== undefined) {
    throw new PkgError(ERR_REPO_INVALID_BLOCK, `a block applies to rolling repositories only, not to ${name}:${params.version}`, {
      hint: "leave out the version or the block",
    });
  }
  const chosen = await chooseRepositoryLock({ client, content, name, version: params.version, block: params.block, command: "fetch" });
  const { lock, text } = chosen;
  const warnings = [...chosen.warnings];
  const destination = params.destination === null
    ? defaultFetchDestination(name, chosen.version ?? `rolling-${lock.block}`, params.cwd)
    : path.resolve(params.destination);
  if (await lexists(destination)) {
    throw new PkgError(ERR_REPO_DESTINATION_EXISTS, `${destination} exists already`, {
      details: { destination },
      hint: "pass --output with a new directory, or remove it",
    });
  }
  const names = Object.keys(lock.packages).sort(compareUtf8);
  if (chosen.version !== null && names.length > 0) {
    // A published lock may pin versions yanked since: they still fetch, with a warning (as pkg.lock does).
    const records = await client.getPackages(names.map((pkg) => ({ repository: name, name: pkg })));
    names.forEach((pkg, i) => {
      const version = lock.packages[pkg].version;
      if (records[i]?.versions.find((v) => v.version === version)?.yanked) warnings.push(`${packageVersionId({ repository: name, name: pkg, version })} is yanked`);
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
      await fetchPinned(content, packageVersionId({ repository: name, name: pkg, version: entry.version }), entry, path.join(staging, dir));
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
    version: chosen.version,
    meta: chosen.meta,
    yanked: chosen.yanked,
    block: lock.block,
    destination,
    lock,
    packages,
    warnings,
  };
}
