/**
 * `pkg lock` / `pkg update` for a package directory: resolve its pkg.toml against the registry at one block,
 * keeping what the existing pkg.lock still allows, and write pkg.lock atomically.
 */
import path from "node:path";
import { CID } from "multiformats/cid";
import { checkLockfileChain, ERR_LOCKFILE_NOT_FOUND, LOCKFILE_FILE_NAME, readLockfile, writeLockfile, type LockedDependency, type Lockfile } from "./lockfile";
import { findLockProblems, lockProblemText } from "./lock-verify";
import { readPublishedManifest, type Manifest } from "./manifest";
import { putManifest } from "./publish";
import { resolveLock, type ResolveResult } from "./resolve";
import type { Session } from "./session";
import type { PackageSpec } from "./ids";
import { isPkgError, PkgError } from "./errors";
import { pickVersion } from "./fetch";
import { unknownBlockError } from "./chain/errors";

export interface LockChange {
  /** `repo:name`. */
  key: string;
  /** The versions locked before (comma-separated), null for a new dependency. */
  from: string | null;
  /** The versions locked now, null for a removed one. */
  to: string | null;
  /**
   * Present when the old entry did not match the registry at its lock's block (an edited lock, or one of
   * another registry) and was replaced by the registry's: what was wrong with it.
   */
  restored?: string;
}

export interface LockOutcome extends ResolveResult {
  file: string | null;
  changes: LockChange[];
  /** The lock as it was before (null: there was none), for {@link formatLockChanges}. */
  previous: Lockfile | null;
}

function baseKey(key: string): string {
  return key.split("@")[0];
}

/** A package's locked entries (by version), as `version meta src` strings: what a change compares. */
function entriesOf(lock: Lockfile | null): Map<string, Map<string, LockedDependency>> {
  const map = new Map<string, Map<string, LockedDependency>>();
  for (const [key, entry] of Object.entries(lock?.dependencies ?? {})) {
    const base = baseKey(key);
    if (!map.has(base)) map.set(base, new Map());
    map.get(base)!.set(entry.version, entry);
  }
  return map;
}

/**
 * What moved between two locks, by package (`repo:name`): its versions, or (same versions) its CIDs.
 * `restored` (package → what was wrong) marks entries replaced because they did not match the registry.
 */
export function diffLocks(before: Lockfile | null, after: Lockfile, restored: ReadonlyMap<string, string> = new Map()): LockChange[] {
  const a = entriesOf(before);
  const b = entriesOf(after);
  const versions = (m: Map<string, LockedDependency> | undefined) => (m === undefined ? null : [...m.keys()].sort().join(", "));
  const cids = (m: Map<string, LockedDependency> | undefined) => JSON.stringify([...(m?.values() ?? [])].map((e) => [e.version, e.meta, e.src]).sort());
  const changes: LockChange[] = [];
  for (const key of [...new Set([...a.keys(), ...b.keys(), ...restored.keys()])].sort()) {
    const from = versions(a.get(key));
    const to = versions(b.get(key));
    const reason = restored.get(key);
    if (from === to && cids(a.get(key)) === cids(b.get(key)) && reason === undefined) continue;
    changes.push({ key, from, to, ...(reason !== undefined ? { restored: reason } : {}) });
  }
  return changes;
}

/**
 * What `pkg lock` and `pkg update` print about their changes: per package its versions, then each CID
 * that changed (`meta A → B`), and why an entry was restored.
 */
export function formatLockChanges(outcome: Pick<LockOutcome, "changes" | "previous" | "lock">): string[] {
  const before = entriesOf(outcome.previous);
  const after = entriesOf(outcome.lock);
  const lines: string[] = [];
  for (const change of outcome.changes) {
    const head = `${change.key}: ${change.from ?? "(new)"} → ${change.to ?? "(removed)"}`;
    lines.push(change.restored === undefined ? head : `${head} (restored: ${change.restored})`);
    const old = [...(before.get(change.key)?.values() ?? [])];
    const now = [...(after.get(change.key)?.values() ?? [])];
    if (old.length === 1 && now.length === 1) {
      for (const field of ["meta", "src"] as const) {
        if (old[0][field] !== now[0][field]) lines.push(`    ${field.padEnd(4)} ${old[0][field]} → ${now[0][field]}`);
      }
    } else {
      for (const e of old) if (!now.some((n) => n.version === e.version && n.meta === e.meta && n.src === e.src)) lines.push(`    - ${e.version} meta ${e.meta} src ${e.src}`);
      for (const e of now) if (!old.some((o) => o.version === e.version && o.meta === e.meta && o.src === e.src)) lines.push(`    + ${e.version} meta ${e.meta} src ${e.src}`);
    }
  }
  return lines;
}

