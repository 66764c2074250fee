/**
 * Block I/O threads: the bulk of adding a directory from disk and of writing a DAG back to disk,
 * done with synchronous system calls in worker threads.
 *
 * Per 256 KiB block, adding means read, sha2-256, create, write, close and rename; getting means
 * open, read, close, sha2-256 and write. Done from the main thread, every step is a libuv
 * thread-pool round trip and a promise, with fresh buffers that the kernel must fault in and
 * zero: on the 2-core benchmark machine that cost 0.6-0.9 s of CPU for 100 MB, against ~0.25 s
 * for the same system calls made back to back in one thread. So a worker gets a whole run of
 * blocks (a range of a file to add, or the leaves of a file to write out), does it with
 * synchronous calls into one reused buffer, and answers once.
 *
 * Adding also sends the importer's own (small) file and directory nodes here in batches.
 *
 * Verification is unchanged: a worker hashes every leaf it reads and compares the digest with
 * the CID's before a byte of it is written out; a leaf that is missing, does not match or is not
 * the expected size is reported back, and the caller goes through getBlock, which fetches it or
 * raises the usual error. Blocks are written exactly as the main thread writes them (blockstore-fs
 * layout, unique temporary name, rename into place, read-only, optional fsync), so concurrent
 * writers and readers only ever see whole blocks.
 *
 * The threads are shared by every store of the process and do not keep it alive when idle.
 * Starting them costs some tens of milliseconds, so callers use them only for operations big
 * enough to pay for that, or once they are running anyway.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";

/** Add: the leaves of bytes [start, end) of `file` (or from `start` to the end of the file). */
export interface PutRangeTask {
  kind: "put";
  file: string;
  start: number;
  /** Exclusive; undefined: read to the end of the file. */
  end?: number;
  /** The store's `blocks` directory. */
  blocks: string;
  fsync: boolean;
}

/** The leaves read, in order: their sha2-256 digests (32 bytes each, concatenated) and sizes. */
export interface PutRangeResult {
  digests: Uint8Array;
  sizes: number[];
}

/**
 * Get: verify raw leaves and write each at its offset of the already open file `fd`, or of a new
 * file at `create.path` that holds just them (and is removed again if one of them fails).
 */
export interface WriteLeavesTask {
  kind: "write";
  fd?: number;
  create?: { path: string; mode: number };
  leaves: Array<{ path: string; digest: Uint8Array; offset: number; size: number }>;
}

/** Indexes (into `leaves`) that could not be written: missing, not matching, or not of `size`
 * (with `create`, only the first such one: nothing is left written then). */
export interface WriteLeavesResult {
  failed: Array<{ index: number; reason: "missing" | "mismatch" | "size" }>;
}

/** Add: store blocks already hashed by the caller (the importer's file and directory nodes). */
export interface StoreBlocksTask {
  kind: "store";
  blocks: string;
  fsync: boolean;
  /** sha2-256 digests and the bytes they were computed from. */
  items: Array<{ digest: Uint8Array; bytes: Uint8Array }>;
}

type Task = PutRangeTask | WriteLeavesTask | StoreBlocksTask;
type Result<T extends Task> = T extends PutRangeTask ? PutRangeResult : T extends WriteLeavesTask ? WriteLeavesResult : void;

