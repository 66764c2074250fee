/**
 * Shared helpers of the mirror benchmarks (bench/mirror): progress lines on stderr, a temp work directory
 * removed even on failure or Ctrl-C, blocks of a UnixFS DAG, the gas of a range of blocks, the peak RSS of a
 * child process, and deterministic fake CIDs.
 */
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { create as createDigest } from "multiformats/hashes/digest";
import type { BlockStore } from "../../src/content/types";
import { since, type RunResult } from "../cli/util";

const DAG_PB = 0x70;
const SHA2_256 = 0x12;

/** A progress line on stderr, with the seconds since `started`. */
export function progress(started: number): (line: string) => void {
  return (line) => console.error(`  [${since(started)}] ${line}`);
}

/**
 * Runs `work` in a fresh temp directory, removed afterwards whatever happens (Ctrl-C and SIGTERM included: then
 * `cleanup` runs first, e.g. to stop child processes, and the process exits 130).
 */
export async function withWorkDir<T>(prefix: string, work: (dir: string) => Promise<T>, cleanup: () => Promise<void> = async () => {}): Promise<T> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  const onSignal = () => {
    void cleanup()
      .catch(() => undefined)
      .finally(() => rm(dir, { recursive: true, force: true }).finally(() => process.exit(130)));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    return await work(dir);
  } finally {
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
    await cleanup().catch((error: unknown) => console.error(`cleanup failed: ${String(error)}`));
    await rm(dir, { recursive: true, force: true });
  }
}

/** A CIDv1 (raw or dag-pb) whose sha2-256 digest is that of `seed`: valid, but naming no block anyone holds. */
export function fakeCid(seed: string, codec: "raw" | "dag-pb"): CID {
  const digest = createDigest(SHA2_256, createHash("sha256").update(seed).digest());
  return CID.createV1(codec === "raw" ? raw.code : DAG_PB, digest);
}

/** The raw CIDv1 of `bytes` (what putBytes gives a file of one block). */
export function rawCid(bytes: Uint8Array): CID {
  return CID.createV1(raw.code, createDigest(SHA2_256, createHash("sha256").update(bytes).digest()));
}

/** Every block of the UnixFS DAG at `cid`, counted by reading them (a raw block is one; a dag-pb node, one plus its links'). */
export async function dagBlocks(blocks: Pick<BlockStore, "getBlock">, cid: CID): Promise<number> {
  if (cid.code === raw.code) {
    await blocks.getBlock(cid);
    return 1;
  }
  const { decode } = await import("@ipld/dag-pb");
  const node = decode(await blocks.getBlock(cid));
  let total = 1;
  for (const link of node.Links) total += await dagBlocks(blocks, link.Hash);
  return total;
}

interface RpcAnswer {
  result?: unknown;
  error?: { message: string };
}

export async function rpc<T>(url: string, method: string, params: unknown[] = []): Promise<T> {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) });
  const body = (await response.json()) as RpcAnswer;
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result as T;
}

export interface SentTransaction {
  hash: string;
  block: number;
  /** The 4-byte selector of its calldata (0x…). */
  selector: string;
  to: string | null;
  gasUsed: number;
}

/** Every transaction mined in blocks `from`..`to` (inclusive), with its gas used. */
export async function transactionsBetween(url: string, from: number, to: number): Promise<SentTransaction[]> {
  const out: SentTransaction[] = [];
  for (let n = from; n <= to; n++) {
    const block = await rpc<{ transactions: { hash: string; input: string; to: string | null }[] } | null>(url, "eth_getBlockByNumber", [`0x${n.toString(16)}`, true]);
    for (const tx of block?.transactions ?? []) {
      const receipt = await rpc<{ gasUsed: string; status: string }>(url, "eth_getTransactionReceipt", [tx.hash]);
      out.push({ hash: tx.hash, block: n, selector: tx.input.slice(0, 10), to: tx.to, gasUsed: Number(receipt.gasUsed) });
    }
  }
  return out;
}

export async function blockNumber(url: string): Promise<number> {
  return Number(await rpc<string>(url, "eth_blockNumber"));
}

/** A process's peak resident set (VmHWM) in bytes, or null once it is gone. */
async function peakRss(pid: number): Promise<number | null> {
  const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => null);
  const match = status === null ? null : /^VmHWM:\s+(\d+) kB$/m.exec(status);
  return match === null ? null : Number(match[1]) * 1024;
}

/** The pids of `pid`'s descendants (children, grandchildren…), read from /proc. */
async function descendants(pid: number): Promise<number[]> {
  const parents = new Map<number, number[]>();
  for (const name of await readdir("/proc").catch(() => [] as string[])) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, "utf8").catch(() => null);
    if (stat === null) continue;
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    const list = parents.get(ppid) ?? [];
    list.push(Number(name));
    parents.set(ppid, list);
  }
  const out: number[] = [];
  const queue = [...(parents.get(pid) ?? [])];
  while (queue.length > 0) {
    const next = queue.shift()!;
    out.push(next);
    queue.push(...(parents.get(next) ?? []));
  }
  return out;
}

/**
 * Polls the peak RSS (VmHWM) of `pid` and of each of its descendants every `intervalMs` until stopped. VmHWM is
 * the kernel's own high-water mark, so polling misses nothing of the process's peak, only the last moments
 * before it exits; a descendant's peak is its own (they are reported apart, not summed).
 */
export function watchPeakRss(pid: number, intervalMs = 200): { stop(): Promise<{ self: number; descendants: Map<number, number> }> } {
  let self = 0;
  const others = new Map<number, number>();
  let stopped = false;
  const poll = async () => {
    const own = await peakRss(pid);
    if (own !== null) self = Math.max(self, own);
    for (const child of await descendants(pid)) {
      const peak = await peakRss(child);
      if (peak !== null) others.set(child, Math.max(others.get(child) ?? 0, peak));
    }
  };
  const loop = (async () => {
    while (!stopped) {
      await poll();
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { self, descendants: others };
    },
  };
}

export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
}

/**
 * Starts a command in its own process group (so `kill()` stops it and whatever it started), its output
 * collected; `done` settles when it exits, with its wall time.
 */
export function spawnGroup(command: string, args: readonly string[], options: SpawnOptions = {}): { child: ChildProcess; done: Promise<RunResult>; kill(): void } {
  const started = process.hrtime.bigint();
  const child = spawn(command, args, { ...options, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk) => (stdout += chunk));
  child.stderr?.on("data", (chunk) => (stderr = (stderr + chunk).slice(-20_000)));
  const done = new Promise<RunResult>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => resolve({ code, signal, stdout, stderr, ms: Number(process.hrtime.bigint() - started) / 1e6 }));
  });
  const kill = () => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      // gone already
    }
  };
  return { child, done, kill };
}
