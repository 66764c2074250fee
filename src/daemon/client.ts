/**
 * The CLI's side of the store daemon: connect to its socket, starting it on demand (as Nix's
 * clients do with socket activation, by hand here): when nothing answers, `node <repo>/bin/pkg.js
 * store daemon` is started detached with its output in `<root>/daemon.log`, and the client waits
 * for the socket. Two clients starting a daemon at once is fine: the store lock lets one win and the
 * other exits; both clients then connect to the winner.
 *
 * Kept light on purpose (node built-ins only): it is on the path of a no-op `pkg build`.
 */
import { spawn } from "node:child_process";
import { mkdirSync, openSync, closeSync, readFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { exitCodeOf, type PkgError } from "../errors";
import { ERR_STORE_DAEMON_GONE, ERR_STORE_DAEMON_MISMATCH, ERR_STORE_DAEMON_UNREACHABLE, ERR_STORE_LOCKED, errorFromData, StoreError } from "../store/errors";
import { defaultStoreDir, storeLayout, storeSocketPath } from "../store/paths";
import { DAEMON_PROTOCOL_VERSION, type BuildPhase, type RealiseAnswer } from "./protocol";
import { ndjsonReader } from "./ndjson";

export interface ConnectOptions {
  /** Store root; default {@link defaultStoreDir}. */
  root?: string;
  socket?: string;
  /** Start a daemon when none answers (default true). */
  start?: boolean;
  /** How long to wait for a started daemon's socket (default 30 s). */
  timeoutMs?: number;
}

export type EventHandler = (event: Record<string, unknown>) => void;

export interface StoreClient {
  readonly socket: string;
  /** Sends one request; `onEvent` gets its events (log, progress); resolves with its result or rejects with its PkgError. */
  request<T = unknown>(op: string, params?: Record<string, unknown>, onEvent?: EventHandler): Promise<T>;
  close(): void;
}

/** The daemon's last `error:` line in its log (else its last line), or null. */
function readLastLine(file: string): string | null {
  try {
    const lines = readFileSync(file, "utf8").split("\n").filter((l) => l.trim() !== "");
    const error = lines.filter((l) => l.startsWith("error: ")).pop();
    const line = error ?? lines.pop();
    return line === undefined ? null : line.slice(0, 300);
  } catch {
    return null;
  }
}

function tryConnect(socketPath: string): Promise<net.Socket | null> {
  return new Promise((resolve) => {
    const socket = net.createConnection(socketPath);
    const fail = () => {
      socket.destroy();
      resolve(null);
    };
    socket.once("error", fail);
    socket.once("connect", () => {
      socket.off("error", fail);
      resolve(socket);
    });
  });
}

/** The daemon is started from the same installation as this code: `<repo>/bin/pkg.js` (this file is `<repo>/[dist/]src/daemon/client`). */
function pkgBin(): string {
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    const candidate = path.join(dir, "bin", "pkg.js");
    try {
      closeSync(openSync(candidate, "r"));
      return candidate;
    } catch {
      dir = path.dirname(dir);
    }
  }
  return path.resolve(__dirname, "../../bin/pkg.js");
}

/** Exit code of a daemon that found another one holding the store (src/errors/codes.ts). */
const LOCKED_EXIT_CODE = exitCodeOf(ERR_STORE_LOCKED);

/** The on-demand daemon's idle timeout: `$PKG_STORE_IDLE_TIMEOUT` seconds, default 30 minutes (0: never). */
export function defaultIdleTimeoutSeconds(env: NodeJS.ProcessEnv = process.env): number {
  const value = Number(env.PKG_STORE_IDLE_TIMEOUT || "1800");
  return Number.isFinite(value) && value >= 0 ? value : 1800;
}

/**
 * Starts `pkg store daemon` detached, its output appended to daemon.log, stopping after
 * {@link defaultIdleTimeoutSeconds} idle; `exited` resolves with its exit code if it stops.
 */
export function startDaemon(root: string, socketPath: string): { pid: number | undefined; exited: Promise<number | null> } {
  const layout = storeLayout(root);
  mkdirSync(layout.root, { recursive: true });
  const log = openSync(layout.daemonLog, "a");
  try {
    const child = spawn(process.execPath, [pkgBin(), "store", "daemon", "--idle-timeout", String(defaultIdleTimeoutSeconds())], {
      detached: true,
      stdio: ["ignore", log, log],
      env: { ...process.env, PKG_STORE_DIR: layout.root, PKG_STORE_SOCKET: socketPath },
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    child.unref();
    return { pid: child.pid, exited };
  } finally {
    closeSync(log);
  }
}

function wrap(socket: net.Socket, socketPath: string): StoreClient {
  socket.unref(); // an idle client never keeps the process alive; a pending request does (see request)
  let nextId = 1;
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: PkgError): void; onEvent?: EventHandler; op: string }>();
  socket.setEncoding("utf8");
  socket.on("data", ndjsonReader((message) => {
    const entry = pending.get(message.id as number);
    if (entry === undefined) return;
    if (typeof message.event === "string") {
      entry.onEvent?.(message);
      return;
    }
    pending.delete(message.id as number);
    if (message.ok === true) entry.resolve(message.result);
    else entry.reject(errorFromData((message.error ?? {}) as Record<string, unknown>));
  }));
  const gone = () => {
    for (const [id, entry] of pending) {
      pending.delete(id);
      entry.reject(new StoreError(ERR_STORE_DAEMON_GONE, `the store daemon went away during ${entry.op}`, {
        details: { op: entry.op, socket: socketPath },
        hint: "run the command again (the store recovers on restart); see daemon.log in the store for why it stopped",
      }));
    }
  };
  socket.on("close", gone);
  socket.on("error", gone);
  return {
    socket: socketPath,
    request<T>(op: string, params: Record<string, unknown> = {}, onEvent?: EventHandler): Promise<T> {
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject, onEvent, op });
        if (socket.destroyed) return gone();
        // A pending request keeps the process alive; an idle client does not.
        socket.ref();
        socket.write(`${JSON.stringify({ ...params, id, op })}\n`);
      }).finally(() => {
        if (pending.size === 0) socket.unref();
      });
    },
    close() {
      socket.end();
      socket.unref();
    },
  };
}

