/**
 * The real engines the tests run: Kubo (`ipfs`) and go-ethereum (`geth`), built from the Go module proxy by
 * scripts/engines.sh (once per version, cached). A machine where they cannot be built skips the tests that need
 * them, saying why (skipBecause); CI builds them before the tests and fails if it cannot.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { createInterface } from "node:readline";
import { skipBecause } from "./skip";

const ROOT = path.resolve(__dirname, "../..");

/** Built once per test process: the bin directory, or why there is none. */
let engines: { bin: string } | { why: string } | undefined;

/**
 * The path of an engine, building it if it is missing (minutes, once per version); skips the calling test or
 * suite when it cannot be built here. Call from a hook or test with a long timeout.
 */
export function requireEngine(context: Mocha.Context, name: "ipfs" | "geth"): string {
  if (engines === undefined) {
    const result = spawnSync("bash", [path.join(ROOT, "scripts/engines.sh")], { encoding: "utf8", timeout: 40 * 60_000 });
    engines = result.status === 0 ? { bin: result.stdout.trim().split("\n").pop()! } : { why: `scripts/engines.sh failed (exit ${result.status}): ${result.stderr.trim().split("\n").slice(-3).join(" / ")}` };
  }
  if ("why" in engines) skipBecause(context, `${name} is not available: ${engines.why}`);
  return path.join(engines.bin, name);
}

/** Runs a command of an engine to its end; throws with its output when it fails. */
export function run(program: string, args: string[], env: NodeJS.ProcessEnv): string {
  const result = spawnSync(program, args, { encoding: "utf8", env: { ...process.env, ...env } });
  if (result.status !== 0) throw new Error(`${path.basename(program)} ${args.join(" ")} failed (exit ${result.status}):\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

/** Starts a long-running engine and waits until every pattern has matched a line of its output; the matches. */
export async function startDaemon(program: string, args: string[], env: NodeJS.ProcessEnv, patterns: RegExp[], timeoutMs = 60_000): Promise<{ child: ChildProcess; matches: RegExpMatchArray[]; output: () => string }> {
  const child = spawn(program, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const matches: Array<RegExpMatchArray | undefined> = patterns.map(() => undefined);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${path.basename(program)} did not start within ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`${path.basename(program)} exited with ${code}:\n${output}`));
    };
    child.once("exit", onExit);
    let started = false;
    const onLine = (line: string) => {
      output += `${line}\n`;
      if (started) return;
      patterns.forEach((p, i) => (matches[i] ??= line.match(p) ?? undefined));
      if (matches.every((m) => m !== undefined)) {
        started = true;
        clearTimeout(timer);
        child.off("exit", onExit);
        resolve();
      }
    };
    createInterface({ input: child.stdout! }).on("line", onLine);
    createInterface({ input: child.stderr! }).on("line", onLine);
  });
  return { child, matches: matches as RegExpMatchArray[], output: () => output };
}

/** Stops a process started by {@link startDaemon}: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopProcess(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((done) => child.once("exit", done));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

export interface KuboNode {
  /** RPC API base URL, e.g. http://127.0.0.1:40123 */
  api: string;
  /** Gateway base URL (trustless gateway: /ipfs/{cid}?format=raw|car). */
  gateway: string;
  /** The node's peer id and a swarm address another node can dial. */
  peerId: string;
  swarm: string;
  repo: string;
  /** `ipfs` with this node's IPFS_PATH. */
  ipfs(args: string[]): string;
  stop(): Promise<void>;
}

/**
 * A Kubo node with its own repo, reachable only on 127.0.0.1: API, gateway and swarm on ports the kernel picks,
 * no bootstrap peers, no mDNS, no autoconf, no routing (peers are connected by hand: `swarm connect`).
 */
export async function startKubo(ipfs: string, repo: string): Promise<KuboNode> {
  await mkdir(repo, { recursive: true });
  // No telemetry (it would try to reach the Internet, which these machines cannot anyway).
  const env = { IPFS_PATH: repo, IPFS_TELEMETRY: "off" };
  run(ipfs, ["init", "--profile", "test", "--empty-repo"], env);
  const settings: Array<[string, unknown]> = [
    ["Addresses.API", "/ip4/127.0.0.1/tcp/0"],
    ["Addresses.Gateway", "/ip4/127.0.0.1/tcp/0"],
    ["Addresses.Swarm", ["/ip4/127.0.0.1/tcp/0"]],
    ["Addresses.Announce", []],
    ["Bootstrap", []],
    ["Discovery.MDNS.Enabled", false],
    ["AutoConf.Enabled", false],
    ["Routing.Type", "none"],
    ["Swarm.DisableNatPortMap", true],
    ["Plugins.Plugins.telemetry.Config.Mode", "off"],
  ];
  for (const [key, value] of settings) run(ipfs, ["config", "--json", key, JSON.stringify(value)], env);
  const daemon = await startDaemon(ipfs, ["daemon"], env, [
    /RPC API server listening on \/ip4\/127\.0\.0\.1\/tcp\/(\d+)/,
    /Gateway server listening on \/ip4\/127\.0\.0\.1\/tcp\/(\d+)/,
    /Daemon is ready/,
  ]);
  const id = JSON.parse(run(ipfs, ["id"], env)) as { ID: string; Addresses: string[] };
  const swarm = id.Addresses.find((a) => a.startsWith("/ip4/127.0.0.1/tcp/"));
  if (swarm === undefined) throw new Error(`kubo has no loopback swarm address: ${JSON.stringify(id.Addresses)}`);
  return {
    api: `http://127.0.0.1:${daemon.matches[0][1]}`,
    gateway: `http://127.0.0.1:${daemon.matches[1][1]}`,
    peerId: id.ID,
    swarm,
    repo,
    ipfs: (args) => run(ipfs, args, env),
    stop: () => stopProcess(daemon.child),
  };
}

