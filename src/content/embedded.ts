/**
 * The embedded content store: blocks on disk in blockstore-fs's layout (a file per block named by
 * its base32 multihash, in two-character shard directories), pins as one file each, no daemon and
 * no network except the trustless gateways it is explicitly given.
 *
 * Directory layout:
 *   <dir>/blocks/<XY>/<BASE32-MULTIHASH>.data   one block, read-only, content-addressed
 *   <dir>/pins/<cidv1>                          one recursive pin
 */
import { randomBytes } from "node:crypto";
import * as fsCallback from "node:fs";
import { mkdir, open, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { importer, type ImportCandidate } from "ipfs-unixfs-importer";
import { CID } from "multiformats/cid";
import { ContentNotFoundError } from "../errors/content";
import { isPkgError } from "../errors/index";
import { exportCar, importCar } from "./car";
import { walkDag } from "./dag";
import { fetchBlock } from "./fetch";
import { defaultContentDir } from "./paths";
import { importerOptions } from "./profile";
import { readBytes, writeTree } from "./read";
import { directoryEntries, treeCandidates } from "./tree";
import type { AbortOptions, Content, ContentStore, PutOptions, ReadOptions, TreeSource } from "./types";
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

// The hot path (one call per block) uses the callback fs API, promisified: fs/promises creates a
// FileHandle per open and reads files in a loop of promise round trips; switching readFile alone
// took verified reads from ~90 to ~120-200 MB/s in bench/content/store-put-get.ts.
const readFileFast = promisify(fsCallback.readFile);
const writeFileFast = promisify(fsCallback.writeFile);
const renameFast = promisify(fsCallback.rename);

/** Files the importer reads at once, and blocks it hashes and writes at once. */
const FILE_IMPORT_CONCURRENCY = 32;
const BLOCK_WRITE_CONCURRENCY = 16;

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
}

/**
 * Whether a block file exists. Synchronous on purpose: a stat that hits the dentry cache takes
 * microseconds, while the async form costs a thread-pool round trip and, for the common "not
 * there yet" answer, an ENOENT Error with a captured stack, once per block added.
 */
function exists(path: string): boolean {
  return fsCallback.existsSync(path);
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
    if (exists(path)) return;
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

  async function hasBlock(cid: CID): Promise<boolean> {
    checkOpen();
    return isIdentity(cid) || exists(blockPath(cid).path);
  }

  async function putBlock(cid: CID, bytes: Uint8Array): Promise<void> {
    checkOpen();
    await checkBlock(cid, bytes, "putBlock");
    await writeBlock(cid, bytes);
  }

  /** The importer's storage: blocks it has just hashed go straight to disk. */
  const importStorage = {
    async put(cid: CID, value: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<CID> {
      await writeBlock(cid, value instanceof Uint8Array ? value : await concat(value));
      return cid;
    },
  };

  async function runImport(candidates: AsyncIterable<ImportCandidate> | Iterable<ImportCandidate>, wrap: boolean, putOptions: PutOptions): Promise<CID> {
    checkOpen();
    let root: CID | undefined;
    const entries = importer(candidates, importStorage, {
      ...importerOptions({ wrapWithDirectory: wrap }),
      fileImportConcurrency: FILE_IMPORT_CONCURRENCY,
      blockWriteConcurrency: BLOCK_WRITE_CONCURRENCY,
    });
    for await (const entry of entries) {
      putOptions.signal?.throwIfAborted();
      root = entry.cid;
    }
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
      const bytes = typeof content === "string" ? new TextEncoder().encode(content) : content;
      return runImport([{ content: bytes }], false, putOptions);
    },

    putTree(entries: TreeSource, putOptions: PutOptions = {}) {
      return runImport(treeCandidates(entries), true, putOptions);
    },

    putDirectory(path: string, putOptions: PutOptions = {}) {
      return runImport(treeCandidates(directoryEntries(path)), true, putOptions);
    },

    getBytes(cid: CID, readOptions: ReadOptions = {}) {
      return readBytes({ getBlock }, cid, readOptions);
    },

    getTree(cid: CID, destination: string, readOptions: ReadOptions = {}) {
      checkOpen();
      return writeTree({ getBlock }, cid, destination, readOptions);
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

    exportCar(cid, carOptions = {}) {
      return exportCar({ getBlock }, cid, carOptions);
    },

    async importCar(car, carOptions = {}) {
      const roots = await importCar({ putBlock }, car, carOptions);
      if (carOptions.pin) {
        for (const root of roots) await store.pin(root, { ...carOptions, offline: true });
      }
      return roots;
    },

    async close() {
      closed = true;
    },
  };
  return store;
}
