/**
 * Repositories against a real chain (a hardhat node over JSON-RPC) and a real content store (embedded, on
 * disk): locking a rolling release at a block, publishing a version whose meta is the repo lock, reading it
 * back verified, yanking, and fetching everything a version pins into a directory, atomically.
 */
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { CID } from "multiformats/cid";
import { create as createDigest } from "multiformats/hashes/digest";
import { ERR_ID_INVALID_VERSION, ERR_ID_SYNTAX } from "../../src/ids";
import { serializeManifest } from "../../src/manifest";
import { ERR_REPOLOCK_CHAIN_MISMATCH, parseRepositoryLock, REPOLOCK_FILE_NAME, serializeRepositoryLock, type RepositoryLock } from "../../src/repolock";
import {
  compareRepositoryVersions,
  createRepository,
  ERR_REPO_DESTINATION_EXISTS,
  ERR_REPO_EXISTS,
  ERR_REPO_INVALID_BLOCK,
  ERR_REPO_LOCK_MISMATCH,
  ERR_REPO_META_MISMATCH,
  ERR_REPO_NO_MATCHING_VERSION,
  ERR_REPO_UNKNOWN,
  ERR_REPO_UNKNOWN_VERSION,
  ERR_REPO_VERSION_EXISTS,
  fetchRepository,
  lockRepository,
  parseRepositoryName,
  pickRepositoryVersion,
  publishRepository,
  readRepositoryVersion,
  setRepositoryCurated,
  yankRepositoryVersion,
} from "../../src/repository";
import { rejectsWith, throwsWith } from "../helpers/errors";
import { createWorld, manifestOf, publishTestPackage, type TestPackage, type World } from "../helpers/registry";



const version = (v: string, yanked = false) => ({ version: v, meta: "m", src: null, yanked });

describe("repository versions (pure)", () => {
  it("orders semver versions and release names together by precedence", () => {
    const sorted = ["23.11", "2026.11.0", "1.0.0", "23.05", "1.0.0-rc.1", "23.5.1"].sort(compareRepositoryVersions);
    expect(sorted).to.deep.equal(["1.0.0-rc.1", "1.0.0", "23.05", "23.5.1", "23.11", "2026.11.0"]);
  });

  it("picks the exact version asked, else the highest non-yanked release, else a pre-release", () => {
    const versions = [version("1.0.0"), version("2026.11.0", true), version("2.0.0"), version("3.0.0-rc.1")];
    expect(pickRepositoryVersion(versions, null)?.version).to.equal("2.0.0");
    expect(pickRepositoryVersion(versions, "2026.11.0")?.version).to.equal("2026.11.0");
    expect(pickRepositoryVersion(versions, "9.9.9")).to.equal(null);
    expect(pickRepositoryVersion([version("1.0.0", true), version("3.0.0-rc.1")], null)?.version).to.equal("3.0.0-rc.1");
    expect(pickRepositoryVersion([version("1.0.0", true)], null)).to.equal(null);
  });

  it("parses a repository name and refuses one with a version", () => {
    expect(parseRepositoryName("crates")).to.equal("crates");
    throwsWith(() => parseRepositoryName("crates:1.0.0"), ERR_ID_SYNTAX);
    throwsWith(() => parseRepositoryName("crates/hello"), ERR_ID_SYNTAX);
  });
});

