/**
 * `pkg build` in a package directory, run as the built binary (bin/pkg.js over dist/): no chain at all
 * (no node, no registry), a real content store and a daemon started on demand. The lock is written by
 * hand for a package with no inputs, as `pkg lock` would write it.
 */
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { writeLockfile } from "../../../src/lockfile";
import { parseBuildfile } from "../../../src/buildfile";
import { makeSandbox, sandboxEnv, type Sandbox } from "./helpers";

const ROOT = path.resolve(__dirname, "../../..");
const PKG = path.join(ROOT, "bin", "pkg.js");

function pkg(s: Sandbox, args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [PKG, ...args], { cwd, env: { ...sandboxEnv(s), PKG_RPC_URL: "http://127.0.0.1:9" }, encoding: "utf8", timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function writePackage(s: Sandbox, dir: string, script: string, src = '["build.sh", "greeting.txt"]'): Promise<void> {
  await mkdir(dir, { recursive: true });
  const manifest = [
    "[package]",
    'repository = "local"',
    'name = "hello"',
    'version = "1.0.0"',
    'license = "MIT"',
    `src = ${src}`,
    'builder = "./build.sh"',
    "",
  ].join("\n");
  await writeFile(path.join(dir, "pkg.toml"), manifest);
  await writeFile(path.join(dir, "build.sh"), `#!/bin/sh\nset -e\n${script}\n`);
  await writeFile(path.join(dir, "greeting.txt"), "hello\n");
  const meta = await s.content.putBytes(await readFile(path.join(dir, "pkg.toml")));
  await writeLockfile(path.join(dir, "pkg.lock"), {
    package: meta.toString(), block: 1, chainId: 31337, registry: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    dependencies: {}, inputs: [], metaInputs: [], nativeInputs: [],
  });
}

describe("pkg build (built binary, package directory, no chain)", function () {
  this.timeout(300_000);
  let s: Sandbox;
  before(function () {
    if (!existsSync(path.join(ROOT, "dist", "cli", "pkg", "build.js"))) this.skip();
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