const WORKER_SOURCE = String.raw`
"use strict";
const { parentPort, threadId } = require("node:worker_threads");
const fs = require("node:fs");
const { createHash, randomBytes } = require("node:crypto");
const { join } = require("node:path");

const CHUNK_SIZE = ${262_144};
let buffer = Buffer.allocUnsafeSlow(CHUNK_SIZE + 1);
const knownShards = new Set();
const temporaryPrefix = process.pid + "." + threadId + "." + randomBytes(4).toString("hex") + ".";
let temporaryCount = 0;

// RFC 4648 base32, upper case, no padding, with the multibase prefix "B": blockstore-fs's key.
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
function blockKey(digest) {
  const bytes = Buffer.concat([Buffer.from([0x12, 0x20]), Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength)]);
  let out = "B";
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

function writeAll(fd, bytes, position) {
  for (let done = 0; done < bytes.byteLength; ) {
    done += fs.writeSync(fd, bytes, done, bytes.byteLength - done, position === undefined ? null : position + done);
  }
}

function syncDirectory(directory) {
  const fd = fs.openSync(directory, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function writeBlock(blocks, digest, bytes, fsync) {
  const key = blockKey(digest);
  const shard = join(blocks, key.slice(-2));
  const path = join(shard, key + ".data");
  if (fs.existsSync(path)) return;
  if (!knownShards.has(shard)) {
    fs.mkdirSync(shard, { recursive: true });
    knownShards.add(shard);
  }
  const temporary = path + "." + temporaryPrefix + temporaryCount++ + ".tmp";
  let fd;
  try {
    fd = fs.openSync(temporary, "wx", 0o444);
  } catch (error) {
    // The shard directory went away since this thread last saw it (a store removed and made
    // again at the same place): make it again.
    if (error.code !== "ENOENT") throw error;
    fs.mkdirSync(shard, { recursive: true });
    fd = fs.openSync(temporary, "wx", 0o444);
  }
  try {
    try {
      writeAll(fd, bytes);
      if (fsync) fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temporary, path);
    if (fsync) syncDirectory(shard);
  } catch (error) {
    fs.rmSync(temporary, { force: true });
    throw error;
  }
}

/** Reads up to length bytes at position into buffer; fewer only at the end of the file. */
function readFull(fd, length, position) {
  let filled = 0;
  while (filled < length) {
    const n = fs.readSync(fd, buffer, filled, length - filled, position + filled);
    if (n === 0) break;
    filled += n;
  }
  return filled;
}

function putRange(task) {
  const digests = [];
  const sizes = [];
  const fd = fs.openSync(task.file, "r");
  try {
    for (let position = task.start; task.end === undefined || position < task.end; ) {
      const want = task.end === undefined ? CHUNK_SIZE : Math.min(CHUNK_SIZE, task.end - position);
      const length = readFull(fd, want, position);
      if (length === 0) break;
      const bytes = buffer.subarray(0, length);
      const digest = createHash("sha256").update(bytes).digest();
      writeBlock(task.blocks, digest, bytes, task.fsync);
      digests.push(digest);
      sizes.push(length);
      position += length;
      if (length < want) break;
    }
  } finally {
    fs.closeSync(fd);
  }
  return { digests: Buffer.concat(digests), sizes };
}

/** Verifies one leaf and writes it at its offset of fd; else says why not (nothing written). */
function writeLeaf(fd, leaf) {
  let input;
  try {
    input = fs.openSync(leaf.path, "r");
  } catch (error) {
    if (error.code === "ENOENT") return "missing";
    throw error;
  }
  let length;
  try {
    if (leaf.size + 1 > buffer.byteLength) buffer = Buffer.allocUnsafeSlow(leaf.size + 1);
    // One byte more than expected, so a longer block file shows as one.
    length = readFull(input, leaf.size + 1, 0);
  } finally {
    fs.closeSync(input);
  }
  const bytes = buffer.subarray(0, length);
  if (!createHash("sha256").update(bytes).digest().equals(leaf.digest)) return "mismatch";
  if (length !== leaf.size) return "size";
  writeAll(fd, bytes, leaf.offset);
  return undefined;
}

function writeLeaves(task) {
  const failed = [];
  if (task.fd !== undefined) {
    task.leaves.forEach((leaf, index) => {
      const reason = writeLeaf(task.fd, leaf);
      if (reason !== undefined) failed.push({ index, reason });
    });
    return { failed };
  }
  // A whole file: created here ("wx": never through anything already there), removed again
  // unless every leaf made it in.
  const { path, mode } = task.create;
  const fd = fs.openSync(path, "wx", mode);
  let complete = false;
  try {
    for (let index = 0; index < task.leaves.length && failed.length === 0; index++) {
      const reason = writeLeaf(fd, task.leaves[index]);
      if (reason !== undefined) failed.push({ index, reason });
    }
    complete = failed.length === 0;
  } finally {
    fs.closeSync(fd);
    if (!complete) fs.rmSync(path, { force: true });
  }
  return { failed };
}

function storeBlocks(task) {
  for (const item of task.items) writeBlock(task.blocks, item.digest, item.bytes, task.fsync);
}

parentPort.on("message", (task) => {
  try {
    const result = task.kind === "put" ? putRange(task) : task.kind === "write" ? writeLeaves(task) : storeBlocks(task);
    parentPort.postMessage({ result });
  } catch (error) {
    parentPort.postMessage({ error: { message: String(error && error.message), code: error && error.code, path: error && error.path, syscall: error && error.syscall } });
  }
});
`;

