/**
 * A pkg.lock is checked against the registry at its block before it is used (src/lock-verify.ts), and
 * `pkg lock` / `pkg update` restore what does not match and say so (src/lock.ts). Real node, real store.
 *
 *   npx hardhat test test/unit/lock-verify.test.ts
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import { serializeManifest } from "../../src/manifest";
import { parseLockfile, serializeLockfile, writeLockfile, type Lockfile } from "../../src/lockfile";
import { resolveLock } from "../../src/resolve";
import { ERR_LOCK_INTEGRITY, ERR_LOCK_UNKNOWN_BLOCK, findLockProblems, lockCheck, verifyLock, type LockRegistry } from "../../src/lock-verify";
import { formatLockChanges, lockDirectory } from "../../src/lock";
import { ERR_LOCKFILE_CHAIN_MISMATCH } from "../../src/lockfile";
import { PkgError } from "../../src/errors";
import { rejectsWith } from "../helpers/errors";
import { createWorld, manifestOf, publishTestPackage, type TestPackage, type World } from "../helpers/registry";

describe("verifyLock: a pkg.lock is checked against the registry at its block (real node, real content store)", function () {
  this.timeout(180_000);
  let world: World;
  let registry: LockRegistry;
  let lock: Lockfile;
  let other: { meta: string; src: string };
  let depBlock = 0;
  let dir = "";
  const FILE = "/work/pkg.lock";
  const hello: TestPackage = { name: "hello", version: "1.0.0", inputs: { "crates:dep": "0.2" } };

  before(async () => {
    world = await createWorld();
    registry = { client: world.client, chain: { chainId: 31337, registry: world.registry } };
    await publishTestPackage(world, { name: "util", version: "1.0.0" });
    depBlock = (await publishTestPackage(world, { name: "dep", version: "0.2.0", inputs: { "crates:util": "^1" } })).block;
    other = await publishTestPackage(world, { name: "other", version: "1.0.0" });
    const manifest = manifestOf(hello);
    const manifestCid = (await world.content.putBytes(serializeManifest(manifest))).toString();
    ({ lock } = await resolveLock({ manifest, manifestCid, client: world.client, content: world.content, block: await world.client.blockNumber(), chain: registry.chain }));
    dir = await mkdtemp(path.join(tmpdir(), "lock-verify-"));
  });
  after(async () => {
    await world?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** The lock with one dependency entry changed. */
  const edited = (key: string, change: Partial<Lockfile["dependencies"][string]>): Lockfile => ({
    ...lock,
    dependencies: { ...lock.dependencies, [key]: { ...lock.dependencies[key], ...change } },
  });

  it("accepts the lock as resolved, with one getPackages call at the lock's block", async () => {
    const calls: Array<number | undefined> = [];
    const counting: LockRegistry = {
      chain: registry.chain,
      client: {
        blockNumber: () => world.client.blockNumber(),
        getPackages: (keys, options) => {
          calls.push(options?.blockTag);
          return world.client.getPackages(keys, options);
        },
      },
    };
    await verifyLock(lock, FILE, counting);
    expect(calls).to.deep.equal([lock.block]);
  });

  it("refuses a src CID swapped for another valid, published one: ERR_LOCK_INTEGRITY naming pkg.lock, the key and what to do", async () => {
    const error = await rejectsWith(verifyLock(edited("crates:dep", { src: other.src }), FILE, registry), ERR_LOCK_INTEGRITY);
    expect(error.message).to.equal(
      `${FILE}: dependency crates:dep (0.2.0) does not match the registry at block ${lock.block}: src is ${other.src} in the lock, ${lock.dependencies["crates:dep"].src} in the registry`,
    );
    expect(error.message).not.to.contain("\n");
    expect(error.hint).to.contain("pkg lock").and.contain("pkg update crates:dep");
    expect(error.details.problems).to.deep.equal([
      { key: "crates:dep", package: "crates:dep", version: "0.2.0", kind: "src", locked: other.src, registry: lock.dependencies["crates:dep"].src },
    ]);
  });

  it("refuses a swapped meta CID, a version the registry does not have, a package it does not have; names how many more", async () => {
    expect((await rejectsWith(verifyLock(edited("crates:util", { meta: other.meta }), FILE, registry), ERR_LOCK_INTEGRITY)).details.problems).to.have.length(1);
    const version = await rejectsWith(verifyLock(edited("crates:dep", { version: "0.2.9" }), FILE, registry), ERR_LOCK_INTEGRITY);
    expect(version.message).to.contain("the registry has no version 0.2.9 of crates:dep");
    const ghost: Lockfile = { ...lock, dependencies: { ...lock.dependencies, "crates:ghost": { ...lock.dependencies["crates:util"], inputs: [] } } };
    expect((await rejectsWith(verifyLock(ghost, FILE, registry), ERR_LOCK_INTEGRITY)).message).to.contain("the registry has no package crates:ghost");
    const both: Lockfile = { ...edited("crates:dep", { src: other.src }), dependencies: { ...edited("crates:dep", { src: other.src }).dependencies, "crates:util": { ...lock.dependencies["crates:util"], src: other.src } } };
    expect((await rejectsWith(verifyLock(both, FILE, registry), ERR_LOCK_INTEGRITY)).message).to.contain("(and 1 more: crates:util)");
  });

  it("checks at the lock's block: a version published after it does not count", async () => {
    const early = await rejectsWith(verifyLock({ ...lock, block: depBlock - 1 }, FILE, registry), ERR_LOCK_INTEGRITY);
    expect(early.message).to.contain("crates:dep");
  });

  it("refuses a lock whose block is past the chain's head (ERR_LOCK_UNKNOWN_BLOCK), and one of another chain", async () => {
    const head = await world.client.blockNumber();
    const ahead = await rejectsWith(verifyLock({ ...lock, block: head + 1000 }, FILE, registry), ERR_LOCK_UNKNOWN_BLOCK);
    expect(ahead.message).to.equal(`${FILE}: its block ${head + 1000} is past the chain's head (block ${head}): it was not made on this chain as it is now`);
    await rejectsWith(verifyLock({ ...lock, chainId: 1 }, FILE, registry), ERR_LOCKFILE_CHAIN_MISMATCH);
  });

  it("lockCheck: --offline trusts the lock and says so without opening the registry; a lock without dependencies needs no registry", async () => {
    const warnings: string[] = [];
    const never = async (): Promise<LockRegistry> => {
      throw new Error("the registry was opened");
    };
    const offline = lockCheck({ offline: true, registry: never, warn: (m) => warnings.push(m) });
    await offline.verify(edited("crates:dep", { src: other.src }), FILE);
    expect(offline.trusted).to.equal(true);
    expect(warnings).to.deep.equal([`--offline: ${FILE} is trusted as it is; its 2 dependencies' CIDs were not checked against the registry`]);
    const online = lockCheck({ offline: false, registry: never, warn: (m) => warnings.push(m) });
    await online.verify({ ...lock, dependencies: {}, inputs: [] }, FILE);
    await rejectsWith(lockCheck({ offline: false, registry: async () => registry, warn: () => {} }).verify(edited("crates:dep", { src: other.src }), FILE), ERR_LOCK_INTEGRITY);
  });

  it("lockCheck: an unreachable chain says which lock could not be checked, and that --offline gets around it (exit code kept)", async () => {
    const down = async (): Promise<LockRegistry> => {
      throw new PkgError("ERR_CHAIN_UNREACHABLE", "no chain node answers at http://127.0.0.1:1", { hint: "start the local node with `pkg node`" });
    };
    const error = await rejectsWith(lockCheck({ offline: false, registry: down, warn: () => {} }).verify(lock, FILE), "ERR_CHAIN_UNREACHABLE");
    expect(error.message).to.equal(`cannot check ${FILE} against the registry: no chain node answers at http://127.0.0.1:1`);
    expect(error.hint).to.equal("start the local node with `pkg node`; or pass --offline to use the lock unchecked");
  });

  describe("pkg lock / pkg update (lockDirectory) restore an edited lock and say so", () => {
    const session = () => ({ client: world.client, content: world.content, chain: registry.chain });

    async function packageDir(name: string, lockfile: Lockfile): Promise<string> {
      const pkg = path.join(dir, name);
      await mkdir(pkg, { recursive: true });
      await writeFile(path.join(pkg, "pkg.toml"), serializeManifest(manifestOf(hello)));
      await writeLockfile(path.join(pkg, "pkg.lock"), lockfile);
      return pkg;
    }

    it("update (all): the swapped src is restored and reported with both CIDs, never as up to date", async () => {
      const pkg = await packageDir("update-all", edited("crates:dep", { src: other.src }));
      const outcome = await lockDirectory({ session: session(), dir: pkg, update: "all" });
      expect(outcome.lock.dependencies["crates:dep"].src).to.equal(lock.dependencies["crates:dep"].src);
      expect(outcome.changes).to.deep.equal([
        { key: "crates:dep", from: "0.2.0", to: "0.2.0", restored: `src is ${other.src} in the lock, ${lock.dependencies["crates:dep"].src} in the registry at block ${lock.block}` },
      ]);
      expect(formatLockChanges(outcome)).to.deep.equal([
        `crates:dep: 0.2.0 → 0.2.0 (restored: src is ${other.src} in the lock, ${lock.dependencies["crates:dep"].src} in the registry at block ${lock.block})`,
        `    src  ${other.src} → ${lock.dependencies["crates:dep"].src}`,
      ]);
      expect(parseLockfile(await readFile(path.join(pkg, "pkg.lock"), "utf8")).dependencies["crates:dep"].src).to.equal(lock.dependencies["crates:dep"].src);
    });

    it("lock: keeps the locked version, restores its CIDs from the registry, and says so; a version the registry lacks is resolved again", async () => {
      const pkg = await packageDir("lock", edited("crates:util", { meta: other.meta }));
      const outcome = await lockDirectory({ session: session(), dir: pkg });
      expect(outcome.lock.dependencies).to.deep.equal({ ...lock.dependencies });
      expect(outcome.changes.map((c) => [c.key, c.from, c.to, c.restored !== undefined])).to.deep.equal([["crates:util", "1.0.0", "1.0.0", true]]);
      const missing = await packageDir("lock-missing", edited("crates:dep", { version: "0.2.9" }));
      const again = await lockDirectory({ session: session(), dir: missing });
      expect(again.lock.dependencies["crates:dep"].version).to.equal("0.2.0");
      expect(again.changes[0]).to.deep.include({ key: "crates:dep", from: "0.2.9", to: "0.2.0" });
      expect(again.changes[0].restored).to.contain("no version 0.2.9");
    });

    it("an untouched lock: no change, nothing restored", async () => {
      const pkg = await packageDir("clean", lock);
      const outcome = await lockDirectory({ session: session(), dir: pkg });
      expect(outcome.changes).to.deep.equal([]);
      expect(serializeLockfile(outcome.lock)).to.equal(serializeLockfile({ ...lock, block: outcome.lock.block }));
    });
  });

  it("findLockProblems lists every entry that does not match (what lock and update restore)", async () => {
    const problems = await findLockProblems(edited("crates:dep", { src: other.src, meta: other.meta }), FILE, registry);
    expect(problems.map((p) => p.kind).sort()).to.deep.equal(["meta", "src"]);
  });
});
