/**
 * `pkg build` and `repo build`: instantiate → realise through the store daemon → record the build.
 *
 * - `pkg build` in a package directory needs no chain: instantiation reads pkg.toml, pkg.lock and
 *   the published pkg.toml files of the locked inputs from the content store only.
 * - The build file (pkg.build.toml) gets one record per build name (default "default"), replaced
 *   in place, written atomically and only when it changed: a no-op build writes nothing.
 * - A build name is a variant (issue #5): `--arg` appends args to pkg.toml's for the package's own
 *   derivation (dependencies keep theirs), and its record keeps them; the same name without `--arg`
 *   builds with the recorded ones again (as a cargo profile), `--arg` replaces them. The fingerprint
 *   cache entry holds the variant's args, so one variant never answers for another.
 * - `--rebuild` is Nix's: the derivation is realised (built if needed), then built again into a
 *   temporary path and the two output CIDs compared; a difference is ERR_BUILD_NOT_REPRODUCIBLE.
 * - The no-op `pkg build` (benchmarked against a no-op `cargo build`) skips instantiation when
 *   nothing it reads changed, as git's index and cargo's fingerprints do: a cache entry per package
 *   directory (`<store>/dirs/<hash>.json`) maps a fingerprint (size, mtime in ns and inode of pkg.toml,
 *   pkg.lock and every source file, and the mtimes of the directories holding them, so that a new
 *   file matching a glob is noticed) to the derivation CID. A hit asks the daemon to realise that CID
 *   directly, without loading the content store, the TOML parsers or the chain libraries; anything
 *   else (a changed file, an unknown derivation, --rebuild) takes the full path. The cache lives in
 *   ./noop.ts, whose fast path answers a plain no-op `pkg build` from bin/pkg.js before oclif loads.
 * - `repo build` sends every package's derivation to the daemon at once: the daemon realises inputs
 *   first, builds each derivation once however many packages need it, and runs as many builds as
 *   there are cores. Every failure is collected; none stops the others.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { PkgError, isPkgError } from "../errors";
import type { Buildfile, BuildRecord } from "../buildfile";
import type { InstantiateFailure } from "../instantiate";
import type { LockCheck } from "../lock-verify";
import type { ContentStore } from "../content/types";
import type { RepositoryLock } from "../repolock";
import type { StoreClient } from "../store/client";
import { ERR_BUILD_INCOMPLETE, ERR_BUILD_NOT_REPRODUCIBLE, ERR_STORE_UNKNOWN_DERIVATION } from "../store/errors";
import { defaultStoreDir } from "../store/paths";
import { cacheSlot, cachedRecord, type DirCacheEntry, cachedResult, fingerprint, lookupCache, readBuildFile, writeCache } from "./noop";

/* eslint-disable @typescript-eslint/no-require-imports */
// Loaded on the full path only: these pull in the TOML parser, IPFS libraries and DAG-CBOR.
const lazy = {
  buildfile: () => require("../buildfile") as typeof import("../buildfile"),
  cid: () => require("multiformats/cid") as typeof import("multiformats/cid"),
  instantiate: () => require("../instantiate") as typeof import("../instantiate"),
  manifest: () => require("../manifest") as typeof import("../manifest"),
};
/* eslint-enable @typescript-eslint/no-require-imports */

type DirectoryContent = Pick<ContentStore, "getBytes" | "putBlock" | "pin" | "putBytes" | "putTree">;

/** What the daemon answers to `realise`. */
export interface RealiseAnswer {
  outputs: Record<string, string>;
  built: boolean;
  subderivations: string[];
  cids: Record<string, string>;
  matched?: boolean;
  sandbox?: string;
}

export type LogHandler = (drv: string, text: string) => void;
/** A build starts (`build`), ends (`built`) or fails (`failed`). */
export type ProgressHandler = (drv: string, name: string, phase: "build" | "built" | "failed") => void;