/** The block to resolve at: `requested` if the chain has it (else ERR_CHAIN_UNKNOWN_BLOCK), by default the head. */
async function lockBlock(session: Pick<Session, "client" | "chain">, requested: number | undefined): Promise<{ block: number; head: number }> {
  const head = await session.client.blockNumber();
  if (requested !== undefined && requested > head) throw unknownBlockError(requested, head, session.chain.registry);
  return { block: requested ?? head, head };
}

/**
 * The previous lock as resolution may keep it: entries that do not match the registry at the lock's block
 * are repaired (another meta or src CID: the registry's) or dropped (no such package or version there, to be
 * resolved afresh), and each is reported. A lock from past the chain's head keeps nothing (a warning says so).
 */
async function checkedPrevious(
  previous: Lockfile,
  file: string,
  session: Pick<Session, "client" | "chain">,
  head: number,
): Promise<{ lock: Lockfile | null; restored: Map<string, string>; warnings: string[] }> {
  const restored = new Map<string, string>();
  if (Object.keys(previous.dependencies).length === 0) return { lock: previous, restored, warnings: [] };
  if (previous.block > head) {
    return { lock: null, restored, warnings: [`${file}: its block ${previous.block} is past the chain's head (block ${head}); none of its entries is kept`] };
  }
  const problems = await findLockProblems(previous, file, { client: session.client, chain: session.chain });
  if (problems.length === 0) return { lock: previous, restored, warnings: [] };
  const dependencies = { ...previous.dependencies };
  for (const problem of problems) {
    const base = baseKey(problem.key);
    const text = `${lockProblemText(problem)} at block ${previous.block}`;
    restored.set(base, restored.has(base) ? `${restored.get(base)}; ${text}` : text);
    const entry = dependencies[problem.key];
    if (entry === undefined) continue;
    if (problem.kind === "meta" || problem.kind === "src") dependencies[problem.key] = { ...entry, [problem.kind]: problem.registry! };
    else delete dependencies[problem.key];
  }
  return { lock: { ...previous, dependencies }, restored, warnings: [] };
}

/**
 * The lock `pkg lock` / `pkg update` start from. Its parse errors say "run `pkg lock`", which is what the user
 * just did: here they say how to get past the file instead.
 */
async function readExistingLock(file: string): Promise<Lockfile | null> {
  try {
    return await readLockfile(file);
  } catch (error) {
    if (isPkgError(error, ERR_LOCKFILE_NOT_FOUND)) return null;
    if (!isPkgError(error) || !error.code.startsWith("ERR_LOCKFILE_")) throw error;
    throw new PkgError(error.code, error.message, {
      details: error.details,
      hint: `fix what it names, or remove ${path.basename(file)} and run \`pkg lock\` again to resolve from scratch (the versions it pinned are not kept then)`,
      cause: error,
    });
  }
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
  const previous = await readExistingLock(file);
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
  const { block, head } = await lockBlock(session, params.block);
  const checked = previous ? await checkedPrevious(previous, file, session, head) : { lock: null, restored: new Map<string, string>(), warnings: [] };
  const result = await resolveLock({
    manifest,
    manifestCid: meta,
    client: session.client,
    content: session.content,
    block,
    chain: session.chain,
    previous: checked.lock,
    update: params.update,
    onProgress: params.onProgress,
  });
  await writeLockfile(file, result.lock);
  const warnings = [...checked.warnings, ...result.warnings];
  return { ...result, warnings, file, previous, changes: diffLocks(previous, result.lock, checked.restored) };
}

/** Locks a published package (by id): its meta from the chain, resolved like a directory's. */
export async function lockPublished(params: {
  session: Pick<Session, "client" | "content" | "chain">;
  spec: PackageSpec;
  block?: number;
}): Promise<LockOutcome> {
  const { session, spec } = params;
  const { block } = await lockBlock(session, params.block);
  const record = await session.client.getPackage({ repository: spec.repository.name, name: spec.name }, { blockTag: block });
  const version = record ? pickVersion(record.versions, spec.version) : null;
  if (!version) {
    throw new PkgError("ERR_FETCH_UNKNOWN_VERSION", `${spec.repository.name}/${spec.name}${spec.version ? `:${spec.version}` : ""} is not published`, {
      hint: "check the id (repo/name[:version])",
    });
  }
  const manifest: Manifest = await readPublishedManifest(session.content.getBytes(CID.parse(version.meta)), `meta ${version.meta}`);
  const result = await resolveLock({ manifest, manifestCid: version.meta, client: session.client, content: session.content, block, chain: session.chain });
  return { ...result, file: null, previous: null, changes: diffLocks(null, result.lock) };
}
