/**
 * The embedded content store: blocks on disk in blockstore-fs's layout (a file per block named by
 * its base32 multihash, in two-character shard directories), pins as one file each, no daemon and
 * no network except the trustless gateways it is explicitly given.
 *
 * Directory layout:
 *   <dir>/blocks/<XY>/<BASE32-MULTIHASH>.data   one block, read-only, content-addressed
 *   <dir>/pins/<cidv1>                          one recursive pin
 *
 * Speed: adding a directory from disk and writing a tree back are done in bulk by block worker
 * threads (workers.ts, leaves.ts, read.ts) once an operation is big enough to pay for starting
 * them; single blocks, streams and small operations take the main-thread paths below. On the
 * 2-core benchmark machine (bench/content) that is ~400-500 MB/s to add and ~600-850 MB/s to get
 * a 100 MB tree, against 1-2.4 GB/s for `cp -r`, which copies in the kernel and hashes nothing.
 */
import { randomBytes } from "node:crypto";
import * as fsCallback from "node:fs";
import { mkdir, open, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { importer } from "ipfs-unixfs-importer";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { ContentNotFoundError } from "../errors/content";
import { isPkgError } from "../errors/index";
import { carMethods } from "./car";
import { walkDag } from "./dag";
import { fetchBlock, MAX_BLOCK_BYTES } from "./fetch";
import { defaultContentDir } from "./paths";
import { DiskLeaves, rawLeafImporter, WORKERS_WORTHWHILE_BYTES } from "./leaves";
import { Semaphore } from "../concurrency";
import { importerOptions } from "./profile";
import { readBytes, writeTree, type LeafTarget, type LeafWrite } from "./read";
import { contentStream, directoryEntries, treeCandidates, type Candidate } from "./tree";
import { blockWorkers, type StoreBlocksTask, type WriteLeavesTask } from "./workers";
import type { AbortOptions, Content, ContentStore, GetTreeOptions, PutOptions, ReadOptions, TreeSource } from "./types";
import { checkBlock, isIdentity } from "./verify";

export interface EmbeddedStoreOptions {
  /** Where blocks and pins live; defaults to defaultContentDir(). Created if missing. */
  directory?: string;
  /** Trustless gateways (base URLs) asked, in order, for blocks missing locally. */
  gateways?: readonly string[];
  /** HTTP client for the gateways; defaults to global fetch. */
  fetch?: typeof globalThis.fetch;
  /**
   * fsync each block and its directory before it counts as written. Off by default, like Nix's
   * `fsync-store-paths`: a block torn by a crash is caught by verification on read (and can be
   * added or fetched again), so the default trades durability of the last writes for speed.
   */
  fsync?: boolean;
}

export interface EmbeddedContentStore extends ContentStore {
  readonly backend: "embedded";
  readonly directory: string;
}

// The per-block main-thread path uses the callback fs API, promisified: fs/promises creates a
// FileHandle per open and reads files in a loop of promise round trips; switching readFile alone
// took verified reads from ~90 to ~120-200 MB/s in bench/content/store-put-get.ts.
const readFileFast = promisify(fsCallback.readFile);
const writeFileFast = promisify(fsCallback.writeFile);
const renameFast = promisify(fsCallback.rename);

/** Files the importer works on at once (it waits for a whole batch before the next). */
const FILE_IMPORT_CONCURRENCY = 64;
/** File and directory nodes sent to a block worker at once. */
const NODES_PER_BATCH = 8;
/** Chunks read but not yet written, across all files of one add (256 KiB each). */
const LEAVES_IN_FLIGHT = 32;

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
}

/** A CID in the one form used for pin names and comparisons. */
function canonical(cid: CID): CID {
  return cid.toV1();
}

async function concat(chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts);
}

