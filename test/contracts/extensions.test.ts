/**
 * The registry's structure (contracts/RegistryCore.sol and contracts/extensions/): the core's behaviour holds
 * in every composition, RegistryImport's powers and sealImport's errors, and the `_check*` hooks as the
 * extension points (a test-only composition in contracts/mocks/ overrides one).
 */
import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import type { Registry, RegistryFreezableMock } from "../../typechain-types";
import { coreFixture, shouldBehaveLikeRegistryCore } from "./RegistryCore.behavior";
import { DAG_PB, cidOf, hexOf, packageIdOf, repositoryIdOf } from "./fixtures";
import { packVersions } from "./model";

/** The account the registries with an importer are deployed with (one the core behaviour does not use). */
async function importerAccount() {
  return (await ethers.getSigners())[5];
}

async function deployRegistry(importer: string): Promise<Registry> {
  const registry = (await ethers.deployContract("Registry", [importer])) as unknown as Registry;
  await registry.waitForDeployment();
  return registry;
}

async function deployPlain(): Promise<string> {
  return (await deployRegistry(ethers.ZeroAddress)).getAddress();
}

async function deployImported(): Promise<string> {
  return (await deployRegistry((await importerAccount()).address)).getAddress();
}

async function deployFreezable(): Promise<string> {
  const mock = await ethers.deployContract("RegistryFreezableMock");
  await mock.waitForDeployment();
  return mock.getAddress();
}

async function cids(tag: string): Promise<{ meta: string; src: string }> {
  return { meta: hexOf(await cidOf(`meta ${tag}`)), src: hexOf(await cidOf(`src ${tag}`, DAG_PB)) };
}

