/**
 * `pkg build repo/name[:version]`: fetch the published package into a temporary directory, lock it
 * at the chain's current block, build it there (the temporary directory, build file included, is
 * removed after: the output stays in the store).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { buildDirectory, type BuildDirectoryParams, type BuildDirectoryResult } from "./build-directory";
import { fetchPackage } from "./fetch";
import { parsePackageSpec } from "./ids";
import { lockDirectory } from "./lock";

export interface BuildPublishedParams extends Omit<BuildDirectoryParams, "dir" | "content" | "lockCheck"> {
  /** `repo/name[:version]`. */
  id: string;
  /** What fetching and locking need: the registry, the content store and the chain. */
  session: Parameters<typeof lockDirectory>[0]["session"] & { client: Parameters<typeof fetchPackage>[0]["client"] };
}

/** @throws PkgError of fetching, locking or building. */
export async function buildPublished(params: BuildPublishedParams): Promise<BuildDirectoryResult & { id: string }> {
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
