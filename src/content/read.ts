/**
 * Content going out: file bytes as a stream, and whole trees onto disk. Both read through a
 * verifying BlockStore, so every byte handed out has been checked against its CID.
 */
import { randomBytes } from "node:crypto";
import * as fsCallback from "node:fs";
import { lstat, mkdir, rename, rm, symlink } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import { exporter, type UnixFSEntry } from "ipfs-unixfs-exporter";
import type { CID } from "multiformats/cid";
import { isPkgError } from "../errors/index";
import { ContentDestinationExistsError, ContentUnsupportedError } from "../errors/content";
import { readableStorage } from "./dag";
import { checkName } from "./tree";
import type { BlockStore, ReadOptions } from "./types";

/** Blocks of one file read ahead while earlier ones are being consumed. */
const BLOCK_READ_CONCURRENCY = 8;
/** Files written at once by getTree. */
const FILE_WRITE_CONCURRENCY = 16;

/** Errors of our own pass through; anything the exporter throws means a malformed DAG. */
function asContentError(cid: CID, error: unknown): unknown {
  if (isPkgError(error)) return error;
  if (error instanceof Error && error.name === "AbortError") return error;
  return new ContentUnsupportedError(`${cid.toString()} is not a readable UnixFS DAG: ${String(error)}`, {
    details: { cid: cid.toString() },
    cause: error,
  });
}

async function resolveEntry(blocks: Pick<BlockStore, "getBlock">, cid: CID, options: ReadOptions): Promise<UnixFSEntry> {
  try {
    return await exporter(cid, readableStorage(blocks, options), { signal: options.signal });
  } catch (error) {
    throw asContentError(cid, error);
  }
}

type EntryKind = "file" | "directory" | "symlink";

function kindOf(entry: UnixFSEntry): EntryKind {
  switch (entry.type) {
    case "raw":
    case "identity":
      return "file";
    case "directory":
      return "directory";
    case "file":
      if (entry.unixfs.type === "symlink") return "symlink";
      if (entry.unixfs.type === "file" || entry.unixfs.type === "raw") return "file";
      break;
    case "object":
      break;
  }
  throw new ContentUnsupportedError(`${entry.cid.toString()} is not a UnixFS file, directory or symlink`, {
    details: { cid: entry.cid.toString(), type: entry.type },
  });
}

/** The bytes of a UnixFS file or raw block, streamed; each block is verified before its bytes are yielded. */
export async function* readBytes(blocks: Pick<BlockStore, "getBlock">, cid: CID, options: ReadOptions = {}): AsyncGenerator<Uint8Array> {
  const entry = await resolveEntry(blocks, cid, options);
  if (kindOf(entry) !== "file" || entry.type === "directory" || entry.type === "object") {
    throw new ContentUnsupportedError(`${cid.toString()} is not a file`, { details: { cid: cid.toString() } });
  }
  try {
    yield* entry.content({ signal: options.signal, blockReadConcurrency: BLOCK_READ_CONCURRENCY });
  } catch (error) {
    throw asContentError(cid, error);
  }
}

/** Runs at most `limit` tasks at once. */
function createLimiter(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async (task) => {
    if (active >= limit) await new Promise<void>((resume) => waiting.push(resume));
    active++;
    try {
      return await task();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

/**
 * Nix keeps one permission bit of a file: executable or not. Applying a DAG's full UnixFS mode
 * could create setuid or world-writable files from untrusted content, so only that bit survives.
 */
function fileMode(entry: UnixFSEntry): number {
  return entry.type === "file" && entry.unixfs.mode !== undefined && (entry.unixfs.mode & 0o111) !== 0 ? 0o755 : 0o644;
}

const openFast = promisify(fsCallback.open);
const writeFast = promisify(fsCallback.write);
const closeFast = promisify(fsCallback.close);

async function writeFileEntry(entry: UnixFSEntry, path: string, options: ReadOptions): Promise<void> {
  if (entry.type === "directory" || entry.type === "object") throw new Error("unreachable: not a file");
  // "wx": never write through something that already exists (e.g. a symlink planted by a
  // malicious DAG that lists one name twice). Callback fs calls rather than a FileHandle: this
  // runs once per file and per block, and the promise API's overhead showed in the benchmark.
  const fd = await openFast(path, "wx", fileMode(entry));
  try {
    for await (const chunk of entry.content({ signal: options.signal, blockReadConcurrency: BLOCK_READ_CONCURRENCY })) {
      for (let offset = 0; offset < chunk.byteLength; ) {
        offset += (await writeFast(fd, chunk, offset, chunk.byteLength - offset)).bytesWritten;
      }
    }
  } finally {
    await closeFast(fd);
  }
}

function symlinkTarget(entry: UnixFSEntry): string {
  if (entry.type !== "file" || entry.unixfs.data === undefined) return "";
  return new TextDecoder().decode(entry.unixfs.data);
}

/**
 * Writes the DAG under `cid` to `destination`: a directory tree, or a single file. Everything is
 * written into a temporary sibling of the destination (same filesystem, so the final rename is
 * atomic) and renamed into place once every block has been read and verified; on any error the
 * temporary is removed and the destination never appears.
 */
export async function writeTree(blocks: Pick<BlockStore, "getBlock">, cid: CID, destination: string, options: ReadOptions = {}): Promise<void> {
  const target = resolve(destination);
  if (await lstat(target).then(() => true, () => false)) throw new ContentDestinationExistsError(target);
  await mkdir(dirname(target), { recursive: true });
  const temporary = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString("hex")}.tmp`);

  // One failure stops the other writers quickly; we still wait for all of them before removing
  // the temporary tree, so nothing is written into it after it is gone.
  const abort = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, abort.signal]) : abort.signal;
  const readOptions: ReadOptions = { ...options, signal };
  const limit = createLimiter(FILE_WRITE_CONCURRENCY);
  let firstError: unknown;
  const fail = (error: unknown): never => {
    if (firstError === undefined) {
      firstError = error;
      abort.abort(error);
    }
    throw error;
  };

  async function writeNode(entryCid: CID, path: string, known?: UnixFSEntry): Promise<void> {
    const children = await limit(async () => {
      signal.throwIfAborted();
      const entry = known ?? (await resolveEntry(blocks, entryCid, readOptions));
      switch (kindOf(entry)) {
        case "file":
          await writeFileEntry(entry, path, readOptions);
          return [];
        case "symlink":
          await symlink(symlinkTarget(entry), path);
          return [];
        case "directory": {
          await mkdir(path, { mode: 0o755 });
          const listed: Array<{ cid: CID; path: string }> = [];
          if (entry.type !== "directory") return listed;
          for await (const child of entry.entries({ signal })) {
            checkName(child.name, `${path}/${child.name}`);
            listed.push({ cid: child.cid, path: join(path, child.name) });
          }
          return listed;
        }
      }
    }).catch(fail);
    // Children run outside the parent's slot: a directory waiting for its children must not
    // hold a slot they need.
    const results = await Promise.allSettled(children.map((child) => writeNode(child.cid, child.path)));
    if (results.some((result) => result.status === "rejected")) throw firstError;
  }

  try {
    const root = await resolveEntry(blocks, cid, readOptions);
    await writeNode(cid, temporary, root);
    await rename(temporary, target);
  } catch (error) {
    await rm(temporary, { recursive: true, force: true });
    throw asContentError(cid, firstError ?? error);
  }
}
