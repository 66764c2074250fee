/**
 * Crash safety and one-daemon-per-store, with real processes: `node bin/pkg.js store daemon` (the built
 * dist/), kill -9 of the daemon (its whole process group: builders included) or of a builder process at
 * random points of a build, 50 times in all, of the daemon during gc 5 more times, and 6 times during a
 * cargo build through meta-rustc or while the daemon settles what it stored. After each, a (re)started daemon recovers the store:
 * `verify` is clean (nothing unregistered under paths/, every path complete, read-only, with its CID)
 * and realising the derivation again gives a complete output.
 *
 * The kill points are drawn from a seeded generator whose seed each test prints; STORE_CRASH_SEED=<n>
 * replays one (the timing of the machine still varies) or explores another.
 */
import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { buildNativeShim } from "../../../src/meta/native";
import { connectStore, type StoreClient } from "../../../src/daemon/client";
import { APP_OUTPUT, WORKSPACE_FILES, cargoEnv, run, writeWorkspace, type RunResult } from "../meta/workspace";
import { makeSandbox, sandboxEnv, scriptDerivation, type Sandbox } from "./helpers";
import { requireBuilt } from "../../helpers/dist";
import { announcedRandom, seedFromEnv } from "../../helpers/random";
import { letTimePass, waitFor } from "../../helpers/wait";

const ROOT = path.resolve(__dirname, "../../..");
const PKG = path.join(ROOT, "bin", "pkg.js");
const SEED = seedFromEnv("STORE_CRASH_SEED", 0x5eed_c4a5);

interface Daemon {
  child: ChildProcess;
  exited: Promise<number | null>;
}

function startDaemon(s: Sandbox): Daemon {
  // Its own process group, so that kill -9 of the group takes its builders with it (no orphans writing on).
  const child = spawn(process.execPath, [PKG, "store", "daemon"], { env: sandboxEnv(s), detached: true, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  (child as ChildProcess & { stderrText: () => string }).stderrText = () => stderr;
  return { child, exited };
}

async function connect(s: Sandbox, timeoutMs = 20_000): Promise<StoreClient> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await connectStore({ root: s.storeDir, socket: s.socket, start: false });
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 25)); // retried until the deadline
    }
  }
}

function killGroup(d: Daemon): Promise<number | null> {
  try {
    process.kill(-d.child.pid!, "SIGKILL");
  } catch {
    // already gone
  }
  return d.exited;
}

/** A process's command line, arguments joined by spaces ("" once it is gone). */
function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
  } catch {
    return "";
  }
}

/** Pids of the descendants of `pid` (from /proc), deepest last. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // exited meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/** A build with several phases worth interrupting: files appear one by one, a bigger file, then the store's own work. */
function crashScript(i: number): string {
  return [
    "mkdir -p $out/sub",
    `echo ${i} > $out/id`,
    "for n in 1 2 3 4 5 6; do echo $n > $out/sub/f$n; sleep 0.03; done", // time passes between files: kills land between them
    `head -c ${200_000 + (i % 5) * 300_000} /dev/zero | tr '\\0' 'a' > $out/big`,
    "echo done > $out/complete",
  ].join("\n");
}

async function expectComplete(out: string, i: number): Promise<void> {
  expect(await readFile(path.join(out, "id"), "utf8")).to.equal(`${i}\n`);
  expect(await readFile(path.join(out, "complete"), "utf8")).to.equal("done\n");
  expect(readdirSync(path.join(out, "sub"))).to.have.length(6);
}

async function expectClean(client: StoreClient): Promise<void> {
  const verify = await client.request<{ ok: boolean; problems: unknown[] }>("verify");
  expect(verify.problems).to.deep.equal([]);
  expect(verify.ok).to.equal(true);
}

/** A daemon (re)started on the sandbox's store, a client of it, and the store checked clean (its recovery done). */
async function startClean(s: Sandbox): Promise<{ started: Daemon; client: StoreClient }> {
  const started = startDaemon(s);
  const client = await connect(s);
  await expectClean(client);
  return { started, client };
}

