import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadFixture } from "@nomicfoundation/hardhat-toolbox/network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { expect } from "chai";
import hre, { ethers } from "hardhat";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import {
  GAS_PER_ENTRY,
  GAS_PER_TX,
  packVersions,
  planBatches,
  splitCid,
  unpackVersions,
  versionGas,
  type PackageReleaseList,
} from "../../scripts/lib/batch";
import type { DeploymentRecord } from "../../scripts/lib/deployments";
import { copyRegistry, migrateRegistry } from "../../scripts/lib/migrate";
import {
  assertRegistriesEqual,
  diffSnapshots,
  readRegistry,
  RegistryMismatchError,
  type RegistrySnapshot,
} from "../../scripts/lib/snapshot";
import type { Registry } from "../../typechain-types";
import { cidOf, DAG_PB, deployRegistry, hexOf, packageIdOf, repositoryIdOf } from "./fixtures";

// ---------------------------------------------------------------- a source registry with a bit of everything

type CidKind = "raw" | "dagpb" | "v0" | "blake3raw";

async function cidHex(content: string, kind: CidKind): Promise<string> {
  switch (kind) {
    case "raw":
      return hexOf(await cidOf(content));
    case "dagpb":
      return hexOf(await cidOf(content, DAG_PB));
    case "v0":
      return ethers.hexlify(CID.createV0(await sha256.digest(new TextEncoder().encode(content))).bytes);
    case "blake3raw":
      // CIDv1 raw blake3-256: the contract stores any 32-byte digest under this header
      return ethers.concat(["0x01551e20", ethers.keccak256(ethers.toUtf8Bytes(content))]);
  }
}

/** What the source was built with, kept independently of the registry's views (the test's own oracle). */
interface Ledger {
  /** "repo/pkg" or "repo" → versions in publish order (oldest first) */
  versions: Map<string, { version: string; metaCid: string; srcCid: string; yanked: boolean }[]>;
  owners: Map<string, string>; // id → owner
}

const LONG_29 = "1.0.0-alpha.beta.gamma.delta1"; // 29 bytes: the first that is not stored inline
const LONG_64 = `2.0.0-rc.1+build.${"a1b2c3d4".repeat(5)}.${"x".repeat(6)}`; // 64 bytes: the longest allowed

