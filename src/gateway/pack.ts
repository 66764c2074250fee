/**
 * The registry artifact of a native version — one published with `pkg publish`, which records a source tree and
 * no npm tarball or .crate — packed by the gateway from that tree: `package/…` for npm, `NAME-VERSION/…` for cargo.
 *
 * Clients pin what they download (package-lock.json's `integrity`, Cargo.lock's `checksum`), and nothing but the
 * tree is on chain, so every gateway, on any machine and at any time, must pack a tree to the same bytes. The
 * bytes therefore depend on the tree alone:
 * - tar (ustar, PAX for long names): regular files only, in byte order of their paths; mode 0644, or 0755 when the
 *   tree records an executable bit; uid/gid 0, no user or group names, mtime 1985-10-26T08:15:00Z (npm pack's);
 *   symlinks are left out (npm's and cargo's extraction skip or refuse them), and so are empty directories.
 * - gzip with *stored* deflate blocks (no compression), mtime 0: zlib's compressed output is not specified and
 *   differs between its versions and forks, so a compressing packer would change every checksum on a Node upgrade.
 *   The cost is size: a source tree travels uncompressed (the gateway is the user's own local process).
 * Any change to these bytes changes every client's lock: `PACK_FORMAT` names the format, and a unit test pins the
 * bytes of a known tree.
 *
 * The tree is hostile: every block is read through the content store (verified by CID) and the packed size and the
 * entry count are bounded before anything is held.
 */
import { createHash } from "node:crypto";
import { crc32 } from "node:zlib";
import { CID } from "multiformats/cid";
import { pack as tarPack } from "tar-stream";
import type { ContentStore } from "../content";
import { readableStorage } from "../content/dag";
import { checkName } from "../content/tree";
import { ContentPathError } from "../errors/content";
import { PkgError, isPkgError } from "../errors";
import type { StreamReply } from "./http";

/** The packing rules above; bump when a byte of the output changes. */
export const PACK_FORMAT = 1;
/** 1985-10-26T08:15:00Z: the mtime `npm pack` gives every entry. */
export const PACK_MTIME = new Date(499_162_500_000);
/** A native version's packed tree is held in memory: crates.io refuses crates over 10 MB packed, npm ~100 MB. */
export const MAX_PACK_BYTES = 256 * 1024 * 1024;
export const MAX_PACK_ENTRIES = 100_000;
export const ERR_GATEWAY_PACK_TOO_LARGE = "ERR_GATEWAY_PACK_TOO_LARGE";

export interface PackedFile {
  /** Relative path inside the tree, `/`-separated. */
  path: string;
  executable: boolean;
  bytes: Uint8Array;
}

export interface Packed {
  bytes: Buffer;
  /** Hex sha256 (cargo's `cksum`), SRI sha512 (npm's `integrity`), hex sha1 (npm's `shasum`). */
  sha256: string;
  integrity: string;
  shasum: string;
}

export interface PackLimits {
  maxBytes: number;
  maxEntries: number;
}

const LIMITS: PackLimits = { maxBytes: MAX_PACK_BYTES, maxEntries: MAX_PACK_ENTRIES };

function tooLarge(src: string, what: string, limits: PackLimits): PkgError {
  return new PkgError(ERR_GATEWAY_PACK_TOO_LARGE, `the source tree ${src} is too large to pack: ${what}`, {
    details: { src },
    hint: `a native version is packed in memory; trees over ${limits.maxBytes} bytes or ${limits.maxEntries} entries are not served to npm or cargo`,
  });
}

/** The regular files of a tree, every block verified, in byte order of their paths. */
export async function treeFiles(content: Pick<ContentStore, "getBlock">, src: string, limits: PackLimits = LIMITS): Promise<PackedFile[]> {
  const { exporter } = await import("ipfs-unixfs-exporter");
  const storage = readableStorage(content);
  const files: PackedFile[] = [];
  let total = 0;
  let entries = 0;
  const seen = new Set<string>();
  async function visit(cid: CID, path: string): Promise<void> {
    const entry = await exporter(cid, storage);
    if (entry.type === "directory") {
      for await (const child of entry.entries()) {
        if (++entries > limits.maxEntries) throw tooLarge(src, `over ${limits.maxEntries} entries`, limits);
        const childPath = path === "" ? child.name : `${path}/${child.name}`;
        // a forged directory may list `..`, `a/b` or one name twice: never packed into an archive clients unpack
        checkName(child.name, childPath);
        if (seen.has(childPath)) throw new ContentPathError(childPath, "appears more than once in its directory");
        seen.add(childPath);
        await visit(child.cid, childPath);
      }
      return;
    }
    if (path === "") return; // a single file is not a tree
    const isFile = entry.type === "raw" || entry.type === "identity" || (entry.type === "file" && (entry.unixfs.type === "file" || entry.unixfs.type === "raw"));
    if (!isFile) return; // symlinks and anything else: left out
    const parts: Uint8Array[] = [];
    for await (const chunk of entry.content()) {
      total += chunk.length;
      if (total > limits.maxBytes) throw tooLarge(src, `over ${limits.maxBytes} bytes`, limits);
      parts.push(chunk);
    }
    const mode = entry.type === "file" ? entry.unixfs.mode : undefined;
    files.push({ path, executable: mode !== undefined && (mode & 0o111) !== 0, bytes: Buffer.concat(parts) });
  }
  await visit(CID.parse(src), "");
  return files.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
}

