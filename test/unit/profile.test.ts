/**
 * Profiles on a real file system: fake outputs are real directories with executable scripts under a temp
 * store root, the linked programs are run through the profile's path, and crashes are real (a subprocess
 * SIGKILLs itself between two steps) or thrown (then nothing of the new generation may remain).
 */
import { expect } from "chai";
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { defaultDataDir } from "../../src/config";
import { openEmbeddedStore } from "../../src/content";
import {
  DEFAULT_PRIORITY,
  ERR_PROFILE_AMBIGUOUS_NAME,
  ERR_PROFILE_CONFLICT,
  ERR_PROFILE_GENERATION_NOT_FOUND,
  ERR_PROFILE_INVALID,
  ERR_PROFILE_LOCKED,
  ERR_PROFILE_NO_GENERATION,
  ERR_PROFILE_NO_PREVIOUS_GENERATION,
  ERR_PROFILE_NOT_STORE_PATH,
  ERR_PROFILE_PACKAGE_NOT_FOUND,
  ERR_PROFILE_PATH_NOT_FOUND,
  currentGenerationNumber,
  defaultProfilesDir,
  deleteGenerations,
  installPackages,
  installedPackages,
  listGenerations,
  parseAge,
  parseStorePathName,
  profileStorePaths,
  rollback,
  switchGeneration,
  takePathHint,
  uninstallPackages,
  type GcRoots,
  type ProfileEntryInput,
  type ProfileOptions,
  type ProfileStep,
} from "../../src/profile";
import { openStore } from "../../src/store/store";
import { rejectsWith } from "../helpers/errors";

const ROOT = path.resolve(__dirname, "../..");
const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";

/** GC roots kept in memory (the store's own are used in one test below). */
function memoryRoots(): GcRoots & { roots: Map<string, string> } {
  const roots = new Map<string, string>();
  return {
    roots,
    addRoot: (name, p) => void roots.set(name, p),
    removeRoot: (name) => void roots.delete(name),
    listRoots: () => [...roots].map(([name, p]) => ({ name, path: p })),
  };
}

/** `#!/bin/sh` that prints `text`. */
function script(text: string): string {
  return `#!/bin/sh\necho ${JSON.stringify(text)}\n`;
}

