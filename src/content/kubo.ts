/**
 * The kubo backend: content lives in a Kubo daemon reached over its RPC API (kubo-rpc-client).
 * Adds go through Kubo's own importer with the parameters of profile.ts, so CIDs equal the
 * embedded store's. Reads do not trust the daemon: blocks are fetched one by one with
 * `block/get`, verified here, and reassembled locally by the same code the embedded store uses.
 */
import { importer } from "ipfs-unixfs-importer";
import { create, type KuboRPCClient, type HTTPRPCOptions } from "kubo-rpc-client";
import { equals } from "multiformats/bytes";
import type { CID } from "multiformats/cid";
import { ContentBackendError, ContentNotFoundError, ContentUnsupportedError } from "../errors/content";
import { isPkgError } from "../errors/index";
import { carMethods } from "./car";
import { walkDag } from "./dag";
import { importerOptions, KUBO_ADD_OPTIONS } from "./profile";
import { readBytes, writeTree } from "./read";
import { directoryEntries, treeCandidates, type Candidate } from "./tree";
import type { AbortOptions, Content, ContentStore, GetTreeOptions, PutOptions, ReadOptions, TreeSource } from "./types";
import { checkBlock, isIdentity } from "./verify";

export interface KuboStoreOptions {
  /** The daemon's RPC API, e.g. "http://127.0.0.1:5001". */
  url: string | URL;
  /** Per-request timeout in milliseconds (default: kubo-rpc-client's). */
  timeoutMs?: number;
}

export interface KuboContentStore extends ContentStore {
  readonly backend: "kubo";
  readonly url: string;
}

const CODEC_NAMES: ReadonlyMap<number, string> = new Map([
  [0x55, "raw"],
  [0x70, "dag-pb"],
  [0x71, "dag-cbor"],
  [0x0129, "dag-json"],
]);
const HASH_NAMES: ReadonlyMap<number, string> = new Map([
  [0x12, "sha2-256"],
  [0x13, "sha2-512"],
]);

/** Kubo ("block was not found locally", "ipld: could not find") and js-ipfs ("not found") words. */
function isNotFound(error: unknown): boolean {
  return error instanceof Error && /not found|could not find|no link named/i.test(error.message);
}

/**
 * kubo-rpc-client passes unknown options through as kebab-case query parameters; `offline` is
 * the RPC API's global `--offline` flag, which its option types do not list.
 */
function rpcOptions(options: ReadOptions & { [key: string]: unknown }): HTTPRPCOptions {
  const { offline, ...rest } = options;
  return (offline ? { ...rest, offline: true } : rest) as HTTPRPCOptions;
}

