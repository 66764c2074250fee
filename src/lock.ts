/**
 * `pkg lock` / `pkg update` for a package directory: resolve its pkg.toml against the registry at one block,
 * keeping what the existing pkg.lock still allows, and write pkg.lock atomically.
 */
import { access } from "node:fs/promises";
import path from "node:path";
import { CID } from "multiformats/cid";
import { checkLockfileChain, LOCKFILE_FILE_NAME, readLockfile, writeLockfile, type Lockfile } from "./lockfile";
import { parseManifest, type Manifest } from "./manifest";
import { putManifest } from "./publish";
import { resolveLock, type ResolveResult } from "./resolve";
import type { Session } from "./session";
import type { PackageSpec } from "./ids";
import { PkgError } from "./errors";
import { pickVersion } from "./fetch";
import { unknownBlockError } from "./chain/errors";

export interface LockChange {
  key: string;
  from: string | null;
  to: string | null;
}

export interface LockOutcome extends ResolveResult {
  file: string | null;
  changes: LockChange[];
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(() => true, () => false);
}

/** What moved between two locks, by package (`repo:name`) and version. */
export function diffLocks(before: Lockfile | null, after: Lockfile): LockChange[] {
  const versions = (lock: Lockfile | null) => {
    const map = new Map<string, string[]>();
    for (const [key, entry] of Object.entries(lock?.dependencies ?? {})) {
      const base = key.split("@")[0];
      map.set(base, [...(map.get(base) ?? []), entry.version].sort());
    }
    return map;
  };
  const a = versions(before);
  const b = versions(after);
  const changes: LockChange[] = [];
  for (const key of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    const from = a.get(key)?.join(", ") ?? null;
    const to = b.get(key)?.join(", ") ?? null;
    if (from !== to) changes.push({ key, from, to });
  }
  return changes;
}

/** The block to resolve at: `requested` if the chain has it (else ERR_CHAIN_UNKNOWN_BLOCK), by default the head. */
async function lockBlock(session: Pick<Session, "client" | "chain">, requested: number | undefined): Promise<number> {
  const head = await session.client.blockNumber();
  if (requested !== undefined && requested > head) throw unknownBlockError(requested, head, session.chain.registry);
  return requested ?? head;
}

export async function lockDirectory(params: {
  session: Pick<Session, "client" | "content" | "chain">;
  dir: string;
  block?: number;
  update?: "all" | readonly string[];
  onProgress?: (event: { level: number; packages: number }) => void;
}): Promise<LockOutcome> {
  const { session } = params;
  const file = path.resolve(params.dir, LOCKFILE_FILE_NAME); // absolute: commands print it (--json too)
  const previous = (await exists(file)) ? await readLockfile(file) : null;
  if (previous) checkLockfileChain(previous, session.chain, file);
  if (previous && Array.isArray(params.update)) {
    const locked = new Set(Object.keys(previous.dependencies).map((k) => k.split("@")[0]));
    const unknown = params.update.filter((key) => !locked.has(key));
    if (unknown.length > 0) {
      throw new PkgError("ERR_LOCK_UNKNOWN_DEPENDENCY", `${unknown.join(", ")} ${unknown.length > 1 ? "are" : "is"} not in ${file}`, {
        hint: `name dependencies as repo:name, one of: ${[...locked].sort().join(", ")}`,
      });
    }
  }
  const { manifest, meta } = await putManifest(params.dir, session.content);
  const block = await lockBlock(session, params.block);
  const result = await resolveLock({
    manifest,
    manifestCid: meta,
    client: session.client,
    content: session.content,
    block,
    chain: session.chain,
    previous,
    update: params.update,
    onProgress: params.onProgress,
  });
  await writeLockfile(file, result.lock);
  return { ...result, file, changes: diffLocks(previous, result.lock) };
}

/** Locks a published package (by id): its meta from the chain, resolved like a directory's. */
export async function lockPublished(params: {
  session: Pick<Session, "client" | "content" | "chain">;
  spec: PackageSpec;
  block?: number;
}): Promise<LockOutcome> {
  const { session, spec } = params;
  const block = await lockBlock(session, params.block);
  const record = await session.client.getPackage({ repository: spec.repository.name, name: spec.name }, { blockTag: block });
  const version = record ? pickVersion(record.versions, spec.version) : null;
  if (!version) {
    throw new PkgError("ERR_FETCH_UNKNOWN_VERSION", `${spec.repository.name}/${spec.name}${spec.version ? `:${spec.version}` : ""} is not published`, {
      hint: "check the id (repo/name[:version])",
    });
  }
  const chunks: Uint8Array[] = [];
  for await (const chunk of session.content.getBytes(CID.parse(version.meta))) chunks.push(chunk);
  const manifest: Manifest = parseManifest(Buffer.concat(chunks).toString("utf8"), `meta ${version.meta}`);
  const result = await resolveLock({ manifest, manifestCid: version.meta, client: session.client, content: session.content, block, chain: session.chain });
  return { ...result, file: null, changes: diffLocks(null, result.lock) };
}
