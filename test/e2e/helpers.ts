/**
 * Helpers for the end-to-end tests: the BUILT binaries (bin/pkg.js, bin/repo.js over dist/) run as
 * subprocesses with stdin closed and CI=true, a real `pkg node` in its own process group, and checks on
 * what a failed command leaves behind. Nothing here imports the CLI's sources except exitCodeOf.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { expect } from "chai";
import { CID } from "multiformats/cid";
import { base32upper } from "multiformats/bases/base32";
import * as raw from "multiformats/codecs/raw";
import { create as createDigest } from "multiformats/hashes/digest";
import { exitCodeOf } from "../../cli/base";

export { exitCodeOf };

export const ROOT = path.resolve(__dirname, "../..");
export const BIN = { pkg: path.join(ROOT, "bin", "pkg.js"), repo: path.join(ROOT, "bin", "repo.js") } as const;
export type Bin = keyof typeof BIN;

/** Environment changes for one call: a string sets a variable, undefined removes it. */
export type EnvPatch = Record<string, string | undefined>;

export interface RunOptions {
  cwd: string;
  env?: EnvPatch;
  timeoutMs?: number;
}

export interface RunResult {
  command: string;
  cwd: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/* ------------------------------------------------------------------------------------------------ build */

export { distIsStale, ensureBuilt } from "../helpers/dist";

/* ------------------------------------------------------------------------------------------- environment */

/**
 * The environment every call starts from: the test process's, minus anything that configures pkg (PKG_*),
 * plus the suite's own (temp data dir, temp config file, RPC URL) and CI=true.
 */
export function baseEnvironment(own: EnvPatch): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith("PKG_") && value !== undefined) env[key] = value;
  }
  env.CI = "true";
  env.NO_COLOR = "1";
  env.HARDHAT_DISABLE_TELEMETRY_PROMPT = "true";
  return applyPatch(env, own);
}

export function applyPatch(env: NodeJS.ProcessEnv, patch: EnvPatch = {}): NodeJS.ProcessEnv {
  const out = { ...env };
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) delete out[key];
    else out[key] = value;
  }
  return out;
}

/* ---------------------------------------------------------------------------------------------- running */

/** Runs a built binary with stdin closed; never rejects on a non-zero exit (the result says). */
export function run(bin: Bin, args: readonly string[], env: NodeJS.ProcessEnv, options: RunOptions): Promise<RunResult> {
  const started = Date.now();
  const command = `${bin} ${args.join(" ")}`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN[bin], ...args], {
      cwd: options.cwd,
      env: applyPatch(env, { ...options.env, CI: "true" }),
      stdio: ["pipe", "pipe", "pipe"],
    });
    child.stdin.end(); // closed: no TTY, no answer to any prompt
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    const timeoutMs = options.timeoutMs ?? 60_000;
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      const result = {
        command,
        cwd: options.cwd,
        code,
        signal,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
        ms: Date.now() - started,
      };
      if (signal === "SIGKILL") reject(new Error(`${command} timed out after ${timeoutMs} ms\n${showRun(result)}`));
      else resolve(result);
    });
  });
}

export function showRun(result: RunResult): string {
  return `$ ${result.command}   (in ${result.cwd}; exit ${result.code ?? result.signal}, ${result.ms} ms)\n--- stdout\n${result.stdout}--- stderr\n${result.stderr}`;
}

/** Whether util-linux `script` is there to give a command a terminal ({@link runInTerminal}). */
export function canRunInTerminal(): boolean {
  return process.platform === "linux" && spawnSync("script", ["--version"], { stdio: "ignore" }).status === 0;
}

/**
 * Runs a built binary on a pseudo-terminal (util-linux `script`), as a person at a terminal would: stdout and
 * stderr both go to the terminal, so `stdout` holds what the terminal received (with its escape sequences) and
 * `stderr` is empty; see {@link screenLines} for what the person saw.
 */
