/**
 * Shared helpers of the gateway benchmarks (bench/gateway): a local pkg node in this process (startLocalNode, as
 * `pkg node` runs it) with the environment the `pkg` children need, `pkg gateway --listen 127.0.0.1:0` as a child
 * process group (its URL read from its first stdout line), child commands whose process groups are all stopped
 * when the benchmark ends or is interrupted, and npm versions published to verdaccio by HTTP PUT.
 */
import { type ChildProcess, type SpawnOptions } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { startLocalNode, type LocalNode } from "../../src/node";
import { cleanEnv, ROOT, type RunResult } from "../cli/util";
import { spawnGroup } from "../mirror/util";

export const PKG_BIN = path.join(ROOT, "bin", "pkg.js");

export function requireBuilt(): void {
  for (const file of ["dist/cli/pkg/gateway.js", "dist/cli/pkg/mirror/npm.js", "dist/cli/pkg/mirror/crates.js"]) {
    if (!existsSync(path.join(ROOT, file))) throw new Error(`${file} is missing: run \`npm run build\` first`);
  }
}

/**
 * Everything a benchmark started (process groups, servers, the node), stopped in reverse order by `stopAll`,
 * which withWorkDir runs on success, failure and Ctrl-C alike.
 */
export class Stoppers {
  private readonly list: { name: string; stop: () => Promise<void> }[] = [];

  add(name: string, stop: () => Promise<void>): () => Promise<void> {
    const entry = { name, stop };
    this.list.push(entry);
    return async () => {
      const i = this.list.indexOf(entry);
      if (i >= 0) this.list.splice(i, 1);
      await stop();
    };
  }

  async stopAll(): Promise<void> {
    while (this.list.length > 0) {
      const { name, stop } = this.list.pop()!;
      await stop().catch((error: unknown) => console.error(`stopping ${name}: ${String(error)}`));
    }
  }
}

/** SIGTERM to a process group, SIGKILL after 5 s; settles once its leader has exited. */
export function stopGroup(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return resolve();
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // gone already
      }
    }, 5000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      clearTimeout(timer);
      resolve();
    }
  });
}

/**
 * Runs a command to its end in its own process group (stopped by `stoppers` if the benchmark ends first), its wall
 * time from spawn to exit in `ms`. Fails unless it exits 0.
 */
export async function runGroup(stoppers: Stoppers, command: string, args: readonly string[], options: SpawnOptions = {}): Promise<RunResult> {
  const running = spawnGroup(command, args, options);
  const remove = stoppers.add(`${command} ${args[0] ?? ""}`, () => stopGroup(running.child));
  const result = await running.done.finally(() => void remove());
  if (result.code !== 0) {
    throw new Error(
      `${command} ${args.join(" ")} exited ${result.code ?? result.signal}\n--- stdout\n${result.stdout.slice(-3000)}\n--- stderr\n${result.stderr.slice(-3000)}`,
    );
  }
  return result;
}

export interface Chain {
  node: LocalNode;
  /** The environment of `pkg` children: this node, the embedded content store under `work/data`, no user config. */
  env: NodeJS.ProcessEnv;
  log: string[];
}

/** A pkg node on a free port, its data under `work/data`. */
export async function startChain(work: string, stoppers: Stoppers): Promise<Chain> {
  const dataDir = path.join(work, "data");
  const log: string[] = [];
  const node = await startLocalNode({ dataDir, port: 0, log: (line) => log.push(line) });
  stoppers.add("pkg node", () => node.stop());
  const env = cleanEnv({
    PKG_DATA_DIR: dataDir,
    PKG_RPC_URL: node.url,
    PKG_CONFIG: path.join(work, "no-config.toml"),
    XDG_RUNTIME_DIR: path.join(work, "run"),
    NO_COLOR: "1",
  });
  return { node, env, log };
}

export interface RunningGateway {
  url: string;
  pid: number;
  /** What it printed on stderr so far (warnings about failed requests among it). */
  stderr(): string;
  stop(): Promise<void>;
}

/** `pkg gateway --listen 127.0.0.1:0` as a child process group; its URL is its first stdout line. */
export async function startGatewayChild(env: NodeJS.ProcessEnv, cwd: string, stoppers: Stoppers, extra: string[] = []): Promise<RunningGateway> {
  const running = spawnGroup(process.execPath, [PKG_BIN, "gateway", "--listen", "127.0.0.1:0", ...extra], { cwd, env });
  const stop = stoppers.add("pkg gateway", () => stopGroup(running.child));
  let stderr = "";
  running.child.stderr!.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-50_000)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`pkg gateway printed no URL in 60 s:\n${stderr}`)), 60_000);
      running.child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`pkg gateway exited with ${code}:\n${stderr}`));
      });
      createInterface({ input: running.child.stdout! }).once("line", (line) => {
        clearTimeout(timer);
        resolve(line.trim());
      });
    });
    if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(url)) throw new Error(`pkg gateway printed ${JSON.stringify(url)}, not its URL`);
    return { url, pid: running.child.pid!, stderr: () => stderr, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The warnings of failed requests `pkg gateway` printed (none expected). */
export function gatewayWarnings(stderr: string): string[] {
  return stderr.split("\n").filter((line) => /request failed|error/i.test(line));
}

/** Some lines of JavaScript-looking text, different per generator state (a few KB: a small npm package's files). */
export function sourceText(rand: () => number, lines: number): string {
  const words = ["value", "options", "result", "buffer", "index", "length", "callback", "module", "exports", "config", "stream", "items", "key", "error", "data"];
  const out: string[] = ["'use strict';", ""];
  for (let i = 0; i < lines; i++) {
    const a = words[Math.floor(rand() * words.length)];
    const b = words[Math.floor(rand() * words.length)];
    out.push(rand() < 0.2 ? `// ${a} ${b}: ${Math.floor(rand() * 1e6).toString(36)}` : `  const ${a}${i} = ${b}[${Math.floor(rand() * 100)}] || ${JSON.stringify(a)};`);
  }
  return `${out.join("\n")}\n`;
}

export { putVersion } from "../cli/verdaccio";

export interface MirrorJson {
  tx: { hash: string; block: number } | null;
  packages: { visited: number; changed: number; skipped: number };
  versions: { stored: number; total: number };
}

/** Percentile `p` (0–100) of `values`, nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export function seconds(ms: number): string {
  return (ms / 1000).toFixed(2);
}