async function buildSource() {
  const signers = await ethers.getSigners();
  const [, alice, bob, carol, dave, erin, migrator] = signers;
  const { registry } = await deployRegistry();
  const ledger: Ledger = { versions: new Map(), owners: new Map() };

  const publish = async (
    who: HardhatEthersSigner,
    repository: string,
    name: string,
    version: string,
    kinds: [CidKind, CidKind],
  ) => {
    const metaCid = await cidHex(`meta ${repository}/${name} ${version}`, kinds[0]);
    const srcCid = await cidHex(`src ${repository}/${name} ${version}`, kinds[1]);
    await registry.connect(who).publish(repositoryIdOf(repository), name, version, metaCid, srcCid);
    const key = `${repository}/${name}`;
    if (!ledger.versions.has(key)) ledger.versions.set(key, []);
    ledger.versions.get(key)!.push({ version, metaCid, srcCid, yanked: false });
  };
  const yank = async (who: HardhatEthersSigner, repository: string, name: string, version: string, yanked = true) => {
    await registry.connect(who).setYanked(repositoryIdOf(repository), name, version, yanked);
    ledger.versions.get(`${repository}/${name}`)!.find((v) => v.version === version)!.yanked = yanked;
  };
  const publishRepository = async (who: HardhatEthersSigner, repository: string, version: string, kind: CidKind) => {
    const metaCid = await cidHex(`lock ${repository} ${version}`, kind);
    await registry.connect(who).publishRepository(repositoryIdOf(repository), version, metaCid);
    if (!ledger.versions.has(repository)) ledger.versions.set(repository, []);
    ledger.versions.get(repository)!.push({ version, metaCid, srcCid: "0x", yanked: false });
  };

  // crates: open, alice's; anyone registers
  await registry.connect(alice).createRepository("crates", false);
  await registry.connect(alice).registerPackage(repositoryIdOf("crates"), "hello");
  await registry.connect(bob).registerPackage(repositoryIdOf("crates"), "serde");
  await registry.connect(alice).registerPackage(repositoryIdOf("crates"), "empty"); // no versions
  await registry.connect(migrator).registerPackage(repositoryIdOf("crates"), "tool"); // owned by the migrating account

  // crates/hello: 260 versions (more than one 200-version batch and more than one 200-version view page),
  // CID kinds changing in runs so the batch needs several entries, some backports published out of order
  const kinds: [CidKind, CidKind][] = [
    ["raw", "dagpb"],
    ["raw", "dagpb"],
    ["v0", "v0"],
    ["dagpb", "raw"],
    ["blake3raw", "dagpb"],
  ];
  for (let i = 0; i < 260; ++i) {
    const version = i % 50 === 49 ? `0.${Math.floor(i / 50)}.${1000 + i}` : `${1 + Math.floor(i / 50)}.${i % 50}.0`;
    await publish(alice, "crates", "hello", version, kinds[Math.floor(i / 7) % kinds.length]);
  }
  for (const version of ["1.3.0", "2.7.0", "3.0.0", "0.3.1199"]) await yank(alice, "crates", "hello", version);
  await yank(alice, "crates", "hello", "3.0.0", false); // yanked then unyanked: flag false again

  // crates/serde: long versions (29..64 bytes) among short ones, a maintainer publishing
  await registry.connect(bob).addMaintainer(packageIdOf("crates", "serde"), carol);
  await publish(bob, "crates", "serde", "1.0.0", ["raw", "raw"]);
  await publish(carol, "crates", "serde", LONG_29, ["raw", "raw"]);
  await publish(bob, "crates", "serde", "1.0.1", ["raw", "raw"]);
  await publish(bob, "crates", "serde", LONG_64, ["dagpb", "raw"]);
  await publish(bob, "crates", "serde", `1.0.2-${"p".repeat(40)}`, ["raw", "raw"]); // 46 bytes
  await publish(bob, "crates", "serde", "1.0.2", ["raw", "raw"]);
  await yank(bob, "crates", "serde", LONG_29);

  await publish(migrator, "crates", "tool", "0.1.0", ["raw", "raw"]);

  // nixos: curated, carol's, with maintainers whose order went through a removal (EnumerableSet swaps)
  await registry.connect(carol).createRepository("nixos", true);
  const nixos = repositoryIdOf("nixos");
  await registry.connect(carol).addMaintainer(nixos, bob);
  await registry.connect(carol).addMaintainer(nixos, dave);
  await registry.connect(carol).addMaintainer(nixos, erin);
  await registry.connect(carol).removeMaintainer(nixos, bob); // [erin, dave]
  await registry.connect(carol).registerPackage(nixos, "rustc");
  await registry.connect(dave).registerPackage(nixos, "gcc");
  for (const version of ["1.70.0", "1.71.0", "1.72.0-beta.1", "1.72.0"]) {
    await publish(carol, "nixos", "rustc", version, ["dagpb", "dagpb"]);
  }
  await publish(dave, "nixos", "gcc", "13.2.0", ["v0", "raw"]);
  await registry.connect(dave).addMaintainer(packageIdOf("nixos", "gcc"), erin);
  await registry.connect(dave).addMaintainer(packageIdOf("nixos", "gcc"), carol);
  await publishRepository(carol, "nixos", "23.5.0", "raw");
  await publishRepository(erin, "nixos", "23.11.0", "dagpb");
  await publishRepository(carol, "nixos", "22.11.0", "v0"); // published late
  await publishRepository(carol, "nixos", `24.5.0-${"pre.".repeat(8)}long`, "raw"); // 43 bytes
  await registry.connect(carol).setRepositoryYanked(nixos, "23.11.0", true);
  ledger.versions.get("nixos")!.find((v) => v.version === "23.11.0")!.yanked = true;

  // npm: created by bob, ownership transferred to alice (two steps); pending offers on two packages
  await registry.connect(bob).createRepository("npm", false);
  const npm = repositoryIdOf("npm");
  await registry.connect(bob).transferOwnership(npm, alice);
  await registry.connect(alice).acceptOwnership(npm);
  await registry.connect(bob).registerPackage(npm, "left-pad");
  await publish(bob, "npm", "left-pad", "1.3.0", ["raw", "raw"]);
  await registry.connect(bob).transferOwnership(packageIdOf("npm", "left-pad"), dave); // offer, not accepted
  await registry.connect(migrator).transferOwnership(packageIdOf("crates", "tool"), erin); // the migrator's offer

  // an empty repository
  await registry.connect(dave).createRepository("empty-repo", true);

  for (const [id, owner] of [
    [repositoryIdOf("crates"), alice],
    [repositoryIdOf("nixos"), carol],
    [npm, alice],
    [repositoryIdOf("empty-repo"), dave],
    [packageIdOf("crates", "hello"), alice],
    [packageIdOf("crates", "serde"), bob],
    [packageIdOf("crates", "empty"), alice],
    [packageIdOf("crates", "tool"), migrator],
    [packageIdOf("nixos", "rustc"), carol],
    [packageIdOf("nixos", "gcc"), dave],
    [packageIdOf("npm", "left-pad"), bob],
  ] as const) {
    ledger.owners.set(id, owner.address);
  }
  return { source: registry, ledger, signers, alice, bob, carol, dave, erin, migrator };
}

