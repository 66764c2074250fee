/**
 * Shared pieces of the content store tests: temporary directories, deterministic pseudo-random
 * bytes and Debian's independent `ipfs_cid` tool (a real Kubo node: test/helpers/engines.ts).
 * Nothing here fakes a component: tests wire real parts together.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { base32upper } from "multiformats/bases/base32";
import type { CID } from "multiformats/cid";
import type { EmbeddedContentStore } from "../../../src/content";

export async function tempDir(prefix = "content-test-"): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** The block files of a store, as absolute paths. */
export async function blockFiles(store: EmbeddedContentStore): Promise<string[]> {
  const root = join(store.directory, "blocks");
  const out: string[] = [];
  for (const shard of await readdir(root)) {
    const shardPath = join(root, shard);
    if (!(await stat(shardPath)).isDirectory()) continue;
    for (const name of await readdir(shardPath)) out.push(join(shardPath, name));
  }
  return out;
}

/** Flips one byte of the block file that stores `cid` (as bit rot or a bad disk would). */
export async function corrupt(store: EmbeddedContentStore, cid: CID): Promise<string> {
  const key = base32upper.encoder.encode(cid.multihash.bytes);
  const file = (await blockFiles(store)).find((path) => path.endsWith(`${key}.data`));
  if (file === undefined) throw new Error(`no block file for ${cid.toString()}`);
  await chmod(file, 0o644);
  const bytes = await readFile(file);
  bytes[Math.floor(bytes.length / 2)] ^= 0x01;
  await writeFile(file, bytes);
  return file;
}

/** xorshift32: the same bytes for the same seed on every machine, fast enough for 100 MB. */
export function pseudoRandomBytes(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  const words = new Uint32Array(bytes.buffer, 0, Math.floor(length / 4));
  let state = seed >>> 0 || 0x9e3779b9;
  for (let i = 0; i < words.length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    words[i] = state >>> 0;
  }
  for (let i = words.length * 4; i < length; i++) bytes[i] = (seed + i) & 0xff;
  return bytes;
}

export async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts);
}

export async function* chunked(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < bytes.length; offset += size) yield bytes.subarray(offset, offset + size);
}

// ---------------------------------------------------------------------------------------------
// Debian's ipfs_cid (package ipfs-cid): a Rust implementation of `ipfs add`'s default DAG
// (CIDv0, UnixFS-wrapped leaves, 256 KiB chunks, balanced, 174 links). It shares no code with
// the JS importer, so agreement with it checks our chunking and tree layout independently.

const IPFS_CID = "/usr/bin/ipfs_cid";

/** Path of ipfs_cid, installing the Debian package when we can (CI runs as root). */
export function ensureIpfsCid(): string | undefined {
  if (existsSync(IPFS_CID)) return IPFS_CID;
  if (process.getuid?.() === 0 && existsSync("/usr/bin/apt-get")) {
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    let result = spawnSync("apt-get", ["install", "-y", "-qq", "ipfs-cid"], { env, stdio: "ignore" });
    if (result.status !== 0) {
      spawnSync("apt-get", ["update", "-qq"], { env, stdio: "ignore" });
      result = spawnSync("apt-get", ["install", "-y", "-qq", "ipfs-cid"], { env, stdio: "ignore" });
    }
  }
  return existsSync(IPFS_CID) ? IPFS_CID : undefined;
}

/** ipfs_cid's CIDv0 of a file (stdout is one JSON line; it logs to stderr). */
export function ipfsCidV0(tool: string, file: string): string {
  const result = spawnSync(tool, [file], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`ipfs_cid ${file} failed: ${result.stderr}`);
  return (JSON.parse(result.stdout.trim()) as { CIDv0: string }).CIDv0;
}
