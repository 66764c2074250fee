/**
 * Build-layer benchmarks of meta-rustc (issue 5), on a workspace of real crates (Debian's serde,
 * serde_derive, serde_json, regex, anyhow through a cargo directory source) and three crates of our
 * own, one with a build script (bench/build/workspace.ts), with the native meta-rustc shim
 * (examples/toolchains/meta-rustc/meta-rustc.rs) compiled at the start. Every figure is measured in this run
 * against its anchor, with CARGO_BUILD_JOBS=2:
 *
 * - `rebuild-warm`: `rm -rf target` then `cargo build` through meta-rustc with everything in the store
 *   (best of two) vs a plain cold `cargo build`; sccache's warm rebuild (Debian's sccache 0.4, local
 *   disk cache) on the next line when sccache is installed.
 * - `rebuild-cold-overhead`: the first build through meta-rustc with an empty store (every compile
 *   runs rustc and is stored) vs the plain cold `cargo build`, in percent.
 * - `noop-build`: `bin/pkg build` as installed (its native client asks the daemon) of an already
 *   built package (the same workspace, built by cargo through meta-rustc inside `pkg build`'s sandbox,
 *   against the pkg daemon) vs a `cargo build` with nothing to do (best of five each); `node
 *   bin/pkg.js build` (node's client) on the next line. Needs `npm run build` (dist/, dist/native).
 */
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { buildNativeShim } from "../../src/meta/native";
import { bench, median, note, run, ROOT, type RunResult } from "../cli/util";
import { startBenchDaemon, type BenchDaemon } from "./daemon";
import { BENCH_APP_OUTPUT, DEBIAN_REGISTRY, ensureDebianCrates, ensureSccache, writeBenchWorkspace } from "./workspace";

const CARGO = existsSync("/root/.cargo/bin/cargo") ? "/root/.cargo/bin/cargo" : "cargo";

interface LogLine {
  label?: string;
  result: string;
  /** Wall time of the invocation in the shim, and of it rustc's own run (misses). */
  ms?: number;
  toolMs?: number;
}

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(RUSTC_WRAPPER|RUSTC_WORKSPACE_WRAPPER|RUSTFLAGS|CARGO_TARGET_DIR|CARGO_INCREMENTAL|CARGO_BUILD_.*|PKG_.*|SCCACHE_.*)$/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, CARGO_BUILD_JOBS: "2", ...extra };
}

async function cargo(ws: string, env: NodeJS.ProcessEnv): Promise<RunResult> {
  const r = await run(CARGO, ["build", "--offline"], { cwd: ws, env });
  if (r.code !== 0) throw new Error(`cargo build failed in ${ws}:\n${r.stderr.slice(-3000)}`);
  return r;
}

interface Timed {
  ms: number;
  /** user + system CPU of the cargo process tree (GNU time), 0 when /usr/bin/time is missing. */
  cpuMs: number;
}

/** cargo build, timed, with its process tree's CPU time from GNU time when there is one. */
async function timedCargo(ws: string, env: NodeJS.ProcessEnv): Promise<Timed> {
  if (!existsSync("/usr/bin/time")) return { ms: (await cargo(ws, env)).ms, cpuMs: 0 };
  const out = path.join(ws, "..", `time-${process.pid}.txt`);
  const r = await run("/usr/bin/time", ["-o", out, "-f", "%U %S", CARGO, "build", "--offline"], { cwd: ws, env });
  if (r.code !== 0) throw new Error(`cargo build failed in ${ws}:\n${r.stderr.slice(-3000)}`);
  const [user, system] = readFileSync(out, "utf8").trim().split(/\s+/).slice(-2).map(Number);
  return { ms: r.ms, cpuMs: (user + system) * 1000 };
}

function metaEnv(shim: string, daemon: BenchDaemon, log: string): NodeJS.ProcessEnv {
  return cleanEnv({ RUSTC_WRAPPER: shim, PKG_STORE_SOCKET: daemon.socket, PKG_META_LOG: log });
}

