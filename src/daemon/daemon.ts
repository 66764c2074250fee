/**
 * The store daemon: the one process that writes a store. It holds the store's lock, recovers the
 * store on start, and answers newline-delimited JSON on a unix socket (docs/build-layer.md,
 * "Daemon protocol"): zero or more `event` lines per request, then exactly one answer line.
 *
 * - One daemon per store: the lock is an SQLite EXCLUSIVE transaction held open on `daemon.lock`.
 *   It is a kernel (fcntl) lock, so it dies with the process, kill -9 included; a pid file alone
 *   cannot tell a live daemon from a recycled pid. `daemon.pid` is written after, for people and tests.
 * - Holding the lock means any socket file left at our path is stale (its daemon is dead): it is
 *   removed before listening. The socket is 0600, in a directory of this user's that no one else may write
 *   (a directory the daemon creates is 0700; one that exists already is never chmodded).
 * - Builds never reach this socket (the sandbox's root does not hold it): each build gets a socket of its
 *   own that answers `invoke` for that build and nothing else (Nix's recursive-nix socket). The full API
 *   (add-path, get-path, add-substitute, gc, …) serves only clients that can open the main socket, i.e.
 *   this user's CLI.
 * - A request line longer than {@link MAX_NDJSON_LINE} is answered with an error and the connection closed.
 * - A client that goes away does not cancel its build: others may be waiting on it, and the output
 *   is worth keeping.
 */
import { mkdir, mkdtemp, chmod, chown, rm, lstat, rename, symlink } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { isPkgError, PkgError } from "../errors";
import type { ContentStore } from "../content/types";
import { collectGarbage, verifyStore } from "../store/gc";
import { createRealiser, type Realiser, type RunBuild } from "../store/realise";
import { openMetaRecords } from "../store/meta-records";
import { openStore, type Store } from "../store/store";
import { addSubstitute } from "../store/substitute";
import { ERR_STORE_BAD_REQUEST, ERR_STORE_LOCKED, ERR_STORE_SOCKET_DIR_UNSAFE, ERR_STORE_SOCKET_UNUSABLE, StoreError } from "../store/errors";
import { defaultStoreDir, storeLayout, storeSocketPath } from "../store/paths";
import { DAEMON_PROTOCOL_VERSION } from "./protocol";
import { MAX_NDJSON_LINE, ndjsonReader } from "./ndjson";
import { writeFileAtomic } from "../files/atomic";
import { checkPathComponent, quoteValue } from "../files/name";
import { runBuild } from "../builder/run";
import { buildUser, systemProgramDirs } from "../builder/sandbox";
import { trustedHostPaths } from "../builder/host-paths";
import { createMetaHandler, type MetaHandler } from "../meta";
import { resolveReal, type InvokeConfinement } from "../meta/confine";
import { answerNoopBuild, type NoopRequest } from "../noop/answer";
import type { DaemonEvent, RealiseAnswer } from "./protocol";

export { DAEMON_PROTOCOL_VERSION } from "./protocol";

export type Emit = (event: DaemonEvent | Record<string, unknown>) => void;

export interface DaemonOptions {
  root?: string;
  socket?: string;
  /** The content store to use; default: opened from the config (and closed on shutdown). */
  content?: ContentStore;
  /** Runs one builder; default src/builder/run.ts's (tests pass their own). */
  runBuild?: RunBuild;
  cores?: number;
  /** Where the daemon reports what it does (default: stderr). */
  log?: (line: string) => void;
  /**
   * Stop after this many milliseconds with no client connected, no realise in progress and nothing
   * left to settle (0 or absent: never). Daemons started on demand get one (client.ts: 30 minutes or
   * `$PKG_STORE_IDLE_TIMEOUT` seconds; sccache's server does the same); one started by hand runs until
   * stopped unless told otherwise.
   */
  idleTimeoutMs?: number;
}

