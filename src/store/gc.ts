/**
 * Garbage collection and verification of the store (`pkg store gc`, `pkg store verify`).
 *
 * Live = the closure under `refs` of the roots: the `roots` table (profiles register each generation
 * there), the outputs of pinned derivations and paths whose tree is pinned in the content store
 * (`pkg instantiate` pins the derivation it made: what a package dir was built from stays built),
 * and the daemon's temporary roots (paths requests in progress use). Everything else registered is
 * dead. The dead rows are deleted in one write transaction (so a root added meanwhile from another
 * process either sees its path valid before, or fails after), then each dead path is renamed into
 * trash/ and deleted there: a crash in between leaves trash that the next start clears, never a
 * half-deleted path under paths/.
 */
import { randomBytes } from "node:crypto";
import { lstat, readdir, rename, stat } from "node:fs/promises";
import path from "node:path";
import { isNotFound } from "../files/read";
import type { Store } from "./store";
import { dropRows, removeTree } from "./store";

export interface GcOptions {
  dryRun?: boolean;
  /**
   * Paths to keep besides the roots (the daemon's in-flight requests). A function is called inside
   * the deciding transaction, so that paths held while the pins were being read count too.
   */
  tempRoots?: Iterable<string> | (() => Iterable<string>);
  /** CIDs pinned in the content store; default: asked of the store's content store. */
  pins?: Iterable<string>;
}

export interface GcResult {
  removed: string[];
  freedBytes: number;
  /** How many paths were kept alive. */
  kept: number;
}

async function diskUsage(p: string): Promise<number> {
  const st = await lstat(p).catch(() => null);
  if (st === null) return 0;
  if (!st.isDirectory()) return st.size;
  let total = st.size;
  for (const entry of await readdir(p)) total += await diskUsage(path.join(p, entry));
  return total;
}

/** The live set: roots, pins and temp roots, closed under references. */
export function liveSet(store: Store, roots: Iterable<string>): Set<string> {
  const refsOf = store.db.prepare("SELECT ref FROM refs WHERE path = ?").pluck();
  const live = new Set<string>();
  const stack = [...roots];
  while (stack.length > 0) {
    const p = stack.pop()!;
    if (live.has(p)) continue;
    live.add(p);
    for (const ref of refsOf.all(p) as string[]) if (!live.has(ref)) stack.push(ref);
  }
  return live;
}

export async function collectGarbage(store: Store, options: GcOptions = {}): Promise<GcResult> {
  const pins = new Set(options.pins ?? (store.content ? (await store.content.pins()).map((c) => c.toString()) : []));
  const db = store.db;
  // Decide and forget in one synchronous write transaction: nothing in this process interleaves,
  // and other processes (addRoot) wait on the lock.
  const dead = db.transaction((): string[] => {
    const roots: string[] = (db.prepare("SELECT path FROM roots").pluck().all() as string[]);
    const byCid = db.prepare("SELECT path FROM paths WHERE cid = ?").pluck();
    const byDrv = db.prepare("SELECT path FROM outputs WHERE drv = ?").pluck();
    for (const pin of pins) roots.push(...(byCid.all(pin) as string[]), ...(byDrv.all(pin) as string[]));
    const temp = typeof options.tempRoots === "function" ? options.tempRoots() : (options.tempRoots ?? []);
    for (const p of temp) roots.push(p);
    const live = liveSet(store, roots);
    const all = db.prepare("SELECT path FROM paths").pluck().all() as string[];
    const doomed = all.filter((p) => !live.has(p)).sort();
    if (!options.dryRun) dropRows(db, doomed);
    return doomed;
  }).immediate();

  let freedBytes = 0;
  for (const p of dead) {
    freedBytes += await diskUsage(p);
    if (options.dryRun) continue;
    const trash = path.join(store.layout.trash, `${path.basename(p)}.${randomBytes(4).toString("hex")}`);
    try {
      await rename(p, trash);
    } catch (error) {
      if (isNotFound(error)) continue;
      throw error;
    }
    await removeTree(trash);
  }
  const kept = (db.prepare("SELECT count(*) FROM paths").pluck().get() as number);
  return { removed: dead, freedBytes, kept };
}

export interface VerifyProblem {
  kind: "missing" | "writable" | "cid-mismatch" | "unregistered" | "dangling-ref" | "dangling-root" | "dangling-output";
  path: string;
  message: string;
}

/** Whether anything under `p` has a write bit (a store path is read-only through and through). */
async function firstWritable(p: string): Promise<string | null> {
  const st = await lstat(p);
  if (st.isSymbolicLink()) return null;
  if (st.mode & 0o222) return p;
  if (st.isDirectory()) {
    for (const entry of await readdir(p)) {
      const found = await firstWritable(path.join(p, entry));
      if (found !== null) return found;
    }
  }
  return null;
}

/**
 * Every registered path exists, is read-only and still has its recorded content CID; nothing under
 * paths/ is unregistered; refs, roots and outputs point at registered paths.
 */
export async function verifyStore(store: Store): Promise<{ ok: boolean; checked: number; problems: VerifyProblem[] }> {
  const problems: VerifyProblem[] = [];
  const records = store.allPaths();
  const known = new Set(records.map((r) => r.path));
  for (const r of records) {
    const st = await stat(r.path).catch(() => null);
    if (st === null) {
      problems.push({ kind: "missing", path: r.path, message: `${r.path} is registered but does not exist` });
      continue;
    }
    const writable = await firstWritable(r.path);
    if (writable !== null) problems.push({ kind: "writable", path: r.path, message: `${writable} is writable` });
    if (store.content !== null) {
      const cid = await store.contentCid(r.path, r.kind);
      if (cid !== r.cid) problems.push({ kind: "cid-mismatch", path: r.path, message: `${r.path} has content ${cid}, registered as ${r.cid}` });
    }
  }
  for (const entry of await readdir(store.layout.paths)) {
    const p = path.join(store.layout.paths, entry);
    // Re-asked, not only the snapshot: a build may have registered it since.
    if (!known.has(p) && !store.installing().has(p) && store.queryPath(p) === null) problems.push({ kind: "unregistered", path: p, message: `${p} is not registered` });
  }
  for (const { path: p, ref } of store.db.prepare("SELECT path, ref FROM refs").all() as { path: string; ref: string }[]) {
    if (!known.has(p) || !known.has(ref)) problems.push({ kind: "dangling-ref", path: p, message: `reference ${p} -> ${ref} names an unregistered path` });
  }
  for (const { name, path: p } of store.listRoots()) {
    if (!known.has(p)) problems.push({ kind: "dangling-root", path: p, message: `root ${name} names unregistered ${p}` });
  }
  for (const { drv, path: p } of store.db.prepare("SELECT drv, path FROM outputs").all() as { drv: string; path: string }[]) {
    if (!known.has(p)) problems.push({ kind: "dangling-output", path: p, message: `output of ${drv} names unregistered ${p}` });
  }
  return { ok: problems.length === 0, checked: records.length, problems };
}