async function checkApp(ws: string): Promise<void> {
  const r = await run(path.join(ws, "target", "debug", "benchapp"), [], { cwd: ws });
  if (r.stdout.trim() !== BENCH_APP_OUTPUT) throw new Error(`benchapp printed ${JSON.stringify(r.stdout)}`);
}

function readLog(file: string): LogLine[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as LogLine);
}

function counts(log: LogLine[]): Record<string, number> {
  const c: Record<string, number> = {};
  for (const l of log) c[l.result] = (c[l.result] ?? 0) + 1;
  return c;
}

const seconds = (ms: number): number => ms / 1000;

async function sccacheFigures(ws: string, root: string, cargoCold: number): Promise<void> {
  const sccache = ensureSccache((l) => note(l));
  if (sccache === null) {
    note("sccache is not installed (apt-get install sccache): no sccache figure");
    return;
  }
  const env = cleanEnv({ RUSTC_WRAPPER: sccache, SCCACHE_DIR: path.join(root, "sccache"), SCCACHE_SERVER_PORT: String(4300 + (process.pid % 1000)), SCCACHE_IDLE_TIMEOUT: "0" });
  await run(sccache, ["--stop-server"], { env });
  const start = await run(sccache, ["--start-server"], { env });
  if (start.code !== 0) {
    note(`sccache --start-server failed: ${start.stderr.trim().split("\n")[0]}`);
    return;
  }
  try {
    rmSync(path.join(ws, "target"), { recursive: true, force: true });
    const cold = await cargo(ws, env);
    rmSync(path.join(ws, "target"), { recursive: true, force: true });
    const warm = await cargo(ws, env);
    await checkApp(ws);
    const stats = await run(sccache, ["--show-stats"], { env });
    const hits = /Cache hits\s+(\d+)/.exec(stats.stdout)?.[1] ?? "?";
    bench("rebuild-warm-sccache", seconds(warm.ms), "s", "cargo-cold", seconds(cargoCold), 2);
    note(`sccache 0.4: cold ${seconds(cold.ms).toFixed(2)} s (overhead ${((cold.ms / cargoCold - 1) * 100).toFixed(1)} %), warm ${seconds(warm.ms).toFixed(2)} s (${hits} cache hits)`);
  } finally {
    await run(sccache, ["--stop-server"], { env });
  }
}

/** A package of the workspace whose builder runs cargo through meta-rustc (host cargo/rustc named in args). */
function writePackage(ws: string, dir: string, shim: string): void {
  cpSync(ws, dir, { recursive: true, filter: (src) => !src.includes(`${path.sep}target`) && !src.includes(`${path.sep}.cargo`) });
  const sysroot = execFileSync("rustc", ["--print", "sysroot"], { encoding: "utf8" }).trim();
  const files = ["Cargo.toml", "Cargo.lock", "build.sh", "benchcore/Cargo.toml", "benchcore/build.rs", "benchcore/src/lib.rs", "benchparse/Cargo.toml", "benchparse/src/lib.rs", "benchapp/Cargo.toml", "benchapp/src/main.rs"];
  const manifest = [
    "[package]",
    'repository = "bench"',
    'name = "benchapp"',
    'version = "0.1.0"',
    'license = "MIT"',
    `src = [${files.map((f) => JSON.stringify(f)).join(", ")}]`,
    'builder = "./build.sh"',
    `args = [${[path.join(sysroot, "bin", "cargo"), path.join(sysroot, "bin", "rustc"), shim, DEBIAN_REGISTRY, "/usr/bin"].map((a) => JSON.stringify(a)).join(", ")}]`,
    "",
  ].join("\n");
  writeFileSync(path.join(dir, "pkg.toml"), manifest);
  writeFileSync(
    path.join(dir, "build.sh"),
    [
      "#!/bin/sh",
      "# cargo ($1) with rustc ($2) through meta-rustc ($3), crates from a directory source ($4); the host's",
      "# linker from $5 (what toolchains:gcc provides in real packages).",
      "set -eu",
      'export PATH="$PATH:$5"',
      'export CARGO_HOME="$HOME/.cargo" RUSTC="$2" RUSTC_WRAPPER="$3" CARGO_BUILD_JOBS="${PKG_BUILD_CORES:-2}"',
      'mkdir -p "$CARGO_HOME"',
      `printf '[source.crates-io]\\nreplace-with = "debian"\\n[source.debian]\\ndirectory = "%s"\\n[net]\\noffline = true\\n' "$4" > "$CARGO_HOME/config.toml"`,
      '"$1" build --offline',
      'mkdir -p "$out/bin"',
      'cp target/debug/benchapp "$out/bin/benchapp"',
      "",
    ].join("\n"),
  );
  chmodSync(path.join(dir, "build.sh"), 0o755);
  // A package without inputs: its lock names only itself (what `pkg lock` writes; no chain needed).
  const cid = CID.create(1, 0x55, sha256.digest(Buffer.from(manifest)) as Awaited<ReturnType<typeof sha256.digest>>);
  writeFileSync(path.join(dir, "pkg.lock"), `[lock]\nformat = 1\npackage = "${cid.toString()}"\nblock = 1\nchain-id = 31337\nregistry = "0x5FbDB2315678afecb367f032d93F642f64180aa3"\n`);
}

