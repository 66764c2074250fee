/**
 * `repo build`: every package of a repo.lock instantiated, and all their derivations sent to the store daemon
 * at once. The daemon realises inputs first, builds each derivation once however many packages need it, and
 * runs as many builds as there are cores. Every failure is collected; none stops the others.
 */
import { forEachLimit } from "../concurrency";
import type { ContentStore } from "../content/types";
import { realiseVia, type LogHandler, type ProgressHandler, type StoreClient } from "../daemon/client";
import { isPkgError, PkgError } from "../errors";
import { instantiateRepository, type InstantiateFailure, type InstantiateRepositoryParams } from "./instantiate";
import type { RepositoryLock } from "../repolock";
import { ERR_BUILD_INCOMPLETE } from "../store/errors";

export interface RepositoryBuildParams {
  lock: RepositoryLock;
  content: Pick<ContentStore, "getBytes" | "putBlock" | "pin">;
  client: Pick<StoreClient, "request">;
  system?: string;
  /** Resolve inputs of other repositories from the registry at the lock's block (see instantiateRepository). */
  resolve?: InstantiateRepositoryParams["resolve"];
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
  const inst = await instantiateRepository({ lock: params.lock, content: params.content, system: params.system, resolve: params.resolve, pin: true });
  const results: PackageBuildResult[] = inst.failures.map((f: InstantiateFailure) => ({ name: f.name, version: f.version, ok: false, drv: null, error: f.error }));
  for (const r of results) params.onResult?.(r);
  const queue = [...inst.derivations].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  await forEachLimit(queue, params.concurrency ?? 32, async ([name, d]) => {
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
  });
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
