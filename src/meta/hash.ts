/**
 * File hashing for the daemon's side of meta packages, with a stat cache: a file whose size, inode,
 * device and mtime are unchanged is not read again (ccache's and sccache's trick). A file modified
 * less than {@link RACY_MS} ago is not cached, since a write within the same mtime tick would go unseen.
 */
import { createHash } from "node:crypto";
import { createReadStream, promises as fs } from "node:fs";

const RACY_MS = 2000;
const MAX_ENTRIES = 200_000;

interface Entry {
  size: number;
  mtimeNs: bigint;
  ino: number;
  dev: number;
  hash: string;
}

/** Hashes of files by path, with the stat cache above; one per meta handler (no module state). */
export interface HashCache {
  /** sha256 (hex) of a file's bytes, or null when it is missing or not a regular file. */
  hashFile(file: string): Promise<string | null>;
  /**
   * Record that `file` (as it is now) has `hash`: for files the daemon itself just wrote or read whole
   * (outputs it stored or restored), so that their next use as an extern crate is not read again. The
   * racy-mtime rule is skipped on purpose: nobody else writes an output between rustc and its dependents.
   */
  rememberHash(file: string, hash: string): Promise<void>;
}

export function createHashCache(): HashCache {
  const cache = new Map<string, Entry>();
  const remember = (file: string, stat: { size: bigint; mtimeNs: bigint; ino: bigint; dev: bigint }, hash: string) => {
    if (cache.size >= MAX_ENTRIES) cache.clear();
    cache.set(file, { size: Number(stat.size), mtimeNs: stat.mtimeNs, ino: Number(stat.ino), dev: Number(stat.dev), hash });
  };
  return {
    async hashFile(file) {
      let stat;
      try {
        stat = await fs.stat(file, { bigint: true });
      } catch {
        return null;
      }
      if (!stat.isFile()) return null;
      const cached = cache.get(file);
      if (cached && cached.size === Number(stat.size) && cached.mtimeNs === stat.mtimeNs && cached.ino === Number(stat.ino) && cached.dev === Number(stat.dev)) {
        return cached.hash;
      }
      let bytes: Buffer;
      try {
        bytes = await fs.readFile(file);
      } catch {
        return null;
      }
      const hash = createHash("sha256").update(bytes).digest("hex");
      if (Date.now() - Number(stat.mtimeMs) > RACY_MS) remember(file, stat, hash);
      return hash;
    },
    async rememberHash(file, hash) {
      try {
        remember(file, await fs.stat(file, { bigint: true }), hash);
      } catch {
        // gone already: nothing to remember
      }
    },
  };
}

/** sha256 (hex) of bytes. */
export function hashBytes(bytes: Uint8Array | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** sha256 (hex) of a file, streamed (large outputs never held whole in memory). */
export function hashStream(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash("sha256");
    createReadStream(file, { highWaterMark: 1 << 20 })
      .on("data", (chunk) => hash.update(chunk))
      .on("error", reject)
      .on("end", () => resolve(hash.digest("hex")));
  });
}
