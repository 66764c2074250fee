/**
 * `pkg build` in a package directory, run as the built binary (bin/pkg.js over dist/): no chain at all
 * (no node, no registry), a real content store and a daemon started on demand. The lock is written by
 * hand for a package with no inputs, as `pkg lock` would write it.
 */
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { readFileSync, readdirSync, readlinkSync, statSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { CID } from "multiformats/cid";
import { parseBuildfile } from "../../../src/buildfile";
import { parseNoopArgs } from "../../../src/noop/answer";
import { makeSandbox, pkg, writeScriptPackage, type Sandbox } from "./helpers";
import { requireBuilt } from "../../helpers/dist";

/** The test package: `build.sh` runs `script`; `greeting.txt` is a source too (globs may be given as `src`). */
async function writePackage(s: Sandbox, dir: string, script: string, src = '["build.sh", "greeting.txt"]'): Promise<void> {
  await writeScriptPackage(s, dir, { script, src: JSON.parse(src) as string[], files: { "greeting.txt": "hello\n" } });
}

describe("pkg build (built binary, package directory, no chain)", function () {
  this.timeout(300_000);
  let s: Sandbox;
  before(function () {
    this.timeout(600_000); // builds dist/ when it is missing
    requireBuilt("dist/cli/pkg/build.js");
  });
  beforeEach(async () => {
    s = await makeSandbox();
  });
  afterEach(async () => {
    pkg(s, ["store", "status", "--shutdown"], s.dir);
    await s.cleanup();
  });

  it("builds, prints the store path, writes pkg.build.toml; again it is a no-op; --rebuild checks; gc and verify", async () => {
    const dir = path.join(s.dir, "hello");
    await writePackage(s, dir, "mkdir -p $out/share; cp greeting.txt $out/share/greeting");
    const first = pkg(s, ["build", "-C", dir], dir);
    expect(first.code, first.stderr).to.equal(0);
    expect(first.stderr).to.match(/^building hello-1\.0\.0 \(bafyrei[a-z2-7]+\)\n$/);
    const out = first.stdout.trim();
    expect(out).to.match(/\/store\/paths\/[a-z2-7]{32}-hello-1\.0\.0$/);
    expect(readFileSync(path.join(out, "share/greeting"), "utf8")).to.equal("hello\n");
    const text = await readFile(path.join(dir, "pkg.build.toml"), "utf8");
    const record = parseBuildfile(text).builds[0];
    expect(record).to.include({ name: "default", system: record.system });
    expect(record.metadrv).to.match(/^bafyrei/);
    expect(record.output).to.match(/^bafy/);
    expect(pkg(s, ["build", "-C", dir], dir).stderr).to.equal(""); // nothing to build, nothing said
    const second = pkg(s, ["build", "-C", dir, "--json"], dir);
    expect(second.code).to.equal(0);
    expect(JSON.parse(second.stdout)).to.include({ built: false, buildFileChanged: false, output: record.output });
    const rebuild = pkg(s, ["build", "-C", dir, "--rebuild", "--json"], dir);
    expect(rebuild.code).to.equal(0);
    expect(JSON.parse(rebuild.stdout)).to.include({ matched: true });
    const named = pkg(s, ["build", "-C", dir, "--name", "other"], dir);
    expect(named.code).to.equal(0);
    expect(parseBuildfile(await readFile(path.join(dir, "pkg.build.toml"), "utf8")).builds.map((b) => b.name)).to.deep.equal(["default", "other"]);
    // the package's derivation is pinned by instantiate, so gc keeps its output
    const gc = pkg(s, ["store", "gc", "--json"], dir);
    expect(gc.code).to.equal(0);
    expect(JSON.parse(gc.stdout).removed).to.not.include(out);
    const verify = pkg(s, ["store", "verify"], dir);
    expect(verify.code).to.equal(0);
  });

  it("the no-op path skips instantiation, yet notices an edited source, a new file a glob matches, an edited pkg.lock", async () => {
    const dir = path.join(s.dir, "globbed");
    await writePackage(s, dir, "mkdir $out; cat *.txt > $out/all", '["build.sh", "*.txt"]');
    const json = (args: string[]) => {
      const r = pkg(s, ["build", "-C", dir, "--json", ...args], dir);
      expect(r.code, r.stderr + r.stdout).to.equal(0);
      return JSON.parse(r.stdout) as { outputs: { out: string }; cached: boolean; built: boolean; drv: string };
    };
    const first = json([]);
    expect(first.cached).to.equal(false);
    const noop = json([]);
    expect(noop).to.include({ cached: true, built: false, drv: first.drv });
    await writeFile(path.join(dir, "greeting.txt"), "hello again\n");
    const edited = json([]);
    expect(edited.cached).to.equal(false);
    expect(readFileSync(path.join(edited.outputs.out, "all"), "utf8")).to.equal("hello again\n");
    expect(json([]).cached).to.equal(true);
    await writeFile(path.join(dir, "more.txt"), "more\n");
    const added = json([]);
    expect(added.cached).to.equal(false);
    expect(readFileSync(path.join(added.outputs.out, "all"), "utf8")).to.equal("hello again\nmore\n");
    const lock = await readFile(path.join(dir, "pkg.lock"), "utf8");
    await writeFile(path.join(dir, "pkg.lock"), lock.replace("block = 1", "block = 2"));
    expect(json([]).cached).to.equal(false);
  });

  it("a build that differs on rebuild fails (exit 9, ERR_BUILD_NOT_REPRODUCIBLE); a failing build says why in one line", async () => {
    const dir = path.join(s.dir, "random");
    await writePackage(s, dir, "mkdir $out; od -An -N8 -tx8 /dev/urandom > $out/x");
    expect(pkg(s, ["build", "-C", dir], dir).code).to.equal(0);
    const rebuild = pkg(s, ["build", "-C", dir, "--rebuild"], dir);
    expect(rebuild.code).to.equal(9);
    expect(rebuild.stderr).to.match(/^building hello-1\.0\.0 \(bafyrei[a-z2-7]+\)\nerror: hello-1\.0\.0 is not reproducible: .*\n {2}hint: /);
    const broken = path.join(s.dir, "broken");
    await writePackage(s, broken, "echo compiling; echo 'fatal: no such thing' >&2; exit 1");
    const failed = pkg(s, ["build", "-C", broken, "--json"], broken);
    expect(failed.code).to.equal(9);
    const error = JSON.parse(failed.stdout).error;
    expect(error.code).to.equal("ERR_BUILD_FAILED");
    expect(error.message).to.include("fatal: no such thing");
    expect(error.hint).to.match(/full log/);
  });
});

// Both clients of the daemon's `noop-build`: node bin/pkg.js (src/noop/client.ts, before oclif loads) and
// bin/pkg, the installed entry, whose native client (native/pkg-noop.c) starts no node at all.
for (const entry of ["node", "sh"] as const) describe(`pkg build's fast path (a no-op answered by the daemon; ${entry === "node" ? "node bin/pkg.js" : "bin/pkg, native client"})`, function () {
  this.timeout(300_000);
  let s: Sandbox;
  let dir: string;
  let probe: string;
  before(function () {
    this.timeout(600_000); // builds dist/ when it is missing
    // The native client is built by npm run build wherever there is a C compiler (CI has one): missing, it is a failure.
    requireBuilt("dist/src/noop/client.js", ...(entry === "sh" ? ["dist/native/pkg-noop"] : []));
  });
  beforeEach(async () => {
    s = await makeSandbox();
    dir = path.join(s.dir, "globbed");
    await writePackage(s, dir, "mkdir $out; cat *.txt > $out/all", '["build.sh", "*.txt"]');
    // Says on exit whether @oclif/core was loaded: the fast path must not load it (no timing involved).
    probe = path.join(s.dir, "probe.js");
    // And whether node started at all (the native client answers without it).
    await writeFile(probe, `process.on("exit", () => { if (process.argv.includes("daemon")) return; process.stderr.write(Object.keys(require.cache).some((k) => k.includes("@oclif")) ? "probe: oclif\\n" : "probe: node\\n"); });\n`);
  });
  afterEach(async () => {
    pkg(s, ["store", "status", "--shutdown"], s.dir);
    await s.cleanup();
  });

  /** `pkg build` with the trace and the probe; stderr without the probe's line, and whether oclif ran. */
  const build = (args: string[], env: NodeJS.ProcessEnv = {}) => {
    const r = pkg(s, ["build", ...args], dir, { PKG_TRACE_FASTPATH: "1", NODE_OPTIONS: `--require ${probe}`, ...env }, entry);
    const oclif = r.stderr.includes("probe: oclif\n");
    const node = oclif || r.stderr.includes("probe: node\n");
    return { ...r, stderr: r.stderr.replace("probe: oclif\n", "").replace("probe: node\n", ""), oclif, node };
  };
  /** The fast path declined with `why`, the full command then ran and succeeded. */
  const full = (args: string[], why: string, env: NodeJS.ProcessEnv = {}) => {
    const r = build(args, env);
    expect(r.code, r.stderr + r.stdout).to.equal(0);
    expect(r.stderr.split("\n")[0]).to.equal(`fastpath: full (${why})`);
    expect(r.oclif).to.equal(true);
    return r;
  };
  /** The fast path answered: one trace line, no oclif. */
  const fast = (args: string[], env: NodeJS.ProcessEnv = {}) => {
    const r = build(args, env);
    expect(r.code, r.stderr + r.stdout).to.equal(0);
    expect(r.stderr).to.equal("fastpath: no-op\n");
    expect(r.oclif).to.equal(false);
    // the native client answers without starting node
    expect(r.node).to.equal(entry === "node");
    return r;
  };
  const cacheFiles = () => readdirSync(path.join(s.storeDir, "dirs")).map((f) => [f, statSync(path.join(s.storeDir, "dirs", f)).mtimeMs]);

  it("prints what the full command prints (path; the same JSON), writes nothing, and honours -C, --name, -q, $PKG_SYSTEM", async () => {
    const first = full(["--json"], "no daemon");
    expect(JSON.parse(first.stdout)).to.include({ cached: false, built: true });
    const buildFile = path.join(dir, "pkg.build.toml");
    const before = { text: readFileSync(buildFile, "utf8"), mtime: statSync(buildFile).mtimeMs, cache: cacheFiles() };
    // -L is declined by the fast path and prints nothing more on a no-op: the full command's output to compare with
    const slow = full(["-L"], "arguments");
    const quick = fast([]);
    expect(quick.stdout).to.equal(slow.stdout);
    expect(quick.stdout).to.equal(`${JSON.parse(first.stdout).outputs.out}\n`);
    const slowJson = full(["--json", "-L"], "arguments");
    const quickJson = fast(["--json"]);
    expect(quickJson.stdout).to.equal(slowJson.stdout);
    expect(JSON.parse(quickJson.stdout)).to.include({ cached: true, built: false, buildFileChanged: false, buildFile: "pkg.build.toml" });
    // -C (relative or absolute), --dir=, --name default, -q, from elsewhere
    const other = pkg(s, ["build", "-C", "globbed", "--json", "-L"], s.dir);
    const fromParent = pkg(s, ["build", "-C", "globbed", "--json", "-q", "--name", "default"], s.dir, { PKG_TRACE_FASTPATH: "1" }, entry);
    expect(fromParent.stderr).to.equal("fastpath: no-op\n");
    expect(fromParent.stdout).to.equal(other.stdout);
    expect(fast([`--dir=${dir}`, "--name=default"]).stdout).to.equal(slow.stdout);
    // nothing written by any of these
    expect(readFileSync(buildFile, "utf8")).to.equal(before.text);
    expect(statSync(buildFile).mtimeMs).to.equal(before.mtime);
    expect(cacheFiles()).to.deep.equal(before.cache);
    // another build name is another cache entry; another system too
    full(["--name", "other"], "no cache entry");
    fast(["--name", "other"]);
    const system = parseBuildfile(readFileSync(buildFile, "utf8")).builds[0].system;
    full([], "no cache entry", { PKG_SYSTEM: system });
    fast([], { PKG_SYSTEM: system });
    // writing the other records changed the directory (and pkg.build.toml): one full build, then no-ops again
    expect(JSON.parse(full(["--json"], "fingerprint changed").stdout)).to.include({ cached: false, buildFileChanged: false });
    fast([]);
  });

  it("finds the daemon through <store>/daemon.sock (no PKG_STORE_SOCKET), resolves a relative PKG_STORE_DIR, quotes any argument; declines for another store", async () => {
    // a directory name that needs JSON escaping (quote, backslash) and is not ASCII
    const odd = path.join(s.dir, 'we"ird \\ dir é');
    await writePackage(s, odd, "mkdir $out; cat *.txt > $out/all", '["build.sh", "*.txt"]');
    const env = { PKG_STORE_SOCKET: "", XDG_RUNTIME_DIR: path.join(s.dir, "xdg"), PKG_STORE_DIR: "store", PKG_TRACE_FASTPATH: "1" };
    const args = ["build", "-C", path.basename(odd), "--json"];
    try {
      const first = pkg(s, args, s.dir, env, entry);
      expect(first.code, first.stderr).to.equal(0);
      expect(first.stderr.split("\n")[0]).to.equal("fastpath: full (no daemon)");
      const link = readlinkSync(path.join(s.storeDir, "daemon.sock"));
      expect(link.startsWith(path.join(s.dir, "xdg", "chainpkg"))).to.equal(true);
      const again = pkg(s, args, s.dir, env, entry);
      expect(again.stderr).to.equal("fastpath: no-op\n");
      expect(JSON.parse(again.stdout)).to.include({ cached: true, built: false, drv: JSON.parse(first.stdout).drv, buildFile: path.join(path.basename(odd), "pkg.build.toml") });
      // reaching this daemon while naming another store: declined, and the full command refuses that daemon
      const other = pkg(s, ["build", "-C", odd], s.dir, { ...env, PKG_STORE_SOCKET: link, PKG_STORE_DIR: path.join(s.dir, "other-store") }, entry);
      expect(other.stderr.split("\n")[0]).to.equal("fastpath: full (another store)");
      expect(other.code).to.equal(10);
      expect(other.stderr.split("\n")[1]).to.equal(`error: the store daemon on ${link} serves the store ${s.storeDir}, not ${path.join(s.dir, "other-store")}`);
    } finally {
      pkg(s, ["store", "status", "--shutdown"], s.dir, env);
    }
  });

  it("declines when a source changed, a new file matches a glob, pkg.lock changed, pkg.build.toml was edited or removed", async () => {
    full([], "no daemon");
    fast([]);
    await writeFile(path.join(dir, "greeting.txt"), "hello again\n");
    const edited = full(["--json"], "fingerprint changed");
    expect(JSON.parse(edited.stdout)).to.include({ cached: false });
    expect(readFileSync(path.join(JSON.parse(edited.stdout).outputs.out, "all"), "utf8")).to.equal("hello again\n");
    fast([]);
    await writeFile(path.join(dir, "more.txt"), "more\n");
    const added = full(["--json"], "fingerprint changed");
    expect(readFileSync(path.join(JSON.parse(added.stdout).outputs.out, "all"), "utf8")).to.equal("hello again\nmore\n");
    fast([]);
    const lock = await readFile(path.join(dir, "pkg.lock"), "utf8");
    await writeFile(path.join(dir, "pkg.lock"), lock.replace("block = 1", "block = 2"));
    expect(JSON.parse(full(["--json"], "fingerprint changed").stdout)).to.include({ cached: false });
    fast([]);
    const buildFile = path.join(dir, "pkg.build.toml");
    const text = await readFile(buildFile, "utf8");
    await writeFile(buildFile, `# edited\n${text}`);
    expect(JSON.parse(full(["--json"], "pkg.build.toml changed").stdout)).to.include({ cached: true, buildFileChanged: true });
    expect(await readFile(buildFile, "utf8")).to.equal(text);
    // rewriting it changed the directory's mtime, which the cache entry keeps: one instantiation more
    full([], "fingerprint changed");
    fast([]);
    // removing it changes the directory too (as a new file would)
    await rm(buildFile);
    expect(JSON.parse(full(["--json"], "fingerprint changed").stdout)).to.include({ cached: false, buildFileChanged: true });
    expect(await readFile(buildFile, "utf8")).to.equal(text);
    fast([]);
  });

  it("declines when the output was collected or deleted, when no daemon runs, for other flags and arguments", async () => {
    const first = JSON.parse(full(["--json"], "no daemon").stdout) as { drv: string; outputs: { out: string } };
    fast([]);
    // collected: unpinned (as if instantiated elsewhere since), then gc
    await s.content.unpin(CID.parse(first.drv));
    const gc = pkg(s, ["store", "gc", "--json"], dir);
    expect(JSON.parse(gc.stdout).removed).to.include(first.outputs.out);
    const rebuilt = full([], "output gone");
    expect(rebuilt.stderr).to.match(/^fastpath: full \(output gone\)\nbuilding hello-1\.0\.0 \(bafyrei[a-z2-7]+\)\n$/);
    expect(rebuilt.stdout).to.equal(`${first.outputs.out}\n`);
    expect(readFileSync(path.join(first.outputs.out, "all"), "utf8")).to.equal("hello\n");
    fast([]);
    // deleted by hand
    spawnSync("chmod", ["-R", "u+w", first.outputs.out]);
    await rm(first.outputs.out, { recursive: true, force: true });
    expect(full([], "output gone").stdout).to.equal(`${first.outputs.out}\n`);
    fast([]);
    // no daemon: the full command starts one
    pkg(s, ["store", "status", "--shutdown"], s.dir);
    expect(full([], "no daemon").stdout).to.equal(`${first.outputs.out}\n`);
    fast([]);
    for (const args of [["--rebuild"], ["--system", "x86_64-linux"], ["-L"], ["--print-build-logs"], ["-C"], ["-C", dir, "-C", dir], ["--name", "-q"], ["--dir", "--json"], ["--"], ["--json=1"], ["crates/hello"], ["--help"], ["--frobnicate"]]) {
      const r = build(args);
      expect(r.stderr.split("\n")[0], args.join(" ")).to.equal("fastpath: full (arguments)");
      expect(r.oclif, args.join(" ")).to.equal(true);
    }
    const unknown = build(["--frobnicate"]);
    expect(unknown.code).to.equal(2);
    expect(unknown.stdout).to.equal("");
    // an environment that changes what oclif prints
    expect(JSON.parse(full([], "PKG_CONTENT_TYPE", { PKG_CONTENT_TYPE: "json" }).stdout)).to.include({ cached: true });
  });
});

describe("parseNoopArgs (which `pkg build` argv the fast path takes)", () => {
  it("takes -C/--dir, --name (spaced or with =), --json, -q/--quiet, each once; nothing else", () => {
    expect(parseNoopArgs([])).to.deep.equal({ dir: ".", name: "default", json: false, quiet: false });
    expect(parseNoopArgs(["-C", "a", "--name", "n", "--json", "-q"])).to.deep.equal({ dir: "a", name: "n", json: true, quiet: true });
    expect(parseNoopArgs(["--dir=a=b", "--name=x", "--quiet"])).to.deep.equal({ dir: "a=b", name: "x", json: false, quiet: true });
    for (const argv of [["x"], ["--"], ["-C"], ["-Ca"], ["-C=a"], ["--dir="], ["--name", "--json"], ["-C", "a", "--dir", "b"], ["-q", "--quiet"], ["--json", "--json"], ["--json=true"], ["--rebuild"], ["-L"], ["--system", "s"], ["--arg=--release"], ["--arg", "x"], ["--config", "c"], ["-h"], ["--no-json"]]) {
      expect(parseNoopArgs(argv), argv.join(" ")).to.equal(null);
    }
  });
});
