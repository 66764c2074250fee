/**
 * The local store: complete, read-only, content-addressed directories under `<root>/paths`, and an
 * SQLite index (better-sqlite3, WAL) of what they are (docs/build-layer.md, "Store layout").
 *
 * Atomicity, as in Nix's libstore: a path is made complete in `tmp/`, renamed into `paths/`, made
 * read-only, and only then registered, in one transaction. Validity is the index row, never the
 * directory: {@link recoverStore} (run by the one process that holds the daemon lock, on start)
 * deletes `tmp/*`, `trash/*` and every `paths/*` entry without a row, and drops rows whose path is
 * gone. A kill at any point therefore leaves a registered complete path or nothing.
 *
 * Tables (contract): `outputs(drv, output, path, cid, built_at, build_ms)`, `refs(path, ref)`,
 * `roots(name, path)`, `builds(drv, subderivations_json)`; plus `paths(path, cid, kind,
 * registered_at)`, the set of valid paths (sources exported from the content store have no
 * derivation, so `outputs` alone cannot say what is valid).
 */
import { randomBytes } from "node:crypto";
import { createReadStream, mkdirSync } from "node:fs";
import { chmod, lchown, lstat, mkdir, readdir, readFile, readlink, realpath, rename, rm, stat, utimes } from "node:fs/promises";
import { chmodNoFollow, lexists } from "../files/nofollow";
import path from "node:path";
import Database from "better-sqlite3";
import { CID } from "multiformats/cid";
import type { ContentStore } from "../content/types";
import { ERR_STORE_BAD_CID, ERR_STORE_BAD_PATH, ERR_STORE_PATH_NOT_FOUND, StoreError } from "./errors";
import { defaultStoreDir, isStorePath, outputPathName, sourcePathName, STORE_HASH_LENGTH, storeLayout, type StoreLayout } from "./paths";

export type PathKind = "source" | "output";

export interface OutputRecord {
  drv: string;
  output: string;
  path: string;
  cid: string;
  builtAt: number;
  buildMs: number;
}

export interface PathRecord {
  path: string;
  cid: string;
  kind: PathKind;
}

export interface AddOutputParams {
  drv: string;
  output: string;
  /** The derivation's name (`hello-1.0.0`): part of the store path name. */
  drvName: string;
  /** The complete output, inside the store's tmp/ (moved, not copied). */
  from: string;
  /** Store paths the output may reference (the build's closure and src): the ones whose hash occurs in it become refs. */
  refCandidates?: readonly string[];
  buildMs?: number;
}

export interface Store {
  readonly layout: StoreLayout;
  readonly root: string;
  readonly db: Database.Database;
  /** The content store sources come from and outputs go to; null for an index-only handle. */
  readonly content: ContentStore | null;
  /** Store path of the content-store tree `cid` (exported on first use). */
  ensureContent(cid: CID | string, name?: string): Promise<string>;
  /** Moves a finished output into the store, adds it to the content store, registers it. */
  addOutput(params: AddOutputParams): Promise<{ path: string; cid: string }>;
  /** A directory or file on disk copied into the store through the content store (`add-path`). */
  addPath(from: string, name?: string): Promise<{ path: string; cid: string }>;
  queryOutput(drv: string, output?: string): OutputRecord | null;
  queryOutputs(drv: string): Record<string, string> | null;
  queryPath(p: string): PathRecord | null;
  /** Records that output `output` of `drv` is the already valid path `p` (a "none" builder's output is its src). */
  recordOutput(drv: string, output: string, p: string, cid: string, buildMs?: number): void;
  /**
   * The CID of a tree or file on disk, as the content store names it (adds its blocks). Outputs are
   * added with `preserveMode` (the executable bit, as UnixFS mode) so that getTree gives working
   * programs back; sources without (as `pkg publish` adds them, so CIDs match the published ones).
   */
  contentCid(p: string, kind?: PathKind): Promise<string>;
  /** A fresh, empty directory in tmp/ (deleted by the next recovery if left behind). */
  makeTempDir(prefix?: string): Promise<string>;
  /** Removes a directory tree, even a read-only one. */
  removeTree(p: string): Promise<void>;
  addRoot(name: string, p: string): void;
  removeRoot(name: string): void;
  listRoots(): { name: string; path: string }[];
  recordBuild(drv: string, subderivations: readonly string[]): void;
  buildSubderivations(drv: string): string[] | null;
  allPaths(): PathRecord[];
  /** Paths being moved in and registered right now (verify does not call them unregistered). */
  installing(): ReadonlySet<string>;
  close(): void;
}