describe("repositories (real node, real content store)", function () {
  this.timeout(180_000);
  let world: World;
  let dest: string;
  /** What publishTestPackage returned, by `repo/name:version`. */
  const published = new Map<string, { meta: string; src: string; block: number }>();

  async function publish(p: TestPackage): Promise<number> {
    const result = await publishTestPackage(world, p);
    published.set(`${p.repository}/${p.name}:${p.version}`, result);
    return result.block;
  }

  function pinned(repository: string, name: string, v: string) {
    const entry = published.get(`${repository}/${name}:${v}`)!;
    return { version: v, meta: entry.meta, src: entry.src };
  }

  before(async () => {
    world = await createWorld();
    dest = path.join(world.dir, "out");
  });

  after(async () => world?.close());

  describe("create and curate", () => {
    it("creates an open repository owned by the signer, and refuses a second one of that name before any transaction", async () => {
      const created = await createRepository({ client: world.client, name: "made" });
      expect(created).to.include({ name: "made", curated: false });
      const record = await world.client.getRepository("made");
      expect(record?.owner).to.equal(created.owner);
      const block = await world.client.blockNumber();
      const error = await rejectsWith(createRepository({ client: world.client, name: "made", curated: true }), ERR_REPO_EXISTS);
      expect(error.message).to.contain(created.owner);
      expect(await world.client.blockNumber()).to.equal(block);
    });

    it("switches curation, and sends nothing when it already is as asked", async () => {
      const on = await setRepositoryCurated({ client: world.client, name: "made", curated: true });
      expect(on.changed).to.equal(true);
      expect((await world.client.getRepository("made"))?.curated).to.equal(true);
      const again = await setRepositoryCurated({ client: world.client, name: "made", curated: true });
      expect(again).to.deep.equal({ name: "made", curated: true, changed: false, tx: null });
      await rejectsWith(setRepositoryCurated({ client: world.client, name: "nowhere", curated: true }), ERR_REPO_UNKNOWN);
    });
  });

  describe("lockRepository (a rolling release)", () => {
    let older: number; // after a 1.0.0, a 1.1.0, b 0.1.0
    let beforeCreation: number;

    before(async () => {
      const repository = "distro";
      beforeCreation = await world.client.blockNumber();
      await publish({ repository, name: "a", version: "1.0.0" });
      await publish({ repository, name: "a", version: "1.1.0" });
      older = await publish({ repository, name: "b", version: "0.1.0" });
      await publish({ repository, name: "a", version: "1.2.0" });
      await publish({ repository, name: "b", version: "0.2.0" });
      await world.client.setYanked({ repository, name: "b" }, "0.2.0", true);
      await world.client.registerPackage({ repository, name: "c" }); // nothing published
      await publish({ repository, name: "d", version: "1.0.0" });
      await world.client.setYanked({ repository, name: "d" }, "1.0.0", true); // everything yanked
      await publish({ repository, name: "e", version: "2.0.0-beta.1" }); // only a pre-release
    });

    it("locks every package at its highest non-yanked version, at the latest block", async () => {
      const latest = await world.client.blockNumber();
      const { lock, warnings } = await lockRepository({ client: world.client, name: "distro" });
      expect(lock).to.deep.equal({
        name: "distro",
        block: latest,
        chainId: 31337,
        registry: world.registry,
        packages: {
          a: pinned("distro", "a", "1.2.0"),
          b: pinned("distro", "b", "0.1.0"), // 0.2.0 is yanked
          e: pinned("distro", "e", "2.0.0-beta.1"),
        },
      });
      expect(warnings).to.deep.equal([
        "distro/c has no published version; it is left out of the lock",
        "distro/d has every version yanked; it is left out of the lock",
      ]);
    });

    it("at an older block gives the older set", async () => {
      const { lock, warnings } = await lockRepository({ client: world.client, name: "distro", block: older });
      expect(lock.block).to.equal(older);
      expect(lock.packages).to.deep.equal({ a: pinned("distro", "a", "1.1.0"), b: pinned("distro", "b", "0.1.0") });
      expect(warnings).to.deep.equal([]);
    });

    it("gives the same lock, byte for byte, when run again at the same block after the chain moved on", async () => {
      const block = await world.client.blockNumber();
      const first = serializeRepositoryLock((await lockRepository({ client: world.client, name: "distro", block })).lock);
      const old = serializeRepositoryLock((await lockRepository({ client: world.client, name: "distro", block: older })).lock);
      await publish({ repository: "distro", name: "a", version: "1.3.0" });
      await world.client.setYanked({ repository: "distro", name: "b" }, "0.1.0", true);
      expect(serializeRepositoryLock((await lockRepository({ client: world.client, name: "distro", block })).lock)).to.equal(first);
      expect(serializeRepositoryLock((await lockRepository({ client: world.client, name: "distro", block: older })).lock)).to.equal(old);
      const now = (await lockRepository({ client: world.client, name: "distro" })).lock;
      expect(now.packages.a.version).to.equal("1.3.0");
      expect(now.packages.b).to.equal(undefined); // every version of b is yanked now
      await world.client.setYanked({ repository: "distro", name: "b" }, "0.1.0", false);
    });

    it("refuses an unknown repository (with the command that creates it), one not created yet at the block, and a future block", async () => {
      const unknown = await rejectsWith(lockRepository({ client: world.client, name: "nowhere" }), ERR_REPO_UNKNOWN);
      expect(unknown.hint).to.contain("repo create nowhere");
      const early = await rejectsWith(lockRepository({ client: world.client, name: "distro", block: beforeCreation }), ERR_REPO_UNKNOWN);
      expect(early.message).to.contain(`at block ${beforeCreation}`);
      const latest = await world.client.blockNumber();
      await rejectsWith(lockRepository({ client: world.client, name: "distro", block: latest + 100 }), ERR_REPO_INVALID_BLOCK);
    });
  });

  describe("publishRepository and readRepositoryVersion", () => {
    before(async () => {
      await publish({ repository: "pub", name: "x", version: "1.0.0" });
      await publish({ repository: "pub", name: "y", version: "0.1.0" });
    });

    it("puts the lock in the content store (pinned) and publishes a version whose meta is its CID", async () => {
      const result = await publishRepository({ client: world.client, content: world.content, name: "pub", version: "1.0.0" });
      expect(result.packages).to.equal(2);
      expect(result.lock.packages).to.deep.equal({ x: pinned("pub", "x", "1.0.0"), y: pinned("pub", "y", "0.1.0") });
      expect(result.tx).to.not.equal(null);
      const versions = await world.client.getRepositoryVersions("pub");
      expect(versions).to.deep.equal([{ version: "1.0.0", meta: result.meta, src: null, yanked: false }]);
      const pins = (await world.content.pins()).map(String);
      expect(pins).to.include(CID.parse(result.meta).toV1().toString());
    });

    it("reads a published version back: verified, parsed, and equal to what was published", async () => {
      const published_ = (await world.client.getRepositoryVersions("pub"))[0];
      const read = await readRepositoryVersion({ client: world.client, content: world.content, name: "pub", version: "1.0.0" });
      expect(read.meta).to.equal(published_.meta);
      expect(read.yanked).to.equal(false);
      expect(read.text).to.equal(serializeRepositoryLock(read.lock));
      expect(read.lock.packages).to.deep.equal({ x: pinned("pub", "x", "1.0.0"), y: pinned("pub", "y", "0.1.0") });
      expect(parseRepositoryLock(read.text)).to.deep.equal(read.lock);
      const unknown = await rejectsWith(readRepositoryVersion({ client: world.client, content: world.content, name: "pub", version: "9.0.0" }), ERR_REPO_UNKNOWN_VERSION);
      expect(unknown.message).to.contain("available: 1.0.0");
    });

    it("refuses an existing version before any transaction", async () => {
      const block = await world.client.blockNumber();
      const error = await rejectsWith(publishRepository({ client: world.client, content: world.content, name: "pub", version: "1.0.0" }), ERR_REPO_VERSION_EXISTS);
      expect(error.message).to.contain("pub:1.0.0 is already published");
      expect(await world.client.blockNumber()).to.equal(block);
    });

    it("refuses an unknown repository before any transaction, hinting `repo create NAME`", async () => {
      const block = await world.client.blockNumber();
      const error = await rejectsWith(publishRepository({ client: world.client, content: world.content, name: "nowhere", version: "1.0.0" }), ERR_REPO_UNKNOWN);
      expect(error.hint).to.contain("`repo create nowhere`");
      expect(await world.client.blockNumber()).to.equal(block);
    });

    it("refuses a version that is not a repository version", async () => {
      await rejectsWith(publishRepository({ client: world.client, content: world.content, name: "pub", version: "latest" }), ERR_ID_INVALID_VERSION);
    });

    it("publishes a given lock (an older block's) and reads it back equal; a dry run sends nothing", async () => {
      const old = (await lockRepository({ client: world.client, name: "pub", block: published.get("pub/x:1.0.0")!.block })).lock;
      expect(Object.keys(old.packages)).to.deep.equal(["x"]);
      const block = await world.client.blockNumber();
      const dry = await publishRepository({ client: world.client, content: world.content, name: "pub", version: "2026.11.0", lock: old, dryRun: true });
      expect(dry.tx).to.equal(null);
      expect(await world.client.blockNumber()).to.equal(block);
      const result = await publishRepository({ client: world.client, content: world.content, name: "pub", version: "2026.11.0", lock: old });
      expect(result.meta).to.equal(dry.meta);
      const read = await readRepositoryVersion({ client: world.client, content: world.content, name: "pub", version: "2026.11.0" });
      expect(read.lock).to.deep.equal(old);
      expect(read.meta).to.equal(result.meta);
    });

    it("checks a given lock against this repository, chain and the published CIDs before any transaction", async () => {
      const good = (await lockRepository({ client: world.client, name: "pub" })).lock;
      const block = await world.client.blockNumber();
      const attempt = (lock: RepositoryLock) =>
        publishRepository({ client: world.client, content: world.content, name: "pub", version: "3.0.0", lock, lockFile: "my/repo.lock" });
      await rejectsWith(attempt({ ...good, name: "distro" }), ERR_REPO_LOCK_MISMATCH);
      await rejectsWith(attempt({ ...good, chainId: 1 }), ERR_REPOLOCK_CHAIN_MISMATCH);
      const tampered = await rejectsWith(attempt({ ...good, packages: { ...good.packages, x: { ...good.packages.x, src: good.packages.y.src } } }), ERR_REPO_LOCK_MISMATCH);
      expect(tampered.message).to.match(/^my\/repo\.lock: \[packages\.x\]: pub\/x:1\.0\.0 is published with other CIDs/);
      const unpublished = await rejectsWith(attempt({ ...good, packages: { ...good.packages, x: { ...good.packages.x, version: "7.0.0" } } }), ERR_REPO_LOCK_MISMATCH);
      expect(unpublished.message).to.contain("pub/x:7.0.0 is not published");
      expect(await world.client.blockNumber()).to.equal(block);
    });

    it("refuses to read a version whose published lock names another repository", async () => {
      const foreign = (await lockRepository({ client: world.client, name: "distro" })).lock;
      const meta = (await world.content.putBytes(serializeRepositoryLock(foreign), { pin: true })).toString();
      await world.client.publishRepository("pub", "4.0.0", meta);
      await rejectsWith(readRepositoryVersion({ client: world.client, content: world.content, name: "pub", version: "4.0.0" }), ERR_REPO_META_MISMATCH);
      await yankRepositoryVersion({ client: world.client, name: "pub", version: "4.0.0", yanked: true });
    });
  });

  describe("yank", () => {
    before(async () => {
      await publish({ repository: "yk", name: "p", version: "1.0.0" });
      await publishRepository({ client: world.client, content: world.content, name: "yk", version: "1.0.0" });
      await publishRepository({ client: world.client, content: world.content, name: "yk", version: "2.0.0" });
    });

    it("yanks and unyanks through the client, sending nothing when the flag is already as asked", async () => {
      const yanked = await yankRepositoryVersion({ client: world.client, name: "yk", version: "2.0.0", yanked: true });
      expect(yanked).to.include({ changed: true, yanked: true });
      expect((await world.client.getRepositoryVersions("yk")).find((v) => v.version === "2.0.0")?.yanked).to.equal(true);
      const block = await world.client.blockNumber();
      const again = await yankRepositoryVersion({ client: world.client, name: "yk", version: "2.0.0", yanked: true });
      expect(again).to.deep.equal({ name: "yk", version: "2.0.0", yanked: true, changed: false, tx: null });
      expect(await world.client.blockNumber()).to.equal(block);
      await rejectsWith(yankRepositoryVersion({ client: world.client, name: "yk", version: "3.0.0", yanked: true }), ERR_REPO_UNKNOWN_VERSION);
    });

    it("a fetch without a version skips yanked versions; naming one still works, with a warning; all yanked is an error", async () => {
      const latest = await fetchRepository({ client: world.client, content: world.content, name: "yk", version: null, destination: null, cwd: dest });
      expect(latest.version).to.equal("1.0.0");
      const named = await fetchRepository({ client: world.client, content: world.content, name: "yk", version: "2.0.0", destination: null, cwd: dest });
      expect(named.yanked).to.equal(true);
      expect(named.warnings).to.deep.equal(["yk:2.0.0 is yanked"]);
      await yankRepositoryVersion({ client: world.client, name: "yk", version: "1.0.0", yanked: true });
      await rejectsWith(fetchRepository({ client: world.client, content: world.content, name: "yk", version: null, destination: null, cwd: dest }), ERR_REPO_NO_MATCHING_VERSION);
      const undone = await yankRepositoryVersion({ client: world.client, name: "yk", version: "1.0.0", yanked: false });
      expect(undone).to.include({ changed: true, yanked: false });
    });
  });

  describe("fetchRepository", () => {
    const tools: TestPackage[] = [
      { repository: "tools", name: "cc", version: "1.0.0" },
      { repository: "tools", name: "make", version: "4.4.1" },
      { repository: "tools", name: "sed.gnu", version: "4.9.0" },
    ];

    before(async () => {
      for (const p of tools) await publish(p);
    });

    async function expectPackages(dir: string, packages: TestPackage[]): Promise<void> {
      const lock = parseRepositoryLock(await fs.readFile(path.join(dir, REPOLOCK_FILE_NAME), "utf8"));
      expect(Object.keys(lock.packages).sort()).to.deep.equal(packages.map((p) => p.name).sort());
      expect((await fs.readdir(dir)).sort()).to.deep.equal([REPOLOCK_FILE_NAME, ...packages.map((p) => `${p.name}-${p.version}`)].sort());
      for (const p of packages) {
        const sub = path.join(dir, `${p.name}-${p.version}`);
        expect((await fs.readdir(sub)).sort()).to.deep.equal(["README", "pkg.toml"]);
        expect(await fs.readFile(path.join(sub, "README"), "utf8")).to.equal(`${p.name} ${p.version}\n`);
        expect(await fs.readFile(path.join(sub, "pkg.toml"), "utf8")).to.equal(serializeManifest(manifestOf(p)));
      }
    }

    it("fetches a rolling repository (no versions): its packages' latest versions into NAME-rolling-BLOCK/", async () => {
      const block = await world.client.blockNumber();
      // what a killed repo fetch into the same place left (its process is gone): removed; a live one's kept
      const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" }).stdout;
      const stale = path.join(dest, `.tools-rolling-${block}.partial-${dead}-0123456789ab`);
      const live = path.join(dest, `.tools-rolling-${block}.partial-${process.pid}-0123456789ab`);
      await fs.mkdir(stale, { recursive: true });
      await fs.mkdir(live, { recursive: true });
      const result = await fetchRepository({ client: world.client, content: world.content, name: "tools", version: null, destination: null, cwd: dest });
      expect(result).to.include({ name: "tools", version: null, meta: null, block });
      expect(result.destination).to.equal(path.join(dest, `tools-rolling-${block}`));
      expect(result.packages.map((p) => p.name)).to.deep.equal(["cc", "make", "sed.gnu"]);
      await expectPackages(result.destination, tools);
      expect((await fs.readdir(dest)).filter((f) => f.includes(".partial-"))).to.deep.equal([path.basename(live)]);
      await fs.rm(live, { recursive: true });
    });

    it("fetches a published version into NAME-VERSION/: repo.lock as published, every package's sources and pkg.toml", async () => {
      const pub = await publishRepository({ client: world.client, content: world.content, name: "tools", version: "2026.11.0" });
      await publish({ repository: "tools", name: "cc", version: "1.1.0" }); // not in the published version
      const result = await fetchRepository({ client: world.client, content: world.content, name: "tools", version: null, destination: null, cwd: dest });
      expect(result).to.include({ name: "tools", version: "2026.11.0", meta: pub.meta, yanked: false });
      expect(result.destination).to.equal(path.join(dest, "tools-2026.11.0"));
      expect(await fs.readFile(path.join(result.destination, REPOLOCK_FILE_NAME), "utf8")).to.equal(serializeRepositoryLock(pub.lock));
      await expectPackages(result.destination, tools);
      expect(result.warnings).to.deep.equal([]);
    });

    it("fetches into the destination given itself (as pkg fetch -o does), creating its parents", async () => {
      const into = path.join(dest, "given", "vendor");
      const result = await fetchRepository({ client: world.client, content: world.content, name: "tools", version: "2026.11.0", destination: into });
      expect(result.destination).to.equal(into);
      expect(result.packages.map((p) => p.destination)).to.deep.equal(tools.map((p) => path.join(into, `${p.name}-${p.version}`)));
      await expectPackages(into, tools);
      expect(await fs.readdir(path.join(dest, "given"))).to.deep.equal(["vendor"]);
      await rejectsWith(fetchRepository({ client: world.client, content: world.content, name: "tools", version: "2026.11.0", destination: into }), ERR_REPO_DESTINATION_EXISTS);
    });

    it("warns about pinned package versions yanked since, and still fetches them", async () => {
      await publishRepository({ client: world.client, content: world.content, name: "tools", version: "2026.12.0" });
      await world.client.setYanked({ repository: "tools", name: "make" }, "4.4.1", true);
      const result = await fetchRepository({ client: world.client, content: world.content, name: "tools", version: "2026.12.0", destination: null, cwd: dest });
      expect(result.warnings).to.deep.equal(["tools/make:4.4.1 is yanked"]);
      expect(result.packages.map((p) => `${p.name}:${p.version}`)).to.deep.equal(["cc:1.1.0", "make:4.4.1", "sed.gnu:4.9.0"]);
      await world.client.setYanked({ repository: "tools", name: "make" }, "4.4.1", false);
    });

    it("refuses an existing destination and writes nothing", async () => {
      const target = path.join(dest, "tools-2026.11.0");
      const before = await fs.readdir(dest);
      const inside = await fs.readdir(target);
      const error = await rejectsWith(fetchRepository({ client: world.client, content: world.content, name: "tools", version: "2026.11.0", destination: null, cwd: dest }), ERR_REPO_DESTINATION_EXISTS);
      expect(error.message).to.contain(target);
      expect(await fs.readdir(dest)).to.deep.equal(before);
      expect(await fs.readdir(target)).to.deep.equal(inside);
    });

    it("leaves nothing behind when a package's content cannot be fetched", async () => {
      // "aaa" is fetched fine, "zzz" points at sources no store holds
      await publish({ repository: "broken", name: "aaa", version: "1.0.0" });
      const missing = CID.createV1(0x55, createDigest(0x12, randomBytes(32))).toString();
      const meta = published.get("broken/aaa:1.0.0")!.meta;
      await world.client.registerPackage({ repository: "broken", name: "zzz" });
      await world.client.publish({ repository: "broken", name: "zzz" }, "1.0.0", meta, missing);
      const empty = path.join(world.dir, "empty");
      await fs.mkdir(empty);
      await rejectsWith(fetchRepository({ client: world.client, content: world.content, name: "broken", version: null, destination: null, cwd: empty }), "ERR_CONTENT_NOT_FOUND");
      expect(await fs.readdir(empty)).to.deep.equal([]);
    });

    it("refuses an unknown repository or version, and a block with a version", async () => {
      await rejectsWith(fetchRepository({ client: world.client, content: world.content, name: "nowhere", version: null, destination: null, cwd: dest }), ERR_REPO_UNKNOWN);
      await rejectsWith(fetchRepository({ client: world.client, content: world.content, name: "tools", version: "9.0.0", destination: null, cwd: dest }), ERR_REPO_UNKNOWN_VERSION);
      await rejectsWith(fetchRepository({ client: world.client, content: world.content, name: "tools", version: "2026.11.0", destination: null, cwd: dest, block: 1 }), ERR_REPO_INVALID_BLOCK);
    });
  });
});
