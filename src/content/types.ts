/**
 * The content store: what the rest of chainpkg sees of IPFS. Two backends implement it, the
 * embedded on-disk store (default) and a kubo daemon; both produce the same CIDs for the same
 * bytes and trees (see profile.ts) and both verify every block they hand out.
 */
import type { CID } from "multiformats/cid";

/** Options every operation accepts. */
export interface AbortOptions {
  signal?: AbortSignal;
}

/** Options of operations that read blocks. */
export interface ReadOptions extends AbortOptions {
  /**
   * Only use blocks already held locally: never ask a gateway (embedded) or the IPFS network
   * (kubo). A missing block is then an immediate ERR_CONTENT_NOT_FOUND.
   */
  offline?: boolean;
}

/** Options of getTree. */
export interface GetTreeOptions extends ReadOptions {
  /**
   * The DAG must be a directory (a package's sources): a root that is a file or a symlink is refused
   * with ERR_CONTENT_NOT_DIRECTORY before anything is written. Default: any UnixFS root.
   */
  directory?: boolean;
}

/** Options of operations that add content. */
export interface PutOptions extends AbortOptions {
  /** Pin the result as part of the same operation (no window in which a GC could drop it). */
  pin?: boolean;
  /**
   * putDirectory only: record whether each file is executable, as UnixFS 1.5 `mode` metadata
   * (0o755 when any execute bit is set on disk, else 0o644: Nix keeps one permission bit, and the
   * on-disk rest — read-only store paths, umask — must not change the CID). getTree restores it.
   * Default false: no metadata, the CIDs of `ipfs add` (sources). Build outputs use true.
   */
  preserveMode?: boolean;
}

/** Bytes of one file: in memory or streamed (a stream is never buffered whole). */
export type Content = Uint8Array | string | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

/**
 * One entry of a file tree to add. `path` is relative and `/`-separated ("bin/hello"); parent
 * directories are implied. Which field is present says what the entry is.
 */
export type TreeEntry =
  /** A regular file whose bytes are given; `mode` (UnixFS 1.5 metadata, e.g. 0o755) only when set. */
  | { path: string; content: Content; mode?: number }
  /** A regular file read from this path on disk when it is added. */
  | { path: string; source: string; mode?: number }
  /** A directory; only needed for empty ones. */
  | { path: string; directory: true }
  /** A symbolic link with this target (stored as a UnixFS symlink, never followed). */
  | { path: string; symlink: string };

export type TreeSource = Iterable<TreeEntry> | AsyncIterable<TreeEntry>;

/** Options of CAR export. */
export interface CarExportOptions extends ReadOptions {
  /** `all` (default): every block of the DAG; `block`: only the root block. */
  scope?: "all" | "block";
  /** Repeat a block each time the DAG walk meets it (`dups=y` of the trustless gateway spec).
   * Default false: each block once. */
  dups?: boolean;
}

/** Options of CAR import. */
export interface CarImportOptions extends AbortOptions {
  /** Pin every root of the CAR; fails with ERR_CONTENT_NOT_FOUND if a root's DAG is incomplete. */
  pin?: boolean;
}

/** Verified access to single blocks: the primitive every other operation is built from. */
export interface BlockStore {
  /** The block's bytes, checked against the CID's multihash before they are returned. */
  getBlock(cid: CID, options?: ReadOptions): Promise<Uint8Array>;
  /** Whether the block is held locally (never fetches). */
  hasBlock(cid: CID, options?: AbortOptions): Promise<boolean>;
  /** Store a block; its bytes are checked against `cid` first (ERR_CONTENT_INTEGRITY if not). */
  putBlock(cid: CID, bytes: Uint8Array, options?: AbortOptions): Promise<void>;
}

export type ContentBackend = "embedded" | "kubo";

export interface ContentStore extends BlockStore {
  readonly backend: ContentBackend;

  /** Add one file's bytes; returns its CID (a raw `bafkrei…` CID when it fits one block). */
  putBytes(content: Content, options?: PutOptions): Promise<CID>;
  /** Add a tree of entries; returns the CID of the UnixFS directory at its root. */
  putTree(entries: TreeSource, options?: PutOptions): Promise<CID>;
  /** Add a directory from disk (files, directories, symlinks; nothing else); returns its CID. */
  putDirectory(directory: string, options?: PutOptions): Promise<CID>;

  /** The bytes of a file (UnixFS file or raw block), streamed, every block verified. */
  getBytes(cid: CID, options?: ReadOptions): AsyncIterable<Uint8Array>;
  /**
   * Write a file or directory DAG at `destination` (which must not exist). Written into a
   * temporary sibling and renamed into place at the end, so the destination either appears
   * complete and verified or not at all.
   */
  getTree(cid: CID, destination: string, options?: GetTreeOptions): Promise<void>;

  /** Whether every block of the DAG under `cid` is held locally. */
  has(cid: CID, options?: AbortOptions): Promise<boolean>;

  /** Pin the DAG recursively (fetching what is missing unless `offline`); pins survive restarts. */
  pin(cid: CID, options?: ReadOptions): Promise<void>;
  /** Remove a recursive pin; unpinning something not pinned is not an error. */
  unpin(cid: CID, options?: AbortOptions): Promise<void>;
  /** The recursively pinned roots, as CIDv1. */
  pins(options?: AbortOptions): Promise<CID[]>;

  /** The DAG under `cid` as a CARv1 stream (root in the header, blocks in DFS order, verified). */
  exportCar(cid: CID, options?: CarExportOptions): AsyncIterable<Uint8Array>;
  /** Read a CARv1 stream, verify every block against its CID and store it; returns the roots. */
  importCar(car: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, options?: CarImportOptions): Promise<CID[]>;

  /** Release resources; the store is unusable afterwards. */
  close(): Promise<void>;
}
