/**
 * The one DAG layout chainpkg uses, so that a CID computed anywhere (embedded store, kubo, a CI
 * machine, another store node) names the same bytes: exactly what
 * `ipfs add --cid-version=1 --raw-leaves` produces in Kubo.
 *
 * - sha2-256 multihashes, CIDv1;
 * - files cut into fixed 262,144-byte chunks, stored as raw leaves (`bafkrei…`); a file that fits
 *   one chunk *is* that raw leaf;
 * - larger files: a balanced tree of UnixFS dag-pb nodes with at most 174 links each;
 * - directories: UnixFS dag-pb directories, switching to a HAMT (fanout 256) when the estimated
 *   size of their links (name bytes + CID bytes) exceeds 256 KiB, as boxo does. (Kubo releases
 *   before boxo settled on ">" already sharded at exactly 256 KiB; only that boundary differs.)
 *
 * These are the "unixfs-v0-2015" parameters of IPIP-499 with CIDv1 and raw leaves. Helia and
 * newer importers default to 1 MiB chunks / 1024 links ("unixfs-v1-2025"), which gives different
 * CIDs for files over 256 KiB, so every parameter is spelled out here rather than left to a default.
 */
import type { ImporterOptions } from "ipfs-unixfs-importer";
import { fixedSize } from "ipfs-unixfs-importer/chunker";
import { balanced } from "ipfs-unixfs-importer/layout";

export const CHUNK_SIZE = 262_144;
export const MAX_CHILDREN_PER_NODE = 174;
export const HAMT_THRESHOLD_BYTES = 262_144;

/** The same parameters as kubo RPC `add` options (used by the kubo backend). */
export const KUBO_ADD_OPTIONS = {
  cidVersion: 1,
  rawLeaves: true,
  hashAlg: "sha2-256",
  chunker: `size-${CHUNK_SIZE}`,
  trickle: false,
} as const;

/**
 * Options for ipfs-unixfs-importer that reproduce Kubo's CIDs. A fresh object each call: the
 * importer writes defaults into the options object it is given.
 */
export function importerOptions(overrides: Partial<ImporterOptions> = {}): ImporterOptions {
  return {
    profile: "unixfs-v0-2015",
    cidVersion: 1,
    rawLeaves: true,
    reduceSingleLeafToSelf: true,
    chunker: fixedSize({ chunkSize: CHUNK_SIZE }),
    layout: balanced({ maxChildrenPerNode: MAX_CHILDREN_PER_NODE }),
    shardSplitThresholdBytes: HAMT_THRESHOLD_BYTES,
    shardSplitStrategy: "links-bytes",
    shardFanoutBits: 8,
    ...overrides,
  };
}