describe("RegistryCore and its extensions", () => {
  describe("Registry without an importer", () => {
    shouldBehaveLikeRegistryCore(coreFixture(deployPlain));
  });

  describe("Registry with an importer, for every other account", () => {
    shouldBehaveLikeRegistryCore(coreFixture(deployImported));
  });

  describe("RegistryFreezableMock (RegistryCore + RegistryBatch, no RegistryImport), not frozen", () => {
    shouldBehaveLikeRegistryCore(coreFixture(deployFreezable));
  });

  describe("RegistryImport", () => {
    /** A registry with an importer; alice owns the curated repository "crates" and its package "hello". */
    async function imported() {
      const [deployer, alice, bob] = await ethers.getSigners();
      const importer = await importerAccount();
      const registry = await deployRegistry(importer.address);
      await registry.connect(alice).createRepository("crates", true);
      await registry.connect(alice).registerPackage(repositoryIdOf("crates"), "hello");
      return { registry, deployer, alice, bob, importer };
    }

    it("announces the import at deployment (ImportOpened), and nothing for a registry without an importer", async () => {
      const { registry, importer } = await loadFixture(imported);
      await expect(registry.deploymentTransaction()).to.emit(registry, "ImportOpened").withArgs(importer.address);
      expect(await registry.importer()).to.equal(importer.address);
      const plain = await deployRegistry(ethers.ZeroAddress);
      const receipt = await plain.deploymentTransaction()!.wait();
      expect(receipt!.logs).to.have.length(0);
      expect(await plain.importer()).to.equal(ethers.ZeroAddress);
    });

    it("lets the importer act as owner and maintainer of everything, through the _checkAuthority hook, until sealed", async () => {
      const { registry, alice, bob, importer } = await loadFixture(imported);
      const repositoryId = repositoryIdOf("crates");
      const packageId = packageIdOf("crates", "hello");
      const a = await cids("a");
      await expect(registry.connect(importer).registerPackage(repositoryId, "serde")).to.emit(registry, "PackageRegistered");
      await expect(registry.connect(importer).publish(repositoryId, "hello", "1.0.0", a.meta, a.src)).to.emit(registry, "Published");
      await expect(registry.connect(importer).publishRepository(repositoryId, "25.05", a.meta)).to.emit(registry, "RepositoryPublished");
      await expect(registry.connect(importer).addMaintainer(packageId, bob.address)).to.emit(registry, "MaintainerAdded");
      await expect(registry.connect(importer).setCurated(repositoryId, false)).to.emit(registry, "RepositoryCurationChanged");
      // its transfers are immediate, not offers
      await expect(registry.connect(importer).transferOwnership(packageId, bob.address))
        .to.emit(registry, "OwnershipTransferred")
        .withArgs(packageId, alice.address, bob.address);
      await expect(registry.connect(importer).transferOwnership(packageId, ethers.ZeroAddress)).to.be.revertedWithCustomError(
        registry,
        "RegistryZeroAddress",
      );
      await expect(registry.connect(importer).transferOwnership(repositoryIdOf("nope"), bob.address))
        .to.be.revertedWithCustomError(registry, "RegistryUnknownId")
        .withArgs(repositoryIdOf("nope"));

      await expect(registry.connect(importer).sealImport()).to.emit(registry, "ImportSealed").withArgs(importer.address);
      await expect(registry.connect(importer).publish(repositoryId, "hello", "1.0.1", a.meta, a.src))
        .to.be.revertedWithCustomError(registry, "RegistryUnauthorized")
        .withArgs(packageId, importer.address);
      await expect(registry.connect(importer).transferOwnership(repositoryId, importer.address))
        .to.be.revertedWithCustomError(registry, "RegistryUnauthorized")
        .withArgs(repositoryId, importer.address);
    });

    describe("sealImport", () => {
      it("refuses any other account with RegistryNotImporter, leaving the import open", async () => {
        const { registry, alice, importer } = await loadFixture(imported);
        await expect(registry.connect(alice).sealImport())
          .to.be.revertedWithCustomError(registry, "RegistryNotImporter")
          .withArgs(alice.address);
        expect(await registry.importer()).to.equal(importer.address);
        const a = await cids("open");
        await expect(registry.connect(importer).publish(repositoryIdOf("crates"), "hello", "1.0.0", a.meta, a.src)).to.emit(
          registry,
          "Published",
        );
      });

      it("seals once: called again, by the importer or anyone, it reverts with RegistryImportSealed", async () => {
        const { registry, alice, importer } = await loadFixture(imported);
        await expect(registry.connect(importer).sealImport()).to.emit(registry, "ImportSealed").withArgs(importer.address);
        expect(await registry.importer()).to.equal(ethers.ZeroAddress);
        for (const caller of [importer, alice]) {
          await expect(registry.connect(caller).sealImport())
            .to.be.revertedWithCustomError(registry, "RegistryImportSealed")
            .withArgs();
        }
      });

      it("reverts with RegistryImportSealed on a registry deployed without an importer", async () => {
        const [deployer] = await ethers.getSigners();
        const registry = await deployRegistry(ethers.ZeroAddress);
        await expect(registry.connect(deployer).sealImport()).to.be.revertedWithCustomError(registry, "RegistryImportSealed");
      });
    });
  });

  describe("the _check* hooks are the extension points (RegistryFreezableMock)", () => {
    async function freezable() {
      const [deployer, alice, bob] = await ethers.getSigners();
      const registry = (await ethers.deployContract("RegistryFreezableMock")) as unknown as RegistryFreezableMock;
      await registry.connect(alice).createRepository("crates", false);
      await registry.connect(alice).registerPackage(repositoryIdOf("crates"), "hello");
      const a = await cids("1.0.0");
      await registry.connect(alice).publish(repositoryIdOf("crates"), "hello", "1.0.0", a.meta, a.src);
      return { registry, deployer, alice, bob };
    }

    it("gives no account powers beyond the roles without RegistryImport", async () => {
      const { registry, deployer } = await loadFixture(freezable);
      expect(registry.interface.hasFunction("sealImport")).to.equal(false);
      expect(registry.interface.hasFunction("importer")).to.equal(false);
      const a = await cids("deployer");
      await expect(registry.connect(deployer).publish(repositoryIdOf("crates"), "hello", "1.0.1", a.meta, a.src))
        .to.be.revertedWithCustomError(registry, "RegistryUnauthorized")
        .withArgs(packageIdOf("crates", "hello"), deployer.address);
    });

    it("lets one override of _checkPackageMaintainer govern publish, publishBatch and setYanked alike", async () => {
      const { registry, alice, bob } = await loadFixture(freezable);
      const repositoryId = repositoryIdOf("crates");
      const packageId = packageIdOf("crates", "hello");
      const a = await cids("1.0.1");
      await registry.freeze();
      await expect(registry.connect(alice).publish(repositoryId, "hello", "1.0.1", a.meta, a.src))
        .to.be.revertedWithCustomError(registry, "RegistryFrozen")
        .withArgs(packageId);
      const digest = ethers.keccak256("0x01");
      const entry = {
        repositoryId,
        name: "hello",
        versions: packVersions(["1.0.1"]),
        metaCidHeader: "0x01551220",
        metaDigests: [digest],
        srcCidHeader: "0x01551220",
        srcDigests: [digest],
      };
      await expect(registry.connect(alice).publishBatch([entry]))
        .to.be.revertedWithCustomError(registry, "RegistryFrozen")
        .withArgs(packageId);
      await expect(registry.connect(alice).setYanked(repositoryId, "hello", "1.0.0", true))
        .to.be.revertedWithCustomError(registry, "RegistryFrozen")
        .withArgs(packageId);
      // what other hooks guard is untouched
      await expect(registry.connect(bob).registerPackage(repositoryId, "serde")).to.emit(registry, "PackageRegistered");
      await expect(registry.connect(alice).publishRepository(repositoryId, "25.05", a.meta)).to.emit(registry, "RepositoryPublished");
      await expect(registry.connect(alice).addMaintainer(packageId, bob.address)).to.emit(registry, "MaintainerAdded");
    });
  });
});