describe("store crash safety (real daemon processes, kill -9)", function () {
  this.timeout(1_800_000); // 60 daemon starts: minutes on a loaded 2-core machine
  let s: Sandbox;
  let daemon: Daemon | null = null;

  before(function () {
    this.timeout(600_000); // builds dist/ when it is missing
    requireBuilt("dist/cli/pkg/store/daemon.js");
  });
  beforeEach(async () => {
    s = await makeSandbox();
  });
  afterEach(async () => {
    if (daemon) await killGroup(daemon);
    daemon = null;
    await s.cleanup();
  });

  it("kill -9 of the daemon at 30 random points: the restarted daemon recovers, verify is clean, the build completes", async () => {
    const random = announcedRandom("STORE_CRASH_SEED", SEED);
    let interrupted = 0;
    for (let i = 0; i < 30; i++) {
      const drv = (await scriptDerivation(s.content, { name: `crash-${i}`, script: crashScript(i) })).toString();
      daemon = startDaemon(s);
      const client = await connect(s);
      if (i > 0) await expectClean(client); // recovery of the previous kill
      const pending = client.request("realise", { drv }).then(() => "done", () => "failed");
      await letTimePass(Math.floor(random() * 700)); // the kill point: some time into the build
      const outcome = await Promise.race([pending, letTimePass(0).then(() => "running")]);
      if (outcome === "running") interrupted++;
      await killGroup(daemon);
      await pending;
      client.close();
      const { started, client: after } = await startClean(s);
      daemon = started;
      const r = await after.request<{ outputs: { out: string } }>("realise", { drv });
      await expectComplete(r.outputs.out, i);
      await expectClean(after);
      after.close();
      await killGroup(daemon);
      daemon = null;
    }
    expect(interrupted).to.be.greaterThan(5); // most kills landed in the middle of a build
  });

  it("kill -9 of the builder at 20 random points: the build fails or completes, never half; verify stays clean", async () => {
    const random = announcedRandom("STORE_CRASH_SEED", SEED);
    daemon = startDaemon(s);
    const client = await connect(s);
    let killedBuilds = 0;
    for (let i = 0; i < 20; i++) {
      const drv = (await scriptDerivation(s.content, { name: `victim-${i}`, script: crashScript(i) })).toString();
      const pending = client.request("realise", { drv }).then(() => null, (error: { code: string }) => error.code);
      await letTimePass(50 + Math.floor(random() * 300)); // the kill point: some time into the build
      const victims = descendants(daemon.child.pid!);
      if (victims.length > 0) {
        const victim = victims[Math.floor(random() * victims.length)];
        try {
          process.kill(victim, "SIGKILL");
        } catch {
          // finished meanwhile
        }
      }
      const code = await pending;
      if (code !== null) {
        killedBuilds++;
        expect(code).to.match(/^ERR_BUILD_/);
      }
      await expectClean(client);
      const r = await client.request<{ outputs: { out: string } }>("realise", { drv });
      await expectComplete(r.outputs.out, i);
    }
    await expectClean(client);
    client.close();
    expect(killedBuilds).to.be.greaterThan(3);
  });

  it("kill -9 of the daemon during gc, 5 times: nothing is left half-deleted, verify is clean", async () => {
    const random = announcedRandom("STORE_CRASH_SEED", SEED);
    for (let round = 0; round < 5; round++) {
      const { started: fresh, client } = await startClean(s);
      daemon = fresh;
      const drvs = await Promise.all(Array.from({ length: 12 }, (_, j) =>
        scriptDerivation(s.content, { name: `garbage-${round}-${j}`, script: "mkdir -p $out/d; for n in $(seq 1 60); do echo $n > $out/d/f$n; done" })));
      await Promise.all(drvs.map((d) => client.request("realise", { drv: d.toString() })));
      const pending = client.request("gc").then(() => "done", () => "failed");
      await letTimePass(Math.floor(random() * 40)); // the kill point: some time into gc
      await killGroup(daemon);
      await pending;
      client.close();
      const { started, client: after } = await startClean(s);
      daemon = started;
      expect(readdirSync(path.join(s.storeDir, "trash"))).to.deep.equal([]);
      after.close();
      await killGroup(daemon);
      daemon = null;
    }
  });

  it("kill -9 of the daemon during a cargo build through meta-rustc or while it settles, 6 times: the build succeeds anyway, verify is clean, the next build is right", async function () {
    // The store work a cold build defers (settling: derivations, source trees, moving outputs in) must be as crash-safe as builds.
    const random = announcedRandom("STORE_CRASH_SEED", SEED);
    const shim = buildNativeShim(path.join(s.dir, "bin", "meta-rustc"));
    const cargo = existsSync("/root/.cargo/bin/cargo") ? "/root/.cargo/bin/cargo" : "cargo";
    const env = cargoEnv({ ...sandboxEnv(s), RUSTC_WRAPPER: shim, CARGO_BUILD_JOBS: "2" });
    let duringBuild = 0;
    for (let round = 0; round < 6; round++) {
      const ws = path.join(s.dir, `ws-${round}`);
      writeWorkspace(ws);
      // new contents each round: every compile misses and is stored
      writeFileSync(path.join(ws, "crates/corelib/src/lib.rs"), `${WORKSPACE_FILES["crates/corelib/src/lib.rs"]}pub const ROUND: u32 = ${round};\n`);
      const { started: fresh, client } = await startClean(s);
      daemon = fresh;
      client.close();
      const building = run(cargo, ["build", "--offline"], { cwd: ws, env });
      const startedAt = Date.now();
      let built: RunResult | null = null;
      void building.then((r) => (built = r));
      if (round < 3) {
        // while cargo runs: once a shim is running (a lookup, a rustc run, a store), a little later
        const shimRunning = () => descendants(process.pid).some((pid) => cmdline(pid).startsWith(shim));
        await waitFor(() => built !== null || shimRunning(), { what: `cargo to run ${shim} (round ${round})`, timeoutMs: 60_000, intervalMs: 5 });
        await letTimePass(Math.floor(random() * 300)); // the kill point: some time into the shim's work
        if (built === null) duringBuild++;
      } else {
        // after it: the daemon settles once idle for 300 ms
        await building;
        await letTimePass(200 + Math.floor(random() * 600)); // the kill point: before, while or after it settles
      }
      await killGroup(daemon);
      const first = await building;
      expect(first.code, `round ${round}, killed after ${Date.now() - startedAt} ms: ${first.stderr.slice(-2000)}`).to.equal(0);
      const { started, client: after } = await startClean(s);
      daemon = started;
      rmSync(path.join(ws, "target"), { recursive: true, force: true });
      const again = await run(cargo, ["build", "--offline"], { cwd: ws, env });
      expect(again.code, again.stderr.slice(-2000)).to.equal(0);
      expect((await run(path.join(ws, "target", "debug", "app"), [], { cwd: ws, env })).stdout.trim()).to.equal(APP_OUTPUT);
      // what the second build stored settles (the stats phase waits for it), and the store is still clean
      await after.request("invoke", { tool: "rustc", buildId: null, phase: "stats" });
      await expectClean(after);
      after.close();
      await killGroup(daemon);
      daemon = null;
    }
    expect(duringBuild, "kills that landed while cargo ran").to.be.greaterThan(0);
  });

  it("a daemon that cannot start is reported at once, with its error, not after the start timeout", async () => {
    const saved = { ...process.env };
    Object.assign(process.env, sandboxEnv(s));
    try {
      const started = Date.now();
      const notADirectory = path.join(s.dir, "plain-file");
      writeFileSync(notADirectory, "");
      const error = await connectStore({ root: s.storeDir, socket: path.join(notADirectory, "store.sock") }).then(() => null, (e: { code: string; message: string }) => e);
      expect(error?.code).to.equal("ERR_STORE_DAEMON_UNREACHABLE");
      expect(error?.message).to.match(/exited with status \d+ before answering: error: /);
      expect(Date.now() - started).to.be.lessThan(15_000);
    } finally {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    }
  });

  it("one daemon per store: a second one exits with ERR_STORE_LOCKED; clients start one on demand, once", async () => {
    const env = sandboxEnv(s);
    // Two clients at once, no daemon: both start one, one wins the lock, both connect to it.
    const saved = { ...process.env };
    Object.assign(process.env, env);
    let clients: StoreClient[];
    try {
      clients = await Promise.all([0, 1].map(() => connectStore({ root: s.storeDir, socket: s.socket })));
    } finally {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    }
    const statuses = await Promise.all(clients.map((c) => c.request<{ pid: number; socket: string }>("status")));
    expect(statuses[0].pid).to.equal(statuses[1].pid);
    expect(statuses[0].socket).to.equal(s.socket);
    expect(existsSync(path.join(s.storeDir, "daemon.log"))).to.equal(true);
    const second = startDaemon(s);
    expect(await second.exited).to.equal(10);
    expect((second.child as ChildProcess & { stderrText: () => string }).stderrText()).to.include("another store daemon");
    // the first still answers; then it shuts down on request and removes its socket
    await clients[0].request("shutdown");
    for (const c of clients) c.close();
    await waitFor(() => !existsSync(s.socket), { what: "the daemon to remove its socket after shutdown", timeoutMs: 10_000, intervalMs: 20 });
  });
});