/**
 * The daemon that answered must serve `root` and speak this protocol: a socket named by
 * $PKG_STORE_SOCKET may belong to another store's daemon, and an upgrade may leave an old daemon running.
 */
async function checked(client: StoreClient, root: string): Promise<StoreClient> {
  let status: { store?: unknown; version?: unknown };
  try {
    status = await client.request<{ store?: unknown; version?: unknown }>("status");
  } catch (error) {
    client.close();
    throw error;
  }
  const problem =
    status.version !== DAEMON_PROTOCOL_VERSION
      ? `speaks protocol ${String(status.version)}, this pkg ${DAEMON_PROTOCOL_VERSION}`
      : status.store !== root
        ? `serves the store ${String(status.store)}, not ${root}`
        : null;
  if (problem === null) return client;
  client.close();
  throw new StoreError(ERR_STORE_DAEMON_MISMATCH, `the store daemon on ${client.socket} ${problem}`, {
    details: { socket: client.socket, store: root, daemonStore: status.store, version: status.version, expected: DAEMON_PROTOCOL_VERSION },
    hint:
      status.version !== DAEMON_PROTOCOL_VERSION
        ? "stop it once its builds are done (`pkg store status --shutdown`); the next command starts a matching one"
        : "unset PKG_STORE_SOCKET, or point it and PKG_STORE_DIR at the same store",
  });
}

/**
 * Connects to the store's daemon, starting one when none answers, and checks it serves this store
 * with this protocol. @throws StoreError ERR_STORE_DAEMON_UNREACHABLE, ERR_STORE_DAEMON_MISMATCH
 */
export async function connectStore(options: ConnectOptions = {}): Promise<StoreClient> {
  const root = path.resolve(options.root ?? defaultStoreDir());
  const socketPath = options.socket ?? storeSocketPath(root);
  const first = await tryConnect(socketPath);
  if (first !== null) return checked(wrap(first, socketPath), root);
  if (options.start === false) {
    throw new StoreError(ERR_STORE_DAEMON_UNREACHABLE, `no store daemon answers on ${socketPath}`, {
      details: { socket: socketPath, store: root },
      hint: "start one with `pkg store daemon`",
    });
  }
  const started = startDaemon(root, socketPath);
  let exitCode: number | null | undefined;
  void started.exited.then((code) => (exitCode = code));
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let delay = 20;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 250);
    const socket = await tryConnect(socketPath);
    if (socket !== null) return checked(wrap(socket, socketPath), root);
    // Exited for another reason than losing the race to a daemon starting at the same time: say why now.
    if (exitCode !== undefined && exitCode !== LOCKED_EXIT_CODE) {
      const log = storeLayout(root).daemonLog;
      const last = readLastLine(log);
      throw new StoreError(ERR_STORE_DAEMON_UNREACHABLE, `the store daemon exited with status ${exitCode} before answering${last ? `: ${last}` : ""}`, {
        details: { socket: socketPath, store: root, log, exitCode },
        hint: `see ${log}`,
      });
    }
  }
  throw new StoreError(ERR_STORE_DAEMON_UNREACHABLE, `the store daemon did not start (no answer on ${socketPath})`, {
    details: { socket: socketPath, store: root, log: storeLayout(root).daemonLog },
    hint: `see ${storeLayout(root).daemonLog}`,
  });
}

/** Log lines of the builds a `realise` request starts or joins. */
export type LogHandler = (drv: string, text: string) => void;
/** A build starts (`build`), ends (`built`) or fails (`failed`). */
export type ProgressHandler = (drv: string, name: string, phase: BuildPhase) => void;

/** Sends `realise`, forwarding its log and progress events. */
export function realiseVia(client: Pick<StoreClient, "request">, drv: string, options: { rebuild?: boolean; onLog?: LogHandler; onProgress?: ProgressHandler } = {}): Promise<RealiseAnswer> {
  return client.request<RealiseAnswer>("realise", { drv, ...(options.rebuild ? { rebuild: true } : {}) }, (event) => {
    if (event.event === "log") options.onLog?.(String(event.drv), String(event.text));
    else if (event.event === "progress") options.onProgress?.(String(event.drv), String(event.name), event.phase as BuildPhase);
  });
}