async function migrated() {
  const built = await buildSource();
  const recordIn = await fs.mkdtemp(path.join(os.tmpdir(), "pkg-migrate-test-"));
  const startBlock = await ethers.provider.getBlockNumber();
  const startNonce = await built.migrator.getNonce();
  const logs: string[] = [];
  const result = await migrateRegistry(hre, {
    from: await built.source.getAddress(),
    importer: built.migrator,
    recordIn,
    log: (line) => logs.push(line),
  });
  const endBlock = await ethers.provider.getBlockNumber();
  return { ...built, result, recordIn, startBlock, startNonce, endBlock, logs, target: result.registry };
}

/** The source's ownership offers, none of which a migration carries over: [id, name, owner, pending owner]. */
function offersOf(built: Awaited<ReturnType<typeof buildSource>>) {
  const { bob, dave, erin, migrator } = built;
  return [
    [packageIdOf("crates", "tool"), "crates/tool", migrator.address, erin.address],
    [packageIdOf("npm", "left-pad"), "npm/left-pad", bob.address, dave.address],
  ] as const;
}

/** Withdraws the source's offers (which a copy cannot have), so that the two registries are equal. */
async function withdrawOffers(built: Awaited<ReturnType<typeof buildSource>>) {
  await built.source.connect(built.bob).transferOwnership(packageIdOf("npm", "left-pad"), ethers.ZeroAddress);
  await built.source.connect(built.migrator).transferOwnership(packageIdOf("crates", "tool"), ethers.ZeroAddress);
}

/** A snapshot without where it was read from, for deep comparisons. */
function content(snapshot: RegistrySnapshot) {
  return snapshot.repositories;
}

