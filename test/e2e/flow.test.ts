/**
 * End to end, the whole way: the BUILT `pkg` and `repo` binaries against a real `pkg node`, the embedded
 * content store and the store daemon (started on demand), with the real cargo, rustc and gcc of this machine.
 *
 *   repo create toolchains/flakes/crates → publish this machine's toolchains (bootstrap packages), the
 *   meta package flakes:meta-rustc, crates:dep 0.2.0 and 0.2.1 (yanked), crates:hello 1.0.0 → pkg lock
 *   (picks dep 0.2.0) → pkg build (cargo through meta-rustc: every rustc invocation a subderivation) →
 *   pkg install → run `hello` from the profile → pkg uninstall; then a second package directory with the
 *   same lock builds nothing (same derivation), `pkg build crates/hello:1.0.0` builds the published
 *   version by id, and `repo build crates` builds the repository (hello's inputs of other repositories locked at its block).
 *
 *   npx hardhat test test/e2e/flow.test.ts          (E2E_KEEP=1 keeps the temp directory)
 */
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseBuildfile } from "../../src/buildfile";
import { writeHostToolchains } from "../../src/builder/host";
import { freePort } from "../helpers/node";
import * as h from "./helpers";

const KEEP = process.env.E2E_KEEP === "1";
const EXAMPLES = path.join(h.ROOT, "examples");