export interface GethNode {
  url: string;
  port: number;
  datadir: string;
  /** The node's own output so far (for failures). */
  output(): string;
  stop(): Promise<void>;
}

export interface GethOptions {
  /** Seconds between blocks (`--dev.period`); default 1. 0: a block whenever transactions are pending (benchmark setup). */
  period?: number;
  /** The dev chain's block gas limit (`--dev.gaslimit`); default geth's own (11,500,000). */
  gasLimit?: number;
  /**
   * A genesis file the datadir is initialised with (`geth init`) before its first start, instead of the built-in
   * dev genesis (which turns on every fork this geth knows, unreleased ones too); --dev then runs that chain. It
   * must be a dev-mode genesis (difficulty 0, terminalTotalDifficulty 0) funding the dev account.
   */
  genesis?: string;
}

/**
 * `geth --dev` with its chain kept in `datadir` (a restart on the same datadir and port continues it), HTTP
 * JSON-RPC on 127.0.0.1 only, no peers, no IPC, a block every second by default (as a real chain makes them: Ignition waits for
 * confirmations, and writes must not assume instant blocks), and every block's state
 * kept (an archive node: `pkg lock --block N` reads old blocks).
 */
export async function startGeth(geth: string, datadir: string, port: number, options: GethOptions = {}): Promise<GethNode> {
  await mkdir(datadir, { recursive: true });
  if (options.genesis !== undefined && !existsSync(path.join(datadir, "geth", "chaindata"))) {
    run(geth, ["init", "--datadir", datadir, "--state.scheme", "hash", options.genesis], {});
  }
  const args = [
    "--dev", "--datadir", datadir, "--ipcdisable", "--nodiscover", "--maxpeers", "0", "--port", "0",
    "--http", "--http.addr", "127.0.0.1", "--http.port", String(port), "--http.api", "eth,net,web3",
    "--authrpc.port", "0", "--dev.period", String(options.period ?? 1), "--gcmode", "archive", "--state.scheme", "hash", "--verbosity", "3",
    ...(options.gasLimit === undefined ? [] : ["--dev.gaslimit", String(options.gasLimit)]),
  ];
  const daemon = await startDaemon(geth, args, {}, [/HTTP server started/], 120_000);
  return { url: `http://127.0.0.1:${port}`, port, datadir, output: daemon.output, stop: () => stopProcess(daemon.child, 20_000) };
}