describe("profiles (generations of symlinks)", function () {
  this.timeout(60_000);
  let tmp: string;
  let storeRoot: string;
  let roots: ReturnType<typeof memoryRoots>;
  let options: ProfileOptions;

  /** A fake output `<store>/paths/<hash>-<name>-<version>` with these files (bin/* executable). */
  async function output(name: string, version: string, files: Record<string, string>, repository: string | null = "crates"): Promise<ProfileEntryInput> {
    const hash = Array.from(randomBytes(32), (b) => BASE32[b % 32]).join("");
    const dir = path.join(storeRoot, "paths", `${hash}-${name}-${version}`);
    for (const [file, content] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
      await writeFile(path.join(dir, file), content);
      if (file.startsWith("bin/")) await chmod(path.join(dir, file), 0o755);
    }
    await mkdir(dir, { recursive: true });
    const id = repository === null ? `${name}:${version}` : `${repository}/${name}:${version}`;
    return { name, repository, version, id, drv: `bafy-drv-${name}-${version}`, path: dir, cid: `bafy-out-${name}-${version}` };
  }

  /** Runs `<profile>/bin/<program>` (the path a user's PATH has) and returns its stdout. */
  function runLinked(program: string): string {
    const result = spawnSync(path.join(options.dir, "default", "bin", program), [], { encoding: "utf8" });
    if (result.error) throw result.error;
    expect(result.status, result.stderr).to.equal(0);
    return result.stdout.trim();
  }

  async function leftovers(): Promise<string[]> {
    return (await readdir(options.dir)).filter((e) => e.startsWith(".tmp-") || e.endsWith(".tmp") || e.endsWith(".lock"));
  }

  beforeEach(async () => {
    tmp = await mkdtemp(path.join(tmpdir(), "chainpkg-profile-"));
    storeRoot = path.join(tmp, "store");
    await mkdir(path.join(storeRoot, "paths"), { recursive: true });
    roots = memoryRoots();
    options = { dir: path.join(tmp, "profiles"), roots, storeRoot };
  });

  afterEach(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it("installs two packages as two generations; their programs run through the profile", async () => {
    const hello = await output("hello", "1.0.0", { "bin/hello": script("hello 1.0.0") });
    const world = await output("world", "2.0.0", { "bin/world": script("world 2.0.0"), "share/doc/world/README": "w\n" });
    const first = await installPackages(options, [hello]);
    expect(first).to.include({ generation: 1, previous: null });
    expect(first.links).to.deep.equal(["bin/hello"]);
    expect(first.changes.added).to.deep.equal(["crates/hello:1.0.0"]);
    expect(runLinked("hello")).to.equal("hello 1.0.0");

    const second = await installPackages(options, [world]);
    expect(second).to.include({ generation: 2, previous: 1 });
    expect(second.links).to.deep.equal(["bin/hello", "bin/world", "share/doc"]);
    expect(second.provides).to.deep.equal({ "crates/hello:1.0.0": ["bin/hello"], "crates/world:2.0.0": ["bin/world", "share/doc"] });
    expect(runLinked("hello")).to.equal("hello 1.0.0");
    expect(runLinked("world")).to.equal("world 2.0.0");

    // Nix's layout: default -> default-2-link (relative), bin/ a real directory of links into the store.
    expect(await readlink(path.join(options.dir, "default"))).to.equal("default-2-link");
    expect((await lstat(path.join(options.dir, "default-2-link", "bin"))).isDirectory()).to.equal(true);
    expect(await readlink(path.join(options.dir, "default-2-link", "bin", "world"))).to.equal(path.join(world.path, "bin", "world"));
    expect(await readlink(path.join(options.dir, "default-2-link", "share", "doc"))).to.equal(path.join(world.path, "share", "doc"));
    const manifest = JSON.parse(await readFile(path.join(options.dir, "default-2-link", "manifest.json"), "utf8"));
    expect(manifest).to.include({ version: 1, profile: "default", generation: 2 });
    expect(manifest.packages).to.deep.equal([
      { ...hello, priority: DEFAULT_PRIORITY },
      { ...world, priority: DEFAULT_PRIORITY },
    ]);
    // Every generation's paths are GC roots.
    expect([...roots.roots.values()].sort()).to.deep.equal([hello.path, hello.path, world.path].sort());
    expect([...roots.roots.keys()].every((k) => k.startsWith(`profile:${path.join(options.dir, "default")}-`))).to.equal(true);
    expect(await profileStorePaths(options.dir)).to.deep.equal([hello.path, world.path].sort());
    expect(await leftovers()).to.deep.equal([]);
  });

  it("makes no generation when nothing changes (a reinstall of the same output)", async () => {
    const hello = await output("hello", "1.0.0", { "bin/hello": script("h") });
    await installPackages(options, [hello]);
    const again = await installPackages(options, [hello]);
    expect(again).to.include({ generation: 1, previous: 1, created: false });
    expect(again.changes).to.deep.equal({ added: [], removed: [], changed: [] });
    expect((await listGenerations(options)).map((g) => g.number)).to.deep.equal([1]);
    // Another priority is a change.
    expect((await installPackages(options, [{ ...hello, priority: 3 }])).created).to.equal(true);
  });

  it("merges share/ like buildEnv: shared directories become real ones, files stay links", async () => {
    const a = await output("a", "1.0.0", { "share/man/man1/a.1": "a", "share/a-only/x": "x" });
    const b = await output("b", "1.0.0", { "share/man/man1/b.1": "b" });
    const result = await installPackages(options, [a, b]);
    expect(result.links).to.deep.equal(["share/a-only", "share/man/man1/a.1", "share/man/man1/b.1"]);
    const gen = path.join(options.dir, "default");
    expect((await lstat(path.join(gen, "share", "man", "man1"))).isDirectory()).to.equal(true);
    expect(await readFile(path.join(gen, "share", "man", "man1", "b.1"), "utf8")).to.equal("b");
    expect(await readFile(path.join(gen, "share", "a-only", "x"), "utf8")).to.equal("x");
  });

  it("replaces a package installed again (another version) and reports the change", async () => {
    await installPackages(options, [await output("hello", "1.0.0", { "bin/hello": script("one") })]);
    const result = await installPackages(options, [await output("hello", "1.1.0", { "bin/hello": script("two") })]);
    expect(result.changes).to.deep.equal({ added: [], removed: [], changed: [{ name: "crates/hello", from: "1.0.0", to: "1.1.0" }] });
    expect(result.packages.map((p) => p.version)).to.deep.equal(["1.1.0"]);
    expect(runLinked("hello")).to.equal("two");
  });

  it("uninstalls by name, repo/name or id; unknown names fail listing what is installed", async () => {
    await installPackages(options, [await output("hello", "1.0.0", { "bin/hello": script("h") }), await output("world", "1.0.0", { "bin/world": script("w") })]);
    const result = await uninstallPackages(options, ["hello"]);
    expect(result.generation).to.equal(2);
    expect(result.changes.removed).to.deep.equal(["crates/hello:1.0.0"]);
    expect(await readdir(path.join(options.dir, "default", "bin"))).to.deep.equal(["world"]);
    expect(runLinked("world")).to.equal("w");

    const error = await rejectsWith(uninstallPackages(options, ["hello"]), ERR_PROFILE_PACKAGE_NOT_FOUND);
    expect(error.message).to.equal("hello is not installed in profile default");
    expect(error.hint).to.equal("installed: crates/world");
    expect(await currentGenerationNumber(options)).to.equal(2);

    expect((await uninstallPackages(options, ["crates/world:1.0.0"])).packages).to.deep.equal([]);
    // The last package gone: an empty generation (no bin/), still a valid profile.
    expect(await readdir(path.join(options.dir, "default"))).to.deep.equal(["manifest.json"]);
  });

  it("asks which one when a bare name matches packages of two repositories", async () => {
    await installPackages(options, [await output("fmt", "1.0.0", { "bin/fmt-c": script("c") }), await output("fmt", "2.0.0", { "bin/fmt-n": script("n") }, "npm")]);
    const error = await rejectsWith(uninstallPackages(options, ["fmt"]), ERR_PROFILE_AMBIGUOUS_NAME);
    expect(error.hint).to.equal("say which one: crates/fmt or npm/fmt");
    expect((await uninstallPackages(options, ["npm/fmt"])).packages.map((p) => p.repository)).to.deep.equal(["crates"]);
  });

  it("rolls back, switches to any generation, and lists them with dates, current marker and changes", async () => {
    let clock = Date.parse("2026-01-01T00:00:00Z");
    options.now = () => new Date((clock += 60_000));
    const one = await output("one", "1.0.0", { "bin/one": script("1") });
    const two = await output("two", "1.0.0", { "bin/two": script("2") });
    await installPackages(options, [one]);
    await installPackages(options, [two]);
    await uninstallPackages(options, ["one"]);

    const back = await rollback(options);
    expect(back).to.include({ from: 3, to: 2 });
    expect(runLinked("one")).to.equal("1");
    expect(runLinked("two")).to.equal("2");
    expect((await rollback(options)).to).to.equal(1);
    expect(spawnSync(path.join(options.dir, "default", "bin", "two")).error).to.have.property("code", "ENOENT");
    const oldest = await rejectsWith(rollback(options), ERR_PROFILE_NO_PREVIOUS_GENERATION);
    expect(oldest.message).to.include("generation 1 is the oldest");

    expect(await switchGeneration(options, 3)).to.deep.include({ from: 1, to: 3 });
    expect((await installedPackages(options)).map((p) => p.name)).to.deep.equal(["two"]);
    const missing = await rejectsWith(switchGeneration(options, 9), ERR_PROFILE_GENERATION_NOT_FOUND);
    expect(missing.hint).to.equal("existing generations: 1, 2, 3");

    // A new generation after a rollback gets the next free number, Nix-style, and starts from the current one.
    await switchGeneration(options, 1);
    expect((await installPackages(options, [two])).generation).to.equal(4);

    const generations = await listGenerations(options);
    expect(generations.map((g) => [g.number, g.current, g.packages.map((p) => p.name)])).to.deep.equal([
      [1, false, ["one"]],
      [2, false, ["one", "two"]],
      [3, false, ["two"]],
      [4, true, ["one", "two"]],
    ]);
    expect(generations.map((g) => g.created)).to.deep.equal(["00:01", "00:02", "00:03", "00:04"].map((t) => `2026-01-01T${t}:00.000Z`));
    expect(generations[2].changes).to.deep.equal({ added: [], removed: ["crates/one:1.0.0"], changed: [] });
    expect(generations[3].changes).to.deep.equal({ added: ["crates/one:1.0.0"], removed: [], changed: [] });
  });

  it("has no generation to roll back before the first install", async () => {
    await rejectsWith(rollback(options), ERR_PROFILE_NO_GENERATION);
    expect(await listGenerations(options)).to.deep.equal([]);
    expect(await installedPackages(options)).to.deep.equal([]);
  });

  it("refuses two packages providing the same file, naming both; --priority settles it", async () => {
    const gnu = await output("coreutils", "9.0", { "bin/ls": script("gnu ls") });
    const busybox = await output("busybox", "1.36", { "bin/ls": script("busybox ls"), "bin/vi": script("vi") });
    await installPackages(options, [gnu]);
    const before = await readdir(options.dir);
    const error = await rejectsWith(installPackages(options, [busybox]), ERR_PROFILE_CONFLICT);
    expect(error.message).to.equal("crates/coreutils:9.0 and crates/busybox:1.36 both provide bin/ls");
    expect(error.hint).to.match(/^uninstall one of them \(pkg uninstall busybox\), or install one with --priority N/);
    expect(await readdir(options.dir)).to.deep.equal(before);
    expect(await currentGenerationNumber(options)).to.equal(1);
    expect(roots.roots.size).to.equal(1);

    await installPackages(options, [{ ...busybox, priority: 10 }]);
    expect(runLinked("ls")).to.equal("gnu ls");
    expect(runLinked("vi")).to.equal("vi");
    await installPackages(options, [{ ...busybox, priority: 1 }]);
    expect(runLinked("ls")).to.equal("busybox ls");
    await rejectsWith(installPackages(options, [{ ...busybox, priority: 1.5 }]), ERR_PROFILE_INVALID);
  });

  it("links only store paths that exist", async () => {
    const outside = await mkdtemp(path.join(tmp, "outside-"));
    const stray = { name: "x", repository: null, version: "1", id: "x:1", drv: null, path: outside, cid: null };
    const error = await rejectsWith(installPackages(options, [stray]), ERR_PROFILE_NOT_STORE_PATH);
    expect(error.message).to.include("is not a store path");
    const gone = await output("gone", "1.0.0", { "bin/gone": script("g") });
    await rm(gone.path, { recursive: true });
    await rejectsWith(installPackages(options, [gone]), ERR_PROFILE_PATH_NOT_FOUND);
    expect(await readdir(options.dir)).to.deep.equal([]);

    // A generation whose store path disappeared (gc without roots) cannot be switched to.
    const kept = await output("kept", "1.0.0", { "bin/kept": script("k") });
    const lost = await output("lost", "1.0.0", { "bin/lost": script("l") });
    await installPackages(options, [lost]);
    await uninstallPackages(options, ["lost"]);
    await installPackages(options, [kept]);
    await rm(lost.path, { recursive: true });
    const broken = await rejectsWith(switchGeneration(options, 1), ERR_PROFILE_PATH_NOT_FOUND);
    expect(broken.message).to.include("generation 1 needs");
    expect(await currentGenerationNumber(options)).to.equal(3);
  });

  for (const step of ["written", "rooted", "renamed"] as const) {
    it(`a failure after "${step}" leaves the old generation current and nothing of the new one`, async () => {
      await installPackages(options, [await output("hello", "1.0.0", { "bin/hello": script("old") })]);
      const rootsBefore = new Map(roots.roots);
      const failing: ProfileOptions = {
        ...options,
        afterStep: (at: ProfileStep) => {
          if (at === step) throw new Error(`crash after ${step}`);
        },
      };
      const next = await output("hello", "2.0.0", { "bin/hello": script("new") });
      let thrown: unknown;
      await installPackages(failing, [next]).catch((error) => (thrown = error));
      expect((thrown as Error).message).to.equal(`crash after ${step}`);
      expect(runLinked("hello")).to.equal("old");
      expect(await readdir(options.dir)).to.have.members(["default", "default-1-link"]);
      expect(roots.roots).to.deep.equal(rootsBefore);
    });
  }

  /** Installs `entry` in a child process, which SIGKILLs itself right after `step` when one is given. */
  function installInChild(entry: ProfileEntryInput, step: ProfileStep | null = null): Promise<NodeJS.Signals | null> {
    const program = `
      const { installPackages } = require(${JSON.stringify(path.join(ROOT, "src", "profile"))});
      const options = JSON.parse(process.env.OPTIONS);
      options.afterStep = (at) => { if (at === ${JSON.stringify(step)}) process.kill(process.pid, "SIGKILL"); };
      installPackages(options, [JSON.parse(process.env.ENTRY)]).then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });`;
    const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", program], {
      cwd: ROOT,
      env: { ...process.env, OPTIONS: JSON.stringify({ dir: options.dir, storeRoot }), ENTRY: JSON.stringify(entry) },
      stdio: ["ignore", "ignore", "inherit"],
    });
    return new Promise((resolve, reject) =>
      child.once("exit", (code, signal) => (code !== 0 && signal === null ? reject(new Error(`install exited with ${code}`)) : resolve(signal))),
    );
  }

  for (const step of ["written", "rooted", "renamed", "switched"] as const) {
    it(`a process killed after "${step}" leaves a working profile; the next operation cleans up`, async () => {
      await installPackages(options, [await output("hello", "1.0.0", { "bin/hello": script("old") })]);
      const next = await output("hello", "2.0.0", { "bin/hello": script("new") });
      expect(await installInChild(next, step)).to.equal("SIGKILL");
      // Whatever the point, `default` is a complete generation: the old one, or (once switched) the new one.
      expect(runLinked("hello")).to.equal(step === "switched" ? "new" : "old");
      const lockLeft = (await readdir(options.dir)).includes("default.lock");
      expect(lockLeft, "the killed process held the lock").to.equal(true);

      // The next writer takes over the dead process's lock and removes its temporary generation.
      const other = await output("other", "1.0.0", { "bin/other": script("other") });
      const result = await installPackages(options, [other]);
      expect(await leftovers()).to.deep.equal([]);
      // After "renamed" the killed writer's generation 2 is complete (just never current): kept, like Nix.
      expect(result.generation).to.equal(step === "renamed" || step === "switched" ? 3 : 2);
      expect(runLinked("other")).to.equal("other");
      expect(runLinked("hello")).to.equal(step === "switched" ? "new" : "old");
    });
  }

  it("serialises concurrent writers (in this process and in others): every install lands in its own generation", async () => {
    const entries = await Promise.all(["a", "b", "c", "d"].map((n) => output(n, "1.0.0", { [`bin/${n}`]: script(n) })));
    const children = entries.slice(2).map((entry) => installInChild(entry));
    const here = await Promise.all(entries.slice(0, 2).map((entry) => installPackages(options, [entry])));
    expect(await Promise.all(children)).to.deep.equal([null, null]);
    expect(here.map((r) => r.created)).to.deep.equal([true, true]);
    expect((await listGenerations(options)).map((g) => g.number)).to.deep.equal([1, 2, 3, 4]);
    expect((await installedPackages(options)).map((p) => p.name).sort()).to.deep.equal(["a", "b", "c", "d"]);
    for (const n of ["a", "b", "c", "d"]) expect(runLinked(n)).to.equal(n);
    expect(await leftovers()).to.deep.equal([]);
  });

  it("waits for a live writer's lock, then reports it", async () => {
    await mkdir(options.dir, { recursive: true });
    await writeFile(path.join(options.dir, "default.lock"), `${process.pid}\n`);
    const error = await rejectsWith(installPackages({ ...options, lockTimeoutMs: 200 }, [await output("a", "1", {})]), ERR_PROFILE_LOCKED);
    expect(error.message).to.equal(`profile default is being changed by process ${process.pid}`);
    expect(await readdir(options.dir)).to.deep.equal(["default.lock"]);
  });

  it("deletes old generations (never the current one) and their roots", async () => {
    let clock = Date.parse("2026-01-01T00:00:00Z");
    options.now = () => new Date(clock);
    const a = await output("a", "1", { "bin/a": script("a") });
    const b = await output("b", "1", { "bin/b": script("b") });
    await installPackages(options, [a]); // day 0
    clock += 10 * 86_400_000;
    await installPackages(options, [b]); // day 10
    clock += 10 * 86_400_000;
    await uninstallPackages(options, ["a"]); // day 20
    await switchGeneration(options, 2);
    clock += 5 * 86_400_000; // day 25

    expect(await deleteGenerations(options, { olderThanMs: parseAge("20d") })).to.deep.equal({ deleted: [1], kept: [2, 3] });
    expect(await deleteGenerations(options)).to.deep.equal({ deleted: [3], kept: [2] });
    expect((await listGenerations(options)).map((g) => g.number)).to.deep.equal([2]);
    expect([...roots.roots.keys()].map((k) => k.replace(/^.*default-/, ""))).to.have.members([`2-link:${path.basename(a.path)}`, `2-link:${path.basename(b.path)}`]);
    expect(runLinked("a")).to.equal("a");
    expect(() => parseAge("3 weeks")).to.throw(/invalid age/);
  });

  it("drops roots a crashed writer left for generations that do not exist, and only this profile's", async () => {
    const a = await output("a", "1", { "bin/a": script("a") });
    const link = path.join(options.dir, "default");
    roots.addRoot(`profile:${link}-7-link:${path.basename(a.path)}`, a.path); // generation 7 never made it
    roots.addRoot(`profile:${link}-2-1-link:${path.basename(a.path)}`, a.path); // generation 1 of a profile "default-2"
    await installPackages(options, [a]);
    expect([...roots.roots.keys()].map((k) => k.slice(`profile:${link}-`.length).replace(/:.*/, "")).sort()).to.deep.equal(["1-link", "2-1-link"]);
  });

  it("gives the PATH line once, and not at all when PATH has the profile already", async () => {
    const expected = `export PATH="${path.join(options.dir, "default", "bin")}:$PATH"`;
    expect(await takePathHint(options, { PATH: "/usr/bin" })).to.equal(expected);
    expect(await takePathHint(options, { PATH: "/usr/bin" })).to.equal(null);
    const other = { ...options, dir: path.join(tmp, "other") };
    expect(await takePathHint(other, { PATH: `/usr/bin:${path.join(other.dir, "default", "bin")}` })).to.equal(null);
  });

  it("registers generations as roots in a real store, which refuses paths it does not know", async () => {
    const content = await openEmbeddedStore({ directory: path.join(tmp, "ipfs") });
    const store = await openStore({ root: storeRoot, content });
    try {
      const build = await store.makeTempDir("out");
      await mkdir(path.join(build, "bin"));
      await writeFile(path.join(build, "bin", "tool"), script("real"), { mode: 0o755 });
      const { path: out, cid } = await store.addOutput({ drv: "bafyreidrv", output: "out", drvName: "tool-1.0.0", from: build });
      const withStore: ProfileOptions = { ...options, roots: store };
      const entry = { ...parseStorePathName(out), repository: "crates", id: "crates/tool:1.0.0", drv: "bafyreidrv", path: out, cid };
      expect(entry).to.include({ name: "tool", version: "1.0.0" });
      await installPackages(withStore, [entry]);
      expect(runLinked("tool")).to.equal("real");
      expect(store.listRoots()).to.deep.equal([{ name: `profile:${path.join(options.dir, "default")}-1-link:${path.basename(out)}`, path: out }]);

      // A path under paths/ the store never registered: the store's error, and no generation 2.
      const stray = await output("stray", "1.0.0", { "bin/stray": script("s") });
      await rejectsWith(installPackages(withStore, [stray]), "ERR_STORE_PATH_NOT_FOUND");
      expect(await readdir(options.dir)).to.have.members(["default", "default-1-link"]);
      expect(store.listRoots()).to.have.lengthOf(1);
    } finally {
      store.close();
      await content.close();
    }
  });

  it("finds the profiles directory like config.ts finds the data directory", () => {
    const env = { XDG_DATA_HOME: "/x/data" };
    expect(defaultProfilesDir(env, "/home/u")).to.equal(path.join(defaultDataDir(env, "/home/u"), "profiles"));
    expect(defaultProfilesDir({}, "/home/u")).to.equal(path.join(defaultDataDir({}, "/home/u"), "profiles"));
    expect(defaultProfilesDir({ PKG_DATA_DIR: "/d" }, "/home/u")).to.equal("/d/profiles");
    expect(defaultProfilesDir({ PKG_PROFILE_DIR: "/p", PKG_DATA_DIR: "/d" })).to.equal("/p");
    expect(parseStorePathName("/s/paths/abcdefghijklmnopqrstuvwxyz234567-hello-world-1.0.0-rc1")).to.deep.equal({ name: "hello-world", version: "1.0.0-rc1" });
  });
});
