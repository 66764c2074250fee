/**
 * The generic half of a meta package's binary (`meta-rustc`, later `meta-cc`): the caller runs it
 * instead of the tool (`meta-rustc <rustc> <args…>`). It asks the store daemon whether this exact
 * invocation was seen before and, if so, copies the stored outputs into place and replays the tool's
 * messages; otherwise it runs the tool in its own process (so the caller's jobserver and signals
 * reach it) and hands the outputs to the daemon to be stored under the invocation's derivation.
 *
 * Self-contained by design: it runs once per tool invocation, so it loads only node:* modules (a
 * bundle of this file and one tool module is what `$meta-rustc/bin/meta-rustc` is; see bundle.ts).
 * All hashing, keying, DAG-CBOR and content-store work happens in the daemon (handleInvoke).
 *
 * A failure of the shim must never fail or corrupt a build: any internal error (no daemon, a
 * protocol error, a restore that cannot complete) prints one warning line and runs the tool directly.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import type { InvokeRequest, LookupResult, RootToken, StoreResult, ToolPlan } from "../types";

/** What a tool module says about one invocation. */
export type PlanOutcome = { kind: "plan"; plan: ToolPlan } | { kind: "pass"; reason: string };

/** The tool-specific half: argument parsing and normalisation. */
export interface ToolModule {
  /** "rustc" */
  name: string;
  plan(program: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): PlanOutcome;
}

const LOOKUP_TIMEOUT_MS = 120_000;
const STORE_TIMEOUT_MS = 300_000;

/** One NDJSON connection to the store daemon. */
class Connection {
  private buffer = "";
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private failure: Error | null = null;