/** One request to a daemon; resolves with its result (or null on an error answer). */
function request(socket: string, body: Record<string, unknown>): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const s = net.connect(socket);
    let buffer = "";
    s.on("error", reject);
    s.on("connect", () => s.write(`${JSON.stringify(body)}\n`));
    s.on("data", (chunk) => {
      buffer += chunk.toString("utf8");
      for (const line of buffer.split("\n").slice(0, -1)) {
        const message = JSON.parse(line) as { ok?: boolean; result?: unknown; event?: string };
        if (message.event !== undefined) continue;
        s.end();
        resolve(message.ok ? message.result : null);
        return;
      }
    });
  });
}

function shutdown(socket: string): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect(socket);
    s.on("error", () => resolve());
    s.on("connect", () => s.write(`${JSON.stringify({ id: 1, op: "shutdown" })}\n`));
    s.on("data", () => {
      s.end();
      resolve();
    });
    setTimeout(resolve, 10_000).unref();
  });
}

async function noopFigures(ws: string, root: string, shim: string, cargoNoop: number): Promise<void> {
  // The command the figure is of (not a module inside dist/, which moves when the source does).
  if (!existsSync(path.join(ROOT, "dist", "cli", "pkg", "build.js"))) {
    throw new Error("noop-build: dist/ is not built (run npm run build)");
  }
  const dir = path.join(root, "pkg-benchapp");
  writePackage(ws, dir, shim);
  const data = path.join(root, "pkgdata");
  const socket = path.join(root, "pkg.sock");
  // The package runs the shim this benchmark compiled, from a host path: the daemon (started on demand with this
  // environment) must show it to builds, as a trusted host path (the sandbox shows no other host path).
  const env = cleanEnv({
    PKG_DATA_DIR: data, PKG_STORE_DIR: path.join(data, "store"), PKG_STORE_SOCKET: socket, XDG_CONFIG_HOME: path.join(root, "config"),
    PKG_SANDBOX_PATHS: path.dirname(shim),
  });
  const pkg = path.join(ROOT, "bin", "pkg.js");
  try {
    const first = await run(process.execPath, [pkg, "build", "-C", dir, "--json"], { cwd: dir, env });
    if (first.code !== 0) {
      const logFile = /full log: (\S+?\.log)/.exec(first.stdout + first.stderr)?.[1];
      const tail = logFile && existsSync(logFile) ? readFileSync(logFile, "utf8").trim().split("\n").slice(-8) : [];
      note(`noop-build: the first pkg build failed: ${(first.stdout + first.stderr).trim().split("\n").slice(0, 4).join(" | ")}`);
      for (const line of tail) note(`  | ${line}`);
      return;
    }
    const built = JSON.parse(first.stdout) as { outputs: { out: string }; subderivations?: string[] };
    const app = await run(path.join(built.outputs.out, "bin", "benchapp"), [], { cwd: dir });
    note(`pkg build (cold, in the sandbox, meta-rustc against the pkg daemon): ${(first.ms / 1000).toFixed(2)} s, subderivations ${built.subderivations?.length ?? "?"}, benchapp ${app.stdout.trim() === BENCH_APP_OUTPUT ? "ok" : "WRONG"}`);
    // As a user runs it: bin/pkg (the native client; node only if the daemon declines). Beside it, `node bin/pkg.js build`
    // (the same answer through node's client) for comparison.
    const entry = path.join(ROOT, "bin", "pkg");
    const best = async (command: string, args: string[]): Promise<number> => {
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        const r = await run(command, args, { cwd: dir, env: { ...env, PKG_TRACE_FASTPATH: "1" } });
        if (r.code !== 0) throw new Error(`pkg build (no-op) failed: ${r.stderr}`);
        if (r.stderr !== "fastpath: no-op\n") throw new Error(`pkg build was not answered as a no-op: ${r.stderr.trim()}`);
        times.push(r.ms);
      }
      return Math.min(...times);
    };
    const native = await best(entry, ["build", "-C", dir]);
    const viaNode = await best(process.execPath, [pkg, "build", "-C", dir]);
    bench("noop-build", seconds(native), "s", "cargo-noop", seconds(cargoNoop), 3);
    note(`through node (node bin/pkg.js build, the client without the native one): ${seconds(viaNode).toFixed(3)} s = ${(viaNode / cargoNoop).toFixed(2)}x cargo`);
  } finally {
    // The daemon answers shutdown before it has stopped (builds settle, the content store closes): wait for its
    // exit before main removes the directory (after a fast no-op it may still be busy: ENOTEMPTY otherwise).
    const pid = daemonPid(path.join(data, "store", "daemon.pid"));
    await shutdown(socket);
    for (let i = 0; pid !== null && i < 200 && processAlive(pid); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function daemonPid(file: string): number | null {
  try {
    const pid = Number(readFileSync(file, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  if (!ensureDebianCrates((l) => note(l))) {
    console.log("bench/build: Debian's crates are not installed; skipped");
    return;
  }
  const root = mkdtempSync(path.join(tmpdir(), "chainpkg-bench-build-"));
  const ws = path.join(root, "ws");
  writeBenchWorkspace(ws);
  // The native shim, compiled as flakes:meta-rustc's build.sh does.
  const shim = buildNativeShim(path.join(root, "bin", "meta-rustc"));
  const plain = cleanEnv({});
  // The daemon loads its invoke handler on the first request; under ts-node that means transpiling it,
  // which the real daemon (compiled dist/) never does: load it before anything is timed.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require("../../src/meta");
  try {
    await run(CARGO, ["generate-lockfile", "--offline"], { cwd: ws, env: plain });

    if (process.env.BENCH_BUILD_ONLY === "noop") {
      // Quick look at the no-op figure alone (development): `BENCH_BUILD_ONLY=noop npx hardhat run bench/build/index.ts`.
      await cargo(ws, plain);
      const noops: number[] = [];
      for (let i = 0; i < 5; i++) noops.push((await cargo(ws, plain)).ms);
      await noopFigures(ws, root, shim, Math.min(...noops));
      return;
    }

    // Cold builds alternate (plain, meta-rustc with an empty store, plain, meta-rustc with another empty
    // store) and the best of each pair counts: the machine is shared, and load that comes and goes
    // would otherwise land on one side only. CPU seconds (the cargo tree's, plus the in-process
    // daemon's for meta-rustc) are printed beside the wall times.
    const cargoColds: Timed[] = [];
    const metaColds: Timed[] = [];
    const daemons: BenchDaemon[] = [];
    const settles: string[] = [];
    let cargoNoop = Infinity;
    try {
      for (let round = 0; round < 2; round++) {
        rmSync(path.join(ws, "target"), { recursive: true, force: true });
        cargoColds.push(await timedCargo(ws, plain));
        await checkApp(ws);
        if (round === 0) for (let i = 0; i < 5; i++) cargoNoop = Math.min(cargoNoop, (await cargo(ws, plain)).ms);
        const daemon = await startBenchDaemon(path.join(root, `meta-${round}`));
        daemons.push(daemon);
        rmSync(path.join(ws, "target"), { recursive: true, force: true });
        const before = process.cpuUsage();
        const cold = await timedCargo(ws, metaEnv(shim, daemon, path.join(root, `cold-${round}.ndjson`)));
        const daemonCpu = process.cpuUsage(before);
        // Outputs are moved into the store once the daemon is idle: that happens here, after the build.
        const settleStarted = Date.now();
        const settled = await request(daemon.socket, { id: 1, op: "invoke", tool: "rustc", buildId: null, phase: "settle" });
        settles.push(`${((Date.now() - settleStarted) / 1000).toFixed(2)} s (${(settled as { settled?: number }).settled ?? "?"} outputs)`);
        metaColds.push({ ...cold, cpuMs: cold.cpuMs + (daemonCpu.user + daemonCpu.system) / 1000 });
        await checkApp(ws);
      }
      const cargoCold = Math.min(...cargoColds.map((t) => t.ms));
      const metaCold = Math.min(...metaColds.map((t) => t.ms));
      const coldLines = readLog(path.join(root, "cold-1.ndjson"));
      const coldLog = counts(coldLines);
      // What a miss adds to rustc's run on cargo's critical path: the lookup before it and the store after it.
      const added = coldLines.filter((l) => l.result === "miss" && l.ms !== undefined && l.toolMs !== undefined).map((l) => l.ms! - l.toolMs!);

      // Warm: the second store holds every compile; rm -rf target and build again (best of two).
      const daemon = daemons[1];
      const warms: number[] = [];
      let warmLog: Record<string, number> = {};
      for (let i = 0; i < 2; i++) {
        rmSync(path.join(ws, "target"), { recursive: true, force: true });
        warms.push((await cargo(ws, metaEnv(shim, daemon, path.join(root, `warm-${i}.ndjson`)))).ms);
        await checkApp(ws);
        warmLog = counts(readLog(path.join(root, `warm-${i}.ndjson`)));
      }
      const warm = Math.min(...warms);
      bench("rebuild-warm", seconds(warm), "s", "cargo-cold", seconds(cargoCold), 2);
      note(`${(cargoCold / warm).toFixed(1)}x faster than a plain cold build (goal >= 5x); warm runs ${warms.map((w) => seconds(w).toFixed(2)).join(", ")} s; invocations ${JSON.stringify(warmLog)}`);
      await sccacheFigures(ws, root, cargoCold);
      bench("rebuild-cold-overhead", (metaCold / cargoCold - 1) * 100, "%", "cargo-cold", seconds(cargoCold), 1);
      note(`goal <= 15 %; wall: plain ${cargoColds.map((t) => seconds(t.ms).toFixed(2)).join(", ")} s, meta-rustc ${metaColds.map((t) => seconds(t.ms).toFixed(2)).join(", ")} s`);
      if (added.length > 0) note(`per miss, lookup + store around rustc: median ${median(added)} ms, max ${Math.max(...added)} ms, total ${added.reduce((a, b) => a + b, 0)} ms over ${added.length}`);
      const warmHits = readLog(path.join(root, "warm-1.ndjson")).filter((l) => l.result === "hit" && l.ms !== undefined).map((l) => l.ms!);
      if (warmHits.length > 0) note(`per hit (shim start to exit): median ${median(warmHits)} ms, max ${Math.max(...warmHits)} ms`);
      note(`after each cold meta-rustc build, settling the stored invocations (derivations, source trees, outputs into the store) took ${settles.join(", ")}`);
      note(`CPU: plain ${cargoColds.map((t) => seconds(t.cpuMs).toFixed(1)).join(", ")} s, meta-rustc (shims, rustc and daemon) ${metaColds.map((t) => seconds(t.cpuMs).toFixed(1)).join(", ")} s; invocations ${JSON.stringify(coldLog)}`);
    } finally {
      for (const d of daemons) await d.close();
    }

    await noopFigures(ws, root, shim, cargoNoop);
    note(`cargo no-op ${seconds(cargoNoop).toFixed(3)} s (goal: pkg build <= 2x)`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