/** How long a stopping daemon waits for meta packages' stored invocations to settle (they are lost otherwise). */
const SETTLE_ON_STOP_MS = 20_000;

export interface RunningDaemon {
  socket: string;
  store: Store;
  realiser: Realiser;
  /** The meta packages' handler (`invoke`). */
  meta: MetaHandler;
  /** Resolves when the daemon has stopped (shutdown request, signal or close()). */
  closed: Promise<void>;
  close(): Promise<void>;
}

/** Takes the store's daemon lock, or throws ERR_STORE_LOCKED. The returned handle holds it until closed. */
function takeLock(lockFile: string, root: string): Database.Database {
  const db = new Database(lockFile);
  db.pragma("busy_timeout = 0");
  try {
    db.exec("BEGIN EXCLUSIVE");
  } catch (cause) {
    db.close();
    throw new StoreError(ERR_STORE_LOCKED, `another store daemon already serves ${root}`, {
      details: { store: root },
      hint: "use it (`pkg store status`), or stop it first",
      cause,
    });
  }
  return db;
}

async function openConfiguredContent(): Promise<ContentStore> {
  // Loaded here, not at the top: only a daemon started without a content store needs the config.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { resolveConfig } = require("../config") as typeof import("../config");
  const { openContentStore } = require("../content") as typeof import("../content");
  /* eslint-enable @typescript-eslint/no-require-imports */
  const config = await resolveConfig({ config: process.env.PKG_CONFIG });
  return config.content.backend === "embedded"
    ? openContentStore({ kind: "embedded", directory: config.content.dir, gateways: config.content.gateways })
    : openContentStore({ kind: "kubo", url: config.content.url });
}

function requireString(request: Record<string, unknown>, key: string): string {
  const value = request[key];
  if (typeof value !== "string" || value === "") {
    throw new StoreError(ERR_STORE_BAD_REQUEST, `request ${String(request.op)}: "${key}" must be a non-empty string`, { details: { op: request.op, key } });
  }
  return value;
}

/** A connection on a build's own socket: which build it serves, and what its requests may make the daemon touch. */
interface BuildScope {
  buildId: string;
  confine: InvokeConfinement;
  hitsDir: string;
}