interface Queued {
  task: Task;
  resolve(result: unknown): void;
  reject(error: Error): void;
}

interface Thread {
  worker: Worker;
  /** Tasks sent to this thread and not answered yet, in order (a thread answers in order). */
  sent: Queued[];
}

function workerError(error: { message: string; code?: string; path?: string; syscall?: string }): Error {
  return Object.assign(new Error(error.message), {
    ...(error.code !== undefined && { code: error.code }),
    ...(error.path !== undefined && { path: error.path }),
    ...(error.syscall !== undefined && { syscall: error.syscall }),
  });
}

/** Tasks a thread holds at once: one being done, one waiting so that it never idles. */
const TASKS_PER_THREAD = 2;

/** Worker threads fed from one queue, each as soon as it has room. */
class BlockWorkers {
  private readonly threads: Array<Thread | undefined>;
  private readonly queue: Queued[] = [];
  private busy = 0;

  constructor(size: number) {
    this.threads = new Array<Thread | undefined>(size).fill(undefined);
  }

  /** Whether the threads are up (so that small jobs may use them too). */
  get running(): boolean {
    return this.threads.some((thread) => thread !== undefined);
  }

  /** Starts every thread now, so that they boot while the caller prepares work. */
  warm(): void {
    this.threads.forEach((thread, index) => thread ?? this.start(index));
  }

  /** `urgent`: ahead of everything queued (small work something is waiting for). */
  run<T extends Task>(task: T, urgent = false): Promise<Result<T>> {
    return new Promise<Result<T>>((resolve, reject) => {
      if (this.busy++ === 0) for (const thread of this.threads) thread?.worker.ref();
      const queued = { task, resolve: resolve as (result: unknown) => void, reject };
      if (urgent) this.queue.unshift(queued);
      else this.queue.push(queued);
      this.dispatch();
    }).finally(() => {
      if (--this.busy === 0) for (const thread of this.threads) thread?.worker.unref();
    });
  }

  private dispatch(): void {
    for (let index = 0; index < this.threads.length && this.queue.length > 0; index++) {
      const thread = this.threads[index] ?? this.start(index);
      while (thread.sent.length < TASKS_PER_THREAD && this.queue.length > 0) {
        const queued = this.queue.shift() as Queued;
        thread.sent.push(queued);
        thread.worker.postMessage(queued.task);
      }
    }
  }

  private start(index: number): Thread {
    // No execArgv: the parent's (say `--require ts-node/register`) would load a compiler into
    // every thread for a script that needs none.
    const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [] });
    const thread: Thread = { worker, sent: [] };
    worker.on("message", (message: { result?: unknown; error?: { message: string } }) => {
      const queued = thread.sent.shift();
      if (queued === undefined) return;
      if (message.error !== undefined) queued.reject(workerError(message.error));
      else queued.resolve(message.result);
      this.dispatch();
    });
    // A thread that dies fails what it had and everything waiting (no retry loop if threads
    // cannot start at all); the next task starts a new one.
    const fail = (error: Error) => {
      if (this.threads[index] === thread) this.threads[index] = undefined;
      for (const queued of [...thread.sent.splice(0), ...this.queue.splice(0)]) queued.reject(error);
    };
    worker.on("error", fail);
    worker.on("exit", (code) => fail(new Error(`block worker exited with code ${code}`)));
    if (this.busy === 0) worker.unref(); // started by warm(): idle until a task comes
    this.threads[index] = thread;
    return thread;
  }
}

let shared: BlockWorkers | undefined;

/** The process's block workers: one per core, at least 2, at most 4. */
export function blockWorkers(): BlockWorkers {
  shared ??= new BlockWorkers(Math.min(4, Math.max(2, availableParallelism())));
  return shared;
}

export type { BlockWorkers };
