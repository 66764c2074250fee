/**
 * End to end: the BUILT `pkg install`, `pkg uninstall` and `pkg profile …` as subprocesses, on a real store
 * (outputs registered by the store's own addOutput in this process, before any CLI call) and a profiles
 * directory inside one temp PKG_DATA_DIR. No chain: installing a store path, or building a package directory,
 * needs none; `pkg store gc` and the build go through the store daemon, started on demand and stopped after.
 *
 *   npx tsc -p tsconfig.build.json && npx hardhat test test/e2e/profile.test.ts
 *
 * The tests run in order and build on each other (generation numbers grow).
 */
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readlink, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { openEmbeddedStore } from "../../src/content";
import { listRoots, openStore } from "../../src/store/store";
import * as h from "./helpers";

const KEEP = process.env.E2E_KEEP === "1";

/** dist/ must hold these commands, newer than their sources (the whole build may be broken by work in progress elsewhere). */
function ensureProfileCommandsBuilt(): void {
  const pairs = ["install", "uninstall", "profile/list", "profile/history", "profile/rollback", "profile/switch", "profile/wipe-history"].map((c) => [
    path.join(h.ROOT, "cli", "pkg", `${c}.ts`),
    path.join(h.ROOT, "dist", "cli", "pkg", `${c}.js`),
  ]);
  const profileDir = path.join(h.ROOT, "src", "profile");
  const core = Math.max(statSync(path.join(h.ROOT, "src", "install.ts")).mtimeMs, ...readdirSync(profileDir).map((f) => statSync(path.join(profileDir, f)).mtimeMs));
  const stale = pairs.some(([src, out]) => !existsSync(out) || statSync(out).mtimeMs < Math.max(core, statSync(src).mtimeMs));
  if (!stale) return;
  // tsc emits even when other files have type errors; what matters is that ours are fresh afterwards.
  spawnSync(process.execPath, [require.resolve("typescript/bin/tsc", { paths: [h.ROOT] }), "-p", "tsconfig.build.json"], { cwd: h.ROOT, stdio: "ignore" });
  for (const [, out] of pairs) expect(existsSync(out), `${out} was not built`).to.equal(true);
}

interface Output {
  path: string;
  cid: string;
  drv: string;
}

interface InstallJson {
  profile: string;
  installed: string;
  generation: number;
  previous: number | null;
  links: string[];
  packages: { id: string; name: string; repository: string | null; version: string; drv: string | null; path: string; cid: string | null; priority: number }[];
  pathHint: string | null;
}