export async function openEmbeddedStore(options: EmbeddedStoreOptions = {}): Promise<EmbeddedContentStore> {
  // blockstore-fs publishes only an "import" export condition, so it is loaded with import().
  const { FsBlockstore } = await import("blockstore-fs");
  const { NextToLast } = await import("blockstore-fs/sharding");

  const directory = options.directory ?? defaultContentDir();
  const blocksDirectory = join(directory, "blocks");
  const pinsDirectory = join(directory, "pins");
  const layout = new NextToLast();
  // FsBlockstore defines the on-disk format and creates it. Writes and reads go around it:
  // its put goes through steno, which stages every writer of a file in the same `.<name>.tmp`,
  // so two processes writing one block race on that temporary (one can rename the other's
  // half-written file into place); and its get streams 64 KiB pieces where one read will do.
  await new FsBlockstore(blocksDirectory).open();
  await mkdir(pinsDirectory, { recursive: true });

  const gateways = options.gateways ?? [];
  const fsync = options.fsync ?? false;
  const knownShards = new Set<string>();
  const inflightFetches = new Map<string, Promise<Uint8Array>>();
  let closed = false;

  function blockPath(cid: CID): { shard: string; path: string } {
    const { dir, file } = layout.encode(cid);
    return { shard: join(blocksDirectory, dir), path: join(blocksDirectory, dir, file) };
  }

  function checkOpen(): void {
    if (closed) throw new Error("content store is closed");
  }

  /**
   * Writes a block whose CID the caller has computed from these very bytes (importer, or after
   * checkBlock), so it is not hashed again. The bytes go to a temporary file with a name no other
   * writer uses, then rename(2) publishes them atomically: readers see no file or the whole
   * block, and concurrent writers of one block each rename a complete copy of the same bytes.
   */
  async function writeBlock(cid: CID, bytes: Uint8Array): Promise<void> {
    if (isIdentity(cid)) return;
    const { shard, path } = blockPath(cid);
    // existsSync on purpose: a stat that hits the dentry cache takes microseconds, while the async form costs a
    // thread-pool round trip and, for the common "not there yet" answer, an ENOENT Error with a captured stack
    if (fsCallback.existsSync(path)) return;
    if (!knownShards.has(shard)) {
      await mkdir(shard, { recursive: true });
      knownShards.add(shard);
    }
    const temporary = `${path}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
    try {
      if (fsync) {
        const handle = await open(temporary, "wx", 0o444);
        try {
          await handle.writeFile(bytes);
          await handle.sync();
        } finally {
          await handle.close();
        }
      } else {
        await writeFileFast(temporary, bytes, { flag: "wx", mode: 0o444 });
      }
      await renameFast(temporary, path);
      if (fsync) {
        const shardHandle = await open(shard, "r");
        await shardHandle.sync().finally(() => shardHandle.close());
      }
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
  }

  async function fetchMissing(cid: CID, readOptions: ReadOptions): Promise<Uint8Array> {
    const key = canonical(cid).toString();
    let pending = inflightFetches.get(key);
    if (pending === undefined) {
      pending = (async () => {
        const bytes = await fetchBlock(gateways, cid, { fetch: options.fetch, signal: readOptions.signal });
        await writeBlock(cid, bytes);
        return bytes;
      })().finally(() => inflightFetches.delete(key));
      inflightFetches.set(key, pending);
    }
    return pending;
  }

  async function getBlock(cid: CID, readOptions: ReadOptions = {}): Promise<Uint8Array> {
    checkOpen();
    if (isIdentity(cid)) return cid.multihash.digest;
    const { path } = blockPath(cid);
    let bytes: Uint8Array;
    try {
      readOptions.signal?.throwIfAborted();
      const buffer = await readFileFast(path);
      bytes = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    } catch (error) {
      if (!isMissing(error)) throw error;
      if (readOptions.offline || gateways.length === 0) {
        throw new ContentNotFoundError(cid.toString(), { details: { directory } });
      }
      return fetchMissing(cid, readOptions);
    }
    await checkBlock(cid, bytes, path);
    return bytes;
  }

  /**
   * TreeBlocks.writeLeaves for getTree: block workers read, verify and write raw sha2-256 leaves
   * in batches. Anything else, and any leaf they could not write, is left to getBlock.
   */
  async function writeLeaves(target: LeafTarget, leaves: readonly LeafWrite[], readOptions: ReadOptions): Promise<number[]> {
    checkOpen();
    readOptions.signal?.throwIfAborted();
    const failed: number[] = [];
    const indexes: number[] = [];
    const work: WriteLeavesTask["leaves"] = [];
    leaves.forEach((leaf, index) => {
      const { multihash } = leaf.cid;
      if (multihash.code !== sha256.code || multihash.digest.byteLength !== 32 || leaf.size > MAX_BLOCK_BYTES) {
        failed.push(index);
        return;
      }
      work.push({ path: blockPath(leaf.cid).path, digest: multihash.digest, offset: leaf.offset, size: leaf.size });
      indexes.push(index);
    });
    // A new file is written whole or not at all.
    if ("create" in target && failed.length > 0) return failed;
    if (work.length > 0) {
      const task: WriteLeavesTask = "fd" in target ? { kind: "write", fd: target.fd, leaves: work } : { kind: "write", create: { path: target.create, mode: target.mode }, leaves: work };
      for (const failure of (await blockWorkers().run(task)).failed) failed.push(indexes[failure.index]);
    }
    return failed;
  }

  async function hasBlock(cid: CID): Promise<boolean> {
    checkOpen();
    return isIdentity(cid) || fsCallback.existsSync(blockPath(cid).path);
  }

  async function putBlock(cid: CID, bytes: Uint8Array): Promise<void> {
    checkOpen();
    await checkBlock(cid, bytes, "putBlock");
    await writeBlock(cid, bytes);
  }

  /**
   * The importer's storage for one add. The blocks it hashes itself are file and directory nodes
   * (and leaves of content not from disk, see leaves.ts). Nodes are small and many; rather than
   * four thread-pool round trips each, they go to the block workers in batches and the importer
   * is not held up: `finish` waits for every write, and no add returns before it has.
   */
  function importStorage(): { put(cid: CID, value: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<CID>; finish(): Promise<void> } {
    const writes: Array<Promise<void>> = [];
    let batch: StoreBlocksTask["items"] = [];
    const send = () => {
      if (batch.length === 0) return;
      const write = blockWorkers().run({ kind: "store", blocks: blocksDirectory, fsync, items: batch }, true);
      batch = [];
      write.catch(() => undefined); // awaited by finish
      writes.push(write);
    };
    return {
      async put(cid, value) {
        const bytes = value instanceof Uint8Array ? value : await concat(value);
        const { multihash } = cid;
        // Through the workers only if they are up anyway (an add too small to start them
        // writes its few nodes itself).
        if (multihash.code === sha256.code && multihash.digest.byteLength === 32 && blockWorkers().running) {
          batch.push({ digest: multihash.digest, bytes });
          if (batch.length >= NODES_PER_BATCH) send();
        } else {
          const write = writeBlock(cid, bytes);
          write.catch(() => undefined);
          writes.push(write);
        }
        return cid;
      },
      async finish() {
        send();
        const results = await Promise.allSettled(writes);
        for (const result of results) if (result.status === "rejected") throw result.reason;
      },
    };
  }

  /** `sources`: the candidates' files on disk (see treeCandidates), which block workers read,
   * maybe already started on `disk`. */
  async function runImport(
    candidates: AsyncIterable<Candidate> | Iterable<Candidate | { content: ReturnType<typeof contentStream> }>,
    wrap: boolean,
    putOptions: PutOptions,
    sources: ReadonlyMap<string, string> = new Map(),
    disk = new DiskLeaves(blockWorkers(), blocksDirectory, fsync),
  ): Promise<CID> {
    checkOpen();
    let root: CID | undefined;
    const storage = importStorage();
    const entries = importer(candidates, storage, {
      ...importerOptions({ wrapWithDirectory: wrap }),
      fileImportConcurrency: FILE_IMPORT_CONCURRENCY,
      // Leaves start as soon as they are read (see leaves.ts); this only bounds how far the
      // importer pulls ahead within one file, the semaphore bounds memory.
      blockWriteConcurrency: LEAVES_IN_FLIGHT,
      bufferImporter: disk.importer(sources, rawLeafImporter(writeBlock, new Semaphore(LEAVES_IN_FLIGHT))),
    });
    try {
      for await (const entry of entries) {
        putOptions.signal?.throwIfAborted();
        root = entry.cid;
      }
    } catch (error) {
      // Nothing of this add is written after it returns, even when it fails.
      await storage.finish().catch(() => undefined);
      throw error;
    }
    await storage.finish();
    if (root === undefined) throw new Error("importer produced no root");
    // Every block was just written, so the pin needs no walk.
    if (putOptions.pin) await recordPin(root);
    return root;
  }

  function pinPath(cid: CID): string {
    return join(pinsDirectory, canonical(cid).toString());
  }

  async function recordPin(cid: CID): Promise<void> {
    const path = pinPath(cid);
    const temporary = `${path}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
    await writeFile(temporary, `${canonical(cid).toString()}\n`, { flag: "wx" });
    await renameFast(temporary, path);
  }

  /** Walks the DAG making sure every block is local: inner nodes are read (and so fetched and
   * verified), leaves only checked for presence and fetched when missing. */
  async function ensureDag(cid: CID, readOptions: ReadOptions): Promise<void> {
    for await (const block of walkDag({ getBlock }, cid, { ...readOptions, leaves: "skip" })) {
      if (block.bytes === undefined && !(await hasBlock(block.cid))) await getBlock(block.cid, readOptions);
    }
  }

  const store: EmbeddedContentStore = {
    backend: "embedded",
    directory,
    getBlock,
    hasBlock,
    putBlock,

    putBytes(content: Content, putOptions: PutOptions = {}) {
      return runImport([{ content: contentStream(content) }], false, putOptions);
    },

    putTree(entries: TreeSource, putOptions: PutOptions = {}) {
      const sources = new Map<string, string>();
      return runImport(treeCandidates(entries, sources), true, putOptions, sources);
    },

    async putDirectory(path: string, putOptions: PutOptions = {}) {
      checkOpen();
      // Listing the directory costs little and holds no file bytes, so it is done first and
      // every file handed to the block workers at once: they then never wait for the importer.
      const sources = new Map<string, string>();
      const disk = new DiskLeaves(blockWorkers(), blocksDirectory, fsync);
      const candidates: Candidate[] = [];
      for await (const candidate of treeCandidates(directoryEntries(path, { preserveMode: putOptions.preserveMode }), sources)) {
        candidates.push(candidate);
        // With the workers up already, a file need not wait for the rest of the listing.
        const source = sources.get(candidate.path);
        if (source !== undefined && blockWorkers().running) disk.start(candidate.path, source);
      }
      disk.startAll(sources);
      return runImport(candidates, true, putOptions, sources, disk);
    },

    getBytes(cid: CID, readOptions: ReadOptions = {}) {
      return readBytes({ getBlock }, cid, readOptions);
    },

    getTree(cid: CID, destination: string, readOptions: GetTreeOptions = {}) {
      checkOpen();
      const worthWriteLeaves = (bytes: number) => {
        if (bytes >= WORKERS_WORTHWHILE_BYTES) blockWorkers().warm();
        return blockWorkers().running;
      };
      return writeTree({ getBlock, writeLeaves, worthWriteLeaves }, cid, destination, readOptions);
    },

    async has(cid: CID, abortOptions: AbortOptions = {}) {
      try {
        for await (const block of walkDag({ getBlock }, cid, { ...abortOptions, offline: true, leaves: "skip" })) {
          if (block.bytes === undefined && !(await hasBlock(block.cid))) return false;
        }
        return true;
      } catch (error) {
        if (isPkgError(error, "ERR_CONTENT_NOT_FOUND")) return false;
        throw error;
      }
    },

    async pin(cid: CID, readOptions: ReadOptions = {}) {
      checkOpen();
      await ensureDag(cid, readOptions);
      await recordPin(cid);
    },

    async unpin(cid: CID) {
      checkOpen();
      await rm(pinPath(cid), { force: true });
    },

    async pins() {
      checkOpen();
      const names = await readdir(pinsDirectory);
      return names.filter((name) => !name.endsWith(".tmp")).map((name) => CID.parse(name));
    },

    ...carMethods({ getBlock, putBlock, pin: (cid, pinOptions) => store.pin(cid, pinOptions) }),

    async close() {
      closed = true;
    },
  };
  return store;
}
