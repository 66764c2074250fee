/**
 * `pkg build` and `repo build`: instantiate → realise through the store daemon → record the build.
 *
 * - `pkg build` in a package directory needs no chain: instantiation reads pkg.toml, pkg.lock and
 *   the published pkg.toml files of the locked inputs from the content store only.
 * - The build file (pkg.build.toml) gets one record per build name (default "default"), replaced
 *   in place, written atomically and only when it changed: a no-op build writes nothing.
 * - `--rebuild` is Nix's: the derivation is realised (built if needed), then built again into a
 *   temporary path and the two output CIDs compared; a difference is ERR_BUILD_NOT_REPRODUCIBLE.
 * - `repo build` sends every package's derivation to the daemon at once: the daemon realises inputs
 *   first, builds each derivation once however many packages need it, and runs as many builds as
 *   there are cores. Every failure is collected; none stops the others.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { PkgError, isPkgError } from "../errors";
import { BUILDFILE_FILE_NAME, ERR_BUILDFILE_NOT_FOUND, readBuildfile, serializeBuildfile, writeBuildfile, type Buildfile, type BuildRecord } from "../buildfile";
import { instantiateDirectory, instantiateRepository, type InstantiateFailure } from "../instantiate";
import type { ContentStore } from "../content/types";
import type { RepositoryLock } from "../repolock";
import type { StoreClient } from "../store/client";
import { ERR_BUILD_INCOMPLETE, ERR_BUILD_NOT_REPRODUCIBLE } from "../store/errors";

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

export interface BuildDirectoryParams {
  dir: string;
  content: Pick<ContentStore, "getBytes" | "putBlock" | "pin" | "putBytes" | "putTree">;
  client: Pick<StoreClient, "request">;
  /** Build record name (default "default"). */
  name?: string;
  system?: string;
  rebuild?: boolean;
  onLog?: LogHandler;
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
  sandbox?: string;
}

/** Sends `realise`, forwarding its log events. */
export function realiseVia(client: Pick<StoreClient, "request">, drv: string, options: { rebuild?: boolean; onLog?: LogHandler } = {}): Promise<RealiseAnswer> {
  return client.request<RealiseAnswer>("realise", { drv, ...(options.rebuild ? { rebuild: true } : {}) }, (event) => {
    if (event.event === "log" && options.onLog) options.onLog(String(event.drv), String(event.text));
  });
}

async function readOrEmpty(file: string): Promise<Buildfile> {
  try {
    return await readBuildfile(file);
  } catch (error) {
    if (isPkgError(error, ERR_BUILDFILE_NOT_FOUND)) return { builds: [] };
    throw error;
  }
}

/** Replaces (or appends) the record called `record.name`; writes only when the text changes. */
export async function updateBuildfile(file: string, record: BuildRecord): Promise<boolean> {
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

/** `pkg build` in a package directory. @throws PkgError of instantiation, the daemon or the build. */
export async function buildDirectory(params: BuildDirectoryParams): Promise<BuildDirectoryResult> {
  const name = params.name ?? "default";
  const inst = await instantiateDirectory({ dir: params.dir, content: params.content, system: params.system, pin: true });
  const drv = inst.root.toString();
  let answer = await realiseVia(params.client, drv, { onLog: params.onLog });
  let matched: boolean | undefined;
  if (params.rebuild) {
    const again = await realiseVia(params.client, drv, { rebuild: true, onLog: params.onLog });
    matched = again.matched;
    if (matched === false) {
      throw new PkgError(ERR_BUILD_NOT_REPRODUCIBLE, `${inst.derivation.name} is not reproducible: a second build gave ${again.cids.out}, the first ${answer.cids.out}`, {
        details: { drv, first: answer.cids, second: again.cids, path: answer.outputs.out },
        hint: "the build depends on something besides its inputs (time, randomness, the host); compare the two outputs",
      });
    }
    answer = { ...answer, subderivations: again.subderivations.length > 0 ? again.subderivations : answer.subderivations };
  }
  const lock = (await params.content.putBytes(await readFile(inst.lockFile))).toString();
  const buildFile = path.join(params.dir, BUILDFILE_FILE_NAME);
  const buildFileChanged = await updateBuildfile(buildFile, {
    name,
    package: inst.meta.toString(),
    lock,
    args: [...inst.derivation.args],
    metadrv: drv,
    subderivations: [...answer.subderivations],
    output: answer.cids.out,
    system: inst.derivation.system,
  });
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
    const result = await buildDirectory({ ...params, dir, content: params.session.content });
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
  const inst = await instantiateRepository({ lock: params.lock, content: params.content, system: params.system, pin: true });
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
        const answer = await realiseVia(params.client, drv, { onLog: params.onLog });
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
