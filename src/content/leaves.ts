/**
 * The leaves of an add: replacements for ipfs-unixfs-importer's leaf step (its `bufferImporter`
 * option), which reads a batch of chunks, then hashes and writes the batch, then reads the next,
 * so that reading and writing never overlap within a file and each batch waits for its slowest
 * write.
 *
 * - Files on disk (putDirectory, and `source` entries of putTree) go to the block workers
 *   (workers.ts), which read, hash and store them in chunk-aligned ranges off the main thread;
 *   the importer gets the leaves' CIDs in order (DiskLeaves).
 * - Bytes given by the caller (putBytes, `content` entries) are hashed as each chunk arrives and
 *   written while later chunks are read, with a semaphore bounding the chunks in memory
 *   (rawLeafImporter).
 *
 * Either way a leaf is hashed once, from the bytes that are written. Everything above the leaves
 * (file nodes, balanced layout, directories, HAMT shards) is still the importer's, so CIDs are
 * exactly what it makes of the same bytes (test/unit/content/bulk.test.ts checks).
 */
import { createHash } from "node:crypto";
import { statSync } from "node:fs";
import type { BufferImporter, BufferImporterResult } from "ipfs-unixfs-importer";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { create as createDigest } from "multiformats/hashes/digest";
import { sha256 } from "multiformats/hashes/sha2";
import type { Semaphore } from "../concurrency";
import { CHUNK_SIZE } from "./profile";
import type { BlockWorkers, PutRangeResult } from "./workers";

/** The CID of a raw leaf: CIDv1, raw codec, sha2-256 (Node's native hash, computed once). */
export function rawLeafCid(bytes: Uint8Array): CID {
  const digest = createHash("sha256").update(bytes).digest();
  return CID.createV1(raw.code, createDigest(sha256.code, new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength)));
}

/**
 * A bufferImporter for raw leaves (the only kind our profile makes) that writes each leaf with
 * `writeBlock` (given the CID it was hashed to) while later chunks are still being read. At most
 * `inFlight` permits' worth of chunks are read but not yet written, across all files.
 */
export function rawLeafImporter(writeBlock: (cid: CID, bytes: Uint8Array) => Promise<void>, inFlight: Semaphore): BufferImporter {
  return async function* importLeaves(file) {
    const chunks = file.content[Symbol.asyncIterator]();
    for (;;) {
      // Taken before the read, so a chunk in memory always holds a permit.
      await inFlight.acquire();
      let next: IteratorResult<Uint8Array>;
      try {
        next = await chunks.next();
      } catch (error) {
        inFlight.release();
        throw error;
      }
      if (next.done === true) {
        inFlight.release();
        return;
      }
      const bytes = next.value;
      const leaf = (async (): Promise<BufferImporterResult> => {
        try {
          const cid = rawLeafCid(bytes);
          await writeBlock(cid, bytes);
          return { cid, size: BigInt(bytes.byteLength), block: bytes };
        } finally {
          inFlight.release();
        }
      })();
      // The importer awaits every leaf it was handed unless an earlier one failed; in that case
      // this one's failure, if any, has nobody to report to.
      leaf.catch(() => undefined);
      yield () => leaf;
    }
  };
}

/** Bytes of a file given to one worker task: big files are split so that all workers share them. */
const RANGE_BYTES = 8 * CHUNK_SIZE;
/** Bytes to add (one file, or a whole directory) from which starting the block workers pays. */
export const WORKERS_WORTHWHILE_BYTES = 8 * 1024 * 1024;

function fileSize(path: string): number | undefined {
  try {
    return statSync(path).size;
  } catch {
    return undefined;
  }
}

const NO_BYTES = new Uint8Array(0);

/**
 * The leaves of files on disk, read, hashed and stored by block workers (workers.ts) in
 * chunk-aligned ranges. `start` queues a file's ranges at once, so the workers can run ahead of
 * the importer (which works in batches of files and waits for each batch's slowest); `importer`
 * is the bufferImporter that hands the importer those leaves' CIDs in order.
 */
export class DiskLeaves {
  private readonly started = new Map<string, Array<Promise<PutRangeResult>>>();

  constructor(
    private readonly workers: BlockWorkers,
    /** The store's `blocks` directory. */
    private readonly blocks: string,
    private readonly fsync: boolean,
  ) {}

  /**
   * Hands the file at `source` (the candidate at `path`) to the workers, unless it is small and
   * they are not running yet: starting them costs tens of milliseconds, more than a small file
   * takes through the importer's own reading (the fallback). Once per path.
   */
  start(path: string, source: string, size = fileSize(source)): void {
    if (this.started.has(path) || size === undefined) return; // an unreadable file fails in the fallback
    if (size < WORKERS_WORTHWHILE_BYTES && !this.workers.running) return;
    const tasks: Array<Promise<PutRangeResult>> = [];
    for (let start = 0; ; start += RANGE_BYTES) {
      // The last range reads on to the end of the file, wherever that is by then.
      const end = start + RANGE_BYTES >= size ? undefined : start + RANGE_BYTES;
      const task = this.workers.run({ kind: "put", file: source, start, end, blocks: this.blocks, fsync: this.fsync });
      // Awaited in order by the importer; one failure stops it, leaving later ones unobserved.
      task.catch(() => undefined);
      tasks.push(task);
      if (end === undefined) break;
    }
    this.started.set(path, tasks);
  }

  /** Starts every file of an add whose list is known up front (those not started yet), with
   * the workers if they are worth it for the total. */
  startAll(sources: ReadonlyMap<string, string>): void {
    const sizes = new Map<string, number | undefined>();
    let total = 0;
    for (const [path, source] of sources) {
      if (this.started.has(path)) continue;
      const size = fileSize(source);
      sizes.set(path, size);
      total += size ?? 0;
    }
    if (total >= WORKERS_WORTHWHILE_BYTES) this.workers.warm();
    for (const [path, size] of sizes) this.start(path, sources.get(path) as string, size);
  }

  /**
   * A bufferImporter for the files in `sources` (candidate path to file on disk); their
   * candidates' own streams are never opened. Any other file goes to `fallback`.
   */
  importer(sources: ReadonlyMap<string, string>, fallback: BufferImporter): BufferImporter {
    const started = this.started;
    const start = (path: string, source: string) => this.start(path, source);
    return async function* importDiskLeaves(file, blockstore) {
      const source = file.path === undefined ? undefined : sources.get(file.path);
      // Leaves from the workers come back without their bytes. The importer reads a leaf's bytes
      // only to wrap a one-leaf file that has mtime or mode, which our candidates never carry.
      if (file.path === undefined || source === undefined || file.mtime !== undefined || file.mode !== undefined) {
        yield* fallback(file, blockstore);
        return;
      }
      start(file.path, source);
      const tasks = started.get(file.path);
      if (tasks === undefined) {
        yield* fallback(file, blockstore);
        return;
      }
      started.delete(file.path);
      let leaves = 0;
      for (const task of tasks) {
        const { digests, sizes } = await task;
        for (let i = 0; i < sizes.length; i++) {
          const digest = createDigest(sha256.code, digests.subarray(32 * i, 32 * (i + 1)));
          const leaf: BufferImporterResult = { cid: CID.createV1(raw.code, digest), size: BigInt(sizes[i]), block: NO_BYTES };
          leaves++;
          yield () => Promise.resolve(leaf);
        }
      }
      // An empty file is one empty leaf, as the importer's chunker makes it.
      if (leaves === 0) {
        yield* fallback({ ...file, content: (async function* () { yield NO_BYTES; })() }, blockstore);
      }
    };
  }
}