describe("migration (scripts/lib/migrate.ts)", function () {
  this.timeout(300_000);

  describe("copy through the batch path", () => {
    it("copies every repository, package, version, owner, maintainer, curated and yank flag", async () => {
      const { source, target, result } = await loadFixture(migrated);
      const before = await readRegistry(source);
      const after = await readRegistry(target);

      // equal to the source except the ownership offers, which are never carried over
      const expected = structuredClone(before);
      const leftPad = expected.repositories.find((r) => r.name === "npm")!.packages[0];
      const tool = expected.repositories.find((r) => r.name === "crates")!.packages[3];
      expect([leftPad.name, tool.name]).to.deep.equal(["left-pad", "tool"]);
      for (const pkg of [leftPad, tool]) {
        expect(pkg.pendingOwner).to.not.equal(ethers.ZeroAddress);
        pkg.pendingOwner = ethers.ZeroAddress;
      }
      expect(content(after)).to.deep.equal(content(expected));
      expect(content(after)).to.deep.equal(content(result.copy.expected));
      expect(diffSnapshots(expected, after)).to.deep.equal([]);

      expect(after.repositories.map((r) => r.name)).to.deep.equal(["crates", "nixos", "npm", "empty-repo"]);
      expect(after.repositories.map((r) => r.curated)).to.deep.equal([false, true, false, true]);
      expect(after.repositories[0].packages.map((p) => p.name)).to.deep.equal(["hello", "serde", "empty", "tool"]);
      expect(result.copy.packageVersions).to.equal(260 + 6 + 1 + 4 + 1 + 1);
      expect(result.copy.repositoryVersions).to.equal(4);
    });

    it("keeps every version's exact CIDs, order and yank flag (checked against what was published)", async () => {
      const { target, ledger } = await loadFixture(migrated);
      for (const [key, published] of ledger.versions) {
        const [repository, name] = key.split("/");
        const newestFirst = [...published].reverse();
        let page;
        if (name === undefined) {
          [page] = await target.getRepositoryVersions(repositoryIdOf(repository), ethers.ZeroHash, 1000);
        } else {
          [page] = await target.getPackageVersions(packageIdOf(repository, name), ethers.ZeroHash, 1000);
        }
        expect(page.map((v) => [v.version, v.metaCid, v.srcCid, v.yanked]), key).to.deep.equal(
          newestFirst.map((v) => [v.version, v.metaCid, v.srcCid, v.yanked]),
        );
      }
      const serde = await target.getPackageVersion(packageIdOf("crates", "serde"), LONG_64);
      expect(serde.version).to.equal(LONG_64);
      expect(LONG_64.length).to.equal(64);
      expect(LONG_29.length).to.equal(29);
    });

    it("seals the import and gives everything back to its original owners", async () => {
      const { target, ledger, migrator, carol, dave, erin } = await loadFixture(migrated);
      expect(await target.importer()).to.equal(ethers.ZeroAddress);
      for (const [id, owner] of ledger.owners) expect(await target.owner(id), id).to.equal(owner);
      // the migrator's own package kept its owner but, like every offer, not its offer (to erin)
      expect(await target.owner(packageIdOf("crates", "tool"))).to.equal(migrator.address);
      expect(await target.pendingOwner(packageIdOf("crates", "tool"))).to.equal(ethers.ZeroAddress);
      await expect(target.connect(erin).acceptOwnership(packageIdOf("crates", "tool")))
        .to.be.revertedWithCustomError(target, "RegistryNotPendingOwner");
      // maintainers in the source's order, which a removal had reshuffled
      expect(await target.getMaintainers(repositoryIdOf("nixos"))).to.deep.equal([erin.address, dave.address]);
      expect(await target.getMaintainers(packageIdOf("nixos", "gcc"))).to.deep.equal([erin.address, carol.address]);
    });

    it("drops every ownership offer, reporting each with a warning", async () => {
      const built = await loadFixture(migrated);
      const { target, result, logs } = built;
      const offers = offersOf(built);
      expect(result.copy.droppedPendingOwners).to.deep.equal(
        offers.map(([id, name, owner, pendingOwner]) => ({ id, name, owner, pendingOwner })),
      );
      // the source still has them; the copy has none, and the check compared against that
      for (const [id, , , pendingOwner] of offers) {
        expect(await built.source.pendingOwner(id)).to.equal(pendingOwner);
        expect(await target.pendingOwner(id)).to.equal(ethers.ZeroAddress);
      }
      const warnings = logs.filter((line) => line.startsWith("WARNING"));
      expect(warnings).to.have.length(offers.length);
      for (const [[, name, owner, pendingOwner], warning] of offers.map((o, i) => [o, warnings[i]] as const)) {
        expect(warning).to.contain(`ownership offer of ${name} from ${owner} to ${pendingOwner} not carried over`);
      }
      const after = await readRegistry(target);
      const pending = after.repositories.flatMap((r) => [r.pendingOwner, ...r.packages.map((p) => p.pendingOwner)]);
      expect(new Set(pending)).to.deep.equal(new Set([ethers.ZeroAddress]));
      expect(await target.queryFilter(target.filters.OwnershipTransferStarted(), built.startBlock)).to.have.length(0);
    });

    it("sends every transaction from the importer: no other account is created, funded or used", async () => {
      const { target, result, migrator, startBlock, startNonce, endBlock } = await loadFixture(migrated);
      const targetAddress = await target.getAddress();
      const hashes: string[] = [];
      for (let number = startBlock + 1; number <= endBlock; ++number) {
        const block = (await ethers.provider.getBlock(number))!;
        hashes.push(...block.transactions);
      }
      // the deployment plus the copy, every one by the migrating account at consecutive nonces
      expect(hashes).to.have.length(result.copy.transactions + 1);
      expect((await migrator.getNonce()) - startNonce).to.equal(hashes.length);
      const senders = new Set<string>();
      for (const hash of hashes) {
        const tx = (await ethers.provider.getTransaction(hash))!;
        senders.add(tx.from);
        expect(tx.value, hash).to.equal(0n); // nothing funded
        const receipt = (await ethers.provider.getTransactionReceipt(hash))!;
        expect(receipt.to ?? receipt.contractAddress, hash).to.equal(targetAddress);
      }
      expect([...senders]).to.deep.equal([migrator.address]);
      // the importer created everything (and owned it until it handed it over)
      const created = await target.queryFilter(target.filters.RepositoryCreated(), startBlock);
      const registered = await target.queryFilter(target.filters.PackageRegistered(), startBlock);
      expect(created).to.have.length(result.copy.repositories);
      expect(registered).to.have.length(result.copy.packages);
      for (const event of [...created, ...registered]) expect(event.args.owner).to.equal(migrator.address);
      // owners set directly, one transfer per id the migrating account did not own in the source (all but crates/tool)
      const transferred = await target.queryFilter(target.filters.OwnershipTransferred(), startBlock);
      expect(transferred).to.have.length(result.copy.repositories + result.copy.packages - 1);
      for (const event of transferred) expect(event.args.previousOwner).to.equal(migrator.address);
    });

    it("lets an original owner publish on the new registry and not the migrating account", async () => {
      const { target, alice, bob, carol, migrator } = await loadFixture(migrated);
      const crates = repositoryIdOf("crates");
      const meta = await cidHex("meta new", "raw");
      const src = await cidHex("src new", "raw");
      await expect(target.connect(alice).publish(crates, "hello", "9.0.0", meta, src)).to.emit(target, "Published");
      await expect(target.connect(migrator).publish(crates, "hello", "9.0.1", meta, src))
        .to.be.revertedWithCustomError(target, "RegistryUnauthorized")
        .withArgs(packageIdOf("crates", "hello"), migrator.address);
      await expect(target.connect(migrator).transferOwnership(crates, migrator.address)).to.be.revertedWithCustomError(
        target,
        "RegistryUnauthorized",
      );
      await expect(target.connect(migrator).sealImport()).to.be.revertedWithCustomError(target, "RegistryImportSealed");
      // maintainers came along: carol maintains crates/serde, bob does not maintain nixos any more
      await expect(target.connect(carol).publish(crates, "serde", "2.0.0", meta, src)).to.emit(target, "Published");
      await expect(target.connect(bob).publishRepository(repositoryIdOf("nixos"), "25.5.0", meta))
        .to.be.revertedWithCustomError(target, "RegistryUnauthorized");
      // the open repository is open, the curated one curated
      await expect(target.connect(bob).registerPackage(crates, "newcomer")).to.emit(target, "PackageRegistered");
      await expect(target.connect(bob).registerPackage(repositoryIdOf("nixos"), "newcomer"))
        .to.be.revertedWithCustomError(target, "RegistryUnauthorized");
    });

    it("publishes versions through publishBatch in chunks of at most 200, split by CID headers", async () => {
      const { target, result, startBlock, ledger } = await loadFixture(migrated);
      const events = await target.queryFilter(target.filters.PublishedBatch(), startBlock);
      expect(await target.queryFilter(target.filters.Published(), startBlock)).to.have.length(0);
      const byTx = new Map<string, string[][]>();
      for (const event of events) {
        const list = byTx.get(event.transactionHash) ?? [];
        list.push(unpackVersions(event.args.versions));
        byTx.set(event.transactionHash, list);
      }
      expect(byTx.size).to.equal(result.copy.batches);
      expect(byTx.size).to.be.greaterThan(1);
      let total = 0;
      for (const [hash, entries] of byTx) {
        const versions = entries.flat();
        total += versions.length;
        expect(versions.length).to.be.at.most(200);
        const receipt = (await ethers.provider.getTransactionReceipt(hash))!;
        // the planner's estimate is an upper bound and stays well under the block gas limit
        const estimate = GAS_PER_TX + entries.length * GAS_PER_ENTRY + versions.reduce((s, v) => s + versionGas(v), 0);
        expect(Number(receipt.gasUsed)).to.be.at.most(estimate);
        expect(Number(receipt.gasUsed)).to.be.below(15_000_000);
      }
      expect(total).to.equal(result.copy.packageVersions);
      // crates/hello changes CID headers in runs: an entry never mixes headers, entries keep publish order
      const hello = packageIdOf("crates", "hello");
      const published = ledger.versions.get("crates/hello")!;
      const headersOf = new Map(
        published.map((v) => [v.version, `${splitCid(v.metaCid).header}/${splitCid(v.srcCid).header}`]),
      );
      const helloEntries = events.filter((e) => e.args.packageId === hello).map((e) => unpackVersions(e.args.versions));
      for (const entry of helloEntries) expect(new Set(entry.map((v) => headersOf.get(v))).size).to.equal(1);
      expect(helloEntries.flat()).to.deep.equal(published.map((v) => v.version));
      const runs = published.filter((v, i) => i === 0 || headersOf.get(v.version) !== headersOf.get(published[i - 1].version));
      expect(runs.length).to.be.greaterThan(20);
      expect(helloEntries.length).to.be.within(runs.length, runs.length + result.copy.batches);
    });

    it("writes the deployments record after the check, with the previous registry", async () => {
      const { result, recordIn, source, migrator } = await loadFixture(migrated);
      const record = JSON.parse(await fs.readFile(path.join(recordIn, "hardhat.json"), "utf8")) as DeploymentRecord;
      expect(record.registry).to.equal(await result.registry.getAddress());
      expect(record.importer).to.equal(migrator.address);
      expect(record.deployer).to.equal(migrator.address);
      expect(record.previousRegistry?.registry).to.equal(await source.getAddress());
      expect(record.migration?.from).to.equal(await source.getAddress());
      expect(record.migration?.packageVersions).to.equal(result.copy.packageVersions);
      expect(record.migration?.droppedPendingOwners.map((o) => o.name)).to.deep.equal(["crates/tool", "npm/left-pad"]);
      expect(await fs.readdir(recordIn)).to.deep.equal(["hardhat.json"]);
    });

    it("fails loudly, writing no record, when the source changed after the block it was read at", async () => {
      const { source, alice, migrator } = await loadFixture(buildSource);
      await source.connect(alice).setYanked(repositoryIdOf("crates"), "hello", "1.0.0", true);
      const before = (await ethers.provider.getBlockNumber()) - 1;
      const recordIn = await fs.mkdtemp(path.join(os.tmpdir(), "pkg-migrate-test-"));
      await expect(
        migrateRegistry(hre, { from: await source.getAddress(), importer: migrator, sourceBlock: before, recordIn }),
      ).to.be.rejectedWith(/source .* changed[\s\S]*crates\/hello 1\.0\.0: yanked: expected false, got true/);
      expect(await fs.readdir(recordIn)).to.deep.equal([]);
    });

    it("refuses a target whose importer is not the migrating account, or that is not empty", async () => {
      const { source, migrator, alice } = await loadFixture(buildSource);
      const snapshot = await readRegistry(source);
      const { registry: noImporter } = await deployRegistry();
      await expect(copyRegistry(snapshot, noImporter, { importer: migrator })).to.be.rejectedWith(/importer is 0x0+/);
      const { registry: used } = await deployRegistry(migrator.address);
      await used.connect(alice).createRepository("taken", false);
      await expect(copyRegistry(snapshot, used, { importer: migrator })).to.be.rejectedWith(/not empty/);
    });
  });

  describe("the checker", () => {
    async function sourceAndCopy() {
      const built = await buildSource();
      const snapshot = await readRegistry(built.source);
      const { registry } = await deployRegistry(built.migrator.address);
      await copyRegistry(snapshot, registry, { importer: built.migrator });
      return { ...built, target: registry as Registry };
    }

    it("passes on a faithful copy", async () => {
      const built = await loadFixture(sourceAndCopy);
      // the offers, which are never copied: withdraw them in the source so the two are equal
      await withdrawOffers(built);
      await assertRegistriesEqual(built.source, built.target);
    });

    it("reads the same with tiny pages (every cursor and offset path)", async () => {
      const { source } = await loadFixture(buildSource);
      const block = await ethers.provider.getBlockNumber();
      const whole = await readRegistry(source, { blockTag: block });
      const paged = await readRegistry(source, {
        blockTag: block,
        idPageSize: 2,
        versionPageSize: 7,
        packagesPerCall: 3,
        firstVersionsPerPackage: 3,
        concurrency: 3,
      });
      expect(paged).to.deep.equal(whole);
      expect(whole.repositories[0].packages[0].versions).to.have.length(260);
    });

    it("names a differing yank flag", async () => {
      const built = await loadFixture(sourceAndCopy);
      const { source, target, alice } = built;
      await withdrawOffers(built);
      await target.connect(alice).setYanked(repositoryIdOf("crates"), "hello", "1.3.0", false); // corrupt one flag
      const error = await assertRegistriesEqual(source, target).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).to.be.instanceOf(RegistryMismatchError);
      const mismatch = error as RegistryMismatchError;
      expect(mismatch.differences).to.deep.equal(["crates/hello 1.3.0: yanked: expected true, got false"]);
      expect(mismatch.message).to.contain("crates/hello 1.3.0: yanked: expected true, got false");
    });

    it("names missing versions, other CIDs, owners, maintainers and pending owners", async () => {
      const { source, target, alice, bob, carol, dave, erin } = await loadFixture(sourceAndCopy);
      const crates = repositoryIdOf("crates");
      await target.connect(alice).publish(crates, "hello", "9.9.9", await cidHex("x", "raw"), await cidHex("y", "raw"));
      await target.connect(carol).removeMaintainer(repositoryIdOf("nixos"), dave);
      await target.connect(bob).transferOwnership(packageIdOf("crates", "serde"), dave);
      await target.connect(dave).acceptOwnership(packageIdOf("crates", "serde"));
      await expect(assertRegistriesEqual(source, target)).to.be.rejectedWith(RegistryMismatchError);
      const differences = diffSnapshots(await readRegistry(source), await readRegistry(target));
      expect(differences).to.include.members([
        "crates/hello: versionCount: expected 260, got 261",
        `repository nixos: maintainers: expected ${JSON.stringify([erin.address, dave.address])}, got ${JSON.stringify([erin.address])}`,
        `crates/serde: owner: expected "${bob.address}", got "${dave.address}"`,
        `npm/left-pad: pendingOwner: expected "${dave.address}", got "${ethers.ZeroAddress}"`,
      ]);
      expect(differences.some((d) => d.startsWith("crates/hello: versions (newest first)"))).to.equal(true);

      // published CIDs never change on chain, so a different CID is shown on a doctored snapshot
      const doctored = await readRegistry(source);
      const version = doctored.repositories[0].packages[1].versions[0];
      const original = version.srcCid;
      version.srcCid = await cidHex("other", "dagpb");
      expect(diffSnapshots(await readRegistry(source), doctored)).to.deep.equal([
        `crates/serde 1.0.2: srcCid: expected "${original}", got "${version.srcCid}"`,
      ]);
    });
  });

  describe("batch encoding (scripts/lib/batch.ts)", () => {
    const repositoryId = repositoryIdOf("crates");
    const release = async (version: string, kind: CidKind = "raw") => ({
      version,
      metaCid: await cidHex(`m${version}`, kind),
      srcCid: await cidHex(`s${version}`, kind),
    });

    it("packs versions as length byte + ASCII and splits CIDs into header and digest", async () => {
      expect(packVersions(["1.0.0", "10.2.3"])).to.equal("0x05312e302e3006" + "31302e322e33");
      expect(unpackVersions(packVersions([LONG_64, "0.0.1"]))).to.deep.equal([LONG_64, "0.0.1"]);
      expect(() => packVersions([""])).to.throw(/cannot pack/);
      expect(splitCid(await cidHex("a", "v0")).header).to.equal("0x1220");
      expect(splitCid(await cidHex("a", "raw")).header).to.equal("0x01551220");
      expect(splitCid(await cidHex("a", "dagpb")).header).to.equal("0x01701220");
    });

    it("keeps order, starts an entry per header change and a transaction per 200 versions", async () => {
      const releases = [];
      for (let i = 0; i < 450; ++i) releases.push(await release(`1.${i}.0`, i >= 100 && i < 110 ? "v0" : "raw"));
      const lists: PackageReleaseList[] = [{ repositoryId, name: "hello", label: "crates/hello", releases }];
      const chunks = planBatches(lists, { maxVersionsPerTx: 200, maxGasPerTx: 100_000_000 });
      expect(chunks.map((c) => c.versionCount)).to.deep.equal([200, 200, 50]);
      expect(chunks[0].entries.map((e) => unpackVersions(e.versions as string).length)).to.deep.equal([100, 10, 90]);
      expect(chunks[0].entries.map((e) => e.metaCidHeader)).to.deep.equal(["0x01551220", "0x1220", "0x01551220"]);
      const order = chunks.flatMap((c) => c.entries.flatMap((e) => unpackVersions(e.versions as string)));
      expect(order).to.deep.equal(releases.map((r) => r.version));
      const digests = chunks.flatMap((c) => c.entries.flatMap((e) => e.metaDigests));
      expect(digests).to.deep.equal(releases.map((r) => splitCid(r.metaCid).digest));
    });

    it("closes a transaction before the gas budget, counting long versions as dearer", async () => {
      const short = await Promise.all(Array.from({ length: 40 }, (_, i) => release(`1.${i}.0`)));
      const long = await Promise.all(Array.from({ length: 40 }, (_, i) => release(`1.${i}.0-${"l".repeat(50)}`)));
      const budget = 2_000_000;
      const plan = (releases: typeof short) =>
        planBatches([{ repositoryId, name: "hello", label: "hello", releases }], { maxGasPerTx: budget });
      const shortChunks = plan(short);
      const longChunks = plan(long);
      expect(longChunks.length).to.be.greaterThan(shortChunks.length);
      for (const chunk of [...shortChunks, ...longChunks]) expect(chunk.estimatedGas).to.be.at.most(budget);
    });
  });
});