  private constructor(private readonly socket: net.Socket) {
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => this.onData(chunk));
    socket.on("error", (error) => this.fail(error));
    socket.on("close", () => this.fail(new Error("the store daemon closed the connection")));
  }

  static open(socketPath: string): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(socketPath);
      socket.once("connect", () => {
        socket.removeListener("error", reject);
        resolve(new Connection(socket));
      });
      socket.once("error", reject);
    });
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let newline: number;
    while ((newline = this.buffer.indexOf("\n")) >= 0) {
      const line = this.buffer.slice(0, newline);
      this.buffer = this.buffer.slice(newline + 1);
      if (line.trim() === "") continue;
      let message: { id?: number; ok?: boolean; result?: unknown; error?: { code?: string; message?: string }; event?: string };
      try {
        message = JSON.parse(line);
      } catch {
        this.fail(new Error("the store daemon sent a line that is not JSON"));
        return;
      }
      if (message.event !== undefined || typeof message.id !== "number") continue; // log/progress events
      const waiter = this.waiting.get(message.id);
      if (!waiter) continue;
      this.waiting.delete(message.id);
      if (message.ok === true) waiter.resolve(message.result);
      else waiter.reject(new Error(`${message.error?.code ?? "ERR_INTERNAL"}: ${message.error?.message ?? "daemon error"}`));
    }
  }

  private fail(error: Error): void {
    if (this.failure === null) this.failure = error;
    for (const waiter of this.waiting.values()) waiter.reject(error);
    this.waiting.clear();
  }

  request<T>(body: InvokeRequest, timeoutMs: number): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`the store daemon did not answer within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.waiting.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.socket.write(`${JSON.stringify({ id, ...body })}\n`);
    });
  }

  close(): void {
    this.socket.removeAllListeners("close");
    this.socket.end();
    this.socket.destroy();
  }
}

/** Replace every root token by the invocation's absolute root. */
export function denormalise(text: string, roots: ReadonlyArray<[string, RootToken]>): string {
  let out = text;
  for (const [root, token] of roots) out = out.split(token).join(root);
  return out;
}

/** Replace every absolute root by its token (roots are sorted longest first). */
export function normalise(text: string, roots: ReadonlyArray<[string, RootToken]>): string {
  let out = text;
  for (const [root, token] of roots) out = out.split(root).join(token);
  return out;
}

/** The absolute path of `program`, looked up in PATH when it has no slash (as execvp would). */
export function resolveProgram(program: string, env: NodeJS.ProcessEnv, cwd: string): string {
  if (program.includes("/")) return path.resolve(cwd, program);
  for (const dir of (env.PATH ?? "").split(":")) {
    if (dir === "") continue;
    const candidate = path.resolve(cwd, dir, program);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return program;
}

interface LogEntry {
  tool: string;
  label?: string;
  result: "hit" | "miss" | "pass" | "fallback" | "failed";
  reason?: string;
  ms: number;
  /** Of `ms`, how long the tool itself ran (misses). */
  toolMs?: number;
  /** The daemon's steps of storing (misses). */
  timings?: Record<string, number>;
  drv?: string;
}

/** One JSON line per invocation to `$PKG_META_LOG`, when set (tests and benchmarks count them). */
function record(entry: LogEntry): void {
  const file = process.env.PKG_META_LOG;
  if (!file) return;
  try {
    fs.appendFileSync(file, `${JSON.stringify({ pid: process.pid, ...entry })}\n`);
  } catch {
    // the log is a convenience; never fail a build over it
  }
}

function warn(tool: string, message: string): void {
  try {
    fs.writeSync(2, `meta-${tool}: warning: ${message.split("\n")[0]} (running ${tool} directly)\n`);
  } catch {
    // stderr closed: nothing to tell anyone
  }
}

type Stdio = Array<"inherit" | "pipe" | "ignore" | number>;

/**
 * stdio for the tool: the given three, plus the caller's jobserver pipe (`--jobserver-auth=R,W` in
 * CARGO_MAKEFLAGS/MAKEFLAGS) at the same descriptor numbers. Node passes only the descriptors it is
 * told to, so without this rustc would lose cargo's jobserver (and warn about it).
 */
export function toolStdio(first: Stdio, env: NodeJS.ProcessEnv = process.env): Stdio {
  const stdio = [...first];
  const flags = `${env.CARGO_MAKEFLAGS ?? ""} ${env.MAKEFLAGS ?? ""}`;
  const m = /--jobserver-(?:auth|fds)=(\d+),(\d+)/.exec(flags);
  if (m) {
    for (const fd of [Number(m[1]), Number(m[2])]) {
      if (fd < 3 || fd > 1000) continue;
      try {
        fs.fstatSync(fd);
      } catch {
        continue; // not ours to pass on
      }
      while (stdio.length <= fd) stdio.push("ignore");
      stdio[fd] = fd;
    }
  }
  return stdio;
}

/** Run the tool with inherited stdio; resolves with its exit code (128+n on a signal). */
function runDirect(program: string, args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(program, args, { stdio: toolStdio(["inherit", "inherit", "inherit"]) });
    child.on("error", (error) => {
      fs.writeSync(2, `error: could not execute ${program}: ${error.message}\n`);
      resolve(127);
    });
    child.on("close", (code, signal) => resolve(code ?? (signal ? 128 + (signalNumber(signal) ?? 1) : 1)));
  });
}

function signalNumber(signal: NodeJS.Signals): number | undefined {
  return ({ SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15, SIGSEGV: 11, SIGABRT: 6 } as Record<string, number>)[signal];
}

/** Run the tool with stderr captured (and passed through as it comes); stdin/stdout inherited. */
function runCapture(program: string, args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(program, args, { stdio: toolStdio(["inherit", "inherit", "pipe"]) });
    const chunks: Buffer[] = [];
    child.stderr!.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      try {
        fs.writeSync(2, chunk);
      } catch {
        // keep collecting
      }
    });
    child.on("error", (error) => {
      fs.writeSync(2, `error: could not execute ${program}: ${error.message}\n`);
      resolve({ code: 127, stderr: "" });
    });
    child.on("close", (code, signal) =>
      resolve({ code: code ?? (signal ? 128 + (signalNumber(signal) ?? 1) : 1), stderr: Buffer.concat(chunks).toString("utf8") }),
    );
  });
}

/** The files of outDir that this run wrote (by stem, and no older than the run). */
export function collectOutputs(plan: ToolPlan, startedMs: number): string[] {
  const found: string[] = [];
  for (const name of fs.readdirSync(plan.outDir)) {
    if (!plan.outputStems.some((stem) => name === stem || name.startsWith(`${stem}.`))) continue;
    const full = path.join(plan.outDir, name);
    const stat = fs.statSync(full);
    if (!stat.isFile() || stat.mtimeMs < startedMs - 2000) continue;
    found.push(full);
  }
  return found.sort();
}

/** Copy the stored outputs into outDir (each written beside and renamed into place) and replay stderr. */
export function restore(plan: ToolPlan, hit: Extract<LookupResult, { hit: true }>): void {
  fs.mkdirSync(plan.outDir, { recursive: true });
  for (const file of hit.restored ? [] : hit.files) {
    const destination = path.join(plan.outDir, file.name);
    const temporary = `${destination}.meta-${process.pid}.tmp`;
    try {
      if (file.rewrite) fs.writeFileSync(temporary, denormalise(fs.readFileSync(file.path, "utf8"), plan.roots));
      else fs.copyFileSync(file.path, temporary, fs.constants.COPYFILE_FICLONE);
      fs.chmodSync(temporary, file.executable ? 0o755 : 0o644);
      fs.renameSync(temporary, destination);
    } catch (error) {
      fs.rmSync(temporary, { force: true });
      throw error;
    }
  }
  if (hit.stderr !== "") fs.writeSync(2, denormalise(hit.stderr, plan.roots));
}

/** Environment as plain strings (what the daemon sees of it). */
function plainEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (typeof v === "string") out[k] = v;
  return out;
}

/**
 * The whole shim: `argv` = [tool path, tool args…]. Resolves with the exit code to exit with.
 */
export async function runShim(tool: ToolModule, argv: string[]): Promise<number> {
  const started = Date.now();
  if (argv.length === 0) {
    fs.writeSync(2, `usage: meta-${tool.name} <path-to-${tool.name}> [args…] (cargo runs it as RUSTC_WRAPPER)\n`);
    return 2;
  }
  const cwd = process.cwd();
  const program = resolveProgram(argv[0], process.env, cwd);
  const args = argv.slice(1);

  let outcome: PlanOutcome;
  try {
    outcome = tool.plan(program, args, cwd, process.env);
  } catch (error) {
    outcome = { kind: "pass", reason: `arguments not understood: ${(error as Error).message}` };
  }
  if (outcome.kind === "pass") {
    record({ tool: tool.name, result: "pass", reason: outcome.reason, ms: Date.now() - started });
    return runDirect(program, args);
  }
  const plan = outcome.plan;
  const socketPath = process.env.PKG_STORE_SOCKET;
  if (!socketPath) {
    record({ tool: tool.name, label: plan.label, result: "pass", reason: "PKG_STORE_SOCKET is not set", ms: Date.now() - started });
    return runDirect(program, args);
  }
  const buildId = process.env.PKG_BUILD_ID || null;
  const env = plainEnv(process.env);

  let connection: Connection | null = null;
  let lookup: LookupResult;
  try {
    connection = await Connection.open(socketPath);
    lookup = await connection.request<LookupResult>(
      // With our uid the daemon (same user) writes a hit's outputs itself; PKG_META_SHIM_RESTORE=1 makes the shim copy them.
      { op: "invoke", tool: tool.name, buildId, phase: "lookup", plan, env, uid: process.env.PKG_META_SHIM_RESTORE === "1" || typeof process.getuid !== "function" ? undefined : process.getuid() },
      LOOKUP_TIMEOUT_MS,
    );
  } catch (error) {
    connection?.close();
    warn(tool.name, `store daemon at ${socketPath} unusable: ${(error as Error).message}`);
    record({ tool: tool.name, label: plan.label, result: "fallback", reason: (error as Error).message, ms: Date.now() - started });
    return runDirect(program, args);
  }

  if (lookup.hit) {
    try {
      restore(plan, lookup);
      connection.close();
      record({ tool: tool.name, label: plan.label, result: "hit", drv: lookup.drv, ms: Date.now() - started });
      return 0;
    } catch (error) {
      warn(tool.name, `could not restore the stored outputs of ${lookup.drv}: ${(error as Error).message}`);
      connection.close();
      record({ tool: tool.name, label: plan.label, result: "fallback", reason: (error as Error).message, ms: Date.now() - started });
      return runDirect(program, args);
    }
  }

  const runStarted = Date.now();
  const run = await runCapture(program, plan.runArgs);
  const ms = Date.now() - runStarted;
  if (run.code !== 0) {
    connection.close();
    record({ tool: tool.name, label: plan.label, result: "failed", reason: `exit ${run.code}`, ms: Date.now() - started });
    return run.code;
  }
  try {
    const outputs = collectOutputs(plan, runStarted);
    const stored = await connection.request<StoreResult>(
      { op: "invoke", tool: tool.name, buildId, phase: "store", key: lookup.key, plan, env, outputs, stderr: run.stderr, ms },
      STORE_TIMEOUT_MS,
    );
    record({ tool: tool.name, label: plan.label, result: "miss", reason: lookup.reason, drv: stored.drv, ms: Date.now() - started, toolMs: ms, timings: stored.timings });
  } catch (error) {
    // The build itself succeeded; only the cache missed out.
    fs.writeSync(2, `meta-${tool.name}: warning: outputs of ${plan.label} not stored: ${(error as Error).message.split("\n")[0]}\n`);
    record({ tool: tool.name, label: plan.label, result: "miss", reason: `not stored: ${(error as Error).message}`, ms: Date.now() - started, toolMs: ms });
  } finally {
    connection.close();
  }
  return 0;
}
