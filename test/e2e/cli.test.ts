/**
 * End to end: the BUILT binaries (node bin/pkg.js …, node bin/repo.js …) as subprocesses, against a real
 * `pkg node` (its own process group, stopped with SIGTERM) and the embedded content store, all inside one
 * temp directory: PKG_DATA_DIR and PKG_CONFIG (a file that is never created) point there, so the user's own
 * files are never touched. Every call runs with stdin closed and CI=true.
 *
 *   npx hardhat test test/e2e/cli.test.ts          (E2E_KEEP=1 keeps the temp directory and prints it)
 *
 * One node serves the whole file (each CLI call costs ~0.5-1.5 s); the tests run in order and build on
 * each other: flows first, then errors, then a restart of the node on the same data directory.
 */
import { expect } from "chai";
import { chmod, cp, mkdir, mkdtemp, readdir, readFile, rm, stat, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { freePort } from "../helpers/node";
import * as h from "./helpers";
import { uniqueSuffix } from "../helpers/random";
import { skipBecause } from "../helpers/skip";

const KEEP = process.env.E2E_KEEP === "1";
const EXAMPLES = path.join(h.ROOT, "examples");
const DEAD_REGISTRY = "0x000000000000000000000000000000000000dEaD";

interface Published {
  meta: string;
  src: string;
  /** The package directory's files as published (pkg.toml and its src files). */
  files: Map<string, Buffer>;
}

interface PublishJson {
  repository: string;
  name: string;
  version: string;
  meta: string;
  src: string;
  files: number;
  registered: boolean;
  tx: { hash: string; block: number } | null;
}

interface LockedDependency {
  version: string;
  meta: string;
  src: string;
}

interface LockJson {
  file: string | null;
  block: number;
  warnings: string[];
  changes: { key: string; from: string | null; to: string | null }[];
  lock: { package: string; block: number; chainId: number; registry: string; dependencies: Record<string, LockedDependency> };
}

interface RepositoryLockJson {
  name: string;
  block: number;
  chainId: number;
  registry: string;
  packages: Record<string, LockedDependency>;
}

/** A pkg.toml whose line numbers are fixed: line 4 is `version`. */
function manifest(fields: { repository?: string; name: string; version: string; src?: string[]; inputs?: Record<string, string>; versionLine?: string }): string {
  const lines = [
    "[package]",
    `repository = "${fields.repository ?? "crates"}"`,
    `name = "${fields.name}"`,
    fields.versionLine ?? `version = "${fields.version}"`,
    'license = "MIT"',
    `src = [${(fields.src ?? ["Cargo.toml", "src/lib.rs"]).map((s) => `"${s}"`).join(", ")}]`,
  ];
  if (fields.inputs) {
    lines.push("", "[inputs]");
    for (const [key, range] of Object.entries(fields.inputs)) lines.push(`"${key}" = "${range}"`);
  }
  return `${lines.join("\n")}\n`;
}

/** A small crate whose every byte is its own (no block shared with any other package in the store). */
async function writeCrate(dir: string, fields: Parameters<typeof manifest>[0]): Promise<void> {
  await mkdir(path.join(dir, "src"), { recursive: true });
  await writeFile(path.join(dir, "pkg.toml"), manifest(fields));
  await writeFile(path.join(dir, "Cargo.toml"), `[package]\nname = "${fields.name}"\nversion = "${fields.version}"\nedition = "2021"\n# ${uniqueSuffix()}\n`);
  await writeFile(path.join(dir, "src", "lib.rs"), `//! ${fields.name} ${fields.version}, written by the e2e test at ${Date.now()} (${uniqueSuffix()})\npub fn id() -> &'static str { "${fields.name}" }\n`);
}

async function setVersion(dir: string, from: string, to: string): Promise<void> {
  for (const file of ["pkg.toml", "Cargo.toml"]) {
    const text = await readFile(path.join(dir, file), "utf8");
    const next = text.replace(`version = "${from}"`, `version = "${to}"`);
    expect(next, `${file} holds version ${from}`).not.to.equal(text);
    await writeFile(path.join(dir, file), next);
  }
}

/**
 * examples/hello builds with the host toolchains and meta-rustc (test/e2e/flow.test.ts builds it); these tests are
 * about the registry and the CLI, so their hello keeps only its crate input: no builder, no toolchain inputs.
 */
async function withoutToolchains(file: string): Promise<void> {
  const text = await readFile(file, "utf8");
  const kept: string[] = [];
  let skipping = false;
  for (const line of text.split("\n")) {
    if (/^\[/.test(line)) skipping = line === "[meta-inputs]" || line === "[native-inputs]";
    if (!skipping && !/^(builder|args) = /.test(line)) kept.push(line);
  }
  const next = kept.join("\n");
  expect(next, "examples/hello has toolchain inputs to remove").not.to.equal(text);
  await writeFile(file, next);
}

function same(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function expectSameTree(actual: Map<string, Buffer>, expected: Map<string, Buffer>, what: string): void {
  expect([...actual.keys()].sort(), `files of ${what}`).to.deep.equal([...expected.keys()].sort());
  for (const [file, bytes] of expected) expect(actual.get(file)!.equals(bytes), `${what}: ${file} is byte-identical`).to.equal(true);
}

describe("e2e: the built pkg and repo CLIs against a local node", function () {
  this.timeout(120_000);

  let root = "";
  let dataDir = "";
  let contentDir = "";
  let work = "";
  let port = 0;
  let url = "";
  let env: NodeJS.ProcessEnv = {};
  let node: h.NodeProcess | null = null;
  let firstNodeStdout = "";
  let accounts: string[] = [];
  let suiteStarted = 0;

  // what the flows published and locked, for later tests
  const published: Record<string, Published> = {};
  let helloLockBlock = -1;
  let helloLock: Buffer = Buffer.alloc(0);
  let repositoryVersion: { meta: string; block: number; lock: RepositoryLockJson } | null = null;

  const pkg = (args: string[], options: Partial<h.RunOptions> = {}) => h.run("pkg", args, env, { cwd: work, ...options });
  const repo = (args: string[], options: Partial<h.RunOptions> = {}) => h.run("repo", args, env, { cwd: work, ...options });
  const pkgJson = async <T = Record<string, unknown>>(args: string[], options: Partial<h.RunOptions> = {}) =>
    h.expectJsonSuccess<T>(await pkg([...args, "--json"], options));
  const repoJson = async <T = Record<string, unknown>>(args: string[], options: Partial<h.RunOptions> = {}) =>
    h.expectJsonSuccess<T>(await repo([...args, "--json"], options));

  async function scratch(name: string): Promise<string> {
    return mkdtemp(path.join(root, `${name}-`));
  }

  /**
   * A command that must fail: run as a human would and with --json (at once), both checked, and every
   * directory in `watch` (default: the cwd) listed before and after: no new file, no temp file anywhere.
   */
  async function expectFailure(
    bin: h.Bin,
    args: string[],
    expected: h.ErrorExpectation,
    options: { cwd: string; env?: h.EnvPatch; watch?: string[] },
  ): Promise<{ human: { line: string; hint: string | null }; json: h.JsonError }> {
    const watch = options.watch ?? [options.cwd];
    const before = await Promise.all(watch.map(h.listTree));
    const [human, json] = await Promise.all([h.run(bin, args, env, options), h.run(bin, [...args, "--json"], env, options)]);
    const after = await Promise.all(watch.map(h.listTree));
    watch.forEach((dir, i) => expect(after[i], `files in ${dir} after \`${bin} ${args.join(" ")}\` failed`).to.deep.equal(before[i]));
    expect(await h.temporaries(root), "temp files left behind").to.deep.equal([]);
    return { human: h.expectHumanError(human, expected), json: h.expectJsonError(json, expected) };
  }

  async function publishDir(dir: string, extraEnv: h.EnvPatch = {}): Promise<PublishJson> {
    const result = await pkgJson<PublishJson>(["publish"], { cwd: dir, env: extraEnv });
    const files = await h.readTree(dir);
    files.delete("pkg.lock");
    expect(result.meta, "the meta CID is the CID of pkg.toml's bytes").to.equal(h.rawCid(files.get("pkg.toml")!));
    published[`${result.repository}:${result.name}@${result.version}`] = { meta: result.meta, src: result.src, files };
    return result;
  }

  before(async function () {
    this.timeout(600_000);
    suiteStarted = Date.now();
    h.ensureBuilt();
    root = await mkdtemp(path.join(tmpdir(), "pkg-e2e-"));
    dataDir = path.join(root, "data");
    contentDir = path.join(dataDir, "ipfs");
    work = path.join(root, "work");
    await mkdir(work, { recursive: true });
    port = await freePort();
    url = `http://127.0.0.1:${port}`;
    env = h.baseEnvironment({
      PKG_DATA_DIR: dataDir,
      PKG_CONFIG: path.join(root, "config.toml"), // never created: the zero-configuration defaults
      PKG_RPC_URL: url,
      XDG_CONFIG_HOME: path.join(root, "xdg-config"),
      XDG_DATA_HOME: path.join(root, "xdg-data"),
    });
    node = await h.startNode(port, env, root);
    expect(node.summary.url).to.equal(url);
    expect(node.summary.chainId).to.equal("31337");
    expect(node.summary.replayed).to.equal(0);
    accounts = await h.rpc<string[]>(url, "eth_accounts");
    expect(accounts.length).to.be.at.least(4);
  });

  after(async function () {
    this.timeout(60_000);
    if (node) await node.stop();
    if (dataDir) {
      // the internal Hardhat node is pkg node's child; it must be gone with it (and is ours to stop if not)
      for (const pid of await h.internalNodePids(dataDir)) process.kill(pid, "SIGTERM");
    }
    if (root && KEEP) console.log(`      kept ${root}`);
    else if (root) await rm(root, { recursive: true, force: true });
    if (suiteStarted) console.log(`      e2e suite: ${((Date.now() - suiteStarted) / 1000).toFixed(1)} s`);
  });

  describe("package flow: publish → yank → lock → fetch → unyank → update → lock --block", function () {
    it("repo create crates", async function () {
      const created = await repoJson<{ name: string; owner: string; curated: boolean; tx: { hash: string; block: number } }>(["create", "crates"]);
      expect(created.name).to.equal("crates");
      expect(created.curated).to.equal(false);
      expect(same(created.owner, accounts[0]), "dev account 0 owns it").to.equal(true);
      expect(created.tx.hash).to.match(/^0x[0-9a-f]{64}$/);
    });

    it("pkg publish crates:dep 0.2.0 and 0.2.1", async function () {
      const dir = path.join(work, "dep");
      await cp(path.join(EXAMPLES, "dep"), dir, { recursive: true });
      const first = await publishDir(dir);
      expect(first).to.include({ repository: "crates", name: "dep", version: "0.2.0", files: 2, registered: true });
      expect(first.tx!.hash).to.match(/^0x[0-9a-f]{64}$/);
      await setVersion(dir, "0.2.0", "0.2.1");
      const second = await publishDir(dir);
      expect(second).to.include({ version: "0.2.1", registered: false });
      expect(second.src).not.to.equal(first.src);
      expect(second.tx!.block).to.be.greaterThan(first.tx!.block);
    });

    it("pkg yank crates/dep:0.2.1 (and again: nothing to do)", async function () {
      const yanked = await pkgJson(["yank", "crates/dep:0.2.1"]);
      expect(yanked).to.include({ id: "crates/dep:0.2.1", yanked: true, changed: true });
      expect(yanked.tx).to.match(/^0x[0-9a-f]{64}$/);
      // the human form, once: the result on stdout, nothing on stderr
      const again = h.expectSuccess(await pkg(["yank", "crates/dep:0.2.1"]));
      expect(again.stdout).to.equal("crates/dep:0.2.1 was already yanked\n");
      expect(again.stderr).to.equal("");
    });

    it('pkg publish crates:hello (input crates:dep = "0.2")', async function () {
      const dir = path.join(work, "hello");
      await cp(path.join(EXAMPLES, "hello"), dir, { recursive: true });
      await withoutToolchains(path.join(dir, "pkg.toml"));
      expect(await readFile(path.join(dir, "pkg.toml"), "utf8")).to.match(/^"crates:dep" = "0\.2"$/m);
      const hello = await publishDir(dir);
      expect(hello).to.include({ repository: "crates", name: "hello", version: "1.0.0", registered: true });
    });

    it("pkg lock picks crates:dep 0.2.0: 0.2.1 is yanked", async function () {
      const dir = path.join(work, "hello");
      const locked = await pkgJson<LockJson>(["lock"], { cwd: dir });
      expect(locked.file).to.equal(path.join(dir, "pkg.lock")); // absolute, as pkg fetch says it
      expect(locked.warnings).to.deep.equal([]);
      expect(locked.changes).to.deep.equal([{ key: "crates:dep", from: null, to: "0.2.0" }]);
      const dep = published["crates:dep@0.2.0"];
      expect(locked.lock.dependencies).to.deep.equal({ "crates:dep": { ...locked.lock.dependencies["crates:dep"], version: "0.2.0", meta: dep.meta, src: dep.src } });
      expect(locked.lock.package).to.equal(published["crates:hello@1.0.0"].meta);
      expect(locked.lock.chainId).to.equal(31337);
      expect(same(locked.lock.registry, node!.summary.registry)).to.equal(true);
      helloLockBlock = locked.block;
      helloLock = await readFile(path.join(dir, "pkg.lock"));
      // -C with a relative directory: the file is still reported absolute
      const again = await pkgJson<LockJson>(["lock", "-C", "hello", "--block", String(helloLockBlock)], { cwd: work });
      expect(again.file).to.equal(path.join(work, "hello", "pkg.lock"));
      expect(again.changes).to.deep.equal([]);
      expect((await readFile(path.join(dir, "pkg.lock"))).equals(helloLock), "the same lock at the same block").to.equal(true);
      const text = helloLock.toString("utf8");
      expect(text).to.include(`block = ${helloLockBlock}\n`);
      expect(text).to.include('version = "0.2.0"');
      expect(text).to.include(dep.meta);
    });

    it("pkg fetch pins every locked dependency in the store", async function () {
      const dir = path.join(work, "hello");
      const fetched = await pkgJson<{ file: string; pinned: number }>(["fetch"], { cwd: dir });
      expect(fetched).to.deep.equal({ file: path.join(dir, "pkg.lock"), pinned: 1 });
      const dep = published["crates:dep@0.2.0"];
      for (const cid of [dep.meta, dep.src]) expect(h.fileExists(path.join(contentDir, "pins", cid)), `pin ${cid}`).to.equal(true);
    });

    it("pkg fetch <id> -o DIR writes the sources and pkg.toml, byte-identical to what was published", async function () {
      const out = await scratch("fetched");
      const hello = published["crates:hello@1.0.0"];
      const destination = path.join(out, "hello");
      const fetched = await pkgJson(["fetch", "crates/hello:1.0.0", "-o", destination]);
      expect(fetched).to.deep.equal({ id: "crates/hello:1.0.0", version: "1.0.0", meta: hello.meta, src: hello.src, yanked: false, destination });
      expectSameTree(await h.readTree(destination), hello.files, "crates/hello:1.0.0");
      expect(h.rawCid(await readFile(path.join(destination, "pkg.toml")))).to.equal(hello.meta);

      // no version and no -o: the newest version that is not yanked, into ./NAME-VERSION
      const dep = published["crates:dep@0.2.0"];
      const newest = await pkgJson(["fetch", "crates/dep"], { cwd: out });
      expect(newest).to.include({ id: "crates/dep:0.2.0", destination: path.join(out, "dep-0.2.0"), meta: dep.meta });
      expectSameTree(await h.readTree(path.join(out, "dep-0.2.0")), dep.files, "crates/dep:0.2.0");
      expect((await h.listTree(out)).filter((p) => !p.slice(0, -1).includes("/"))).to.deep.equal(["dep-0.2.0/", "hello/"]);
    });

    it("pkg yank --undo, then pkg lock keeps the locked 0.2.0 (as cargo does)", async function () {
      const undone = await pkgJson(["yank", "crates/dep:0.2.1", "--undo"]);
      expect(undone).to.include({ id: "crates/dep:0.2.1", yanked: false, changed: true });
      const dir = path.join(work, "hello");
      const relocked = await pkgJson<LockJson>(["lock"], { cwd: dir });
      expect(relocked.changes).to.deep.equal([]);
      expect(relocked.lock.dependencies["crates:dep"]).to.deep.include({ version: "0.2.0", meta: published["crates:dep@0.2.0"].meta });
      expect(relocked.block).to.be.at.least(helloLockBlock);
    });

    it("pkg update crates:dep moves it to 0.2.1", async function () {
      const dir = path.join(work, "hello");
      const updated = await pkgJson<{ file: string; changes: LockJson["changes"] }>(["update", "crates:dep"], { cwd: dir });
      expect(updated.file).to.equal(path.join(dir, "pkg.lock"));
      expect(updated.changes).to.deep.equal([{ key: "crates:dep", from: "0.2.0", to: "0.2.1" }]);
      const text = await readFile(path.join(dir, "pkg.lock"), "utf8");
      expect(text).to.include('version = "0.2.1"');
      expect(text).to.include(published["crates:dep@0.2.1"].meta);
      expect(text).not.to.include(published["crates:dep@0.2.0"].meta);
    });

    it("pkg lock --block <recorded block> in a copy without pkg.lock gives the original lock, byte for byte", async function () {
      const copy = path.join(await scratch("at-block"), "hello");
      await cp(path.join(work, "hello"), copy, { recursive: true, filter: (src) => path.basename(src) !== "pkg.lock" });
      expect(h.fileExists(path.join(copy, "pkg.lock"))).to.equal(false);
      const again = await pkgJson<LockJson>(["lock", "--block", String(helloLockBlock)], { cwd: copy });
      expect(again.block).to.equal(helloLockBlock);
      const bytes = await readFile(path.join(copy, "pkg.lock"));
      expect(bytes.toString("utf8")).to.equal(helloLock.toString("utf8"));
      expect(bytes.equals(helloLock)).to.equal(true);
    });
  });

  describe("repository flow: repo lock (rolling) → repo publish → repo lock NAME:VERSION → repo fetch", function () {
    let rolling: RepositoryLockJson | null = null;

    it("repo lock of the rolling repository: every package at its newest version not yanked", async function () {
      const locked = await repoJson<{ file: null; name: string; version: null; meta: null; block: number; warnings: string[]; lock: RepositoryLockJson }>(["lock", "crates"]);
      expect(locked).to.include({ file: null, name: "crates", version: null, meta: null });
      expect(locked.warnings).to.deep.equal([]);
      const dep = published["crates:dep@0.2.1"];
      const hello = published["crates:hello@1.0.0"];
      expect(locked.lock.packages).to.deep.equal({
        dep: { version: "0.2.1", meta: dep.meta, src: dep.src },
        hello: { version: "1.0.0", meta: hello.meta, src: hello.src },
      });
      expect(locked.lock.block).to.equal(locked.block);
      rolling = locked.lock;
    });

    it("repo publish crates 1.0.0; repo lock crates:1.0.0 is what was published (and the rolling lock at that block)", async function () {
      const result = await repoJson<{ name: string; version: string; meta: string; block: number; packages: number; lock: RepositoryLockJson; warnings: string[]; tx: { hash: string } }>(["publish", "crates", "1.0.0"]);
      expect(result).to.include({ name: "crates", version: "1.0.0", packages: 2 });
      expect(result.warnings).to.deep.equal([]);
      expect(result.lock.packages).to.deep.equal(rolling!.packages);
      expect(result.tx.hash).to.match(/^0x[0-9a-f]{64}$/);
      repositoryVersion = { meta: result.meta, block: result.block, lock: result.lock };

      const read = await repoJson<{ name: string; version: string; meta: string; block: number; lock: RepositoryLockJson }>(["lock", "crates:1.0.0"]);
      expect(read).to.include({ name: "crates", version: "1.0.0", meta: result.meta, block: result.block });
      expect(read.lock).to.deep.equal(result.lock);

      const file = path.join(await scratch("repo-lock"), "repo.lock");
      const atBlock = await repoJson<{ file: string; block: number; lock: RepositoryLockJson }>(["lock", "crates", "--block", String(result.block), "-o", file]);
      expect(atBlock.file).to.equal(file);
      expect(atBlock.lock).to.deep.equal(result.lock);
      expect(h.rawCid(await readFile(file)), "the rolling lock at the published block hashes to the published meta").to.equal(result.meta);
    });

    it("repo fetch crates:1.0.0 -o DIR writes repo.lock and every package into DIR (as pkg fetch -o DIR), byte-identical", async function () {
      const out = await scratch("repo-fetch");
      const destination = path.join(out, "vendor");
      const fetched = await repoJson<{ name: string; version: string; meta: string; destination: string; packages: { name: string; version: string; destination: string }[] }>(["fetch", "crates:1.0.0", "-o", destination]);
      expect(fetched).to.include({ name: "crates", version: "1.0.0", meta: repositoryVersion!.meta, destination });
      expect(fetched.packages.map((p) => `${p.name}:${p.version}`).sort()).to.deep.equal(["dep:0.2.1", "hello:1.0.0"]);
      expect(await h.listTree(out)).to.deep.equal([
        "vendor/",
        "vendor/dep-0.2.1/",
        "vendor/dep-0.2.1/Cargo.toml",
        "vendor/dep-0.2.1/pkg.toml",
        "vendor/dep-0.2.1/src/",
        "vendor/dep-0.2.1/src/lib.rs",
        "vendor/hello-1.0.0/",
        "vendor/hello-1.0.0/Cargo.toml",
        "vendor/hello-1.0.0/pkg.toml",
        "vendor/hello-1.0.0/src/",
        "vendor/hello-1.0.0/src/main.rs",
        "vendor/repo.lock",
      ]);
      expect(h.rawCid(await readFile(path.join(destination, "repo.lock")))).to.equal(repositoryVersion!.meta);
      expectSameTree(await h.readTree(path.join(destination, "dep-0.2.1")), published["crates:dep@0.2.1"].files, "dep-0.2.1");
      expectSameTree(await h.readTree(path.join(destination, "hello-1.0.0")), published["crates:hello@1.0.0"].files, "hello-1.0.0");
    });

    it("repo fetch without -o creates ./NAME-VERSION, as pkg fetch does; an existing directory is refused", async function () {
      const cwd = await scratch("repo-fetch-default");
      const fetched = await repoJson<{ destination: string }>(["fetch", "crates:1.0.0"], { cwd });
      expect(fetched.destination).to.equal(path.join(cwd, "crates-1.0.0"));
      const tree = await h.listTree(cwd);
      expect(tree).to.include.members(["crates-1.0.0/", "crates-1.0.0/dep-0.2.1/", "crates-1.0.0/hello-1.0.0/", "crates-1.0.0/repo.lock"]);
      expect(tree.filter((f) => !f.startsWith("crates-1.0.0/"))).to.deep.equal([]);
      await expectFailure("repo", ["fetch", "crates:1.0.0", "-o", "crates-1.0.0"], { code: "ERR_REPO_DESTINATION_EXISTS", message: [path.join(cwd, "crates-1.0.0")] }, { cwd });
    });
  });

  describe("owners and maintainers", function () {
    it("pkg owner add <dev account 2>: that account may publish, a stranger (dev account 3) may not", async function () {
      const dir = path.join(work, "shared");
      await writeCrate(dir, { name: "shared", version: "1.0.0" });
      await publishDir(dir);

      const added = await pkgJson<{ package: string; owner: string; maintainers: string[] }>(["owner", "add", "crates/shared", accounts[2]]);
      expect(added.package).to.equal("crates/shared");
      expect(same(added.owner, accounts[0])).to.equal(true);
      expect(added.maintainers.map((a) => a.toLowerCase())).to.deep.equal([accounts[2].toLowerCase()]);

      await setVersion(dir, "1.0.0", "1.1.0");
      const byMaintainer = await publishDir(dir, { PKG_ACCOUNT: "2" });
      expect(byMaintainer).to.include({ name: "shared", version: "1.1.0", registered: false });

      // not authorized: a new version of a package another account owns
      await setVersion(dir, "1.1.0", "1.2.0");
      const { json } = await expectFailure(
        "pkg",
        ["publish"],
        { code: "ERR_CHAIN_UNAUTHORIZED", message: [/not allowed/, new RegExp(accounts[3], "i")], hint: /maintainer/, progressFirst: true },
        { cwd: dir, env: { PKG_ACCOUNT: "3" } },
      );
      expect(String(json.details?.account).toLowerCase()).to.equal(accounts[3].toLowerCase());
      const versions = await pkgJson<LockJson>(["lock", "crates/shared"]);
      expect(versions.lock.package, "the newest version is still the maintainer's 1.1.0").to.equal(byMaintainer.meta);
    });
  });

  describe("owner and repository transfers take the thing first, then the address", function () {
    it("pkg owner transfer ID ADDRESS offers the package; the address first is a usage error (exit 2)", async function () {
      const offered = await pkgJson<{ package: string; owner: string; account: string }>(["owner", "transfer", "crates/shared", accounts[4]]);
      expect(offered.package).to.equal("crates/shared");
      expect(same(offered.account, accounts[4])).to.equal(true);
      expect(same(offered.owner, accounts[0]), "the owner changes only when the offer is accepted").to.equal(true);
      const dir = await scratch("owner-order");
      for (const action of ["transfer", "add", "remove"]) {
        await expectFailure(
          "pkg",
          ["owner", action, accounts[4], "crates/shared"],
          { code: "ERR_USAGE", message: [`pkg owner ${action}: the first argument is an address, but the package id comes first`], hint: `write pkg owner ${action} crates/shared ${accounts[4]}` },
          { cwd: dir },
        );
      }
      await expectFailure("pkg", ["owner", "transfer", "crates/shared"], { code: "ERR_USAGE", message: ["missing ADDRESS"], hint: "pkg owner transfer crates/shared 0x" }, { cwd: dir });
    });

    it("repo transfer NAME ADDRESS (and repo maintainer add|remove): an address first is a usage error (exit 2)", async function () {
      const dir = await scratch("repo-order");
      for (const command of [["transfer"], ["maintainer", "add"], ["maintainer", "remove"]]) {
        await expectFailure(
          "repo",
          [...command, accounts[4], "crates"],
          { code: "ERR_USAGE", message: [`repo ${command.join(" ")}: the first argument is an address, but the repository name comes first`], hint: `write repo ${command.join(" ")} crates ${accounts[4]}` },
          { cwd: dir },
        );
      }
    });
  });

  describe("errors: one line on stderr, the exit code of exitCodeOf, nothing left behind", function () {
    it("a bad id", async function () {
      const dir = await scratch("bad-id");
      await expectFailure("pkg", ["fetch", "Crates/Hello"], { code: "ERR_ID_INVALID_NAME", message: ["Crates/Hello", "uppercase"], hint: "crates" }, { cwd: dir });
      const { json } = await expectFailure("pkg", ["fetch", "crates/hello:1.0"], { code: "ERR_ID_INVALID_VERSION", message: ["crates/hello:1.0"], hint: "1.0.0" }, { cwd: dir });
      expect(json.details).to.deep.equal({ input: "crates/hello:1.0", field: "version" });
    });

    it("no pkg.toml (pkg publish, pkg lock in an empty directory)", async function () {
      const dir = await scratch("empty");
      for (const command of ["publish", "lock"]) {
        await expectFailure("pkg", [command], { code: "ERR_MANIFEST_NOT_FOUND", message: ["pkg.toml"], hint: /package directory/ }, { cwd: dir });
      }
    });

    it("a pkg.toml with a TOML syntax error: the message names the file and line", async function () {
      const dir = await scratch("syntax");
      await writeCrate(dir, { name: "syntax", version: "1.0.0" });
      await writeFile(path.join(dir, "pkg.toml"), manifest({ name: "syntax", version: "1.0.0", versionLine: "version = 1.0.0" }));
      const { json } = await expectFailure("pkg", ["publish"], { code: "ERR_MANIFEST_TOML", message: [/^pkg\.toml:4: /] }, { cwd: dir });
      expect(json.details).to.include({ file: "pkg.toml", line: 4 });
    });

    it("a pkg.toml with a bad version: the message names the file, line and field", async function () {
      const dir = await scratch("bad-version");
      await writeCrate(dir, { name: "badversion", version: "1.0.0" });
      await writeFile(path.join(dir, "pkg.toml"), manifest({ name: "badversion", version: "1.x" }));
      for (const command of ["publish", "lock"]) {
        const { json } = await expectFailure(
          "pkg",
          [command],
          { code: "ERR_MANIFEST_INVALID_VERSION", message: [/^pkg\.toml:4: \[package\]\.version: /, '"1.x"'], hint: /MAJOR\.MINOR\.PATCH/ },
          { cwd: dir },
        );
        expect(json.details).to.include({ file: "pkg.toml", line: 4, field: "[package].version" });
      }
    });

    it("hostile values: an id holding a newline is one escaped line; a 5 MB license or version a short error; --json stays valid", async function () {
      const dir = await scratch("hostile");
      const { human, json } = await expectFailure("pkg", ["fetch", "crates/he\nllo"], { code: "ERR_ID_INVALID_NAME", message: ['"crates/he\\nllo"'] }, { cwd: dir });
      expect(human.line).to.equal('invalid id "crates/he\\nllo": name "he\\nllo" may only contain a-z, 0-9, \'-\', \'_\' and \'.\'');
      expect(json.details).to.deep.equal({ input: "crates/he\nllo", field: "name" });

      // a 5 MB pkg.toml: refused by size, before it is parsed (the published meta has the same limit)
      await writeCrate(dir, { name: "hostile", version: "1.0.0" });
      const text = await readFile(path.join(dir, "pkg.toml"), "utf8");
      await writeFile(path.join(dir, "pkg.toml"), text.replace('license = "MIT"', `license = "${"MIT OR ".repeat(750_000)}MIT"`));
      const large = await expectFailure("pkg", ["publish"], { code: "ERR_MANIFEST_TOO_LARGE", message: [/^pkg\.toml: a pkg\.toml of \d+ bytes or more is over the limit of 64 KiB$/] }, { cwd: dir });
      expect(JSON.stringify(large.json).length, "the --json error is short").to.be.below(600);
      // a 50 KB version inside a small enough file: refused by the field's limit, quoted short and cut
      await writeFile(path.join(dir, "pkg.toml"), manifest({ name: "hostile", version: `1.0.0-${"a".repeat(50_000)}` }));
      const version = await expectFailure("pkg", ["publish"], { code: "ERR_MANIFEST_TOO_LARGE", message: [/^pkg\.toml:4: \[package\]\.version: is 50006 bytes long \(at most 4096\): "1\.0\.0-a+"… \(50006 characters\)$/] }, { cwd: dir });
      expect(version.human.line.length).to.be.below(200);
      // a 5 MB version in pkg.lock
      await writeCrate(dir, { name: "hostile", version: "1.0.0" });
      const lock = await readFile(path.join(h.ROOT, "test/fixtures/files/valid/pkg.lock"), "utf8");
      await writeFile(path.join(dir, "pkg.lock"), lock.replace('version = "0.2.3"', `version = "0.2.3-${"a".repeat(5 * 1024 * 1024)}"`));
      const locked = await expectFailure("pkg", ["instantiate"], { code: "ERR_LOCKFILE_TOO_LARGE", message: [/^pkg\.lock:\d+: \[dependencies\]\."crates:dep"\.version: is \d+ bytes long/], progressFirst: true }, { cwd: dir });
      expect(JSON.stringify(locked.json).length).to.be.below(600);
    });

    it("a pkg.lock without [dependencies], or with an edge to nothing, is an invalid file: exit 7", async function () {
      const dir = await scratch("no-dependencies");
      await writeCrate(dir, { name: "cut", version: "1.0.0" });
      const lock = await readFile(path.join(h.ROOT, "test/fixtures/files/valid/pkg.lock"), "utf8");
      await writeFile(path.join(dir, "pkg.lock"), lock.slice(0, lock.indexOf("[dependencies.")));
      const { json } = await expectFailure("pkg", ["instantiate"], { code: "ERR_LOCKFILE_MISSING_FIELD", message: ["pkg.lock: [dependencies]: missing table"], hint: "pkg lock", progressFirst: true }, { cwd: dir });
      expect(json.details).to.include({ file: "pkg.lock", field: "[dependencies]" });
      // `pkg lock` itself does not answer "run pkg lock": it says how to get past the file
      const relock = await expectFailure("pkg", ["lock"], { code: "ERR_LOCKFILE_MISSING_FIELD", message: ["[dependencies]: missing table"], hint: /remove pkg\.lock and run `pkg lock` again/, progressFirst: true }, { cwd: dir });
      expect(relock.human.hint).to.not.match(/^run `pkg lock`/);
      await writeFile(path.join(dir, "pkg.lock"), lock.replace('inputs = ["crates:dep2"]', 'inputs = ["crates:nope"]'));
      const dangling = await pkg(["instantiate"], { cwd: dir });
      h.expectHumanError(dangling, { code: "ERR_LOCKFILE_UNKNOWN_DEPENDENCY", message: ['"crates:nope" is not in [dependencies]'], progressFirst: true });
      expect(dangling.code, "an invalid file, not an unknown package").to.equal(7);
    });

    it("no node running at PKG_RPC_URL", async function () {
      const dir = await scratch("no-node");
      const dead = `http://127.0.0.1:${await freePort()}`;
      // the local registry is found through the deployment record of the node at that URL: there is none
      await expectFailure("pkg", ["fetch", "crates/hello", "-o", "out"], { code: "ERR_CONFIG_NO_REGISTRY", message: [dead], hint: "pkg node" }, { cwd: dir, env: { PKG_RPC_URL: dead } });
      // with the registry given, the node itself is asked: nothing answers
      await expectFailure(
        "pkg",
        ["fetch", "crates/hello", "-o", "out"],
        { code: "ERR_CHAIN_UNREACHABLE", message: [dead], hint: "pkg node" },
        { cwd: dir, env: { PKG_RPC_URL: dead, PKG_REGISTRY: node!.summary.registry } },
      );
      await expectFailure("repo", ["create", "nodeless"], { code: "ERR_CHAIN_UNREACHABLE", message: [dead] }, { cwd: dir, env: { PKG_RPC_URL: dead, PKG_REGISTRY: node!.summary.registry } });
    });

    it("no registry deployed at PKG_REGISTRY", async function () {
      const dir = await scratch("no-registry");
      await expectFailure("pkg", ["fetch", "crates/hello", "-o", "out"], { code: "ERR_CHAIN_NO_REGISTRY", message: [/0x0{36}dead/i] }, { cwd: dir, env: { PKG_REGISTRY: DEAD_REGISTRY } });
    });

    it("a wrong network (PKG_NETWORK=nope; a network whose chain id differs)", async function () {
      const dir = await scratch("network");
      await expectFailure("pkg", ["fetch", "crates/hello", "-o", "out"], { code: "ERR_CONFIG_NO_REGISTRY", message: ["nope"], hint: "[networks.nope]" }, { cwd: dir, env: { PKG_NETWORK: "nope" } });
      await expectFailure(
        "pkg",
        ["fetch", "crates/hello", "-o", "out"],
        { code: "ERR_CONFIG_UNKNOWN_NETWORK", message: ['"nope"', "known: local"], hint: "[networks.nope]" },
        { cwd: dir, env: { PKG_NETWORK: "nope", PKG_RPC_URL: undefined } },
      );
      const config = path.join(dir, "other.toml");
      await writeFile(config, `[networks.other]\nrpc-url = "${url}"\nchain-id = 1\nregistry = "${node!.summary.registry}"\n`);
      await expectFailure(
        "pkg",
        ["fetch", "crates/hello", "-o", "out"],
        { code: "ERR_CHAIN_WRONG_NETWORK", message: ["31337", "chain 1"] },
        { cwd: dir, env: { PKG_NETWORK: "other", PKG_CONFIG: config, PKG_RPC_URL: undefined } },
      );
    });

    it("a version that exists", async function () {
      const dir = path.join(work, "dep"); // at 0.2.1, published
      await expectFailure("pkg", ["publish"], { code: "ERR_PUBLISH_VERSION_EXISTS", message: ["crates/dep:0.2.1", published["crates:dep@0.2.1"].meta], hint: "bump", progressFirst: true }, { cwd: dir });
    });

    it("an unknown package or version", async function () {
      const dir = await scratch("unknown");
      await expectFailure("pkg", ["fetch", "crates/nope"], { code: "ERR_FETCH_UNKNOWN_PACKAGE", message: ["crates/nope"] }, { cwd: dir });
      const { json } = await expectFailure("pkg", ["fetch", "crates/dep:9.9.9"], { code: "ERR_FETCH_UNKNOWN_VERSION", message: ["9.9.9", "0.2.1, 0.2.0"] }, { cwd: dir });
      expect(json.details?.available).to.deep.equal(["0.2.1", "0.2.0"]);
      await expectFailure("repo", ["fetch", "nope"], { code: "ERR_REPO_UNKNOWN", message: ["nope"], hint: "repo create nope" }, { cwd: dir });
    });

    it('no version satisfies a range (hello with crates:dep = "^9")', async function () {
      const dir = path.join(await scratch("no-match"), "hello");
      await cp(path.join(EXAMPLES, "hello"), dir, { recursive: true });
      await withoutToolchains(path.join(dir, "pkg.toml"));
      const text = await readFile(path.join(dir, "pkg.toml"), "utf8");
      await writeFile(path.join(dir, "pkg.toml"), text.replace('"crates:dep" = "0.2"', '"crates:dep" = "^9"'));
      const { json } = await expectFailure("pkg", ["lock"], { code: "ERR_RESOLVE_NO_MATCH", message: ["crates:dep", '"^9"'], hint: /widen the range/ }, { cwd: dir });
      expect(json.details).to.include({ package: "crates:dep", range: "^9" });
      expect(h.fileExists(path.join(dir, "pkg.lock"))).to.equal(false);
    });

    it("at a terminal, a command that fails with its progress bar running stops the bar: the error starts a clean line", async function () {
      if (!h.canRunInTerminal()) skipBecause(this, "no pseudo-terminal here (util-linux `script` on Linux)");
      const dir = path.join(await scratch("bar-then-error"), "hello");
      await cp(path.join(EXAMPLES, "hello"), dir, { recursive: true });
      await withoutToolchains(path.join(dir, "pkg.toml"));
      const text = await readFile(path.join(dir, "pkg.toml"), "utf8");
      await writeFile(path.join(dir, "pkg.toml"), text.replace('"crates:dep" = "0.2"', '"crates:dep" = "^9"'));
      // `pkg lock` starts its "resolving" bar at the first level, then finds no version of crates:dep
      const result = await h.runInTerminal("pkg", ["lock"], env, { cwd: dir });
      const context = `${h.showRun(result)}\n--- as shown\n${h.screenLines(result.stdout).join("\n")}`;
      expect(result.code, context).to.equal(h.exitCodeOf("ERR_RESOLVE_NO_MATCH"));
      expect(result.stdout, `the bar was drawn (a terminal was there)\n${context}`).to.contain("resolving [");
      const shown = h.screenLines(result.stdout);
      const errorLines = shown.filter((line) => line.includes("error: "));
      expect(errorLines, context).to.have.lengthOf(1);
      expect(errorLines[0], `the error line starts clean, not after the bar's text\n${context}`).to.match(/^error: no version of crates:dep/);
      expect(shown.filter((line) => line.includes("resolving")), `the bar is cleared\n${context}`).to.deep.equal([]);
      const hidden = result.stdout.lastIndexOf("\u001b[?25l");
      expect(result.stdout.indexOf("\u001b[?25h", hidden), `the cursor is shown again\n${context}`).to.be.above(hidden);
    });

    it("corrupt content: a flipped byte in a block file → ERR_CONTENT_INTEGRITY, exit 8, DIR not created", async function () {
      const dir = await scratch("corrupt");
      const crate = path.join(dir, "fragile");
      await writeCrate(crate, { name: "fragile", version: "1.0.0" });
      const { meta } = await publishDir(crate);
      const block = h.blockFile(contentDir, meta);
      const original = await readFile(block);
      const corrupt = Buffer.from(original);
      corrupt[corrupt.length >> 1] ^= 0x20;
      const mode = (await stat(block)).mode & 0o777;
      await chmod(block, 0o644);
      await writeFile(block, corrupt);
      await chmod(block, mode);
      const out = path.join(dir, "out");
      await expectFailure("pkg", ["fetch", "crates/fragile:1.0.0", "-o", out], { code: "ERR_CONTENT_INTEGRITY", message: [meta], hint: /corrupt/ }, { cwd: dir, watch: [dir, work] });
      expect(await h.isDirectory(out)).to.equal(false);
      // a destination whose parents do not exist yet: they are not created either (relative, under the cwd)
      await expectFailure("pkg", ["fetch", "crates/fragile:1.0.0", "-o", path.join("a", "b", "c")], { code: "ERR_CONTENT_INTEGRITY", message: [meta] }, { cwd: dir, watch: [dir, work] });
      expect(await h.isDirectory(path.join(dir, "a")), "parent directories of -o left behind").to.equal(false);
    });

    it("missing content (the store offline: no gateway) → ERR_CONTENT_NOT_FOUND, nothing written", async function () {
      const dir = await scratch("missing");
      const crate = path.join(dir, "vanishing");
      await writeCrate(crate, { name: "vanishing", version: "1.0.0" });
      const { src } = await publishDir(crate);
      // a package that depends on it, locked while its content is still there
      const user = path.join(dir, "user");
      await writeCrate(user, { name: "user", version: "1.0.0", inputs: { "crates:vanishing": "1" } });
      const locked = await pkgJson<LockJson>(["lock"], { cwd: user });
      expect(locked.lock.dependencies["crates:vanishing"]).to.include({ version: "1.0.0", src });

      await unlink(h.blockFile(contentDir, src));
      await rm(path.join(contentDir, "pins", src), { force: true });
      const offline = { PKG_GATEWAYS: undefined, PKG_CONTENT_BACKEND: undefined };
      const out = path.join(dir, "out");
      await expectFailure("pkg", ["fetch", "crates/vanishing:1.0.0", "-o", out], { code: "ERR_CONTENT_NOT_FOUND", message: [src] }, { cwd: dir, env: offline });
      expect(await h.isDirectory(out)).to.equal(false);
      await expectFailure("pkg", ["fetch"], { code: "ERR_CONTENT_NOT_FOUND", message: [src] }, { cwd: user, env: offline, watch: [dir] });
    });

    it("keystore: wrong password (ERR_KEY_BAD_PASSWORD, exit 5); no password and no TTY (ERR_KEY_PASSWORD_REQUIRED)", async function () {
      const dir = await scratch("keystore");
      const file = path.join(dir, "keys", "me.json");
      const created = await pkgJson<{ file: string; address: string }>(["key", "create", "-o", file], { cwd: dir, env: { PKG_KEYSTORE_PASSWORD: "a" } });
      expect(created.file).to.equal(file);
      expect(created.address).to.match(/^0x[0-9a-fA-F]{40}$/);
      expect((await stat(file)).mode & 0o777).to.equal(0o600);
      const keystore = await readFile(file);
      expect(keystore.toString("utf8")).not.to.include('"a"');

      const crate = path.join(dir, "signed");
      await writeCrate(crate, { name: "signed", version: "1.0.0" });
      await expectFailure(
        "pkg",
        ["publish"],
        { code: "ERR_KEY_BAD_PASSWORD", message: [file], hint: "PKG_KEYSTORE_PASSWORD" },
        { cwd: crate, env: { PKG_KEYSTORE: file, PKG_KEYSTORE_PASSWORD: "b" }, watch: [dir] },
      );
      await expectFailure(
        "pkg",
        ["publish"],
        { code: "ERR_KEY_PASSWORD_REQUIRED", message: [file, "no terminal"], hint: "PKG_KEYSTORE_PASSWORD" },
        { cwd: crate, env: { PKG_KEYSTORE: file, PKG_KEYSTORE_PASSWORD: undefined }, watch: [dir] },
      );
      expect(await h.isDirectory(path.join(dir, "signed-1.0.0"))).to.equal(false);
      const fetched = await pkg(["fetch", "crates/signed", "-o", path.join(dir, "never")], { cwd: dir });
      expect(fetched.code, "nothing was published with the unusable keystore").to.equal(4);

      // key create: never overwrites a keystore; needs a password
      await expectFailure("pkg", ["key", "create", "-o", file], { code: "ERR_KEY_KEYSTORE_EXISTS", message: [file] }, { cwd: dir, env: { PKG_KEYSTORE_PASSWORD: "c" } });
      expect((await readFile(file)).equals(keystore), "the keystore is unchanged").to.equal(true);
      await expectFailure("pkg", ["key", "create", "-o", path.join(dir, "keys", "other.json")], { code: "ERR_KEY_PASSWORD_REQUIRED" }, { cwd: dir, env: { PKG_KEYSTORE_PASSWORD: undefined } });
    });

    it("a repository that does not exist, on publish: the hint says `repo create`", async function () {
      const dir = await scratch("no-repo");
      await writeCrate(dir, { repository: "nosuch", name: "orphan", version: "1.0.0" });
      const { human } = await expectFailure(
        "pkg",
        ["publish"],
        { code: "ERR_PUBLISH_NO_REPOSITORY", message: ["nosuch", "[package].repository"], hint: "repo create nosuch", progressFirst: true },
        { cwd: dir },
      );
      expect(human.hint).to.include("`repo create nosuch`");
    });
  });

  describe("the node survives a restart", function () {
    it("stops on SIGTERM with nothing left running; meanwhile commands fail with ERR_CHAIN_UNREACHABLE", async function () {
      const how = await node!.stop();
      firstNodeStdout = node!.stdout();
      expect(how, node!.stderr()).to.deep.equal({ code: 0, signal: null });
      node = null;
      const deadline = Date.now() + 15_000;
      while ((await h.internalNodePids(dataDir)).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      expect(await h.internalNodePids(dataDir), "the internal Hardhat node stopped with it").to.deep.equal([]);

      const dir = await scratch("down");
      await expectFailure("pkg", ["fetch", "crates/hello:1.0.0", "-o", path.join(dir, "hello")], { code: "ERR_CHAIN_UNREACHABLE", message: [url], hint: "pkg node" }, { cwd: dir });
    });

    it("starts again on the same data dir: what was published is still there, at the same blocks", async function () {
      const registry = JSON.parse(firstNodeStdout.split("\n")[0]).registry as string;
      node = await h.startNode(port, env, root);
      expect(node.summary.registry).to.equal(registry);
      expect(node.summary.replayed).to.be.greaterThan(0);

      const dir = await scratch("restarted");
      const fetched = await pkgJson(["fetch", "crates/hello:1.0.0", "-o", path.join(dir, "hello")]);
      expect(fetched).to.include({ meta: published["crates:hello@1.0.0"].meta });
      expectSameTree(await h.readTree(path.join(dir, "hello")), published["crates:hello@1.0.0"].files, "crates/hello:1.0.0 after the restart");

      const copy = path.join(dir, "hello-src");
      await cp(path.join(work, "hello"), copy, { recursive: true, filter: (src) => path.basename(src) !== "pkg.lock" });
      await pkgJson(["lock", "--block", String(helloLockBlock)], { cwd: copy });
      expect((await readFile(path.join(copy, "pkg.lock"))).equals(helloLock), "the lock at the recorded block is the same after the restart").to.equal(true);

      const read = await repoJson<{ meta: string; lock: RepositoryLockJson }>(["lock", "crates:1.0.0"]);
      expect(read.meta).to.equal(repositoryVersion!.meta);
      expect(read.lock).to.deep.equal(repositoryVersion!.lock);
    });
  });

  describe("output (#11)", function () {
    it("a topic's help names all of its commands, or none (`pkg store --help` named 3 of its 5)", async function () {
      for (const bin of ["pkg", "repo"] as const) {
        const tree = path.join(h.ROOT, "dist", "cli", bin);
        const topics = (await readdir(tree, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
        for (const topic of topics) {
          const commands = (await readdir(path.join(tree, topic))).filter((f) => f.endsWith(".js")).map((f) => f.slice(0, -".js".length));
          const help = h.expectSuccess(await h.run(bin, [topic, "--help"], env, { cwd: work }));
          const description = help.stdout.split("USAGE")[0];
          for (const command of commands) expect(help.stdout, `${bin} ${topic} --help lists ${command}`).to.match(new RegExp(`${topic} ${command}\\b`));
          const named = commands.filter((command) => new RegExp(`(^|[^\\w-])${command}([^\\w-]|$)`).test(description));
          expect(named.length === 0 || named.length === commands.length, `${bin} ${topic}: "${description.trim()}" names ${named.join(", ")} of ${commands.join(", ")}`).to.equal(true);
        }
      }
      const store = h.expectSuccess(await pkg(["store", "--help"])).stdout.split("USAGE")[0];
      for (const command of ["daemon", "gc", "status", "substitute", "verify"]) expect(store).to.include(command);
    });

    it("names a package version one way, repo/name:version, in a command's whole output (publish said crates:x@1.0.0 and crates/x:1.0.0)", async function () {
      await repoJson(["create", "formats"]);
      const dir = path.join(work, "formats-one");
      await writeCrate(dir, { repository: "formats", name: "one", version: "1.0.0" });
      const published = h.expectSuccess(await pkg(["publish"], { cwd: dir }));
      const output = `${published.stdout}${published.stderr}`;
      expect(output).to.include("formats/one:1.0.0");
      expect(output, output).not.to.match(/formats:one@/);
      const yanked = h.expectSuccess(await pkg(["yank", "formats/one:1.0.0"]));
      expect(yanked.stdout).to.match(/^yanked formats\/one:1\.0\.0 \(tx 0x[0-9a-f]{64}\)\n$/);
    });
  });

  describe("bugs fixed since (were skipped)", function () {
    // cli/pkg/node.ts wrote the summary as one line when the node was up, then oclif printed the returned
    // summary again, pretty-printed, when it stopped
    it("pkg node --json: stdout is JSON lines (the readiness line only, not a second pretty copy at exit)", async function () {
      expect(firstNodeStdout).not.to.equal("");
      const lines = firstNodeStdout.split("\n").filter((line) => line.trim() !== "");
      expect(lines, firstNodeStdout).to.have.lengthOf(1);
      for (const line of lines) expect(() => JSON.parse(line), `a JSON line: ${line}`).not.to.throw();
    });

    // BaseCommand.catch (cli/base.ts) rethrew oclif's parse errors, so --json got oclif's human usage text
    it("usage errors under --json are one JSON error (ERR_USAGE, exit 2); without --json oclif's usage text, exit 2", async function () {
      const dir = await scratch("usage");
      for (const args of [["fetch", "--bogus"], ["lock", "--block", "minus-one"], ["lock", "crates/a", "crates/b"]]) {
        const json = await pkg([...args, "--json"], { cwd: dir });
        const error = h.expectJsonError(json, { code: "ERR_USAGE" });
        expect(error.message, h.showRun(json)).not.to.include("\n");
        expect(error.hint, h.showRun(json)).to.match(/--help/);
        const human = await pkg(args, { cwd: dir });
        expect(human.code, h.showRun(human)).to.equal(2);
        expect(human.stdout, h.showRun(human)).to.equal("");
      }
      expect(await h.listTree(dir)).to.deep.equal([]);
    });

    // the registry client read at any --block: past the head or before the registry was deployed, the user
    // got ethers' "missing revert data" / "could not decode result data" (ERR_CHAIN_REVERTED, exit 1)
    it("pkg lock --block beyond the chain head, or before the registry existed, says so (ERR_CHAIN_UNKNOWN_BLOCK, exit 4)", async function () {
      const dir = path.join(await scratch("bad-block"), "hello");
      await cp(path.join(work, "hello"), dir, { recursive: true, filter: (src) => path.basename(src) !== "pkg.lock" });
      for (const block of ["100000000", "0"]) {
        const { human, json } = await expectFailure(
          "pkg",
          ["lock", "--block", block],
          { code: "ERR_CHAIN_UNKNOWN_BLOCK", message: [`block ${block} `, /the chain's head is block \d+|past the chain's head \(block \d+\)/], hint: /--block/ },
          { cwd: dir },
        );
        expect(human.line).not.to.match(/revert data|decode result/);
        expect(json.details).to.include({ block: Number(block) });
      }
      expect(h.fileExists(path.join(dir, "pkg.lock"))).to.equal(false);
    });
  });
});