export interface OpenStoreOptions {
  /** Store root; default {@link defaultStoreDir}. */
  root?: string;
  content?: ContentStore | null;
  /**
   * Delete what a crash may have left (see the top of this file). Only for the process that holds
   * the daemon lock: another process would delete paths the daemon is making.
   */
  recover?: boolean;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS paths(path TEXT PRIMARY KEY, cid TEXT NOT NULL, kind TEXT NOT NULL, registered_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS outputs(drv TEXT NOT NULL, output TEXT NOT NULL, path TEXT NOT NULL, cid TEXT NOT NULL,
  built_at INTEGER NOT NULL, build_ms INTEGER NOT NULL, PRIMARY KEY (drv, output));
CREATE INDEX IF NOT EXISTS outputs_by_path ON outputs(path);
CREATE TABLE IF NOT EXISTS refs(path TEXT NOT NULL, ref TEXT NOT NULL, PRIMARY KEY (path, ref));
CREATE TABLE IF NOT EXISTS roots(name TEXT PRIMARY KEY, path TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS builds(drv TEXT PRIMARY KEY, subderivations_json TEXT NOT NULL);
`;

/** Opens the SQLite index (creating the schema); WAL so that readers in other processes never block the daemon. */
export function openIndex(layout: StoreLayout): Database.Database {
  mkdirSync(layout.root, { recursive: true });
  const db = new Database(layout.db);
  db.pragma("journal_mode = WAL");
  // NORMAL in WAL mode: a power loss may lose the last commits, never corrupt; a process kill loses nothing.
  db.pragma("synchronous = NORMAL");
  db.pragma("busy_timeout = 10000");
  db.exec(SCHEMA);
  return db;
}

function parseCid(value: CID | string, what: string): CID {
  if (typeof value !== "string") return value;
  try {
    return CID.parse(value).toV1();
  } catch {
    throw new StoreError(ERR_STORE_BAD_CID, `${what} "${value}" is not a CID`, { details: { cid: value }, hint: "pass a CIDv1 such as bafy…" });
  }
}

/** Files 0444 (0555 when executable), directories 0555, mtimes 1 s after the epoch (as Nix: no build time leaks into outputs). */
export async function makeReadOnly(p: string): Promise<void> {
  const st = await lstat(p);
  // A root daemon's builds run as the build user: what they made becomes root's, so that no process of that
  // uid (a later build, anything running as nobody) can make a store path writable again.
  if (isRootDaemon() && (st.uid !== 0 || st.gid !== 0)) await lchown(p, 0, 0);
  if (st.isSymbolicLink()) return;
  if (st.isDirectory()) {
    for (const entry of await readdir(p)) await makeReadOnly(path.join(p, entry));
    await chmodNoFollow(p, 0o555);
  } else {
    await chmodNoFollow(p, st.mode & 0o111 ? 0o555 : 0o444);
  }
  await utimes(p, 1, 1);
}

function isRootDaemon(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

/** Makes every directory under `p` writable again, so that its entries can be removed (not needed by root, needed by everyone else). */
async function makeWritable(p: string): Promise<void> {
  let st;
  try {
    st = await lstat(p);
  } catch {
    return;
  }
  if (!st.isDirectory()) return;
  await chmod(p, 0o755);
  for (const entry of await readdir(p)) await makeWritable(path.join(p, entry));
}

export async function removeTree(p: string): Promise<void> {
  await makeWritable(p);
  await rm(p, { recursive: true, force: true });
}

const SCAN_CHUNK = 1 << 20;

/**
 * Every regular file (in 1 MiB pieces, each overlapping the previous one by a hash's length, so a
 * hash across a boundary is still seen) and every symlink target under `p`: what a reference scan reads.
 */
async function* scanTargets(p: string): AsyncGenerator<Buffer> {
  const st = await lstat(p);
  if (st.isSymbolicLink()) yield Buffer.from(await readlink(p));
  else if (st.isDirectory()) for (const entry of await readdir(p)) yield* scanTargets(path.join(p, entry));
  else if (st.isFile()) {
    if (st.size <= SCAN_CHUNK) {
      yield await readFile(p);
      return;
    }
    let carry = Buffer.alloc(0);
    for await (const chunk of createReadStream(p, { highWaterMark: SCAN_CHUNK })) {
      const piece = Buffer.concat([carry, chunk as Buffer]);
      yield piece;
      carry = piece.subarray(Math.max(0, piece.length - (STORE_HASH_LENGTH - 1)));
    }
  }
}

/**
 * Nix's reference scanning: a candidate store path is a reference when its 32-character hash occurs
 * anywhere in the output's bytes. Runtime closures then hold what the output really uses, not every
 * build input.
 */
export async function scanReferences(p: string, candidates: readonly string[]): Promise<string[]> {
  const pending = new Map<string, string>();
  for (const c of candidates) pending.set(path.basename(c).slice(0, STORE_HASH_LENGTH), c);
  const found: string[] = [];
  if (pending.size === 0) return found;
  for await (const bytes of scanTargets(p)) {
    for (const [hash, candidate] of pending) {
      if (bytes.includes(hash)) {
        found.push(candidate);
        pending.delete(hash);
      }
    }
    if (pending.size === 0) break;
  }
  return found.sort();
}

/** Deletes what a crash may have left; see the top of this file. */
export async function recoverStore(layout: StoreLayout, db: Database.Database): Promise<{ removed: string[]; dropped: string[] }> {
  const removed: string[] = [];
  for (const dir of [layout.tmp, layout.trash]) {
    for (const entry of await readdir(dir)) await removeTree(path.join(dir, entry));
  }
  const known = new Set((db.prepare("SELECT path FROM paths").pluck().all() as string[]));
  for (const entry of await readdir(layout.paths)) {
    const p = path.join(layout.paths, entry);
    if (!known.has(p)) {
      // Renamed in but never registered: move it out of sight first, then delete.
      const trash = path.join(layout.trash, `${entry}.${randomBytes(4).toString("hex")}`);
      await rename(p, trash);
      await removeTree(trash);
      removed.push(p);
    }
  }
  const dropped: string[] = [];
  for (const p of known) if (!(await lexists(p))) dropped.push(p);
  if (dropped.length > 0) dropRows(db, dropped);
  return { removed, dropped };
}

/** Forgets paths: their rows, their outputs, their references and roots pointing at them. One transaction. */
export function dropRows(db: Database.Database, paths: readonly string[]): void {
  const del = [
    db.prepare("DELETE FROM paths WHERE path = ?"),
    db.prepare("DELETE FROM outputs WHERE path = ?"),
    db.prepare("DELETE FROM refs WHERE path = ? OR ref = ?"),
    db.prepare("DELETE FROM roots WHERE path = ?"),
  ];
  db.transaction(() => {
    for (const p of paths) {
      del[0].run(p);
      del[1].run(p);
      del[2].run(p, p);
      del[3].run(p);
    }
  })();
}

export async function openStore(options: OpenStoreOptions = {}): Promise<Store> {
  const layout = storeLayout(options.root ?? defaultStoreDir());
  for (const dir of [layout.root, layout.paths, layout.tmp, layout.trash, layout.logs]) await mkdir(dir, { recursive: true });
  const db = openIndex(layout);
  if (options.recover) await recoverStore(layout, db);
  const content = options.content ?? null;

  const q = {
    path: db.prepare("SELECT path, cid, kind FROM paths WHERE path = ?"),
    output: db.prepare("SELECT drv, output, path, cid, built_at AS builtAt, build_ms AS buildMs FROM outputs WHERE drv = ? AND output = ?"),
    outputs: db.prepare("SELECT output, path FROM outputs WHERE drv = ?"),
    insertPath: db.prepare("INSERT OR REPLACE INTO paths(path, cid, kind, registered_at) VALUES (?, ?, ?, ?)"),
    insertOutput: db.prepare("INSERT OR REPLACE INTO outputs(drv, output, path, cid, built_at, build_ms) VALUES (?, ?, ?, ?, ?, ?)"),
    insertRef: db.prepare("INSERT OR IGNORE INTO refs(path, ref) VALUES (?, ?)"),
    build: db.prepare("SELECT subderivations_json FROM builds WHERE drv = ?").pluck(),
    insertBuild: db.prepare("INSERT OR REPLACE INTO builds(drv, subderivations_json) VALUES (?, ?)"),
  };
  const inFlight = new Map<string, Promise<string>>(); // source path → its export
  const installing = new Set<string>();

  function needContent(): ContentStore {
    if (content === null) throw new Error("this store handle was opened without a content store");
    return content;
  }

  async function contentCid(p: string, kind: PathKind = "source"): Promise<string> {
    const c = needContent();
    const st = await lstat(p);
    if (st.isSymbolicLink()) throw new StoreError(ERR_STORE_BAD_PATH, `${p} is a symbolic link: the store adds files and directories, never what a link points at`, { details: { path: p } });
    const cid = st.isDirectory() ? await c.putDirectory(p, kind === "output" ? { preserveMode: true } : {}) : await c.putBytes(createReadStream(p));
    return cid.toString();
  }

  async function makeTempDir(prefix = "t"): Promise<string> {
    const dir = path.join(layout.tmp, `${prefix}-${randomBytes(8).toString("hex")}`);
    await mkdir(dir);
    return dir;
  }

  /** tmp → paths/, read-only, registered (the registration callback runs in the same transaction as the path row). */
  /** Returns the CID the path is registered with (the existing one when it was valid already). */
  async function install(from: string, final: string, cid: string, kind: PathKind, register: (cid: string) => void = () => {}): Promise<string> {
    const valid = q.path.get(final) as PathRecord | undefined;
    if (valid !== undefined) {
      // Already valid (another request made it first). The new copy is dropped and the registered
      // one kept, CID included: a build that is not reproducible must not relabel a path.
      await removeTree(from);
      db.transaction(() => register(valid.cid))();
      return valid.cid;
    }
    if (await lexists(final)) {
      // Unregistered leftover (a crash without recovery since): never trusted, replaced.
      const trash = path.join(layout.trash, `${path.basename(final)}.${randomBytes(4).toString("hex")}`);
      await rename(final, trash);
      await removeTree(trash);
    }
    installing.add(final);
    try {
      await rename(from, final);
      await makeReadOnly(final);
      db.transaction(() => {
        q.insertPath.run(final, cid, kind, Date.now());
        register(cid);
      })();
    } finally {
      installing.delete(final);
    }
    return cid;
  }

  async function exportSource(cid: CID, final: string): Promise<string> {
    const tmp = await makeTempDir("src");
    const dest = path.join(tmp, "tree");
    await needContent().getTree(cid, dest);
    if ((await lstat(dest)).isSymbolicLink()) {
      // A published src whose root is a link would make the store path a link to anywhere on the host.
      await rm(tmp, { recursive: true, force: true });
      throw new StoreError(ERR_STORE_BAD_CID, `content ${cid.toString()} is a symbolic link, not a file or directory: it cannot be a store path`, {
        details: { cid: cid.toString() },
        hint: "a package's src must be a directory (or a file)",
      });
    }
    await install(dest, final, cid.toString(), "source");
    await rm(tmp, { recursive: true, force: true });
    return final;
  }

  const store: Store = {
    layout,
    root: layout.root,
    db,
    content,

    async ensureContent(value, name = "source") {
      const cid = parseCid(value, "source");
      const final = path.join(layout.paths, sourcePathName(cid.toString(), name));
      if (q.path.get(final) !== undefined) return final;
      let pending = inFlight.get(final);
      if (pending === undefined) {
        pending = exportSource(cid, final).finally(() => inFlight.delete(final));
        inFlight.set(final, pending);
      }
      return pending;
    },

    async addOutput(params) {
      const final = path.join(layout.paths, outputPathName(params.drv, params.output, params.drvName));
      const cid = await contentCid(params.from, "output");
      const refs = params.refCandidates && params.refCandidates.length > 0 ? await scanReferences(params.from, params.refCandidates) : [];
      const registered = await install(params.from, final, cid, "output", (pathCid) => {
        q.insertOutput.run(params.drv, params.output, final, pathCid, Date.now(), Math.round(params.buildMs ?? 0));
        for (const ref of refs) if (ref !== final) q.insertRef.run(final, ref);
      });
      return { path: final, cid: registered };
    },

    async addPath(given, name) {
      // The user's own command: a link they name is resolved here, once; nothing under it is followed.
      const from = await realpath(given).catch(() => given);
      const st = await stat(from).catch(() => null);
      if (st === null) {
        throw new StoreError(ERR_STORE_PATH_NOT_FOUND, `${from}: no such file or directory`, { details: { path: from }, hint: "add-path copies an existing file or directory into the store" });
      }
      const cid = await contentCid(from);
      const label = (name ?? path.basename(path.resolve(from))).replace(/[^A-Za-z0-9+\-._?=]/g, "_").replace(/^\.+/, "") || "source";
      const final = path.join(layout.paths, sourcePathName(cid, label));
      if (q.path.get(final) !== undefined) return { path: final, cid };
      return { path: await exportSource(CID.parse(cid), final), cid };
    },

    queryOutput(drv, output = "out") {
      return (q.output.get(drv, output) as OutputRecord | undefined) ?? null;
    },

    queryOutputs(drv) {
      const rows = q.outputs.all(drv) as { output: string; path: string }[];
      return rows.length === 0 ? null : Object.fromEntries(rows.map((r) => [r.output, r.path]));
    },

    queryPath(p) {
      return (q.path.get(path.resolve(p)) as PathRecord | undefined) ?? null;
    },

    recordOutput(drv, output, p, cid, buildMs = 0) {
      q.insertOutput.run(drv, output, p, cid, Date.now(), Math.round(buildMs));
    },

    contentCid,
    makeTempDir,
    removeTree,

    addRoot(name, p) {
      addRootTo(db, layout, name, p);
    },
    removeRoot(name) {
      db.prepare("DELETE FROM roots WHERE name = ?").run(name);
    },
    listRoots() {
      return db.prepare("SELECT name, path FROM roots ORDER BY name").all() as { name: string; path: string }[];
    },

    recordBuild(drv, subderivations) {
      q.insertBuild.run(drv, JSON.stringify([...new Set(subderivations)].sort()));
    },
    buildSubderivations(drv) {
      const json = q.build.get(drv) as string | undefined;
      return json === undefined ? null : (JSON.parse(json) as string[]);
    },

    allPaths() {
      return db.prepare("SELECT path, cid, kind FROM paths ORDER BY path").all() as PathRecord[];
    },

    installing() {
      return installing;
    },

    close() {
      db.close();
    },
  };
  return store;
}

function addRootTo(db: Database.Database, layout: StoreLayout, name: string, p: string): void {
  const resolved = path.resolve(p);
  // Checked and written in one write transaction: a gc (which deletes rows in its own) cannot slip in between.
  db.transaction(() => {
    if (!isStorePath(layout, resolved) || db.prepare("SELECT 1 FROM paths WHERE path = ?").get(resolved) === undefined) {
      throw new StoreError(ERR_STORE_PATH_NOT_FOUND, `${p} is not a valid path of the store at ${layout.root}`, {
        details: { path: p, store: layout.root },
        hint: "build or realise it first; only registered store paths can be roots",
      });
    }
    db.prepare("INSERT OR REPLACE INTO roots(name, path) VALUES (?, ?)").run(name, resolved);
  }).immediate();
}

/**
 * Registers a gc root (e.g. a profile generation: `addRoot("profile:default:3", path)`) from any
 * process, daemon running or not. @throws StoreError ERR_STORE_PATH_NOT_FOUND when `storePath` is not valid.
 */
export function addRoot(name: string, storePath: string, storeDir: string = defaultStoreDir()): void {
  const layout = storeLayout(storeDir);
  const db = openIndex(layout);
  try {
    addRootTo(db, layout, name, storePath);
  } finally {
    db.close();
  }
}

/** Removes a gc root; removing one that does not exist is not an error. */
export function removeRoot(name: string, storeDir: string = defaultStoreDir()): void {
  const db = openIndex(storeLayout(storeDir));
  try {
    db.prepare("DELETE FROM roots WHERE name = ?").run(name);
  } finally {
    db.close();
  }
}

/** The gc roots, by name. */
export function listRoots(storeDir: string = defaultStoreDir()): { name: string; path: string }[] {
  const db = openIndex(storeLayout(storeDir));
  try {
    return db.prepare("SELECT name, path FROM roots ORDER BY name").all() as { name: string; path: string }[];
  } finally {
    db.close();
  }
}
