/**
 * Walking a DAG block by block: the shared basis of has, pin, CAR export and the adapters that
 * let ipfs-unixfs-exporter read through a verifying BlockStore.
 */
import { exporter, type ReadableStorage, type UnixFSEntry } from "ipfs-unixfs-exporter";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { ContentUnsupportedError } from "../errors/content";
import type { BlockStore, ReadOptions } from "./types";
import { isIdentity } from "./verify";

export const DAG_PB = 0x70;
const DAG_CBOR = 0x71;
const DAG_JSON = 0x0129;

/** ipfs-unixfs-exporter's view of a BlockStore: every block it reads is verified by getBlock. */
export function readableStorage(blocks: Pick<BlockStore, "getBlock">, options: ReadOptions = {}): ReadableStorage {
  return {
    get(cid: CID, getOptions?: { signal?: AbortSignal }) {
      return (async function* () {
        yield await blocks.getBlock(cid, { ...options, signal: getOptions?.signal ?? options.signal });
      })();
    },
  };
}

/** A one-block storage, so the exporter can decode a block we already hold without a re-read. */
function singleBlock(bytes: Uint8Array): ReadableStorage {
  return {
    get() {
      return (function* () {
        yield bytes;
      })();
    },
  };
}

/** A block we already hold (and have verified), decoded by the exporter: dag-pb as UnixFS. */
export function decodeBlock(cid: CID, bytes: Uint8Array): Promise<UnixFSEntry> {
  return exporter(cid, singleBlock(bytes));
}

/** The CIDs a block links to, in link order. Raw and identity blocks have none. */
export async function childLinks(cid: CID, bytes: Uint8Array): Promise<CID[]> {
  switch (cid.code) {
    case raw.code:
      return [];
    case DAG_PB: {
      // The exporter decodes dag-pb and checks it is UnixFS; its `node` is the decoded PBNode.
      const entry = await exporter(cid, singleBlock(bytes)).catch((error: unknown) => {
        throw new ContentUnsupportedError(`${cid.toString()} is not a UnixFS node`, {
          details: { cid: cid.toString() },
          cause: error,
        });
      });
      if (entry.type === "file" || entry.type === "directory") return entry.node.Links.map((link) => link.Hash);
      return [];
    }
    case DAG_CBOR:
    case DAG_JSON: {
      const entry = await exporter(cid, singleBlock(bytes));
      return entry.type === "object" ? linksInObject(entry.object) : [];
    }
    default:
      throw new ContentUnsupportedError(`cannot walk ${cid.toString()}: codec 0x${cid.code.toString(16)} is not supported`, {
        details: { cid: cid.toString(), codec: cid.code },
      });
  }
}

function linksInObject(value: unknown, out: CID[] = []): CID[] {
  const cid = CID.asCID(value);
  if (cid !== null) {
    out.push(cid);
  } else if (Array.isArray(value)) {
    for (const item of value) linksInObject(item, out);
  } else if (value !== null && typeof value === "object" && !(value instanceof Uint8Array)) {
    for (const item of Object.values(value)) linksInObject(item, out);
  }
  return out;
}

export interface WalkOptions extends ReadOptions {
  /** `read`: yield the bytes of raw leaves too (CAR export). `skip`: yield leaves without reading
   * them, so presence checks stay cheap (has, pin). Inner nodes are always read: they hold the links. */
  leaves: "read" | "skip";
  /** Yield a block again each time it is reached (default: once). */
  dups?: boolean;
}

export interface WalkedBlock {
  cid: CID;
  /** Undefined only for raw leaves walked with `leaves: "skip"`. */
  bytes?: Uint8Array;
}

/** Block identity for deduplication: CIDv0 and CIDv1 of the same dag-pb node are one block. */
function blockKey(cid: CID): string {
  return cid.toV1().toString();
}

/**
 * The blocks of the DAG under `root` in depth-first pre-order (root first, children in link
 * order), which is the `order=dfs` of the trustless gateway spec. Identity CIDs are not yielded:
 * their bytes live inside the CID. Iterative, so deep DAGs cannot overflow the stack.
 */
export async function* walkDag(blocks: Pick<BlockStore, "getBlock">, root: CID, options: WalkOptions): AsyncGenerator<WalkedBlock> {
  const seen = new Set<string>();
  const stack: CID[] = [root];
  while (stack.length > 0) {
    options.signal?.throwIfAborted();
    const cid = stack.pop() as CID;
    if (!options.dups) {
      const key = blockKey(cid);
      if (seen.has(key)) continue;
      seen.add(key);
    }
    if (isIdentity(cid)) {
      const links = await childLinks(cid, cid.multihash.digest);
      for (let i = links.length - 1; i >= 0; i--) stack.push(links[i]);
      continue;
    }
    if (cid.code === raw.code && options.leaves === "skip") {
      yield { cid };
      continue;
    }
    const bytes = await blocks.getBlock(cid, options);
    yield { cid, bytes };
    const links = await childLinks(cid, bytes);
    for (let i = links.length - 1; i >= 0; i--) stack.push(links[i]);
  }
}