/** The tar of `files` under `top/`, as described above. */
export async function tarFiles(files: readonly PackedFile[], top: string): Promise<Buffer> {
  const tar = tarPack();
  const out: Buffer[] = [];
  tar.on("data", (chunk: unknown) => out.push(chunk as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    tar.once("end", resolve);
    tar.once("error", reject);
  });
  for (const file of files) {
    await new Promise<void>((resolve, reject) => {
      tar.entry(
        { name: `${top}/${file.path}`, type: "file", mode: file.executable ? 0o755 : 0o644, mtime: PACK_MTIME, uid: 0, gid: 0, uname: "", gname: "", size: file.bytes.length },
        Buffer.from(file.bytes.buffer, file.bytes.byteOffset, file.bytes.byteLength),
        (error?: Error | null) => (error ? reject(error) : resolve()),
      );
    });
  }
  tar.finalize();
  await done;
  return Buffer.concat(out);
}

/** Largest stored deflate block. */
const STORED_BLOCK = 0xffff;

/** gzip (RFC 1952) of `data` in stored deflate blocks (RFC 1951 §3.2.4): defined by the data alone. */
export function gzipStored(data: Buffer): Buffer {
  const blocks = Math.max(1, Math.ceil(data.length / STORED_BLOCK));
  const out = Buffer.alloc(10 + blocks * 5 + data.length + 8);
  // magic, CM=deflate, FLG=0, MTIME=0, XFL=0, OS=255 (unknown)
  out.set([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff], 0);
  let at = 10;
  for (let i = 0; i < blocks; i++) {
    const chunk = data.subarray(i * STORED_BLOCK, (i + 1) * STORED_BLOCK);
    out[at] = i === blocks - 1 ? 1 : 0; // BFINAL, BTYPE=00
    out.writeUInt16LE(chunk.length, at + 1);
    out.writeUInt16LE(~chunk.length & 0xffff, at + 3);
    chunk.copy(out, at + 5);
    at += 5 + chunk.length;
  }
  out.writeUInt32LE(crc32(data) >>> 0, at);
  out.writeUInt32LE(data.length % 2 ** 32, at + 4);
  return out;
}

export function digests(bytes: Buffer): Packed {
  return {
    bytes,
    sha256: createHash("sha256").update(bytes).digest("hex"),
    integrity: `sha512-${createHash("sha512").update(bytes).digest("base64")}`,
    shasum: createHash("sha1").update(bytes).digest("hex"),
  };
}

/** The tree under `src` packed under `top/` (`package`, `NAME-VERSION`), with its digests. */
export async function packTree(content: Pick<ContentStore, "getBlock">, src: string, top: string, limits: PackLimits = LIMITS): Promise<Packed> {
  return digests(gzipStored(await tarFiles(await treeFiles(content, src, limits), top)));
}

/** What a packument or an index line needs of a packed tree: its digests, not its bytes. */
export type PackDigests = Omit<Packed, "bytes"> & { size: number };

export interface PackCache {
  /** The digests of the packed tree: packed once, then kept (they are small) while the bytes may be dropped. */
  digests(src: string, top: string): Promise<PackDigests>;
  /** The packed tree and its digests, for a download; packed again when dropped, and checked to be the same. */
  get(src: string, top: string): Promise<Packed>;
}

/** Digests kept: ~300 bytes each. */
const MAX_DIGESTS = 100_000;

/**
 * Packed trees by (src CID, top). A tree's bytes never change, so a packument, an index file and the downloads
 * that follow share one packing; the bytes are bounded (least recently used out first), the digests are kept far
 * longer, so a package of many native versions is not packed again for each packument after its bytes are dropped.
 * A tree packed again must give the digests it gave before (this packer is deterministic; a difference would break
 * the locks of everyone who installed it, so it is an error, not a new answer).
 */
