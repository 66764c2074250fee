/**
 * meta-rustc end to end: the real cargo and rustc of this machine build a real workspace (a binary, two
 * libraries, a build script, a proc-macro) with the native meta-rustc (compiled here from
 * examples/toolchains/meta-rustc/meta-rustc.rs) as RUSTC_WRAPPER, against a real store daemon
 * (runDaemon, over its unix socket) with a real embedded content store.
 */
import { expect } from "chai";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { CID } from "multiformats/cid";
import { openMetaRecords } from "../../../src/store/meta-records";
import { buildNativeShim } from "../../../src/meta/native";
import { openEmbeddedStore, type EmbeddedContentStore } from "../../../src/content/embedded";
import { readDerivation } from "../../../src/derivation";
import { runDaemon, type RunningDaemon } from "../../../src/daemon/daemon";
import { APP_OUTPUT, cargoEnv, run, writeWorkspace, type LogLine, type RunResult } from "./workspace";

const CARGO = existsSync("/root/.cargo/bin/cargo") ? "/root/.cargo/bin/cargo" : "cargo";
const COMPILES = ["app", "build_script_build", "corelib", "macros", "util"];

describe("meta-rustc (real cargo, rustc and store daemon)", function () {
  this.timeout(600_000);

  let dir: string;
  let content: EmbeddedContentStore;
  let daemon: RunningDaemon;
  let shim: string;
  let ws: string;
  const firstBuild = new Map<string, string>();

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "chainpkg-meta-"));
    content = await openEmbeddedStore({ directory: path.join(dir, "content") });
    daemon = await runDaemon({ root: path.join(dir, "store"), socket: path.join(dir, "store.sock"), content, log: () => {} });
    shim = buildNativeShim(path.join(dir, "bin", "meta-rustc"));
    ws = path.join(dir, "ws");
    writeWorkspace(ws);
  });

  after(async () => {
    await daemon?.close();
    await content?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  let logCount = 0;
  async function build(cwd: string, extra: Record<string, string | undefined> = {}): Promise<RunResult & { log: LogLine[] }> {
    const log = path.join(dir, `log-${++logCount}.ndjson`);
    const result = await run(CARGO, ["build", "--offline"], {
      cwd,
      env: cargoEnv({ RUSTC_WRAPPER: shim, PKG_STORE_SOCKET: daemon.socket, PKG_META_LOG: log, PKG_BUILD_ID: `test-${logCount}`, CARGO_BUILD_JOBS: "2", ...extra }),
    });
    const lines = existsSync(log) ? readFileSync(log, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as LogLine) : [];
    return { ...result, log: lines };
  }

  function labels(log: LogLine[], result: LogLine["result"]): string[] {
    return log.filter((l) => l.result === result).map((l) => l.label ?? "?").sort();
  }

  function depsHashes(root: string): Map<string, string> {
    const deps = path.join(root, "target", "debug", "deps");
    return new Map(
      readdirSync(deps)
        .filter((f) => !f.endsWith(".d"))
        .map((f) => [f, createHash("sha256").update(readFileSync(path.join(deps, f))).digest("hex")]),
    );
  }

  async function app(root: string): Promise<string> {
    const r = await run(path.join(root, "target", "debug", "app"), [], { cwd: root, env: process.env });
    expect(r.code).to.equal(0);
    return r.stdout.trim();
  }

  it("first build: every compile (lib, bin, build script, proc-macro) misses and is stored; the binary runs", async () => {
    const r = await build(ws);
    expect(r.code, r.stderr).to.equal(0);
    expect(labels(r.log, "miss")).to.deep.equal(COMPILES);
    expect(labels(r.log, "hit")).to.deep.equal([]);
    expect(labels(r.log, "fallback")).to.deep.equal([]);
    // only cargo's probes pass through, each with its reason
    for (const l of r.log.filter((x) => x.result === "pass")) expect(l.reason).to.match(/probe|stdin/);
    expect(r.stderr).not.to.match(/meta-rustc: warning|jobserver/);
    expect(await app(ws)).to.equal(APP_OUTPUT);
    for (const [k, v] of depsHashes(ws)) firstBuild.set(k, v);
  });

  it("rm -rf target: every compile is served from the store; same bytes, same program output", async () => {
    rmSync(path.join(ws, "target"), { recursive: true, force: true });
    const r = await build(ws);
    expect(r.code, r.stderr).to.equal(0);
    expect(labels(r.log, "hit")).to.deep.equal(COMPILES);
    expect(labels(r.log, "miss")).to.deep.equal([]);
    expect(await app(ws)).to.equal(APP_OUTPUT);
    expect(depsHashes(ws)).to.deep.equal(firstBuild);
    // dep-info is written back with this build's absolute paths, and cargo considers the build fresh
    const depInfo = readdirSync(path.join(ws, "target/debug/deps")).find((f) => f.startsWith("app-") && f.endsWith(".d"))!;
    expect(readFileSync(path.join(ws, "target/debug/deps", depInfo), "utf8")).to.include(`${ws}/target/debug/deps/`).and.not.include("@@PKG_");
    const again = await build(ws);
    expect(again.code).to.equal(0);
    expect(again.log.filter((l) => l.result !== "pass")).to.deep.equal([]);
  });

  it("when the shim copies a hit's outputs itself (PKG_META_SHIM_RESTORE=1, a daemon of another user) the result is the same", async () => {
    rmSync(path.join(ws, "target"), { recursive: true, force: true });
    const r = await build(ws, { PKG_META_SHIM_RESTORE: "1" });
    expect(r.code, r.stderr).to.equal(0);
    expect(labels(r.log, "hit")).to.deep.equal(COMPILES);
    expect(await app(ws)).to.equal(APP_OUTPUT);
    expect(depsHashes(ws)).to.deep.equal(firstBuild);
  });

  it("a copy of the workspace in another directory hits too (paths are normalised)", async () => {
    const other = path.join(dir, "elsewhere", "ws2");
    cpSync(ws, other, { recursive: true, filter: (src) => !src.includes(`${path.sep}target`) });
    const r = await build(other);
    expect(r.code, r.stderr).to.equal(0);
    expect(labels(r.log, "hit")).to.deep.equal(COMPILES);
    expect(await app(other)).to.equal(APP_OUTPUT);
  });

  it("each compile is a derivation: normalised args, CARGO_* env, extern crates as input derivations", async () => {
    const r = await build(ws);
    expect(r.code).to.equal(0);
    rmSync(path.join(ws, "target"), { recursive: true, force: true });
    const hits = (await build(ws)).log.filter((l) => l.result === "hit");
    const appDrv = hits.find((l) => l.label === "app")!.drv!;
    const d = await readDerivation(content, CID.parse(appDrv));
    expect(d.name).to.match(/^rustc-app-[0-9a-f]{16}$/);
    expect(d.builder).to.deep.equal({ kind: "input", input: "rustc", path: "bin/rustc" });
    expect(Object.keys(d.inputDrvs).sort()).to.deep.equal(["extern-corelib", "extern-macros", "extern-util", "rustc"]);
    const utilDrv = hits.find((l) => l.label === "util")!.drv!;
    expect(d.inputDrvs["extern-util"].drv.toString()).to.equal(utilDrv);
    expect(d.args).to.include("--crate-name").and.include("app");
    expect(d.args.join(" ")).to.include("@@PKG_TARGET@@/deps").and.not.include(ws);
    expect(d.args.some((a) => a.startsWith("incremental="))).to.equal(false);
    expect(d.env.CARGO_PKG_NAME).to.equal("app");
    expect(d.env.CARGO_MANIFEST_DIR).to.equal("@@PKG_CWD@@/app");
    expect(d.src).to.not.equal(null);
    expect(await content.has(d.src!)).to.equal(true);
    // the build script's compile and the library that includes its generated code
    // the output is in the Store under that derivation once the daemon settles (moved in when idle)
    const settled = await request(daemon.socket, { id: 1, op: "invoke", tool: "rustc", buildId: null, phase: "settle" });
    expect(settled.ok).to.equal(true);
    const out = daemon.store.queryOutput(appDrv, "out");
    expect(out).to.not.equal(null);
    expect(out!.path).to.match(/\/paths\/[a-z2-7]{32}-rustc-app-[0-9a-f]{16}$/);
    const stored = readdirSync(path.join(out!.path, "files"));
    expect(stored.some((f) => /^app-[0-9a-f]{16}$/.test(f))).to.equal(true);
    expect(stored.some((f) => f.endsWith(".d"))).to.equal(true);
    expect(readFileSync(path.join(out!.path, "files", stored.find((f) => f.endsWith(".d"))!), "utf8")).to.include("@@PKG_TARGET@@/deps/").and.not.include(ws);
    const corelib = await readDerivation(content, CID.parse(hits.find((l) => l.label === "corelib")!.drv!));
    expect(corelib.env.OUT_DIR).to.match(/^@@PKG_TARGET@@\/build\/corelib-[0-9a-f]+\/out$/);
  });

  it("changing one source file re-runs only the crates it affects", async () => {
    const lib = path.join(ws, "crates/util/src/lib.rs");
    const before = readFileSync(lib, "utf8");
    writeFileSync(lib, before.replace("to_uppercase()", "to_uppercase() + \"!\""));
    try {
      const r = await build(ws);
      expect(r.code, r.stderr).to.equal(0);
      expect(labels(r.log, "miss")).to.deep.equal(["app", "util"]);
      expect(labels(r.log, "hit")).to.deep.equal([]);
      expect(await app(ws)).to.equal(APP_OUTPUT.replace("WORLD", "WORLD!"));
      // and both versions are now in the store
      rmSync(path.join(ws, "target"), { recursive: true, force: true });
      const warm = await build(ws);
      expect(labels(warm.log, "hit")).to.deep.equal(COMPILES);
      expect(await app(ws)).to.equal(APP_OUTPUT.replace("WORLD", "WORLD!"));
    } finally {
      writeFileSync(lib, before);
    }
    const back = await build(ws);
    expect(labels(back.log, "hit")).to.deep.equal(["app", "util"]);
    expect(await app(ws)).to.equal(APP_OUTPUT);
  });

  it("an env!() read recorded in dep-info is part of the match", async () => {
    const lib = path.join(ws, "crates/corelib/src/lib.rs");
    const before = readFileSync(lib, "utf8");
    writeFileSync(lib, `${before}pub const EXTRA: Option<&str> = option_env!("META_TEST_FLAVOUR");\n`);
    try {
      const first = await build(ws, { META_TEST_FLAVOUR: "a" });
      expect(labels(first.log, "miss")).to.include("corelib");
      rmSync(path.join(ws, "target"), { recursive: true, force: true });
      const same = await build(ws, { META_TEST_FLAVOUR: "a" });
      expect(labels(same.log, "hit")).to.include("corelib");
      rmSync(path.join(ws, "target"), { recursive: true, force: true });
      const other = await build(ws, { META_TEST_FLAVOUR: "b" });
      expect(labels(other.log, "miss")).to.include("corelib");
    } finally {
      writeFileSync(lib, before);
    }
  });

  it("a compile error fails the build as rustc does and stores nothing", async () => {
    const lib = path.join(ws, "crates/util/src/lib.rs");
    const before = readFileSync(lib, "utf8");
    writeFileSync(lib, `${before}\npub fn broken() -> u32 { "no" }\n`);
    try {
      const r = await build(ws);
      expect(r.code).to.not.equal(0);
      expect(r.stderr).to.include("mismatched types");
      expect(labels(r.log, "failed")).to.deep.equal(["util"]);
      expect(labels(r.log, "miss")).to.deep.equal([]);
    } finally {
      writeFileSync(lib, before);
    }
  });

  it("the daemon counts each build's hits and misses (stats), and its index records the invocations", async () => {
    rmSync(path.join(ws, "target"), { recursive: true, force: true });
    const r = await build(ws);
    expect(labels(r.log, "hit")).to.deep.equal(COMPILES);
    const stats = await request(daemon.socket, { id: 1, op: "invoke", tool: "rustc", buildId: null, phase: "stats" });
    expect(stats.ok).to.equal(true);
    const builds = (stats.result as { builds: Record<string, { hit: number }> }).builds;
    expect(builds[`test-${logCount}`].hit).to.equal(COMPILES.length);
    expect(openMetaRecords(daemon.store.db).countInvocations(`test-${logCount}`, "hit")).to.equal(COMPILES.length);
  });

  it("a daemon stopped right after a build settles what it stored first: a new daemon serves every compile", async () => {
    const fresh = path.join(dir, "settle-on-stop");
    cpSync(ws, fresh, { recursive: true, filter: (src) => !src.includes(`${path.sep}target`) });
    // new contents: app and util miss (and are stored, settled only later)
    const lib = path.join(fresh, "crates/util/src/lib.rs");
    writeFileSync(lib, `${readFileSync(lib, "utf8")}\npub fn settled() -> u32 { 7 }\n`);
    const first = await build(fresh);
    const misses = labels(first.log, "miss");
    expect(misses).to.include.members(["app", "util"]); // (alone, with an empty store, everything misses)
    const { meta } = daemon;
    expect(meta.pendingStores(), "stored but not settled yet").to.equal(misses.length);
    await daemon.close();
    expect(meta.pendingStores()).to.equal(0);
    daemon = await runDaemon({ root: path.join(dir, "store"), socket: path.join(dir, "store.sock"), content, log: () => {} });
    rmSync(path.join(fresh, "target"), { recursive: true, force: true });
    const again = await build(fresh);
    expect(again.code, again.stderr).to.equal(0);
    expect(labels(again.log, "hit")).to.deep.equal(COMPILES);
  });

  it("daemon unreachable: one warning line per compile and the build still succeeds", async () => {
    const fresh = path.join(dir, "nodaemon");
    cpSync(ws, fresh, { recursive: true, filter: (src) => !src.includes(`${path.sep}target`) });
    const r = await build(fresh, { PKG_STORE_SOCKET: path.join(dir, "no-such.sock") });
    expect(r.code, r.stderr).to.equal(0);
    expect(labels(r.log, "fallback")).to.deep.equal(COMPILES);
    const warnings = r.stderr.split("\n").filter((l) => l.includes("meta-rustc: warning:"));
    expect(warnings.length).to.equal(COMPILES.length);
    expect(await app(fresh)).to.equal(APP_OUTPUT);
  });

  it("a daemon that answers nonsense: one warning line per compile, rustc runs unchanged, the build succeeds", async () => {
    // A real unix-socket server standing in for a daemon of another protocol version.
    for (const mode of ["not json", "unknown action", "closes", "bad store answer"] as const) {
      const socketPath = path.join(dir, `bad-${mode.replace(/ /g, "-")}.sock`);
      const server = net.createServer((socket) => {
        let buffer = "";
        socket.on("data", (chunk) => {
          buffer += chunk.toString("utf8");
          let nl: number;
          while ((nl = buffer.indexOf("\n")) >= 0) {
            const req = JSON.parse(buffer.slice(0, nl)) as { id: number; phase: string; argv: string[] };
            buffer = buffer.slice(nl + 1);
            if (mode === "not json") socket.write("this is not json\n");
            else if (mode === "unknown action") socket.write(`${JSON.stringify({ id: req.id, ok: true, result: { action: "teleport" } })}\n`);
            else if (mode === "closes") socket.destroy();
            else if (req.phase === "lookup") socket.write(`${JSON.stringify({ id: req.id, event: "log", text: "x" })}\n${JSON.stringify({ id: req.id, ok: true, result: { action: "miss", label: "x", key: "k", reason: "fake", args: req.argv.slice(1) } })}\n`);
            else socket.write("{\"id\": 2, \"ok\": tru\n");
          }
        });
        socket.on("error", () => undefined);
      });
      await new Promise<void>((resolve) => server.listen(socketPath, resolve));
      try {
        const fresh = path.join(dir, `bad-${mode.replace(/ /g, "-")}`);
        cpSync(ws, fresh, { recursive: true, filter: (src) => !src.includes(`${path.sep}target`) });
        const r = await build(fresh, { PKG_STORE_SOCKET: socketPath });
        expect(r.code, `${mode}: ${r.stderr}`).to.equal(0);
        const warnings = r.stderr.split("\n").filter((l) => l.includes("meta-rustc: warning:"));
        expect(warnings.length, `${mode}: ${warnings.join("\n")}`).to.equal(COMPILES.length);
        if (mode === "bad store answer") {
          for (const w of warnings) expect(w).to.match(/^meta-rustc: warning: outputs of x not stored: /);
          expect(labels(r.log, "miss").length).to.equal(COMPILES.length);
        } else {
          for (const w of warnings) expect(w).to.match(/^meta-rustc: warning: .*\(running rustc directly\)$/);
          expect(labels(r.log, "fallback")).to.deep.equal(COMPILES);
        }
        expect(r.stderr).not.to.match(/jobserver/);
        expect(await app(fresh)).to.equal(APP_OUTPUT);
      } finally {
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    }
  });

  it("cargo's jobserver reaches rustc through the shim (inherited descriptors): no jobserver warning with -j2, hit or miss", async () => {
    const fresh = path.join(dir, "with-j2");
    cpSync(ws, fresh, { recursive: true, filter: (src) => !src.includes(`${path.sep}target`) });
    // a new crate root: misses (rustc runs under the shim) for app, hits for the rest
    writeFileSync(path.join(fresh, "app/src/main.rs"), `${readFileSync(path.join(fresh, "app/src/main.rs"), "utf8")}// -j2\n`);
    const r = await build(fresh, { CARGO_BUILD_JOBS: "2" });
    expect(r.code, r.stderr).to.equal(0);
    expect(labels(r.log, "miss")).to.deep.equal(["app"]);
    expect(r.stderr).not.to.match(/jobserver|meta-rustc: warning/);
  });
});

function request(socketPath: string, body: Record<string, unknown>): Promise<{ ok: boolean; result?: unknown }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    let buffer = "";
    socket.on("data", (c) => {
      buffer += c.toString("utf8");
      const nl = buffer.indexOf("\n");
      if (nl >= 0) {
        const msg = JSON.parse(buffer.slice(0, nl)) as { ok: boolean; result?: unknown };
        socket.end();
        resolve(msg);
      }
    });
    socket.on("error", reject);
    socket.on("connect", () => socket.write(`${JSON.stringify(body)}\n`));
  });
}