describe("e2e: pkg install / uninstall / profile (built binary, real store)", function () {
  this.timeout(120_000);
  let tmp: string;
  let env: NodeJS.ProcessEnv;
  let profiles: string;
  let storeDir: string;
  const outputs: Record<string, Output> = {};

  const pkg = (...args: string[]) => h.run("pkg", args, env, { cwd: tmp });
  const pkgJson = async <T = Record<string, unknown>>(...args: string[]) => h.expectJsonSuccess<T>(await pkg(...args, "--json"));

  /** Runs `<profiles>/default/bin/<program>` as a user whose PATH has the profile would. */
  function runLinked(program: string): string | null {
    const result = spawnSync(program, [], { encoding: "utf8", env: { PATH: `${path.join(profiles, "default", "bin")}:/usr/bin:/bin` } });
    return result.status === 0 ? result.stdout.trim() : null;
  }

  async function generation(): Promise<string> {
    return readlink(path.join(profiles, "default"));
  }

  before(async () => {
    ensureProfileCommandsBuilt();
    tmp = await mkdtemp(path.join(tmpdir(), "chainpkg-e2e-profile-"));
    const data = path.join(tmp, "data");
    profiles = path.join(data, "profiles");
    storeDir = path.join(data, "store");
    env = h.baseEnvironment({ PKG_DATA_DIR: data, PKG_CONFIG: path.join(tmp, "config.toml"), XDG_RUNTIME_DIR: path.join(tmp, "run") });
    // Three outputs, made the way a build makes them: complete in the store's tmp/, then added (read-only, registered).
    const content = await openEmbeddedStore({ directory: path.join(tmp, "ipfs") });
    const store = await openStore({ root: storeDir, content });
    try {
      const make = async (key: string, drvName: string, files: Record<string, string>) => {
        const build = await store.makeTempDir("out");
        for (const [file, text] of Object.entries(files)) {
          await mkdir(path.dirname(path.join(build, file)), { recursive: true });
          await writeFile(path.join(build, file), text, { mode: file.startsWith("bin/") ? 0o755 : 0o644 });
        }
        const drv = `bafyreifake${key}`;
        outputs[key] = { ...(await store.addOutput({ drv, output: "out", drvName, from: build })), drv };
      };
      await make("hello", "hello-1.0.0", { "bin/hello": "#!/bin/sh\necho hello from the profile\n", "share/man/man1/hello.1": ".TH HELLO 1\n" });
      await make("world", "world-2.0.0", { "bin/world": "#!/bin/sh\necho world\n" });
      await make("impostor", "impostor-0.1.0", { "bin/hello": "#!/bin/sh\necho impostor\n" });
    } finally {
      store.close();
      await content.close();
    }
  });

  after(async () => {
    // The daemon `pkg store gc` / `pkg install` started on demand for this store.
    if (env) await pkg("store", "status", "--shutdown").catch(() => undefined);
    if (KEEP) console.log(`kept ${tmp}`);
    else if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it("install --path: links bin/, tells once how to put the profile on PATH, and the program runs", async () => {
    const result = h.expectSuccess(await pkg("install", "--path", outputs.hello.path));
    expect(result.stdout).to.equal("installed hello:1.0.0 (generation 1)\n  bin/hello\n");
    expect(result.stderr).to.include(`  export PATH="${path.join(profiles, "default", "bin")}:$PATH"\n`);
    expect(runLinked("hello")).to.equal("hello from the profile");
    expect(await generation()).to.equal("default-1-link");
  });

  it("install with an id and --json: one JSON document, the store's drv and cid in the manifest, no second PATH hint", async () => {
    const json = await pkgJson<InstallJson>("install", "crates/world:2.0.0", "--path", outputs.world.path);
    expect(json).to.include({ installed: "crates/world:2.0.0", generation: 2, previous: 1, pathHint: null, profile: path.join(profiles, "default") });
    expect(json.packages.find((p) => p.name === "world")).to.deep.equal({
      name: "world",
      repository: "crates",
      version: "2.0.0",
      id: "crates/world:2.0.0",
      drv: outputs.world.drv,
      path: outputs.world.path,
      cid: outputs.world.cid,
      priority: 5,
    });
    expect(runLinked("world")).to.equal("world");
    // Installing the same again changes nothing (no new generation, like Nix), and there is no second PATH hint.
    const again = h.expectSuccess(await pkg("install", "--path", outputs.hello.path));
    expect(again.stdout).to.equal("hello:1.0.0 is installed already (generation 2)\n  bin/hello\n");
    expect(again.stderr).to.equal("");
    expect(await generation()).to.equal("default-2-link");
    // Each generation's paths are GC roots in the store: generation 1 has hello, generation 2 both.
    expect(new Set(listRoots(storeDir).map((r) => r.path))).to.deep.equal(new Set([outputs.hello.path, outputs.world.path]));
    expect(listRoots(storeDir)).to.have.lengthOf(3);
  });

  it("a conflict fails on one line naming both packages, exit 6, and changes nothing", async () => {
    const before = await readdir(profiles);
    const error = h.expectHumanError(await pkg("install", "--path", outputs.impostor.path), {
      code: "ERR_PROFILE_CONFLICT",
      message: ["hello:1.0.0 and impostor:0.1.0 both provide bin/hello"],
      hint: /--priority/,
    });
    expect(error.hint).to.include("pkg uninstall impostor");
    expect(await readdir(profiles)).to.deep.equal(before);
    expect(runLinked("hello")).to.equal("hello from the profile");
    // A lower number wins.
    h.expectSuccess(await pkg("install", "--path", outputs.impostor.path, "--priority", "1"));
    expect(runLinked("hello")).to.equal("impostor");
  });

  it("profile list shows the current generation's packages", async () => {
    const json = await pkgJson<{ generation: number; packages: { id: string; priority: number }[] }>("profile", "list");
    expect(json.generation).to.equal(3);
    expect(json.packages.map((p) => [p.id, p.priority])).to.deep.equal([["hello:1.0.0", 5], ["crates/world:2.0.0", 5], ["impostor:0.1.0", 1]]);
    const human = h.expectSuccess(await pkg("profile", "list"));
    expect(human.stdout).to.equal(
      `hello:1.0.0  ${outputs.hello.path}\ncrates/world:2.0.0  ${outputs.world.path}\nimpostor:0.1.0 (priority 1)  ${outputs.impostor.path}\n`,
    );
  });

  it("uninstall removes a package in a new generation; an unknown name fails listing what is installed", async () => {
    const result = h.expectSuccess(await pkg("uninstall", "impostor"));
    expect(result.stdout).to.equal("uninstalled impostor:0.1.0 (generation 4)\n");
    expect(runLinked("hello")).to.equal("hello from the profile");
    h.expectHumanError(await pkg("uninstall", "nope"), {
      code: "ERR_PROFILE_PACKAGE_NOT_FOUND",
      message: ["nope is not installed in profile default"],
      hint: "installed: hello, crates/world",
    });
    h.expectJsonError(await pkg("uninstall", "nope", "--json"), { code: "ERR_PROFILE_PACKAGE_NOT_FOUND" });
    expect(await generation()).to.equal("default-4-link");
  });

  it("rollback and switch move between generations atomically; history lists them", async () => {
    const back = await pkgJson<{ from: number; to: number }>("profile", "rollback");
    expect(back).to.include({ from: 4, to: 3 });
    expect(runLinked("hello")).to.equal("impostor");
    expect(h.expectSuccess(await pkg("profile", "switch", "1")).stdout).to.equal("switched from generation 3 to 1\n");
    expect(runLinked("world")).to.equal(null);
    expect(runLinked("hello")).to.equal("hello from the profile");
    h.expectHumanError(await pkg("profile", "rollback"), { code: "ERR_PROFILE_NO_PREVIOUS_GENERATION", message: ["generation 1 is the oldest"] });
    h.expectHumanError(await pkg("profile", "switch", "9"), { code: "ERR_PROFILE_GENERATION_NOT_FOUND", hint: "existing generations: 1, 2, 3, 4" });
    h.expectSuccess(await pkg("profile", "switch", "4"));

    const history = h.expectSuccess(await pkg("profile", "history"));
    const lines = history.stdout.trimEnd().split("\n");
    expect(lines).to.have.lengthOf(4);
    expect(lines[0]).to.match(/^ {3}1 {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ {2}\+hello:1\.0\.0$/);
    expect(lines[2]).to.match(/ {2}\+impostor:0\.1\.0$/);
    expect(lines[3]).to.match(/ {2}\(current\) {2}-impostor:0\.1\.0$/);
    const json = await pkgJson<{ generations: { number: number; current: boolean }[] }>("profile", "history");
    expect(json.generations.map((g) => [g.number, g.current])).to.deep.equal([[1, false], [2, false], [3, false], [4, true]]);
  });

  it("wipe-history deletes every generation but the current one and drops their GC roots; pkg store gc then frees what only they used", async () => {
    const gc = () => pkgJson<{ removed: string[] }>("store", "gc");
    // impostor is only in generation 3: rooted while that generation exists.
    expect((await gc()).removed).not.to.include.members([outputs.impostor.path]);
    expect(existsSync(outputs.impostor.path)).to.equal(true);
    h.expectHumanError(await pkg("profile", "wipe-history", "--older-than", "soon"), { code: "ERR_PROFILE_INVALID", hint: /30d/ });
    expect(await pkgJson("profile", "wipe-history", "--older-than", "1d")).to.deep.include({ deleted: [], kept: [1, 2, 3, 4] });
    expect(h.expectSuccess(await pkg("profile", "wipe-history")).stdout).to.equal("deleted generations 1, 2, 3\n");
    expect((await readdir(profiles)).sort()).to.deep.equal([".path-hint-shown", "default", "default-4-link"]);
    expect(listRoots(storeDir).map((r) => r.path).sort()).to.deep.equal([outputs.hello.path, outputs.world.path].sort());
    expect(runLinked("hello")).to.equal("hello from the profile");
    const removed = (await gc()).removed;
    expect(removed).to.include(outputs.impostor.path);
    expect(removed).not.to.include.oneOf([outputs.hello.path, outputs.world.path]);
    expect(runLinked("world")).to.equal("world");
  });

  it("refuses what is not a valid store path", async () => {
    const outside = path.join(tmp, "outside");
    await mkdir(path.join(outside, "bin"), { recursive: true });
    h.expectHumanError(await pkg("install", "--path", outside), { code: "ERR_PROFILE_NOT_STORE_PATH", message: ["is not a path of the store"] });
    const unregistered = path.join(storeDir, "paths", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-fake-1.0.0");
    await mkdir(unregistered, { recursive: true });
    h.expectHumanError(await pkg("install", "--path", unregistered), { code: "ERR_PROFILE_NOT_STORE_PATH", message: ["is not a valid (registered) path"] });
    expect(await generation()).to.equal("default-4-link");
    expect(await h.temporaries(profiles)).to.deep.equal([]);
  });

  it("pkg install in a package directory builds it through the store daemon (no chain) and installs its output", async () => {
    const dir = path.join(tmp, "greet");
    await mkdir(dir);
    const manifest = '[package]\nrepository = "local"\nname = "greet"\nversion = "1.0.0"\nlicense = "MIT"\nsrc = ["build.sh"]\nbuilder = "./build.sh"\n';
    await writeFile(path.join(dir, "pkg.toml"), manifest);
    await writeFile(path.join(dir, "build.sh"), `#!/bin/sh\nmkdir -p "$out/bin"\nprintf '#!/bin/sh\\necho greetings\\n' > "$out/bin/greet"\nchmod +x "$out/bin/greet"\n`, { mode: 0o755 });
    // A package without inputs: its lock names only itself (what `pkg lock` would write; no chain in this test).
    const lock = `[lock]\nformat = 1\npackage = "${h.rawCid(Buffer.from(manifest))}"\nblock = 1\nchain-id = 31337\nregistry = "0x5FbDB2315678afecb367f032d93F642f64180aa3"\n`;
    await writeFile(path.join(dir, "pkg.lock"), lock);
    const result = h.expectSuccess(await pkg("install", "-C", dir));
    expect(result.stdout).to.equal("installed local/greet:1.0.0 (generation 5)\n  bin/greet\n");
    expect(result.stderr).to.match(/^building greet-1\.0\.0 \(bafyrei[a-z2-7]+\)\n$/);
    expect(runLinked("greet")).to.equal("greetings");
    const list = await pkgJson<{ packages: { id: string; drv: string | null; cid: string | null; path: string }[] }>("profile", "list");
    const greet = list.packages.find((p) => p.id === "local/greet:1.0.0")!;
    expect(greet.drv).to.match(/^bafyrei/);
    expect(greet.cid).to.match(/^bafy/);
    expect(path.dirname(greet.path)).to.equal(path.join(storeDir, "paths"));
    // Built already: the second install is the same output, so no new generation, and nothing says "building".
    const again = h.expectSuccess(await pkg("install", "-C", dir));
    expect(again.stdout).to.equal("local/greet:1.0.0 is installed already (generation 5)\n  bin/greet\n");
    expect(again.stderr).to.not.match(/building/);
  });

  it("--profile NAME (or $PKG_PROFILE) works on another profile; the default one is untouched; a bad name is refused", async () => {
    const before = await generation();
    const installed = await pkgJson<InstallJson>("install", "--profile", "work", "--path", outputs.world.path);
    expect(installed).to.include({ profile: path.join(profiles, "work"), generation: 1, previous: null });
    expect(spawnSync(path.join(profiles, "work", "bin", "world"), { encoding: "utf8" }).stdout).to.equal("world\n");
    expect(await generation()).to.equal(before);
    const viaEnv = { ...env, PKG_PROFILE: "work" };
    const listed = h.expectJsonSuccess<{ profile: string; packages: { name: string }[] }>(await h.run("pkg", ["profile", "list", "--json"], viaEnv, { cwd: tmp }));
    expect(listed.profile).to.equal(path.join(profiles, "work"));
    expect(listed.packages.map((p) => p.name)).to.deep.equal(["world"]);
    expect((await pkgJson<{ generation: number }>("uninstall", "world", "--profile", "work")).generation).to.equal(2);
    expect((await pkgJson<{ to: number }>("profile", "rollback", "--profile", "work")).to).to.equal(1);
    const history = h.expectSuccess(await h.run("pkg", ["profile", "history"], viaEnv, { cwd: tmp }));
    expect(history.stdout.trimEnd().split("\n")).to.have.lengthOf(2);
    h.expectHumanError(await pkg("profile", "list", "--profile", "../escape"), { code: "ERR_PROFILE_INVALID", message: ["invalid profile name"] });
    expect(await generation()).to.equal(before);
  });
});