export async function runDaemon(options: DaemonOptions = {}): Promise<RunningDaemon> {
  const layout = storeLayout(options.root ?? defaultStoreDir());
  const socketPath = options.socket ?? storeSocketPath(layout.root);
  const say = options.log ?? ((line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`));
  await mkdir(layout.root, { recursive: true });
  const lock = takeLock(layout.lockFile, layout.root);
  const ownContent = options.content === undefined;
  let content: ContentStore | undefined;
  let store: Store | undefined;
  try {
    content = options.content ?? (await openConfiguredContent());
    store = await openStore({ root: layout.root, content, recover: true });
  } catch (error) {
    if (ownContent) await content?.close().catch(() => {});
    lock.close();
    throw error;
  }
  const buildSockets = new Set<net.Server>();
  /** A build's own socket: `invoke` for that build only; in the store's tmp/ (or the temp dir when that path is too long for a socket). */
  async function openBuildSocket(buildId: string, dirs: { buildDir: string; outDir: string }): Promise<{ path: string; dir: string; close(): Promise<void> }> {
    const real = (ps: string[]) => Promise.all(ps.map((p) => resolveReal(p)));
    const confine: InvokeConfinement = {
      exec: await real([...(await systemProgramDirs()), ...(await trustedHostPaths())]),
      read: await real([dirs.buildDir, dirs.outDir, layout.paths]),
      write: await real([dirs.buildDir, dirs.outDir]),
    };
    let dir = await store!.makeTempDir("sock");
    if (Buffer.byteLength(path.join(dir, "s")) > 100) {
      await rm(dir, { recursive: true, force: true });
      dir = await mkdtemp(path.join(os.tmpdir(), "chainpkg-build-"));
    }
    // The build sees this directory read-only (its socket, and hits/ where meta tools' hits are linked): the
    // daemon's, 0755, never the build user's, so that nothing in it changes under the daemon.
    await chmod(dir, 0o755);
    const hitsDir = path.join(dir, "hits");
    await mkdir(hitsDir, { mode: 0o755 });
    const file = path.join(dir, "s");
    const server = net.createServer((socket) => serve(socket, { buildId, confine, hitsDir }));
    const open = new Set<net.Socket>();
    server.on("connection", (c) => {
      open.add(c);
      c.on("close", () => open.delete(c));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(file, () => {
        server.off("error", reject);
        resolve();
      });
    });
    buildSockets.add(server);
    await chmod(file, 0o600);
    // A root daemon's builds run as the build user: the socket is theirs (and root's) only.
    const user = buildUser();
    if (user !== null) await chown(file, user.uid, user.gid);
    return {
      path: file,
      dir,
      async close() {
        buildSockets.delete(server);
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          for (const c of open) c.destroy();
        });
        await rm(dir, { recursive: true, force: true }).catch(() => {});
      },
    };
  }
  // The one place the store, the builder and the meta packages meet: each gets the others it needs injected.
  const realiser = createRealiser({ store, content, buildSocket: openBuildSocket, cores: options.cores, runBuild: options.runBuild ?? runBuild });
  const meta = createMetaHandler({ store, records: openMetaRecords(store.db), content, recordSubderivation: (buildId, cid) => realiser.recordSubderivation(buildId, cid) });

  const connections = new Set<net.Socket>();
  let stopping: Promise<void> | null = null;
  const idleTimeoutMs = options.idleTimeoutMs ?? 0;
  let idleTimer: NodeJS.Timeout | null = null;
  /** (Re)starts the idle countdown when nobody is connected; a connection stops it. */
  function armIdle(): void {
    if (idleTimer !== null) clearTimeout(idleTimer);
    idleTimer = null;
    if (idleTimeoutMs <= 0 || stopping !== null || connections.size > 0) return;
    idleTimer = setTimeout(() => {
      idleTimer = null;
      // A client gone while its build goes on, or invocations not settled yet: not idle, look again later.
      if (realiser.busy() || meta.pendingStores() > 0) armIdle();
      else if (connections.size === 0) void stop(`idle for ${Math.round(idleTimeoutMs / 1000)} s`);
    }, idleTimeoutMs);
  }
  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));

  /** What the `realise` op answers. */
  async function realise(drv: string, options: Parameters<Realiser["realise"]>[1]): Promise<RealiseAnswer> {
    const result = await realiser.realise(drv, options);
    return {
      outputs: result.outputs,
      built: result.built,
      ...(result.substituted === true ? { substituted: true as const } : {}),
      subderivations: result.subderivations,
      cids: result.cids,
      ...(result.matched !== undefined ? { matched: result.matched } : {}),
      ...(result.build?.sandbox !== undefined ? { sandbox: result.build.sandbox } : {}),
    };
  }

  async function handle(request: Record<string, unknown>, emit: Emit, scope: BuildScope | null): Promise<unknown> {
    const s = store!;
    if (scope !== null) {
      // A build's socket: its meta tools' invoke, as that build (whatever buildId it claims), and nothing else.
      if (request.op !== "invoke") {
        throw new StoreError(ERR_STORE_BAD_REQUEST, `op ${quoteValue(String(request.op))} is not available on a build's socket (only invoke)`, {
          details: { op: String(request.op).slice(0, 64) },
          hint: "builds reach the store daemon only through their meta tools",
        });
      }
      request.buildId = scope.buildId;
    }
    switch (request.op) {
      case "status":
        return { pid: process.pid, store: layout.root, socket: socketPath, building: realiser.building(), version: DAEMON_PROTOCOL_VERSION, builds: realiser.stats() };
      case "realise":
        return realise(requireString(request, "drv"), {
          rebuild: request.rebuild === true,
          onLog: (d, text) => emit({ event: "log", drv: d, text }),
          onProgress: (d, name, phase) => emit({ event: "progress", drv: d, name, phase }),
        });
      case "noop-build": {
        // For thin clients (bin/pkg's native one): `stdout` as hex, which needs no JSON string parser.
        const answer = await answerNoopBuild(request as unknown as NoopRequest, { root: layout.root, queryOutputs: (drv) => s.queryOutputs(drv), realise: (drv) => realise(drv, {}) });
        return answer.answered ? { answered: true, stdout: Buffer.from(answer.stdout, "utf8").toString("hex") } : answer;
      }
      case "query": {
        const outputs = s.queryOutputs(requireString(request, "drv"));
        return outputs === null ? null : { outputs };
      }
      case "add-path":
        return s.addPath(path.resolve(requireString(request, "path")), typeof request.name === "string" ? checkPathComponent(request.name, 'add-path "name"') : undefined);
      case "get-path":
        return { path: await s.ensureContent(requireString(request, "cid"), typeof request.name === "string" ? checkPathComponent(request.name, 'get-path "name"') : "source") };
      case "add-substitute":
        // A claim, not a fact: realise verifies the fetched tree's CID before it registers anything.
        return addSubstitute(s, {
          drv: requireString(request, "drv"),
          cid: requireString(request, "cid"),
          output: typeof request.output === "string" && request.output !== "" ? request.output : "out",
          source: typeof request.source === "string" && request.source !== "" ? request.source : "local",
        });
      case "gc":
        return collectGarbage(s, { dryRun: request.dryRun === true, tempRoots: () => realiser.tempRoots() });
      case "verify":
        return verifyStore(s);
      case "invoke":
        return meta.handleInvoke(scope === null ? {} : { confine: scope.confine, hitsDir: scope.hitsDir }, request, emit);
      case "shutdown":
        setImmediate(() => void stop("shutdown requested"));
        return {};
      default:
        throw new StoreError(ERR_STORE_BAD_REQUEST, `unknown op ${quoteValue(String(request.op))}`, {
          details: { op: String(request.op).slice(0, 64) },
          hint: "ops: status, realise, noop-build, query, add-path, get-path, add-substitute, gc, verify, invoke, shutdown",
        });
    }
  }

  function serve(socket: net.Socket, scope: BuildScope | null = null): void {
    connections.add(socket);
    armIdle();
    socket.setEncoding("utf8");
    const send = (value: unknown) => {
      if (!socket.destroyed && socket.writable) socket.write(`${JSON.stringify(value)}\n`);
    };
    const badLine = (_line: string, reason: string, overflow?: true) => {
      send({ id: null, ok: false, error: new StoreError(ERR_STORE_BAD_REQUEST, `not a JSON request: ${reason}`, { hint: "send one JSON object per line" }).toJSON() });
      // A client that sends a line this long is not speaking the protocol: stop reading from it.
      if (overflow) socket.end();
    };
    socket.on("data", ndjsonReader((request) => {
      const id = request.id ?? null;
      const emit: Emit = (event) => send({ id, ...event });
      handle(request, emit, scope).then(
        (result) => send({ id, ok: true, result }),
        (error: unknown) => {
          const pkgError = isPkgError(error) ? error : new PkgError("ERR_INTERNAL", (error as Error)?.message ?? String(error));
          if (!isPkgError(error)) say(`internal error in ${String(request.op)}: ${(error as Error)?.stack ?? String(error)}`);
          send({ id, ok: false, error: pkgError.toJSON() });
        },
      );
    }, badLine, MAX_NDJSON_LINE));
    socket.on("error", () => {}); // a client that vanished; its builds go on
    socket.on("close", () => {
      connections.delete(socket);
      armIdle();
    });
  }

  const server = net.createServer(serve);
  try {
    const socketDir = path.dirname(socketPath);
    // mkdir -p returns the first directory it created: only a directory the daemon created is chmodded (never
    // /tmp or a user's own directory that PKG_STORE_SOCKET happens to name).
    const created = await mkdir(socketDir, { recursive: true, mode: 0o700 });
    const dirStat = await lstat(socketDir);
    const unsafe =
      !dirStat.isDirectory() ? "is not a directory"
      : typeof process.getuid === "function" && dirStat.uid !== process.getuid() ? "is not owned by this user"
      // writable by others without the sticky bit: they could rename our socket away and put theirs in its place
      : created === undefined && (dirStat.mode & 0o022) !== 0 && (dirStat.mode & 0o1000) === 0 ? "is writable by others"
      : null;
    if (unsafe !== null) {
      // Another user's directory could let them replace our socket and answer our clients.
      throw new StoreError(ERR_STORE_SOCKET_DIR_UNSAFE, `the socket directory ${socketDir} ${unsafe}`, {
        details: { socket: socketPath, owner: dirStat.uid, mode: (dirStat.mode & 0o7777).toString(8) },
        hint: "set PKG_STORE_SOCKET to a path in a directory of your own that only you can write (or XDG_RUNTIME_DIR)",
      });
    }
    if (created !== undefined) await chmod(socketDir, 0o700);
    if (await lstat(socketPath).then(() => true, () => false)) await rm(socketPath, { force: true });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(socketPath, () => {
        server.off("error", reject);
        resolve();
      });
    });
    await chmod(socketPath, 0o600);
    // <store>/daemon.sock → the socket, replaced atomically (a link left by a dead daemon named the same path).
    const link = `${layout.socketLink}.${process.pid}.tmp`;
    await rm(link, { force: true });
    await symlink(socketPath, link);
    await rename(link, layout.socketLink);
  } catch (error) {
    // Nothing may keep a daemon that cannot serve alive (it would hold the store's lock forever).
    server.close();
    store.close();
    if (ownContent) await content.close().catch(() => {});
    lock.close();
    if (isPkgError(error)) throw error;
    throw new StoreError(ERR_STORE_SOCKET_UNUSABLE, `cannot listen on ${socketPath}: ${(error as Error).message}`, {
      details: { socket: socketPath },
      hint: "set PKG_STORE_SOCKET (or XDG_RUNTIME_DIR) to a place where this user can create a socket",
      cause: error,
    });
  }
  await writeFileAtomic(layout.pidFile, `${process.pid}\n`);
  say(`store daemon ${process.pid} serving ${layout.root} on ${socketPath}${idleTimeoutMs > 0 ? ` (stops after ${Math.round(idleTimeoutMs / 1000)} s idle)` : ""}`);
  armIdle();

  function stop(reason: string): Promise<void> {
    stopping ??= (async () => {
      say(`stopping: ${reason}`);
      realiser.abort();
      for (const b of buildSockets) b.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const c of connections) c.end();
        setTimeout(() => {
          for (const c of connections) c.destroy();
        }, 500).unref();
      });
      await rm(socketPath, { force: true }).catch(() => {});
      if (idleTimer !== null) clearTimeout(idleTimer);
      // Stored invocations not settled yet would be lost (recovery empties tmp/): settle them, for a while.
      const settling = meta.settleStores().catch(() => 0);
      await Promise.race([settling, new Promise((resolve) => setTimeout(resolve, SETTLE_ON_STOP_MS).unref())]);
      // Aborted builds clean their tmp/ directories up; the index stays open until they have.
      await Promise.race([realiser.settled(), new Promise((resolve) => setTimeout(resolve, 10_000).unref())]);
      await rm(layout.pidFile, { force: true }).catch(() => {});
      if (ownContent) await content!.close().catch(() => {});
      store!.close();
      lock.close();
      resolveClosed();
    })();
    return stopping;
  }

  return { socket: socketPath, store, realiser, meta, closed, close: () => stop("closed") };
}
