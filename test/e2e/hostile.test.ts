/**
 * End to end, security issue 10: every published tree is hostile, and a pkg.lock is a claim to check. The BUILT
 * `pkg` and `repo` binaries against a real `pkg node`; hostile versions are crafted block by block (dag-pb +
 * UnixFS, as any publisher can) into the same embedded content store and published on the same chain by a
 * dev account, then fetched and built by the CLI. Edited locks are plain text edits of a real pkg.lock.
 *
 *   npx tsc -p tsconfig.build.json && npx hardhat test test/e2e/hostile.test.ts    (E2E_KEEP=1 keeps the temp directory)
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import { UnixFS } from "ipfs-unixfs";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { resolveConfig } from "../../src/config";
import { openSession, type Session } from "../../src/session";
import { freePort } from "../helpers/node";
import * as h from "./helpers";
import { encodePbNode } from "../helpers/dag-pb";
import { requireBuilt } from "../helpers/dist";
import { uniqueSuffix } from "../helpers/random";
import { skipBecause } from "../helpers/skip";

const KEEP = process.env.E2E_KEEP === "1";


function deadPid(): number {
  return Number(spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" }).stdout);
}

describe("e2e: hostile published trees and edited locks (built binary, real pkg node)", function () {
  this.timeout(300_000);

  let root = "";
  let work = "";
  let env: NodeJS.ProcessEnv = {};
  let node: h.NodeProcess | null = null;
  let session: Session | null = null;
  /** A directory a hostile link points at; it must never change. */
  let victim = "";

  const pkg = (args: string[], cwd = work) => h.run("pkg", args, env, { cwd, timeoutMs: 120_000 });
  const repo = (args: string[], cwd = work) => h.run("repo", args, env, { cwd, timeoutMs: 120_000 });

  /** Fails as a human sees it and under --json, leaving nothing behind in `watch` (default: the cwd). */
  async function expectFailure(args: string[], expected: h.ErrorExpectation, cwd = work, watch: string[] = [cwd]) {
    const before = await Promise.all(watch.map(h.listTree));
    const human = h.expectHumanError(await pkg(args, cwd), expected);
    const json = h.expectJsonError(await pkg([...args, "--json"], cwd), expected);
    const after = await Promise.all(watch.map(h.listTree));
    watch.forEach((dir, i) => expect(after[i], `files in ${dir} after \`pkg ${args.join(" ")}\` failed`).to.deep.equal(before[i]));
    return { human, json };
  }

  async function putNode(bytes: Uint8Array): Promise<CID> {
    const cid = CID.createV1(0x70, await sha256.digest(bytes));
    await session!.content.putBlock(cid, bytes);
    return cid;
  }
  const symlinkNode = (target: string) => putNode(encodePbNode(new UnixFS({ type: "symlink", data: new TextEncoder().encode(target) }).marshal(), []));
  const directoryNode = (entries: Array<[string, CID]>) => putNode(encodePbNode(new UnixFS({ type: "directory" }).marshal(), entries.map(([name, cid]) => ({ name, cid }))));
  const file = (text: string) => session!.content.putBytes(text);

  /** Publishes evil/NAME 1.0.0 with this src tree (and a plain pkg.toml as its meta), as any publisher could. */
  async function publishCrafted(name: string, src: CID): Promise<string> {
    const meta = await file(`[package]\nrepository = "evil"\nname = "${name}"\nversion = "1.0.0"\nlicense = "MIT"\nsrc = ["lib.rs"]\n`);
    const key = { repository: "evil", name };
    await session!.client.registerPackage(key);
    await session!.client.publish(key, "1.0.0", meta.toString(), src.toString());
    return src.toString();
  }

  /** A small crate published with `pkg publish`. */
  async function publishCrate(name: string, inputs: Record<string, string> = {}, publish = true): Promise<string> {
    const dir = path.join(work, name);
    await mkdir(dir, { recursive: true });
    const lines = ["[package]", 'repository = "crates"', `name = "${name}"`, 'version = "1.0.0"', 'license = "MIT"', 'src = ["lib.rs"]'];
    if (Object.keys(inputs).length > 0) lines.push("", "[inputs]", ...Object.entries(inputs).map(([k, v]) => `"${k}" = "${v}"`));
    await writeFile(path.join(dir, "pkg.toml"), `${lines.join("\n")}\n`);
    await writeFile(path.join(dir, "lib.rs"), `// ${name} ${uniqueSuffix()}\n`);
    if (publish) h.expectJsonSuccess(await pkg(["publish", "--json"], dir));
    return dir;
  }

  before(async function () {
    this.timeout(600_000);
    requireBuilt("dist/src/lock-verify.js"); // builds dist/ when it is missing
    root = await mkdtemp(path.join(tmpdir(), "chainpkg-hostile-"));
    work = path.join(root, "work");
    victim = path.join(root, "victim");
    await mkdir(work, { recursive: true });
    await mkdir(victim);
    await writeFile(path.join(victim, "keep.txt"), "mine");
    const port = await freePort();
    env = h.baseEnvironment({
      PKG_DATA_DIR: path.join(root, "data"),
      PKG_CONFIG: path.join(root, "config.toml"),
      PKG_RPC_URL: `http://127.0.0.1:${port}`,
      XDG_RUNTIME_DIR: path.join(root, "run"),
    });
    node = await h.startNode(port, env, root);
    for (const name of ["evil", "crates"]) h.expectJsonSuccess(await repo(["create", name, "--json"]));
    session = await openSession(await resolveConfig({}, env), { signer: true });
  });

  after(async function () {
    this.timeout(60_000);
    await session?.close();
    if (env.PKG_DATA_DIR) await pkg(["store", "status", "--shutdown"]).catch(() => undefined);
    await node?.stop();
    if (KEEP) console.log(`kept: ${root}`);
    else if (root) await rm(root, { recursive: true, force: true });
  });

  describe("hostile trees", function () {
    it("a pkg.toml that is a dangling symlink: fetch and build by id exit 8 naming package and CID; the link's target is never created", async function () {
      const target = path.join(victim, "planted.toml");
      const src = await publishCrafted("dangling", await directoryNode([["lib.rs", await file("x")], ["pkg.toml", await symlinkNode(target)]]));
      const expected = { code: "ERR_FETCH_CORRUPT_TREE", message: ["evil/dangling:1.0.0", src, "pkg.toml that is a symlink"], hint: /yank/ };
      await expectFailure(["fetch", "evil/dangling:1.0.0", "-o", "dangling"], expected);
      await expectFailure(["build", "evil/dangling:1.0.0"], { ...expected, progressFirst: true });
      expect(existsSync(target), "fetch wrote through the symlink").to.equal(false);
      expect(await h.listTree(victim)).to.deep.equal(["keep.txt"]);
      expect(await h.temporaries(work)).to.deep.equal([]);
    });

    it("a src root that is a symlink to a directory: exit 8; nothing is written into that directory", async function () {
      const src = await publishCrafted("rootlink", await symlinkNode(victim));
      await expectFailure(["fetch", "evil/rootlink:1.0.0", "-o", "rootlink"], { code: "ERR_FETCH_CORRUPT_TREE", message: ["evil/rootlink:1.0.0", src, "a symlink, not a directory"] });
      expect(await h.listTree(victim)).to.deep.equal(["keep.txt"]);
    });

    it("a src root that is a file: exit 8 with a clear error, not a raw ENOTDIR", async function () {
      const src = await publishCrafted("rootfile", await file("not a directory"));
      const { human } = await expectFailure(["fetch", "evil/rootfile:1.0.0", "-o", "rootfile"], { code: "ERR_FETCH_CORRUPT_TREE", message: ["evil/rootfile:1.0.0", src, "a file, not a directory"] });
      expect(human.line).not.to.contain("ENOTDIR");
    });

    it('an entry named "..": exit 8 naming the package, the CID and the entry, not an internal temp path', async function () {
      const src = await publishCrafted("dotdot", await directoryNode([["sub", await directoryNode([["..", await file("up")]])]]));
      const { human } = await expectFailure(["fetch", "evil/dotdot:1.0.0", "-o", "dotdot"], { code: "ERR_FETCH_CORRUPT_TREE", message: ["evil/dotdot:1.0.0", src, '"sub/.."'] });
      expect(human.line).not.to.match(/partial|\.tmp|\/tmp\//);
    });

    it("a name listed twice (a symlink to outside, then a directory with a file): exit 8, nothing written outside", async function () {
      const sub = await directoryNode([["pwned.txt", await file("owned")]]);
      await publishCrafted("twice", await directoryNode([["a", await symlinkNode(victim)], ["a", sub]]));
      await expectFailure(["fetch", "evil/twice:1.0.0", "-o", "twice"], { code: "ERR_FETCH_CORRUPT_TREE", message: ["evil/twice:1.0.0", '"a"', "more than once"] });
      expect(await h.listTree(victim)).to.deep.equal(["keep.txt"]);
    });
  });

  describe("destinations and leftovers", function () {
    it("-o a-file/sub: exit 4, the destination's parent is not a directory (no ENOTDIR dump)", async function () {
      await publishCrate("legit");
      const dir = await mkdtemp(path.join(root, "dest-"));
      await writeFile(path.join(dir, "a-file"), "x");
      await expectFailure(["fetch", "crates/legit:1.0.0", "-o", "a-file/sub"], {
        code: "ERR_FETCH_DESTINATION_DIRECTORY_NOT_FOUND",
        message: [`${path.join(dir, "a-file")} is not a directory`],
      }, dir);
    });

    it("-o /proc/new: the destination cannot be created, with the OS reason (not blamed on the content)", async function () {
      if (!existsSync("/proc/self")) skipBecause(this, "no /proc here");
      const { human } = await expectFailure(["fetch", "crates/legit:1.0.0", "-o", "/proc/chainpkg-new"], {
        code: "ERR_FETCH_DESTINATION_UNWRITABLE",
        message: [/^cannot create \/proc\/chainpkg-new: E[A-Z]+: /],
      });
      expect(human.line).not.to.match(/UnixFS|content/);
    });

    it("a staging directory left by a killed fetch is removed by the next fetch into the same place", async function () {
      const dir = await mkdtemp(path.join(root, "stale-"));
      const stale = path.join(dir, `.legit.partial-${deadPid()}-0123456789ab`);
      await mkdir(path.join(stale, "package"), { recursive: true });
      await writeFile(path.join(stale, "package", "half.rs"), "half");
      h.expectJsonSuccess(await pkg(["fetch", "crates/legit:1.0.0", "-o", "legit", "--json"], dir));
      expect(await readdir(dir)).to.deep.equal(["legit"]);
    });

    it("a src glob over a symlink loop names the loop (exit 7), not '\"**\" does not exist'", async function () {
      const dir = await publishCrate("loopy", {}, false);
      await writeFile(path.join(dir, "pkg.toml"), (await readFile(path.join(dir, "pkg.toml"), "utf8")).replace('src = ["lib.rs"]', 'src = ["**"]'));
      await symlink("loop", path.join(dir, "loop"));
      await expectFailure(["publish"], { code: "ERR_MANIFEST_SRC_LOOP", message: ['"loop" is a symlink loop'] }, dir);
    });
  });

  describe("an edited pkg.lock", function () {
    let user = "";
    let lockText = "";
    let depSrc = "";
    let otherSrc = "";

    before(async function () {
      await publishCrate("dep");
      await publishCrate("other");
      user = await publishCrate("user", { "crates:dep": "1" }, false);
      const locked = h.expectJsonSuccess<{ lock: { dependencies: Record<string, { src: string }> } }>(await pkg(["lock", "--json"], user));
      depSrc = locked.lock.dependencies["crates:dep"].src;
      const other = h.expectJsonSuccess<{ src: string }>(await pkg(["fetch", "crates/other:1.0.0", "-o", path.join(root, "other-1.0.0"), "--json"]));
      otherSrc = other.src;
      lockText = await readFile(path.join(user, "pkg.lock"), "utf8");
      expect(lockText).to.contain(depSrc);
    });

    beforeEach(async function () {
      await writeFile(path.join(user, "pkg.lock"), lockText.replace(depSrc, otherSrc));
    });

    it("fetch, instantiate, build and install refuse a src CID swapped for another valid one: exit 8 naming pkg.lock and the dependency", async function () {
      const file = path.join(user, "pkg.lock");
      const expected = { code: "ERR_LOCK_INTEGRITY", message: [file, "crates:dep", otherSrc, depSrc], hint: /pkg lock/ };
      for (const command of ["fetch", "instantiate", "build", "install"]) await expectFailure([command], { ...expected, progressFirst: command !== "fetch" }, user);
    });

    it("--offline trusts the lock and says so (fetch pins what it names)", async function () {
      const fetched = h.expectSuccess(await pkg(["fetch", "--offline"], user));
      expect(fetched.stderr).to.match(/^warning: --offline: .*pkg\.lock is trusted as it is; its 1 dependencies' CIDs were not checked/m);
      // under --json stderr stays quiet: the warning is in the result
      const json = h.expectJsonSuccess<{ warnings?: string[] }>(await pkg(["fetch", "--offline", "--json"], user));
      expect(json.warnings).to.be.an("array").with.length(1);
      expect(json.warnings![0]).to.match(/^--offline: .*CIDs were not checked/);
      await expectFailure(["fetch", "crates/dep:1.0.0", "--offline"], { code: "ERR_USAGE", message: ["--offline"] });
    });

    it("a lock whose block is past the chain's head is refused (exit 4)", async function () {
      await writeFile(path.join(user, "pkg.lock"), lockText.replace(/^block = \d+$/m, "block = 99999999"));
      await expectFailure(["fetch"], { code: "ERR_LOCK_UNKNOWN_BLOCK", message: ["99999999", "past the chain's head"] }, user);
    });

    it("pkg update restores the entry and says what it changed, never 'everything is up to date'", async function () {
      const updated = h.expectSuccess(await pkg(["update"], user));
      expect(updated.stdout).not.to.contain("up to date");
      expect(updated.stdout).to.contain(`crates:dep: 1.0.0 → 1.0.0 (restored: src is ${otherSrc} in the lock, ${depSrc} in the registry`);
      expect(updated.stdout).to.contain(`    src  ${otherSrc} → ${depSrc}`);
      expect(await readFile(path.join(user, "pkg.lock"), "utf8")).to.equal(lockText);
      expect(h.expectSuccess(await pkg(["update"], user)).stdout).to.equal("everything is up to date\n");
      h.expectSuccess(await pkg(["fetch"], user));
    });
  });
});
