/**
 * The behaviour every composition of RegistryCore keeps for the accounts no extension empowers: who may
 * publish, batch, yank, register and manage, as the core's `_check*` hooks decide. Reused by the tests of the
 * deployed Registry (with and without an importer) and of the test-only compositions in contracts/mocks/.
 */
import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { IRegistry__factory, type IRegistry } from "../../typechain-types";
import { DAG_PB, cidOf, hexOf, packageIdOf, repositoryIdOf } from "./fixtures";
import { packVersions } from "./model";

/** A registry set up for the behaviour: alice owns the curated repository "crates" and its package "hello"; bob maintains both. */
export interface CoreSetup {
  readonly registry: IRegistry;
  readonly alice: HardhatEthersSigner;
  readonly bob: HardhatEthersSigner;
  readonly mallory: HardhatEthersSigner;
  readonly repositoryId: string;
  readonly packageId: string;
}

/**
 * A fixture (a stable function, as loadFixture wants) that deploys the registry `deploy` returns the address of,
 * with the accounts and the repository, package and maintainer of {@link CoreSetup}. `deploy` must not use the
 * signers alice (1), bob (2) and mallory (4) for anything else.
 */
export function coreFixture(deploy: () => Promise<string>): () => Promise<CoreSetup> {
  // named: loadFixture refuses anonymous functions
  return async function coreSetup(): Promise<CoreSetup> {
    const [, alice, bob, , mallory] = await ethers.getSigners();
    const registry = IRegistry__factory.connect(await deploy(), ethers.provider);
    const repositoryId = repositoryIdOf("crates");
    const packageId = packageIdOf("crates", "hello");
    await registry.connect(alice).createRepository("crates", true);
    await registry.connect(alice).registerPackage(repositoryId, "hello");
    await registry.connect(alice).addMaintainer(repositoryId, bob.address);
    await registry.connect(alice).addMaintainer(packageId, bob.address);
    return { registry, alice, bob, mallory, repositoryId, packageId };
  };
}

async function cids(tag: string): Promise<{ meta: string; src: string }> {
  return { meta: hexOf(await cidOf(`meta ${tag}`)), src: hexOf(await cidOf(`src ${tag}`, DAG_PB)) };
}

function batchOf(repositoryId: string, name: string, versions: string[]): IRegistry.PackageReleasesStruct {
  const digests = versions.map((v) => ethers.keccak256(ethers.toUtf8Bytes(v)));
  return {
    repositoryId,
    name,
    versions: packVersions(versions),
    metaCidHeader: "0x01551220",
    metaDigests: digests,
    srcCidHeader: "0x01701220",
    srcDigests: digests,
  };
}

