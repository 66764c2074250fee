/**
 * `pkg build` in a package directory: instantiate → realise through the store daemon → record the build.
 *
 * - No chain needed: instantiation reads pkg.toml, pkg.lock and the published pkg.toml files of the locked
 *   inputs from the content store only (the lock is checked against the registry by `lockCheck`, if given).
 * - The directory is read once per build ({@link readPackageDirectory}: pkg.toml and its `src` globs); the
 *   instantiation, the variant's args and the no-op cache all use that one reading.
 * - The build file (pkg.build.toml) gets one record per build name (default "default"), replaced
 *   in place, written atomically and only when it changed: a no-op build writes nothing.
 * - A build name is a variant (issue #5): `--arg` appends args to pkg.toml's for the package's own
 *   derivation (dependencies keep theirs), and its record keeps them; the same name without `--arg`
 *   builds with the recorded ones again (as a cargo profile), `--arg` replaces them. The fingerprint
 *   cache entry holds the variant's args, so one variant never answers for another.
 * - `--rebuild` is Nix's: the derivation is realised (built if needed), then built again into a
 *   temporary path and the two output CIDs compared; a difference is ERR_BUILD_NOT_REPRODUCIBLE.
 * - The no-op cache is a wrapper around the build ({@link buildDirectory} around {@link buildPackageDirectory}),
 *   as git's index and cargo's fingerprints are: a cache entry per package directory
 *   (`<store>/dirs/<hash>.json`, src/noop/cache.ts) maps a fingerprint (size, mtime in ns and inode of
 *   pkg.toml, pkg.lock and every source file, and the mtimes of the directories holding them, so that a new
 *   file matching a glob is noticed) to the derivation CID. A hit asks the daemon to realise that CID
 *   directly, without loading the content store, the TOML parsers or the chain libraries; anything else
 *   (a changed file, an unknown derivation, --rebuild) builds. The daemon answers a plain no-op `pkg build`
 *   from the same cache before oclif even loads (src/noop/answer.ts).
 */
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { PkgError, isPkgError } from "./errors";
import { readTextFileOrNull } from "./files/read";
import type { Buildfile, BuildRecord } from "./buildfile";
import type { PackageDirectory } from "./instantiate";
import type { LockCheck } from "./lock-verify";
import type { ContentStore } from "./content/types";
import { realiseVia, type LogHandler, type ProgressHandler, type StoreClient } from "./daemon/client";
import { ERR_BUILD_NOT_REPRODUCIBLE, ERR_STORE_UNKNOWN_DERIVATION } from "./store/errors";
import { defaultStoreDir } from "./store/paths";
import { cacheSlot, cachedRecord, type CacheSlot, type DirCacheEntry, cachedResult, type Fingerprint, fingerprint, lookupCache, readBuildFile, writeCache } from "./noop/cache";

export type { LogHandler, ProgressHandler } from "./daemon/client";

/* eslint-disable @typescript-eslint/no-require-imports */
// Loaded when the build cannot be answered from the no-op cache: these pull in the TOML parser, IPFS libraries and DAG-CBOR.
const lazy = {
  buildfile: () => require("./buildfile") as typeof import("./buildfile"),
  cid: () => require("multiformats/cid") as typeof import("multiformats/cid"),
  instantiate: () => require("./instantiate") as typeof import("./instantiate"),
  manifest: () => require("./manifest") as typeof import("./manifest"),
};
/* eslint-enable @typescript-eslint/no-require-imports */

type DirectoryContent = Pick<ContentStore, "getBytes" | "putBlock" | "pin" | "putBytes" | "putTree">;