describe("e2e: publish → lock → build through meta-rustc → install → run → uninstall (real cargo and rustc)", function () {
  this.timeout(600_000);

  let root = "";
  let work = "";
  let env: NodeJS.ProcessEnv = {};
  let node: h.NodeProcess | null = null;
  let profiles = "";

  const pkg = (args: string[], cwd = work) => h.run("pkg", args, env, { cwd, timeoutMs: 300_000 });
  const repo = (args: string[], cwd = work) => h.run("repo", args, env, { cwd, timeoutMs: 300_000 });
  const pkgJson = async <T = Record<string, unknown>>(args: string[], cwd = work) => h.expectJsonSuccess<T>(await pkg([...args, "--json"], cwd));
  const repoJson = async <T = Record<string, unknown>>(args: string[], cwd = work) => h.expectJsonSuccess<T>(await repo([...args, "--json"], cwd));

  before(async function () {
    h.ensureBuilt();
    root = await mkdtemp(path.join(tmpdir(), "chainpkg-flow-"));
    work = path.join(root, "work");
    const dataDir = path.join(root, "data");
    profiles = path.join(dataDir, "profiles");
    const port = await freePort();
    env = h.baseEnvironment({
      PKG_DATA_DIR: dataDir,
      PKG_CONFIG: path.join(root, "config.toml"),
      PKG_RPC_URL: `http://127.0.0.1:${port}`,
      // the store daemon's socket in the suite's own runtime dir, never the user's
      XDG_RUNTIME_DIR: path.join(root, "run"),
    });
    await cp(EXAMPLES, work, { recursive: true });
    node = await h.startNode(port, env, root);
  });

  after(async function () {
    if (env.PKG_DATA_DIR) await pkg(["store", "status", "--shutdown"]).catch(() => undefined);
    await node?.stop();
    if (KEEP) console.log(`kept: ${root}`);
    else if (root) await rm(root, { recursive: true, force: true });
  });

  it("publishes this machine's toolchains, flakes:meta-rustc, crates:dep (0.2.1 yanked) and crates:hello", async () => {
    for (const name of ["toolchains", "flakes", "crates"]) await repoJson(["create", name]);
    const toolchains = path.join(work, "host-toolchains");
    const written = await writeHostToolchains(toolchains);
    expect(written.map((t) => t.tool).sort()).to.deep.equal(["cargo", "gcc", "node", "rustc"]);
    for (const t of written) await pkgJson(["publish"], path.join(toolchains, t.tool));
    await pkgJson(["publish"], path.join(work, "toolchains", "meta-rustc"));
    await pkgJson(["publish"], path.join(work, "dep"));
    const dep = path.join(work, "dep");
    for (const file of ["pkg.toml", "Cargo.toml"]) {
      const text = await readFile(path.join(dep, file), "utf8");
      await writeFile(path.join(dep, file), text.replace('version = "0.2.0"', 'version = "0.2.1"'));
    }
    await pkgJson(["publish"], dep);
    await pkgJson(["yank", "crates/dep:0.2.1"]);
    await pkgJson(["publish"], path.join(work, "hello"));
  });

  it("locks hello: crates:dep resolves to 0.2.0 (0.2.1 is yanked), toolchains and meta-rustc are locked too", async () => {
    const locked = await pkgJson<{ lock: { dependencies: Record<string, { version: string }> } }>(["lock"], path.join(work, "hello"));
    const deps = locked.lock.dependencies;
    expect(deps["crates:dep"].version).to.equal("0.2.0");
    expect(Object.keys(deps).sort()).to.deep.equal(["crates:dep", "flakes:meta-rustc", "toolchains:cargo", "toolchains:gcc", "toolchains:rustc"]);
  });

  let output = "";
  let metadrv = "";

  it("builds hello with cargo through meta-rustc: the build file records metadrv and one subderivation per rustc invocation", async () => {
    const dir = path.join(work, "hello");
    const instantiated = await pkgJson<{ root: string }>(["instantiate"], dir);
    const built = await pkgJson<{ drv: string; outputs: { out: string }; built: boolean; subderivations: string[] }>(["build"], dir);
    expect(built.drv).to.equal(instantiated.root);
    expect(built.built).to.equal(true);
    output = built.outputs.out;
    metadrv = built.drv;
    const ran = spawnSync(path.join(output, "bin", "hello"), { encoding: "utf8" });
    expect(ran.status, ran.stderr).to.equal(0);
    expect(ran.stdout).to.equal("hello from crates:dep\n");

    const buildfile = parseBuildfile(await readFile(path.join(dir, "pkg.build.toml"), "utf8"), "pkg.build.toml");
    expect(buildfile.builds).to.have.length(1);
    const record = buildfile.builds[0];
    expect(record.metadrv).to.equal(metadrv);
    // dep (lib) and hello (bin): at least two rustc invocations, each a derivation in the content store
    expect(record.subderivations.length).to.be.at.least(2);
    expect(record.subderivations).to.deep.equal(built.subderivations.slice().sort());
  });

  it("pkg build --rebuild in the sandbox gets every rustc invocation from the store (hits shared read-only with the build), and the next build is a no-op", async () => {
    const dir = path.join(work, "hello");
    const before = parseBuildfile(await readFile(path.join(dir, "pkg.build.toml"), "utf8"), "pkg.build.toml").builds[0];
    const rebuilt = await pkgJson<{ matched: boolean; subderivations: string[] }>(["build", "--rebuild"], dir);
    expect(rebuilt.matched).to.equal(true);
    // a shim that could not copy a hit would run rustc itself: another derivation for hello's invocation
    expect(rebuilt.subderivations.slice().sort()).to.deep.equal(before.subderivations);
    const noop = h.expectSuccess(await h.run("pkg", ["build"], { ...env, PKG_TRACE_FASTPATH: "1" }, { cwd: dir, timeoutMs: 120_000 }));
    expect(noop.stderr).to.match(/^fastpath: no-op/m);
    expect(noop.stdout.trim()).to.equal(output);
  });

  it("installs hello into the profile, runs it from there, and uninstalls it", async () => {
    const dir = path.join(work, "hello");
    const installed = await pkgJson<{ generation: number; pathHint: string | null }>(["install"], dir);
    expect(installed.generation).to.equal(1);
    const bin = path.join(profiles, "default", "bin", "hello");
    const ran = spawnSync(bin, { encoding: "utf8" });
    expect(ran.status, ran.stderr).to.equal(0);
    expect(ran.stdout).to.equal("hello from crates:dep\n");

    const removed = await pkgJson<{ generation: number }>(["uninstall", "hello"]);
    expect(removed.generation).to.equal(2);
    expect(existsSync(bin)).to.equal(false);
    // the old generation still has it: roll back and it runs again
    await pkgJson(["profile", "rollback"]);
    expect(spawnSync(bin, { encoding: "utf8" }).stdout).to.equal("hello from crates:dep\n");
    await pkgJson(["uninstall", "hello"]);
  });

  it("a copy of the package directory with the same lock is the same derivation: nothing is built again", async () => {
    const copy = path.join(root, "hello-copy");
    await cp(path.join(work, "hello"), copy, { recursive: true, filter: (src) => path.basename(src) !== "pkg.build.toml" });
    const again = await pkgJson<{ drv: string; outputs: { out: string }; built: boolean }>(["build"], copy);
    expect(again.drv).to.equal(metadrv);
    expect(again.built).to.equal(false);
    expect(again.outputs.out).to.equal(output);
  });

  it("builds the published crates/hello:1.0.0 by id (fetched and locked from the chain): same derivation, same output", async () => {
    const out = await pkgJson<{ drv: string; outputs: { out: string } }>(["build", "crates/hello:1.0.0"], root);
    expect(out.drv).to.equal(metadrv);
    expect(out.outputs.out).to.equal(output);
  });

  it("pkg install crates/hello:1.0.0 (an id, from no package directory) installs the published version's output and runs it", async () => {
    const installed = await pkgJson<{ installed: string; generation: number; packages: { name: string; path: string; drv?: string }[] }>(["install", "crates/hello:1.0.0"], root);
    expect(installed.installed).to.equal("crates/hello:1.0.0");
    const hello = installed.packages.find((p) => p.name === "hello")!;
    expect(hello.path).to.equal(output);
    expect(hello.drv).to.equal(metadrv);
    const ran = spawnSync(path.join(profiles, "default", "bin", "hello"), { encoding: "utf8" });
    expect(ran.status, ran.stderr).to.equal(0);
    expect(ran.stdout).to.equal("hello from crates:dep\n");
    await pkgJson(["uninstall", "hello"]);
    expect(existsSync(path.join(profiles, "default", "bin", "hello"))).to.equal(false);
  });

  it("repo build crates builds what the repository pins: hello's inputs of other repositories locked at the repo.lock's block", async () => {
    // The rolling `crates` pins dep 0.2.0 (0.2.1 is yanked) and hello; hello's toolchains and meta-rustc live in
    // other repositories, locked as `pkg lock --block` would with crates' own pins kept: the same derivation as pkg build.
    const built = await repoJson<{ results: { name: string; version: string; ok: boolean; drv: string; outputs: { out: string } }[] }>(["build", "crates"]);
    const byName = new Map(built.results.map((r) => [r.name, r]));
    expect([...byName.keys()].sort()).to.deep.equal(["dep", "hello"]);
    expect(byName.get("dep")).to.include({ version: "0.2.0", ok: true });
    expect(existsSync(path.join(byName.get("dep")!.outputs.out, "Cargo.toml"))).to.equal(true);
    expect(byName.get("hello")).to.include({ version: "1.0.0", ok: true, drv: metadrv });
    expect(byName.get("hello")!.outputs.out).to.equal(output);
  });

  it("the store verifies clean after all of it", async () => {
    const verified = await pkgJson<{ ok: boolean; problems: unknown[] }>(["store", "verify"]);
    expect(verified.problems).to.deep.equal([]);
    expect(verified.ok).to.equal(true);
  });
});