/** The core's roles, through every hook, for a registry `fixture` sets up (see {@link coreFixture}). */
export function shouldBehaveLikeRegistryCore(fixture: () => Promise<CoreSetup>): void {
  describe("behaves like RegistryCore", () => {
    it("lets owners and maintainers publish, batch and yank, and refuses strangers and unknown packages", async () => {
      const { registry, alice, bob, mallory, repositoryId, packageId } = await loadFixture(fixture);
      const a = await cids("a");
      await expect(registry.connect(alice).publish(repositoryId, "hello", "1.0.0", a.meta, a.src))
        .to.emit(registry, "Published")
        .withArgs(repositoryId, packageId, "1.0.0");
      await expect(registry.connect(bob).publish(repositoryId, "hello", "1.0.1", a.meta, a.src)).to.emit(registry, "Published");
      await expect(registry.connect(bob).publishBatch([batchOf(repositoryId, "hello", ["1.1.0", "1.2.0"])]))
        .to.emit(registry, "PublishedBatch")
        .withArgs(repositoryId, packageId, packVersions(["1.1.0", "1.2.0"]));
      await expect(registry.connect(bob).setYanked(repositoryId, "hello", "1.0.0", true))
        .to.emit(registry, "YankChanged")
        .withArgs(repositoryId, packageId, "1.0.0", true);

      await expect(registry.connect(mallory).publish(repositoryId, "hello", "2.0.0", a.meta, a.src))
        .to.be.revertedWithCustomError(registry, "RegistryUnauthorized")
        .withArgs(packageId, mallory.address);
      await expect(registry.connect(mallory).publishBatch([batchOf(repositoryId, "hello", ["2.0.0"])]))
        .to.be.revertedWithCustomError(registry, "RegistryUnauthorized")
        .withArgs(packageId, mallory.address);
      await expect(registry.connect(mallory).setYanked(repositoryId, "hello", "1.0.1", true))
        .to.be.revertedWithCustomError(registry, "RegistryUnauthorized")
        .withArgs(packageId, mallory.address);
      await expect(registry.connect(alice).publish(repositoryId, "nope", "1.0.0", a.meta, a.src))
        .to.be.revertedWithCustomError(registry, "RegistryUnknownPackage")
        .withArgs(packageIdOf("crates", "nope"));
      expect((await registry.getPackages([packageId], 0))[0].versionCount).to.equal(4n);
    });

    it("lets owners and maintainers register in a curated repository and publish its versions; anyone in an open one", async () => {
      const { registry, alice, bob, mallory, repositoryId } = await loadFixture(fixture);
      const a = await cids("repo");
      await expect(registry.connect(bob).registerPackage(repositoryId, "serde")).to.emit(registry, "PackageRegistered");
      await expect(registry.connect(mallory).registerPackage(repositoryId, "evil"))
        .to.be.revertedWithCustomError(registry, "RegistryUnauthorized")
        .withArgs(repositoryId, mallory.address);
      await expect(registry.connect(bob).publishRepository(repositoryId, "25.05", a.meta)).to.emit(registry, "RepositoryPublished");
      await expect(registry.connect(mallory).publishRepository(repositoryId, "25.11", a.meta))
        .to.be.revertedWithCustomError(registry, "RegistryUnauthorized")
        .withArgs(repositoryId, mallory.address);
      await expect(registry.connect(mallory).setRepositoryYanked(repositoryId, "25.05", true))
        .to.be.revertedWithCustomError(registry, "RegistryUnauthorized")
        .withArgs(repositoryId, mallory.address);
      await expect(registry.connect(alice).setCurated(repositoryId, false)).to.emit(registry, "RepositoryCurationChanged");
      await expect(registry.connect(mallory).registerPackage(repositoryId, "fine"))
        .to.emit(registry, "PackageRegistered")
        .withArgs(repositoryId, packageIdOf("crates", "fine"), "fine", mallory.address);
    });

    it("keeps managing to the owner: maintainers and strangers are refused, ownership moves in two steps", async () => {
      const { registry, alice, bob, mallory, repositoryId, packageId } = await loadFixture(fixture);
      for (const caller of [bob, mallory]) {
        await expect(registry.connect(caller).setCurated(repositoryId, false))
          .to.be.revertedWithCustomError(registry, "RegistryUnauthorized")
          .withArgs(repositoryId, caller.address);
        await expect(registry.connect(caller).addMaintainer(packageId, caller.address))
          .to.be.revertedWithCustomError(registry, "RegistryUnauthorized")
          .withArgs(packageId, caller.address);
        await expect(registry.connect(caller).transferOwnership(packageId, caller.address))
          .to.be.revertedWithCustomError(registry, "RegistryUnauthorized")
          .withArgs(packageId, caller.address);
      }
      await expect(registry.connect(alice).transferOwnership(packageId, mallory.address))
        .to.emit(registry, "OwnershipTransferStarted")
        .withArgs(packageId, alice.address, mallory.address);
      expect(await registry.owner(packageId)).to.equal(alice.address);
      await expect(registry.connect(mallory).acceptOwnership(packageId))
        .to.emit(registry, "OwnershipTransferred")
        .withArgs(packageId, alice.address, mallory.address);
      await expect(registry.connect(alice).removeMaintainer(packageId, bob.address))
        .to.be.revertedWithCustomError(registry, "RegistryUnauthorized")
        .withArgs(packageId, alice.address);
    });
  });
}