export interface BuildDirectoryParams {
  dir: string;
  /** The content store, opened only when the build cannot be answered from the no-op cache (the caller closes it). */
  content: DirectoryContent | (() => Promise<DirectoryContent>);
  /** Store root, where the fingerprint cache lives; default {@link defaultStoreDir}. */
  storeDir?: string;
  client: Pick<StoreClient, "request">;
  /** Build record name (default "default"). */
  name?: string;
  /**
   * The variant's args, appended to pkg.toml's for the package's own derivation (`pkg build --arg`).
   * Undefined: the ones the record called `name` was built with (a named variant remembers its args,
   * as a cargo profile does); none for a new name.
   */
  args?: readonly string[];
  system?: string;
  rebuild?: boolean;
  onLog?: LogHandler;
  onProgress?: ProgressHandler;
  /**
   * How pkg.lock is checked before it is instantiated (src/lock-verify.ts): against the registry at its
   * block, or trusted (--offline). A trusted build is not remembered in the fingerprint cache, so that the
   * next plain `pkg build` checks the lock. Without one the lock is used as it is (a lock just resolved).
   */
  lockCheck?: LockCheck;
}

export interface BuildDirectoryResult {
  name: string;
  /** The package's derivation (the build file's metadrv). */
  drv: string;
  /** Output name → store path. */
  outputs: Record<string, string>;
  /** CID of the `out` tree (the build file's output). */
  output: string;
  built: boolean;
  /** With rebuild: the outputs of both builds had the same CID. */
  matched?: boolean;
  subderivations: string[];
  buildFile: string;
  /** Whether the build file was (re)written. */
  buildFileChanged: boolean;
  /** Whether instantiation was skipped (nothing it reads changed since the last build). */
  cached: boolean;
  sandbox?: string;
}

/** What one build did besides its result: the record it wrote and the args its variant added (what the no-op cache keeps). */
interface PackageBuild {
  result: BuildDirectoryResult;
  record: BuildRecord;
  extraArgs: readonly string[];
}

async function readOrEmpty(file: string): Promise<Buildfile> {
  const { readBuildfile, ERR_BUILDFILE_NOT_FOUND } = lazy.buildfile();
  try {
    return await readBuildfile(file);
  } catch (error) {
    if (isPkgError(error, ERR_BUILDFILE_NOT_FOUND)) return { builds: [] };
    throw error;
  }
}

/** Replaces (or appends) the record called `record.name`; writes only when the text changes. */
export async function updateBuildfile(file: string, record: BuildRecord): Promise<boolean> {
  const { serializeBuildfile, writeBuildfile } = lazy.buildfile();
  const current = await readOrEmpty(file);
  const builds = [...current.builds];
  const at = builds.findIndex((b) => b.name === record.name);
  if (at >= 0) builds[at] = record;
  else builds.push(record);
  const next: Buildfile = { builds };
  const before = await readTextFileOrNull(file);
  if (before === serializeBuildfile(next, file)) return false;
  await writeBuildfile(file, next);
  return true;
}

export const ERR_BUILD_VARIANT_ARGS = "ERR_BUILD_VARIANT_ARGS";