export function runInTerminal(bin: Bin, args: readonly string[], env: NodeJS.ProcessEnv, options: RunOptions): Promise<RunResult> {
  const started = Date.now();
  const quote = (word: string): string => `'${word.replace(/'/g, `'\\''`)}'`;
  const line = [process.execPath, BIN[bin], ...args].map(quote).join(" ");
  return new Promise((resolve, reject) => {
    const child = spawn("script", ["--quiet", "--return", "--flush", "--command", line, "/dev/null"], {
      cwd: options.cwd,
      env: applyPatch(env, { ...options.env, CI: "true" }),
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString("utf8");
      resolve({ command: `(terminal) ${bin} ${args.join(" ")}`, cwd: options.cwd, code, signal, stdout, stderr: Buffer.concat(err).toString("utf8"), ms: Date.now() - started });
    });
  });
}

/**
 * The lines a terminal shows for `output`: a carriage return and CSI `n G` move the cursor within the line,
 * CSI `2 K` clears it, CSI `K` clears to its end; text overwrites what is under the cursor; other escape
 * sequences (cursor shown or hidden, colours) show nothing.
 */
export function screenLines(output: string): string[] {
  const lines: string[][] = [[]];
  let col = 0;
  for (let i = 0; i < output.length; i++) {
    const line = lines[lines.length - 1];
    const char = output[i];
    if (char === "\n") {
      lines.push([]);
      col = 0;
    } else if (char === "\r") {
      col = 0;
    } else if (char === "\u001b") {
      const csi = /^\[([?0-9;]*)([A-Za-z])/.exec(output.slice(i + 1, i + 20));
      if (csi === null) {
        i += 1; // a two-character escape (ESC 7, ESC 8)
        continue;
      }
      i += csi[0].length;
      const n = Number(csi[1] || "0");
      if (csi[2] === "G") col = Math.max(n - 1, 0);
      else if (csi[2] === "K" && n === 2) line.length = 0;
      else if (csi[2] === "K" && n === 0) line.length = Math.min(line.length, col);
    } else {
      while (line.length < col) line.push(" ");
      line[col++] = char;
    }
  }
  const shown = lines.map((line) => line.join("").trimEnd());
  while (shown.length > 0 && shown[shown.length - 1] === "") shown.pop();
  return shown;
}

/** The one JSON document on stdout (fails, showing the run, if stdout is anything else). */
export function parseJson<T = Record<string, unknown>>(result: RunResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch (error) {
    throw new Error(`stdout is not one JSON document (${(error as Error).message})\n${showRun(result)}`);
  }
}

/** A successful --json run: exit 0, one JSON object on stdout, no error key, nothing on stderr. */
export function expectJsonSuccess<T = Record<string, unknown>>(result: RunResult): T {
  expect(result.code, showRun(result)).to.equal(0);
  const json = parseJson<T>(result);
  expect(json, showRun(result)).to.be.an("object");
  expect(json, showRun(result)).not.to.have.property("error");
  expect(result.stderr, `--json should keep stderr quiet\n${showRun(result)}`).to.equal("");
  return json;
}

export function expectSuccess(result: RunResult): RunResult {
  expect(result.code, showRun(result)).to.equal(0);
  return result;
}

/** A stack frame, a Node internal or an uncaught error's header: none may reach the user. */
const STACK_TRACE = /^\s+at\s|node:internal|\(\/.*\.js:\d+:\d+\)|^\w*Error:|^\s*Error\b|Unhandled|ERR_INTERNAL/m;

export interface ErrorExpectation {
  /** The PkgError code; the exit code must be exitCodeOf(code). */
  code: string;
  /** The error line (after `error: `) must match each of these. */
  message?: (string | RegExp)[];
  /** The hint must match this (and then must be present). */
  hint?: string | RegExp;
  /** Commands that print progress steps (publish) may print them before the error; default: none. */
  progressFirst?: boolean;
}

function matches(text: string, pattern: string | RegExp): boolean {
  return typeof pattern === "string" ? text.includes(pattern) : pattern.test(text);
}

/**
 * A failure as a human sees it: exit exitCodeOf(code), nothing on stdout, and on stderr ONE line
 * `error: …`, optionally followed by `  hint: …`, and no stack trace. Returns the error line.
 */
export function expectHumanError(result: RunResult, expected: ErrorExpectation): { line: string; hint: string | null } {
  const context = showRun(result);
  expect(result.code, `exit code for ${expected.code}\n${context}`).to.equal(exitCodeOf(expected.code));
  expect(result.stdout, `stdout of a failure\n${context}`).to.equal("");
  expect(result.stderr, `stack trace or internal error\n${context}`).not.to.match(STACK_TRACE);
  const lines = result.stderr.replace(/\n$/, "").split("\n");
  const errorLines = lines.filter((line) => line.startsWith("error: "));
  expect(errorLines, `exactly one error line\n${context}`).to.have.lengthOf(1);
  const at = lines.indexOf(errorLines[0]);
  if (!expected.progressFirst) expect(at, `stderr must start with "error: "\n${context}`).to.equal(0);
  for (const before of lines.slice(0, at)) expect(before, `a progress line before the error\n${context}`).not.to.match(/^\s|^$|error|warning/i);
  const rest = lines.slice(at + 1);
  expect(rest.length, `after the error line only one hint line\n${context}`).to.be.at.most(1);
  if (rest.length === 1) expect(rest[0], context).to.match(/^ {2}hint: \S/);
  const line = errorLines[0].slice("error: ".length);
  expect(line.trim(), context).not.to.equal("");
  for (const pattern of expected.message ?? []) expect(matches(line, pattern), `error line should match ${pattern}\n${context}`).to.equal(true);
  const hint = rest.length === 1 ? rest[0].slice("  hint: ".length) : null;
  if (expected.hint !== undefined) {
    expect(hint, `a hint\n${context}`).to.be.a("string");
    expect(matches(hint!, expected.hint), `hint should match ${expected.hint}\n${context}`).to.equal(true);
  }
  return { line, hint };
}

export interface JsonError {
  code: string;
  message: string;
  details?: Record<string, unknown>;
  hint?: string;
}

/** A failure under --json: exit exitCodeOf(code), stdout is `{"error": {code, message, …}}`, stderr clean. */
export function expectJsonError(result: RunResult, expected: ErrorExpectation): JsonError {
  const context = showRun(result);
  expect(result.code, `exit code for ${expected.code}\n${context}`).to.equal(exitCodeOf(expected.code));
  const json = parseJson<{ error: JsonError }>(result);
  expect(json, context).to.have.property("error").that.is.an("object");
  expect(json.error.code, context).to.equal(expected.code);
  expect(json.error.message, context).to.be.a("string").and.not.equal("");
  expect(json.error.message, context).not.to.match(STACK_TRACE);
  for (const pattern of expected.message ?? []) expect(matches(json.error.message, pattern), `message should match ${pattern}\n${context}`).to.equal(true);
  if (expected.hint !== undefined) expect(matches(json.error.hint ?? "", expected.hint), `hint should match ${expected.hint}\n${context}`).to.equal(true);
  expect(result.stderr, `stderr under --json\n${context}`).not.to.match(STACK_TRACE);
  return json.error;
}

/* ------------------------------------------------------------------------------------------ filesystem */

/** Every path under dir (relative, directories marked with a trailing /), sorted; [] if dir is missing. */
export async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(at: string, prefix: string): Promise<void> {
    let entries;
    try {
      entries = await readdir(at, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    for (const entry of entries) {
      const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        out.push(`${rel}/`);
        await walk(path.join(at, entry.name), rel);
      } else out.push(rel);
    }
  }
  await walk(dir, "");
  return out.sort();
}

/** Leftovers of an interrupted write: temp files and staging directories. */
export const TEMPORARY = /\.tmp$|\.tmp\/|\.partial|\.part$|~$|\.swp$/;

export async function temporaries(dir: string): Promise<string[]> {
  return (await listTree(dir)).filter((p) => TEMPORARY.test(p));
}

/** Files of a package directory as { relative path → bytes }. */
export async function readTree(dir: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const rel of await listTree(dir)) {
    if (!rel.endsWith("/")) files.set(rel, await readFile(path.join(dir, rel)));
  }
  return files;
}

export async function isDirectory(p: string): Promise<boolean> {
  return stat(p).then((s) => s.isDirectory(), () => false);
}

/** The CID a small file gets in the store (CIDv1, raw leaf, sha2-256): what a published meta CID is. */
export function rawCid(bytes: Uint8Array): string {
  const digest = createHash("sha256").update(bytes).digest();
  return CID.createV1(raw.code, createDigest(0x12, digest)).toString();
}

/** Where the embedded store keeps a block: blockstore-fs's NextToLast layout (see src/content/embedded.ts). */
export function blockFile(contentDir: string, cid: string): string {
  const name = base32upper.encode(CID.parse(cid).multihash.bytes);
  return path.join(contentDir, "blocks", name.slice(-2), `${name}.data`);
}

export function fileExists(p: string): boolean {
  return existsSync(p);
}

export function readText(p: string): string {
  return readFileSync(p, "utf8");
}

/* ------------------------------------------------------------------------------------------------ node */

export interface NodeSummary {
  url: string;
  chainId: string;
  registry: string;
  deployBlock: number;
  replayed: number;
}

export interface NodeProcess {
  summary: NodeSummary;
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** SIGTERM to its process group; resolves with how it exited. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `pkg node --port PORT --json` in its own process group; ready when its JSON summary line arrives. */
export async function startNode(port: number, env: NodeJS.ProcessEnv, cwd: string, timeoutMs = 90_000): Promise<NodeProcess> {
  const child = spawn(process.execPath, [BIN.pkg, "node", "--port", String(port), "--json"], {
    cwd,
    env,
    detached: true, // its own process group: the stop signal reaches it and nothing else
    stdio: ["pipe", "pipe", "pipe"],
  });
  child.stdin!.end();
  let out = "";
  let err = "";
  child.stdout!.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
  child.stderr!.on("data", (chunk: Buffer) => (err += chunk.toString("utf8")));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    if (child.exitCode !== null) resolve({ code: child.exitCode, signal: null });
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });

  const stop = async (): Promise<{ code: number | null; signal: NodeJS.Signals | null }> => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        // already gone
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, "SIGKILL");
        } catch {
          // gone meanwhile
        }
      }, 30_000);
      const how = await exited;
      clearTimeout(timer);
      return how;
    }
    return exited;
  };

  const deadline = Date.now() + timeoutMs;
  while (!out.includes("\n")) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`pkg node exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${out}\n${err}`);
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`pkg node was not ready after ${timeoutMs} ms:\n${out}\n${err}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  let summary: NodeSummary;
  try {
    summary = JSON.parse(out.slice(0, out.indexOf("\n"))) as NodeSummary;
  } catch (error) {
    await stop();
    throw new Error(`pkg node --json: the first stdout line is not JSON (${(error as Error).message}):\n${out}`);
  }
  return { summary, child, stdout: () => out, stderr: () => err, stop };
}

/** Pids of internal Hardhat nodes started for a data dir (found by their generated config path). */
export async function internalNodePids(dataDir: string): Promise<number[]> {
  const config = path.join(dataDir, "node", "hardhat-node.config.cjs");
  const pids: number[] = [];
  for (const name of await readdir("/proc").catch(() => [] as string[])) {
    if (!/^\d+$/.test(name)) continue;
    const cmdline = await readFile(`/proc/${name}/cmdline`, "utf8").catch(() => "");
    if (cmdline.includes(config)) pids.push(Number(name));
  }
  return pids;
}

export async function rpc<T>(url: string, method: string, params: unknown[] = []): Promise<T> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = (await response.json()) as { result?: T; error?: { message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result as T;
}
