/**
 * The benchmark tree: ~100 MB of files with sizes spread log-uniformly from 100 bytes to 8 MiB
 * (many small files, a few large ones, like a package set), in nested directories, filled with
 * deterministic pseudo-random bytes so every run measures the same work.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

function xorshift(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
}

export function pseudoRandomBytes(length: number, seed: number): Uint8Array {
  const next = xorshift(seed);
  const bytes = new Uint8Array(length);
  const words = new Uint32Array(bytes.buffer, 0, length >>> 2);
  for (let i = 0; i < words.length; i++) words[i] = next();
  for (let i = words.length * 4; i < length; i++) bytes[i] = next() & 0xff;
  return bytes;
}

export interface BenchTree {
  files: number;
  bytes: number;
}

export async function writeBenchTree(root: string, targetBytes = 100 * 1024 * 1024, seed = 2024): Promise<BenchTree> {
  const next = xorshift(seed);
  const min = Math.log(100);
  const max = Math.log(8 * 1024 * 1024);
  let bytes = 0;
  let files = 0;
  while (bytes < targetBytes) {
    const size = Math.min(Math.round(Math.exp(min + ((next() / 0xffffffff) * (max - min)))), targetBytes - bytes);
    const directory = join(root, `pkg-${files % 16}`, `sub-${(files >> 4) % 4}`);
    await mkdir(directory, { recursive: true });
    await writeFile(join(directory, `file-${files}.bin`), pseudoRandomBytes(size, files + 1));
    bytes += size;
    files++;
  }
  return { files, bytes };
}