function sameArgs(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * The args a recorded variant added to pkg.toml's: its record holds them after the args of the pkg.toml
 * it was built from (`package`), read back from the content store, so that a pkg.toml whose args changed
 * since still gets the variant's own. Without that pkg.toml, the current one's args must be a prefix.
 * @throws PkgError ERR_BUILD_VARIANT_ARGS when neither tells the variant's args apart.
 */
async function rememberedArgs(record: BuildRecord, current: readonly string[], content: DirectoryContent, buildFile: string): Promise<string[]> {
  let base: readonly string[] = current;
  try {
    const { CID } = lazy.cid();
    const old = await lazy.manifest().readPublishedManifest(content.getBytes(CID.parse(record.package)), `meta ${record.package}`);
    base = old.args;
  } catch {
    // not in the content store (or not a pkg.toml): fall back to the current args
  }
  if (!sameArgs(record.args.slice(0, base.length), base)) {
    throw new PkgError(ERR_BUILD_VARIANT_ARGS, `${buildFile}: build "${record.name}" has args ${JSON.stringify(record.args)}, which do not start with pkg.toml's ${JSON.stringify(base)}`, {
      details: { buildFile, name: record.name, args: record.args, manifestArgs: [...base] },
      hint: `give this variant's args again: pkg build --name ${record.name} --arg=...`,
    });
  }
  return record.args.slice(base.length);
}

/**
 * Builds the package of a directory read once (no cache): instantiates it, realises its derivation (twice
 * with `rebuild`) and records the build in pkg.build.toml.
 * @throws PkgError of instantiation, the daemon or the build.
 */
export async function buildPackageDirectory(params: Omit<BuildDirectoryParams, "content"> & { directory: PackageDirectory; content: DirectoryContent }): Promise<PackageBuild> {
  const { content, directory } = params;
  const name = params.name ?? "default";
  const buildFile = path.join(params.dir, "pkg.build.toml");
  let extraArgs: readonly string[] = params.args ?? [];
  if (params.args === undefined) {
    const previous = (await readOrEmpty(buildFile)).builds.find((b) => b.name === name);
    if (previous !== undefined) extraArgs = await rememberedArgs(previous, directory.manifest.args, content, buildFile);
  }
  const inst = await lazy.instantiate().instantiateDirectory({ dir: params.dir, directory, content, system: params.system, pin: true, extraArgs, checkLock: params.lockCheck?.verify });
  const drv = inst.root.toString();
  let answer = await realiseVia(params.client, drv, { onLog: params.onLog, onProgress: params.onProgress });
  let matched: boolean | undefined;
  if (params.rebuild) {
    const again = await realiseVia(params.client, drv, { rebuild: true, onLog: params.onLog, onProgress: params.onProgress });
    matched = again.matched;
    if (matched === false) {
      throw new PkgError(ERR_BUILD_NOT_REPRODUCIBLE, `${inst.derivation.name} is not reproducible: a second build gave ${again.cids.out}, the first ${answer.cids.out}`, {
        details: { drv, first: answer.cids, second: again.cids, path: answer.outputs.out },
        hint: "the build depends on something besides its inputs (time, randomness, the host); compare the two outputs",
      });
    }
    answer = { ...answer, subderivations: again.subderivations.length > 0 ? again.subderivations : answer.subderivations };
  }
  const lock = (await content.putBytes(await readFile(inst.lockFile))).toString();
  const record: BuildRecord = {
    name,
    package: inst.meta.toString(),
    lock,
    args: [...inst.derivation.args],
    metadrv: drv,
    subderivations: [...answer.subderivations],
    output: answer.cids.out,
    system: inst.derivation.system,
  };
  const buildFileChanged = await updateBuildfile(buildFile, record);
  const result: BuildDirectoryResult = {
    name,
    drv,
    outputs: answer.outputs,
    output: answer.cids.out,
    built: answer.built,
    ...(matched !== undefined ? { matched } : {}),
    subderivations: answer.subderivations,
    buildFile,
    buildFileChanged,
    cached: false,
    ...(answer.sandbox !== undefined ? { sandbox: answer.sandbox } : {}),
  };
  return { result, record, extraArgs };
}

/**
 * Whether a cache entry answers for this variant. Given args must be the entry's; remembered ones are
 * the entry's when pkg.build.toml is the one it wrote, or when the record there still has its args
 * (another variant's build rewrote the file). An unreadable build file is a miss: the build says why.
 */
function entryFits(entry: DirCacheEntry, args: readonly string[] | undefined, buildFile: string, name: string): boolean {
  const own = entry.extraArgs ?? [];
  if (args !== undefined) return sameArgs(own, args);
  const bytes = readBuildFile(buildFile);
  if (bytes === null) return own.length === 0;
  if (entry.buildFile !== null && Buffer.from(entry.buildFile, "utf8").equals(bytes)) return true;
  try {
    const { parseBuildfile, findBuild } = lazy.buildfile();
    const record = findBuild(parseBuildfile(bytes.toString("utf8"), buildFile), name);
    return record === undefined ? own.length === 0 : sameArgs(record.args, entry.record.args);
  } catch {
    return false;
  }
}

/** The build of a cache entry whose fingerprint still matches, or null when the daemon no longer knows its derivation. */
async function answerFromCache(params: BuildDirectoryParams, slot: CacheSlot, entry: DirCacheEntry, buildFile: string, name: string): Promise<BuildDirectoryResult | null> {
  try {
    const answer = await realiseVia(params.client, entry.drv, { onLog: params.onLog, onProgress: params.onProgress });
    const { record, unchanged } = cachedRecord(entry, answer, readBuildFile(buildFile));
    const buildFileChanged = unchanged ? false : await updateBuildfile(buildFile, record);
    if (!unchanged) writeCache(slot, { ...entry, record, outputs: answer.outputs, buildFile: readBuildFile(buildFile)?.toString("utf8") ?? null });
    return cachedResult(name, entry, answer, buildFile, buildFileChanged);
  } catch (error) {
    if (isPkgError(error, ERR_STORE_UNKNOWN_DERIVATION)) return null; // the derivation left the content store: build
    throw error;
  }
}

/** Names in the directory itself (not below): with the sources' directory mtimes, what tells whether a file was added at the top. */
async function topNames(dir: string): Promise<Set<string> | null> {
  return readdir(dir).then((names) => new Set(names), () => null);
}

/**
 * The fingerprint to remember after the build wrote pkg.build.toml, or null. Writing it changed the directory's
 * mtime, so the fingerprint taken before the build no longer matches; the one taken now is kept only if the
 * files are as they were before the build, no source directory below changed, and the directory holds the same
 * names as before besides pkg.build.toml (no file was added where a glob might match it: globbing again would
 * tell, at the cost of a second glob per build).
 */
async function fingerprintAfterWrite(dir: string, sources: readonly string[], before: Fingerprint, namesBefore: Set<string> | null): Promise<Fingerprint | null> {
  const after = fingerprint(dir, sources);
  if (after === null || after.files !== before.files || namesBefore === null) return null;
  // dirs[0] is the package directory ("." sorts first); the others must not have changed.
  if (after.dirs.split(",").slice(1).join(",") !== before.dirs.split(",").slice(1).join(",")) return null;
  const namesAfter = await topNames(dir);
  if (namesAfter === null) return null;
  namesBefore.add("pkg.build.toml");
  return namesAfter.size === namesBefore.size && [...namesAfter].every((n) => namesBefore.has(n)) ? after : null;
}

/**
 * `pkg build` in a package directory: the no-op cache around {@link buildPackageDirectory}. A build whose
 * directory did not change since it was last built (and whose variant is the same) only asks the daemon for
 * the derivation's outputs; any other builds, and is remembered for next time.
 * @throws PkgError of instantiation, the daemon or the build.
 */
export async function buildDirectory(params: BuildDirectoryParams): Promise<BuildDirectoryResult> {
  const name = params.name ?? "default";
  const buildFile = path.join(params.dir, "pkg.build.toml");
  const slot = cacheSlot(params.storeDir ?? defaultStoreDir(), params.dir, name, params.system);
  if (!params.rebuild) {
    const found = lookupCache(slot, params.dir, name);
    if ("entry" in found && entryFits(found.entry, params.args, buildFile, name)) {
      const cached = await answerFromCache(params, slot, found.entry, buildFile, name);
      if (cached !== null) return cached;
    }
  }

  const namesBefore = await topNames(params.dir);
  const directory = await lazy.instantiate().readPackageDirectory(params.dir);
  const sources = "files" in directory.sources ? directory.sources.files : null;
  const before = sources === null ? null : fingerprint(params.dir, sources);
  const content = typeof params.content === "function" ? await params.content() : params.content;
  const { result, record, extraArgs } = await buildPackageDirectory({ ...params, directory, content });

  // A trusted lock (--offline) is not remembered: the next plain `pkg build` checks it.
  if (sources === null || before === null || params.lockCheck?.trusted === true) return result;
  const stored = result.buildFileChanged ? await fingerprintAfterWrite(params.dir, sources, before, namesBefore) : before;
  if (stored !== null) {
    writeCache(slot, { fingerprint: stored, sources, drv: result.drv, name, record, extraArgs: [...extraArgs], outputs: result.outputs, buildFile: readBuildFile(buildFile)?.toString("utf8") ?? null });
  }
  return result;
}
