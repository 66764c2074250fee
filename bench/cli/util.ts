/**
 * Shared helpers of the CLI benchmarks: BENCH lines, medians, child processes timed without blocking this
 * process's event loop (the local node's proxy runs in it), free loopback ports.
 */
import { spawn, type SpawnOptions } from "node:child_process";
import path from "node:path";
import { freeLoopbackPort } from "../../src/node/hardhat";

export const ROOT = path.resolve(__dirname, "../..");

/** `BENCH <id> <value> <unit> vs <anchor> <anchor-value>`, with `digits` decimals for both values. */
export function bench(id: string, value: number, unit: string, anchor: string, anchorValue: number, digits = 0): void {
  console.log(`BENCH ${id} ${value.toFixed(digits)} ${unit} vs ${anchor} ${anchorValue.toFixed(digits)}`);
}

/** Context for a BENCH line (indented, as the other benchmarks do). */
export function note(line: string): void {
  console.log(`  ${line}`);
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit, in milliseconds. */
  ms: number;
}

/** Runs a command to its end, asynchronously (spawnSync would freeze the in-process node proxy). */
export function run(command: string, args: readonly string[], options: SpawnOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(command, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk) => (stdout += chunk));
    child.stderr?.on("data", (chunk) => (stderr += chunk));
    child.once("error", reject);
    child.once("close", (code, signal) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      resolve({ code, signal, stdout, stderr, ms });
    });
  });
}

/** Like {@link run}, but fails unless the command exits 0. */
export async function runOk(command: string, args: readonly string[], options: SpawnOptions = {}): Promise<RunResult> {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    throw new Error(
      `${command} ${args.join(" ")} exited ${result.code ?? result.signal}\n--- stdout\n${result.stdout.slice(-3000)}\n--- stderr\n${result.stderr.slice(-3000)}`,
    );
  }
  return result;
}

/** A free port on 127.0.0.1 (the local node's own finder). */
export const freePort = freeLoopbackPort;

/** Seconds since `started` (from performance.now()), for progress lines. */
export function since(started: number): string {
  return `${((performance.now() - started) / 1000).toFixed(1)} s`;
}

/** Runs `work` over `items`, at most `concurrency` at a time. */
export async function pool<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await work(items[next++]);
    }),
  );
}

/** The environment of the child processes: ours without any PKG_* or npm_* setting, plus `extra`. */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(PKG_|npm_)/i.test(key)) env[key] = value;
  }
  return { ...env, ...extra };
}