export function openKuboStore(options: KuboStoreOptions): KuboContentStore {
  const url = options.url.toString();
  const client: KuboRPCClient = create({ url, timeout: options.timeoutMs });

  /** Runs one RPC call; failures other than our own errors become ERR_CONTENT_BACKEND. */
  async function call<T>(operation: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (isPkgError(error) || (error instanceof Error && error.name === "AbortError")) throw error;
      throw new ContentBackendError(`kubo ${operation} failed: ${error instanceof Error ? error.message : String(error)}`, {
        details: { url, operation },
        hint: `check that a kubo daemon serves its RPC API at ${url}`,
        cause: error,
      });
    }
  }

  async function getBlock(cid: CID, readOptions: ReadOptions = {}): Promise<Uint8Array> {
    if (isIdentity(cid)) return cid.multihash.digest;
    const bytes = await call("block/get", async () => {
      try {
        return await client.block.get(cid, rpcOptions({ signal: readOptions.signal, offline: readOptions.offline }));
      } catch (error) {
        if (isNotFound(error)) throw new ContentNotFoundError(cid.toString(), { details: { url }, cause: error });
        throw error;
      }
    });
    await checkBlock(cid, bytes, `kubo ${url}`);
    return bytes;
  }

  async function hasBlock(cid: CID, abortOptions: AbortOptions = {}): Promise<boolean> {
    if (isIdentity(cid)) return true;
    return call("block/stat", async () => {
      try {
        await client.block.stat(cid, rpcOptions({ signal: abortOptions.signal, offline: true }));
        return true;
      } catch (error) {
        if (isNotFound(error)) return false;
        throw error;
      }
    });
  }

  async function putBlock(cid: CID, bytes: Uint8Array, abortOptions: AbortOptions = {}): Promise<void> {
    await checkBlock(cid, bytes, "putBlock");
    if (isIdentity(cid)) return;
    const codec = CODEC_NAMES.get(cid.code);
    const hash = HASH_NAMES.get(cid.multihash.code);
    if (codec === undefined || hash === undefined) {
      throw new ContentUnsupportedError(`kubo backend cannot store ${cid.toString()} (codec 0x${cid.code.toString(16)})`, {
        details: { cid: cid.toString() },
      });
    }
    const stored = await call("block/put", () =>
      client.block.put(bytes, {
        signal: abortOptions.signal,
        mhtype: hash,
        version: cid.version,
        // `cid-codec` (Kubo ≥ 0.13, js-ipfs) replaced the deprecated `format`.
        ...({ cidCodec: codec } as HTTPRPCOptions),
      }),
    );
    if (!equals(stored.multihash.bytes, cid.multihash.bytes)) {
      throw new ContentBackendError(`kubo stored ${cid.toString()} as ${stored.toString()}`, { details: { url, cid: cid.toString() } });
    }
  }

  /** The UnixFS directory with no entries, which Kubo's add cannot produce from an empty upload. */
  async function putEmptyDirectory(putOptions: PutOptions): Promise<CID> {
    const blocks: Array<{ cid: CID; bytes: Uint8Array }> = [];
    let root: CID | undefined;
    const storage = {
      put: async (cid: CID, bytes: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>) => {
        if (bytes instanceof Uint8Array) blocks.push({ cid, bytes });
        return cid;
      },
    };
    for await (const entry of importer([], storage, importerOptions({ wrapWithDirectory: true }))) root = entry.cid;
    if (root === undefined) throw new Error("importer produced no empty directory");
    for (const block of blocks) await putBlock(block.cid, block.bytes, putOptions);
    if (putOptions.pin) await store.pin(root, { ...putOptions, offline: true });
    return root;
  }

  async function addTree(entries: TreeSource, putOptions: PutOptions): Promise<CID> {
    async function* candidates(): AsyncGenerator<Exclude<Candidate, { link: string }>> {
      for await (const candidate of treeCandidates(entries)) {
        if ("link" in candidate) {
          // kubo-rpc-client has no way to send a symlink (Kubo's multipart application/symlink part).
          throw new ContentUnsupportedError(`${candidate.path}: the kubo backend cannot add symlinks`, {
            details: { path: candidate.path },
            hint: "use the embedded store, or replace the link by the file it points to",
          });
        }
        yield candidate;
      }
    }
    // Kubo rejects an upload with no parts, so an empty tree is decided before anything is sent.
    const source = candidates();
    const first = await source.next();
    if (first.done) return putEmptyDirectory(putOptions);
    async function* all() {
      yield first.value;
      yield* source;
    }
    let root: CID | undefined;
    await call("add", async () => {
      for await (const result of client.addAll(all(), {
        ...KUBO_ADD_OPTIONS,
        wrapWithDirectory: true,
        pin: putOptions.pin ?? false,
        signal: putOptions.signal,
      })) {
        if (result.path === "") root = result.cid;
      }
    });
    if (root === undefined) throw new ContentBackendError("kubo add returned no root directory", { details: { url } });
    return root;
  }

  const blocks = { getBlock };

  const store: KuboContentStore = {
    backend: "kubo",
    url,
    getBlock,
    hasBlock,
    putBlock,

    async putBytes(content: Content, putOptions: PutOptions = {}) {
      const result = await call("add", () =>
        client.add(content, { ...KUBO_ADD_OPTIONS, pin: putOptions.pin ?? false, signal: putOptions.signal }),
      );
      return result.cid;
    },

    putTree(entries: TreeSource, putOptions: PutOptions = {}) {
      return addTree(entries, putOptions);
    },

    putDirectory(path: string, putOptions: PutOptions = {}) {
      return addTree(directoryEntries(path, { preserveMode: putOptions.preserveMode }), putOptions);
    },

    getBytes(cid: CID, readOptions: ReadOptions = {}) {
      return readBytes(blocks, cid, readOptions);
    },

    getTree(cid: CID, destination: string, readOptions: GetTreeOptions = {}) {
      return writeTree(blocks, cid, destination, readOptions);
    },

    async has(cid: CID, abortOptions: AbortOptions = {}) {
      try {
        for await (const block of walkDag(blocks, cid, { ...abortOptions, offline: true, leaves: "skip" })) {
          if (block.bytes === undefined && !(await hasBlock(block.cid, abortOptions))) return false;
        }
        return true;
      } catch (error) {
        if (isPkgError(error, "ERR_CONTENT_NOT_FOUND")) return false;
        throw error;
      }
    },

    async pin(cid: CID, readOptions: ReadOptions = {}) {
      await call("pin/add", async () => {
        try {
          await client.pin.add(cid, { ...rpcOptions({ signal: readOptions.signal, offline: readOptions.offline }), recursive: true });
        } catch (error) {
          if (isNotFound(error)) throw new ContentNotFoundError(cid.toString(), { details: { url }, cause: error });
          throw error;
        }
      });
    },

    async unpin(cid: CID, abortOptions: AbortOptions = {}) {
      await call("pin/rm", async () => {
        try {
          await client.pin.rm(cid, { recursive: true, signal: abortOptions.signal });
        } catch (error) {
          // Same contract as the embedded store: unpinning what is not pinned is a no-op.
          if (error instanceof Error && /not pinned/i.test(error.message)) return;
          throw error;
        }
      });
    },

    async pins(abortOptions: AbortOptions = {}) {
      return call("pin/ls", async () => {
        const roots: CID[] = [];
        for await (const pin of client.pin.ls({ type: "recursive", signal: abortOptions.signal })) roots.push(pin.cid.toV1());
        return roots;
      });
    },

    ...carMethods({ getBlock, putBlock, pin: (cid, pinOptions) => store.pin(cid, pinOptions) }),

    async close() {
      // kubo-rpc-client keeps no connection state worth closing.
    },
  };
  return store;
}