export interface BuildDirectoryParams {
  dir: string;
  /** The content store, opened only when the full path needs it (the caller closes it). */
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

/** Sends `realise`, forwarding its log events. */
export function realiseVia(client: Pick<StoreClient, "request">, drv: string, options: { rebuild?: boolean; onLog?: LogHandler; onProgress?: ProgressHandler } = {}): Promise<RealiseAnswer> {
  return client.request<RealiseAnswer>("realise", { drv, ...(options.rebuild ? { rebuild: true } : {}) }, (event) => {
    if (event.event === "log") options.onLog?.(String(event.drv), String(event.text));
    else if (event.event === "progress") options.onProgress?.(String(event.drv), String(event.name), event.phase as "build" | "built" | "failed");
  });
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
  const before = await readFile(file, "utf8").catch(() => null);
  if (before === serializeBuildfile(next, file)) return false;
  await writeBuildfile(file, next);
  return true;
}

export const ERR_BUILD_VARIANT_ARGS = "ERR_BUILD_VARIANT_ARGS";

function sameArgs(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Whether a cache entry answers for this variant. Given args must be the entry's; remembered ones are
 * the entry's when pkg.build.toml is the one it wrote, or when the record there still has its args
 * (another variant's build rewrote the file). An unreadable build file is a miss: the full path says why.
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

/** `pkg build` in a package directory. @throws PkgError of instantiation, the daemon or the build. */
export async function buildDirectory(params: BuildDirectoryParams): Promise<BuildDirectoryResult> {
  const name = params.name ?? "default";
  const buildFile = path.join(params.dir, "pkg.build.toml");
  const slot = cacheSlot(params.storeDir ?? defaultStoreDir(), params.dir, name, params.system);

  if (!params.rebuild) {
    const found = lookupCache(slot, params.dir, name);
    if ("entry" in found && entryFits(found.entry, params.args, buildFile, name)) {
      const cached = found.entry;
      try {
        const answer = await realiseVia(params.client, cached.drv, { onLog: params.onLog, onProgress: params.onProgress });
        const { record, unchanged } = cachedRecord(cached, answer, readBuildFile(buildFile));
        const buildFileChanged = unchanged ? false : await updateBuildfile(buildFile, record);
        if (!unchanged) writeCache(slot, { ...cached, record, outputs: answer.outputs, buildFile: readBuildFile(buildFile)?.toString("utf8") ?? null });
        return cachedResult(name, cached, answer, buildFile, buildFileChanged);
      } catch (error) {
        if (!isPkgError(error, ERR_STORE_UNKNOWN_DERIVATION)) throw error;
        // the derivation left the content store: instantiate again
      }
    }
  }

  const { readManifest, resolveSources } = lazy.manifest();
  const sources = await resolveSources(await readManifest(path.join(params.dir, "pkg.toml")), params.dir).catch(() => null);
  const print = sources === null ? null : fingerprint(params.dir, sources);
  const content = typeof params.content === "function" ? await params.content() : params.content;
  let extraArgs: readonly string[] = params.args ?? [];
  if (params.args === undefined) {
    const previous = (await readOrEmpty(buildFile)).builds.find((b) => b.name === name);
    if (previous !== undefined) {
      const current = await readManifest(path.join(params.dir, "pkg.toml"));
      extraArgs = await rememberedArgs(previous, current.args, content, buildFile);
    }
  }
  const inst = await lazy.instantiate().instantiateDirectory({ dir: params.dir, content, system: params.system, pin: true, extraArgs, checkLock: params.lockCheck?.verify });
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
  let stored = print;
  if (buildFileChanged && print !== null && sources !== null) {
    // Writing pkg.build.toml changed the directory's mtime. The fingerprint taken after it is kept
    // only if the files are as before and the globs still match the same files (nothing was added).
    const after = fingerprint(params.dir, sources);
    const again = await resolveSources(await readManifest(path.join(params.dir, "pkg.toml")), params.dir).catch(() => null);
    stored = after !== null && after.files === print.files && JSON.stringify(again) === JSON.stringify(sources) ? after : null;
  }
  if (stored !== null && sources !== null && params.lockCheck?.trusted !== true) {
    writeCache(slot, { fingerprint: stored, sources, drv, name, record, extraArgs: [...extraArgs], outputs: answer.outputs, buildFile: readBuildFile(buildFile)?.toString("utf8") ?? null });
  }
  return {
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
}

/**
 * `pkg build repo/name[:version]`: fetch the published package into a temporary directory, lock it
 * at the chain's current block, build it there (the temporary directory, build file included, is
 * removed after: the output stays in the store).
 */
export async function buildPublished(params: Omit<BuildDirectoryParams, "dir" | "content"> & {
  id: string;
  session: Parameters<typeof import("../lock").lockDirectory>[0]["session"] & { client: Parameters<typeof import("../fetch").fetchPackage>[0]["client"] };
}): Promise<BuildDirectoryResult & { id: string }> {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { parsePackageSpec } = require("../ids") as typeof import("../ids");
  const { fetchPackage } = require("../fetch") as typeof import("../fetch");
  const { lockDirectory } = require("../lock") as typeof import("../lock");
  /* eslint-enable @typescript-eslint/no-require-imports */
  const { mkdtemp, rm } = await import("node:fs/promises");
  const { tmpdir } = await import("node:os");
  const spec = parsePackageSpec(params.id);
  const work = await mkdtemp(path.join(tmpdir(), "chainpkg-build-"));
  try {
    const dir = path.join(work, "package");
    const fetched = await fetchPackage({ spec, destination: dir, client: params.session.client, content: params.session.content });
    await lockDirectory({ session: params.session, dir });
    // the lock was resolved from the registry just now: nothing in it to check
    const result = await buildDirectory({ ...params, dir, content: params.session.content, lockCheck: undefined });
    return { ...result, id: fetched.id };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export interface RepositoryBuildParams {
  lock: RepositoryLock;
  content: Pick<ContentStore, "getBytes" | "putBlock" | "pin">;
  client: Pick<StoreClient, "request">;
  system?: string;
  onLog?: LogHandler;
  onProgress?: ProgressHandler;
  /** Called as each package finishes. */
  onResult?: (result: PackageBuildResult) => void;
  /** Realise requests in flight at once (the daemon limits builds to its cores anyway). Default 32. */
  concurrency?: number;
}

export type PackageBuildResult =
  | { name: string; version: string; ok: true; drv: string; outputs: Record<string, string>; output: string; built: boolean }
  | { name: string; version: string; ok: false; drv: string | null; error: PkgError };

export interface RepositoryBuildResult {
  repository: string;
  results: PackageBuildResult[];
  failures: PackageBuildResult[];
}

/** `repo build`: every package of a repo.lock; failures (instantiation or build) collected, never thrown. */
export async function buildRepository(params: RepositoryBuildParams): Promise<RepositoryBuildResult> {
  const inst = await lazy.instantiate().instantiateRepository({ lock: params.lock, content: params.content, system: params.system, pin: true });
  const results: PackageBuildResult[] = inst.failures.map((f: InstantiateFailure) => ({ name: f.name, version: f.version, ok: false, drv: null, error: f.error }));
  for (const r of results) params.onResult?.(r);
  const queue = [...inst.derivations].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const worker = async () => {
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      const [name, d] = next;
      const version = params.lock.packages[name].version;
      const drv = d.cid.toString();
      let result: PackageBuildResult;
      try {
        const answer = await realiseVia(params.client, drv, { onLog: params.onLog, onProgress: params.onProgress });
        result = { name, version, ok: true, drv, outputs: answer.outputs, output: answer.cids.out, built: answer.built };
      } catch (error) {
        if (!isPkgError(error)) throw error;
        result = { name, version, ok: false, drv, error };
      }
      results.push(result);
      params.onResult?.(result);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, params.concurrency ?? 32) }, worker));
  results.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { repository: params.lock.name, results, failures: results.filter((r) => !r.ok) };
}

/** The error `repo build` ends with when some packages failed. */
export function incompleteError(result: RepositoryBuildResult, id: string): PkgError {
  return new PkgError(ERR_BUILD_INCOMPLETE, `${result.failures.length} of ${result.results.length} packages of ${id} failed to build`, {
    details: { repository: result.repository, failures: result.failures.map((f) => ({ name: f.name, version: f.version, ...(f.ok ? {} : { code: f.error.code, message: f.error.message }) })) },
    hint: "each failure above names its cause; packages whose input failed fail too",
  });
}