export function createPackCache(content: Pick<ContentStore, "getBlock">, maxBytes = 128 * 1024 * 1024, limits: PackLimits = LIMITS): PackCache {
  const bytes = new Map<string, { packed: Promise<Packed>; size: number }>();
  const known = new Map<string, PackDigests>();
  let held = 0;

  function remember(key: string, packed: Packed): void {
    const before = known.get(key);
    if (before !== undefined && before.sha256 !== packed.sha256) {
      throw new Error(`packing ${key.replace("\0", " as ")} gave sha256 ${packed.sha256}, not ${before.sha256} as before: the packer is not deterministic`);
    }
    if (before !== undefined) return;
    if (known.size >= MAX_DIGESTS) known.delete(known.keys().next().value as string);
    known.set(key, { sha256: packed.sha256, integrity: packed.integrity, shasum: packed.shasum, size: packed.bytes.length });
  }

  function get(src: string, top: string): Promise<Packed> {
    const key = `${src}\0${top}`;
    const found = bytes.get(key);
    if (found !== undefined) {
      bytes.delete(key); // most recently used last
      bytes.set(key, found);
      return found.packed;
    }
    const slot = {
      packed: packTree(content, src, top, limits).then((packed) => {
        remember(key, packed);
        return packed;
      }),
      size: 0,
    };
    bytes.set(key, slot);
    slot.packed.then(
      (packed) => {
        if (bytes.get(key) !== slot) return;
        slot.size = packed.bytes.length;
        held += slot.size;
        for (const [old, value] of bytes) {
          if (held <= maxBytes || old === key) break;
          bytes.delete(old);
          held -= value.size;
        }
      },
      () => {
        if (bytes.get(key) === slot) bytes.delete(key);
      },
    );
    return slot.packed;
  }

  return {
    get,
    async digests(src, top) {
      const found = known.get(`${src}\0${top}`);
      if (found !== undefined) return found;
      const packed = await get(src, top);
      return { sha256: packed.sha256, integrity: packed.integrity, shasum: packed.shasum, size: packed.bytes.length };
    },
  };
}

/**
 * A packing's result, or null when the tree cannot be served: too large, or a name no archive may hold (a missing
 * or corrupt block is an error: the reply says so).
 */
export async function packOrSkip<T>(packing: Promise<T>, skipped: (problem: string) => void): Promise<T | null> {
  try {
    return await packing;
  } catch (error) {
    if (isPkgError(error) && (error.code === ERR_GATEWAY_PACK_TOO_LARGE || error.code === "ERR_CONTENT_PATH")) {
      skipped(error.message);
      return null;
    }
    throw error;
  }
}

/** A packed tree as a download: its ETag the sha256 clients pin; not gzip'd again (it is a gzip file). */
export function packedReply(packed: Packed, type: string): StreamReply {
  return { status: 200, type, etag: `"sha256-${packed.sha256}"`, length: packed.bytes.length, stream: (async function* () { yield packed.bytes; })() };
}

/** Whether a version's tree holds a regular file at `file` (its root block read and verified, not its bytes). */
export async function treeHasFile(content: Pick<ContentStore, "getBlock">, src: string, file: string): Promise<boolean> {
  const { exporter } = await import("ipfs-unixfs-exporter");
  try {
    const entry = await exporter(`${src}/${file}`, readableStorage(content));
    return entry.type === "raw" || (entry.type === "file" && entry.unixfs.type !== "symlink");
  } catch {
    return false;
  }
}

/** One file of a version's tree (package.json, Cargo.toml), every block verified; null when there is none or it is over `limit`. */
export async function readTreeFile(content: Pick<ContentStore, "getBlock">, src: string, file: string, limit: number): Promise<Buffer | null> {
  const { exporter } = await import("ipfs-unixfs-exporter");
  let entry;
  try {
    entry = await exporter(`${src}/${file}`, readableStorage(content));
  } catch {
    return null;
  }
  if (entry.type !== "file" && entry.type !== "raw") return null;
  const parts: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of entry.content()) {
    length += chunk.length;
    if (length > limit) return null;
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}

/** Says each message once per gateway (a version left out is noticed on every request for its package). */
export function warnOnce(onWarning: ((message: string) => void) | undefined): (message: string) => void {
  const said = new Set<string>();
  return (message) => {
    if (onWarning === undefined || said.has(message) || said.size > 10_000) return;
    said.add(message);
    onWarning(message);
  };
}
