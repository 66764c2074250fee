import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { sha256 } from "multiformats/hashes/sha2";
import {
  DAG_PB,
  cidOf,
  deployRegistry,
  deployWithPackage,
  hexOf,
  packageIdOf,
  repositoryIdOf,
} from "./fixtures";

/** Packs versions as {IRegistry.PackageReleases} wants them: a length byte, then the ASCII bytes. */
function packVersions(versions: string[]): string {
  return ethers.hexlify(
    ethers.concat(versions.map((v) => ethers.concat([new Uint8Array([v.length]), ethers.toUtf8Bytes(v)]))),
  );
}

describe("Registry", () => {
  async function cids(tag: string) {
    return { meta: hexOf(await cidOf(`meta ${tag}`)), src: hexOf(await cidOf(`src ${tag}`, DAG_PB)) };
  }

  describe("ids", () => {
    it("derives repository and package ids the way clients do offline", async () => {
      const { registry } = await loadFixture(deployRegistry);
      expect(await registry.repositoryId("crates")).to.equal(repositoryIdOf("crates"));
      expect(await registry.packageId(repositoryIdOf("crates"), "hello")).to.equal(packageIdOf("crates", "hello"));
    });
  });

  describe("createRepository", () => {
    it("creates an open or curated repository owned by the caller and lists it", async () => {
      const { registry, alice, bob } = await loadFixture(deployRegistry);
      await expect(registry.connect(alice).createRepository("crates", false))
        .to.emit(registry, "RepositoryCreated")
        .withArgs(repositoryIdOf("crates"), "crates", alice.address, false);
      await registry.connect(bob).createRepository("nixpkgs", true);
      const crates = await registry.getRepository(repositoryIdOf("crates"));
      expect(crates.name).to.equal("crates");
      expect(crates.owner).to.equal(alice.address);
      expect(crates.curated).to.equal(false);
      expect((await registry.getRepository(repositoryIdOf("nixpkgs"))).curated).to.equal(true);
      expect(await registry.repositoryCount()).to.equal(2n);
      expect(await registry.getRepositoryIds(0, 10)).to.deep.equal([repositoryIdOf("crates"), repositoryIdOf("nixpkgs")]);
      expect(await registry.getRepositoryIds(1, 10)).to.deep.equal([repositoryIdOf("nixpkgs")]);
      expect(await registry.getRepositoryIds(5, 10)).to.deep.equal([]);
    });

    it("refuses a taken name", async () => {
      const { registry, alice, bob } = await loadFixture(deployRegistry);
      await registry.connect(alice).createRepository("crates", false);
      await expect(registry.connect(bob).createRepository("crates", true))
        .to.be.revertedWithCustomError(registry, "RegistryRepositoryExists")
        .withArgs(repositoryIdOf("crates"), "crates");
    });

    for (const bad of ["", "Crates", "-crates", ".x", "a/b", "a b", "ü", "a".repeat(65)]) {
      it(`refuses the name ${JSON.stringify(bad.length > 20 ? `${bad.slice(0, 5)}…(${bad.length})` : bad)}`, async () => {
        const { registry, alice } = await loadFixture(deployRegistry);
        await expect(registry.connect(alice).createRepository(bad, false))
          .to.be.revertedWithCustomError(registry, "RegistryInvalidName")
          .withArgs(bad);
      });
    }

    it("accepts the whole alphabet [a-z0-9-_.] and 64 characters", async () => {
      const { registry, alice } = await loadFixture(deployRegistry);
      await registry.connect(alice).createRepository("a0-_.z9", false);
      await registry.connect(alice).createRepository("a".repeat(64), false);
      expect(await registry.repositoryCount()).to.equal(2n);
    });
  });

  describe("setCurated", () => {
    it("switches the flag for the owner, emitting only on change", async () => {
      const { registry, alice, repositoryId } = await loadFixture(deployWithPackage);
      await expect(registry.connect(alice).setCurated(repositoryId, true))
        .to.emit(registry, "RepositoryCurationChanged")
        .withArgs(repositoryId, true);
      await expect(registry.connect(alice).setCurated(repositoryId, true)).not.to.emit(
        registry,
        "RepositoryCurationChanged",
      );
      expect((await registry.getRepository(repositoryId)).curated).to.equal(true);
    });

    it("refuses others, unknown ids and package ids", async () => {
      const { registry, alice, bob, repositoryId, packageId } = await loadFixture(deployWithPackage);
      await expect(registry.connect(bob).setCurated(repositoryId, true))
        .to.be.revertedWithCustomError(registry, "RegistryUnauthorized")
        .withArgs(repositoryId, bob.address);
      await expect(registry.connect(alice).setCurated(repositoryIdOf("nope"), true))
        .to.be.revertedWithCustomError(registry, "RegistryUnknownRepository")
        .withArgs(repositoryIdOf("nope"));
      await expect(registry.connect(alice).setCurated(packageId, true))
        .to.be.revertedWithCustomError(registry, "RegistryUnknownRepository")
        .withArgs(packageId);
    });
  });

  describe("registerPackage", () => {
    it("lets anyone register in an open repository and makes them the owner", async () => {
      const { registry, bob, repositoryId } = await loadFixture(deployWithPackage);
      const id = packageIdOf("crates", "serde");
      await expect(registry.connect(bob).registerPackage(repositoryId, "serde"))
        .to.emit(registry, "PackageRegistered")
        .withArgs(repositoryId, id, "serde", bob.address);
      expect(await registry.owner(id)).to.equal(bob.address);
      expect(await registry.getRepositoryPackages(repositoryId, 0, 10)).to.deep.equal([
        packageIdOf("crates", "hello"),
        id,
      ]);
      expect((await registry.getRepository(repositoryId)).packageCount).to.equal(2n);
    });

    it("lets only owners and maintainers register in a curated repository", async () => {
      const { registry, alice, bob, carol } = await loadFixture(deployRegistry);
      await registry.connect(alice).createRepository("nixpkgs", true);
      const repo = repositoryIdOf("nixpkgs");
      await expect(registry.connect(bob).registerPackage(repo, "rustc"))
        .to.be.revertedWithCustomError(registry, "RegistryUnauthorized")
        .withArgs(repo, bob.address);
      await registry.connect(alice).addMaintainer(repo, bob.address);
      await registry.connect(bob).registerPackage(repo, "rustc");
      await registry.connect(alice).registerPackage(repo, "cargo");
      expect(await registry.owner(packageIdOf("nixpkgs", "rustc"))).to.equal(bob.address);
      await expect(registry.connect(carol).registerPackage(repo, "gcc")).to.be.revertedWithCustomError(
        registry,
        "RegistryUnauthorized",
      );
    });

    it("refuses unknown repositories, taken and invalid names", async () => {
      const { registry, alice, repositoryId, packageId } = await loadFixture(deployWithPackage);
      await expect(registry.connect(alice).registerPackage(repositoryIdOf("nope"), "x"))
        .to.be.revertedWithCustomError(registry, "RegistryUnknownRepository")
        .withArgs(repositoryIdOf("nope"));
      await expect(registry.connect(alice).registerPackage(packageId, "x"))
        .to.be.revertedWithCustomError(registry, "RegistryUnknownRepository")
        .withArgs(packageId);
      await expect(registry.connect(alice).registerPackage(repositoryId, "hello"))
        .to.be.revertedWithCustomError(registry, "RegistryPackageExists")
        .withArgs(packageId, "hello");
      await expect(registry.connect(alice).registerPackage(repositoryId, "Hello"))
        .to.be.revertedWithCustomError(registry, "RegistryInvalidName")
        .withArgs("Hello");
    });
  });

  describe("publish", () => {
    it("stores the exact CIDs and lists versions newest first", async () => {
      const { registry, alice, repositoryId, packageId } = await loadFixture(deployWithPackage);
      const a = await cids("a");
      const b = await cids("b");
      await expect(registry.connect(alice).publish(repositoryId, "hello", "1.0.0", a.meta, a.src))
        .to.emit(registry, "Published")
        .withArgs(repositoryId, packageId, "1.0.0");
      await registry.connect(alice).publish(repositoryId, "hello", "1.1.0-rc.1+build.5", b.meta, b.src);
      const one = await registry.getPackageVersion(packageId, "1.0.0");
      expect([one.version, one.metaCid, one.srcCid, one.yanked]).to.deep.equal(["1.0.0", a.meta, a.src, false]);
      const [page, next] = await registry.getPackageVersions(packageId, ethers.ZeroHash, 10);
      expect(page.map((v) => v.version)).to.deep.equal(["1.1.0-rc.1+build.5", "1.0.0"]);
      expect(page[0].metaCid).to.equal(b.meta);
      expect(next).to.equal(ethers.ZeroHash);
    });

    it("returns CIDv0, CIDv1 raw, dag-pb, dag-cbor and blake3 CIDs byte for byte, and their strings", async () => {
      const { registry, alice, repositoryId, packageId } = await loadFixture(deployWithPackage);
      const digest = await sha256.digest(new TextEncoder().encode("content"));
      const v0 = CID.createV0(digest);
      const rawCid = CID.createV1(raw.code, digest);
      const dagPb = CID.createV1(DAG_PB, digest);
      const dagCbor = CID.createV1(0x71, digest);
      const blake3 = CID.decode(ethers.getBytes(ethers.concat(["0x01551e20", digest.digest])));
      const cases: [string, CID, CID][] = [
        ["1.0.0", v0, rawCid],
        ["1.0.1", rawCid, dagPb],
        ["1.0.2", dagCbor, blake3],
      ];
      for (const [version, meta, src] of cases) {
        await registry.connect(alice).publish(repositoryId, "hello", version, hexOf(meta), hexOf(src));
        const stored = await registry.getPackageVersion(packageId, version);
        expect(stored.metaCid).to.equal(hexOf(meta));
        expect(stored.srcCid).to.equal(hexOf(src));
        expect(CID.decode(ethers.getBytes(stored.metaCid)).toString()).to.equal(meta.toString());
        expect(CID.decode(ethers.getBytes(stored.srcCid)).toString()).to.equal(src.toString());
      }
      expect(CID.decode(ethers.getBytes((await registry.getPackageVersion(packageId, "1.0.0")).metaCid)).toString())
        .to.match(/^Qm/);
    });

    it("never changes or re-publishes a published version", async () => {
      const { registry, alice, repositoryId, packageId } = await loadFixture(deployWithPackage);
      const a = await cids("a");
      const b = await cids("b");
      await registry.connect(alice).publish(repositoryId, "hello", "1.0.0", a.meta, a.src);
      await expect(registry.connect(alice).publish(repositoryId, "hello", "1.0.0", b.meta, b.src))
        .to.be.revertedWithCustomError(registry, "RegistryVersionExists")
        .withArgs(packageId, "1.0.0");
      expect((await registry.getPackageVersion(packageId, "1.0.0")).metaCid).to.equal(a.meta);
    });

    describe("versions that differ only in build metadata are one version", () => {
      // semver ignores +BUILD when comparing, so `1.0.0` and `1.0.0+evil` would satisfy the same ranges and an
      // update could move a lock onto the second; crates.io refuses publishing it, and so does the registry
      const v28 = "1.0.0-" + "a".repeat(22); // the longest inline key
      const v40 = "1.0.0-" + "b".repeat(34); // a hashed key
      const cases: [string, string, string][] = [
        // [published first, then refused, the form without build metadata]
        ["1.0.0", "1.0.0+evil", "1.0.0"],
        ["1.0.0+linux", "1.0.0", "1.0.0"],
        ["1.0.0+linux", "1.0.0+windows", "1.0.0"],
        ["2.0.0-rc.1", "2.0.0-rc.1+b.7", "2.0.0-rc.1"],
        [v28, `${v28}+x`, v28], // inline key, hashed variant
        [`${v40}+x`, v40, v40], // hashed key both ways
        [`${v28}+${"c".repeat(35)}`, `${v28}+d`, v28],
      ];
      for (const [first, second, withoutBuild] of cases) {
        it(`refuses ${second.length > 20 ? `${second.slice(0, 12)}…` : second} after ${first.length > 20 ? `${first.slice(0, 12)}…` : first}`, async () => {
          const { registry, alice, repositoryId, packageId } = await loadFixture(deployWithPackage);
          const a = await cids("a");
          await registry.connect(alice).publish(repositoryId, "hello", first, a.meta, a.src);
          await expect(registry.connect(alice).publish(repositoryId, "hello", second, a.meta, a.src))
            .to.be.revertedWithCustomError(registry, "RegistryEquivalentVersionExists")
            .withArgs(packageId, second, withoutBuild);
          // the exact same version is still RegistryVersionExists, and nothing else was stored
          await expect(registry.connect(alice).publish(repositoryId, "hello", first, a.meta, a.src))
            .to.be.revertedWithCustomError(registry, "RegistryVersionExists")
            .withArgs(packageId, first);
          const [page] = await registry.getPackageVersions(packageId, ethers.ZeroHash, 10);
          expect(page.map((v) => v.version)).to.deep.equal([first]);
          await expect(registry.getPackageVersion(packageId, second))
            .to.be.revertedWithCustomError(registry, "RegistryUnknownVersion")
            .withArgs(packageId, second);
          await expect(registry.connect(alice).setYanked(repositoryId, "hello", second, true))
            .to.be.revertedWithCustomError(registry, "RegistryUnknownVersion")
            .withArgs(packageId, second);
        });
      }

      it("keeps versions apart that differ in more than build metadata, and other packages apart", async () => {
        const { registry, alice, repositoryId, packageId } = await loadFixture(deployWithPackage);
        const a = await cids("a");
        await registry.connect(alice).registerPackage(repositoryId, "other");
        const versions = ["1.0.0+a", "1.0.1+a", "1.0.0-a", "1.0.0-b+a", "1.0.0-a.b+a", "0.11.0+wasi-snapshot-preview1"];
        for (const v of versions) await registry.connect(alice).publish(repositoryId, "hello", v, a.meta, a.src);
        for (const v of ["1.0.0", "1.0.1", "1.0.0-a", "0.11.0"]) await registry.connect(alice).publish(repositoryId, "other", v, a.meta, a.src);
        expect((await registry.getPackages([packageId], 0))[0].versionCount).to.equal(BigInt(versions.length));
      });

      it("refuses them inside one batch and against published versions, all or nothing", async () => {
        const { registry, alice, repositoryId, packageId } = await loadFixture(deployWithPackage);
        const d = ethers.keccak256("0x01");
        const entry = (versions: string[]) => ({
          repositoryId, name: "hello", versions: packVersions(versions),
          metaCidHeader: "0x01551220", metaDigests: versions.map(() => d), srcCidHeader: "0x01701220",
          srcDigests: versions.map(() => d),
        });
        await expect(registry.connect(alice).publishBatch([entry(["1.0.0+a", "1.1.0", "1.0.0+b"])]))
          .to.be.revertedWithCustomError(registry, "RegistryEquivalentVersionExists")
          .withArgs(packageId, "1.0.0+b", "1.0.0");
        expect((await registry.getPackages([packageId], 10))[0].versionCount).to.equal(0n);
        // the refused batch left no mark behind: 1.0.0 itself can be published
        await registry.connect(alice).publishBatch([entry(["1.0.0", "1.1.0+x"])]);
        await expect(registry.connect(alice).publishBatch([entry(["1.2.0", "1.1.0"])]))
          .to.be.revertedWithCustomError(registry, "RegistryEquivalentVersionExists")
          .withArgs(packageId, "1.1.0", "1.1.0");
        await expect(registry.connect(alice).publishBatch([entry(["1.0.0+y"])]))
          .to.be.revertedWithCustomError(registry, "RegistryEquivalentVersionExists")
          .withArgs(packageId, "1.0.0+y", "1.0.0");
        const [page] = await registry.getPackageVersions(packageId, ethers.ZeroHash, 10);
        expect(page.map((v) => v.version)).to.deep.equal(["1.1.0+x", "1.0.0"]);
      });

      it("does not apply to repository versions: release names are compared as text", async () => {
        const { registry, alice, repositoryId } = await loadFixture(deployWithPackage);
        const lock = hexOf(await cidOf("lock"));
        for (const v of ["1.0.0", "1.0.0+b5", "23.05", "23.05+fix"]) await registry.connect(alice).publishRepository(repositoryId, v, lock);
        expect((await registry.getRepository(repositoryId)).versionCount).to.equal(4n);
      });
    });

    it("stores long versions (29..64 bytes) through the hashed key", async () => {
      const { registry, alice, repositoryId, packageId } = await loadFixture(deployWithPackage);
      const a = await cids("a");
      const v28 = "1.0.0-" + "a".repeat(22);
      const v29 = "1.0.0-" + "a".repeat(23);
      const v64 = "0.0.0-experimental-" + "b".repeat(45);
      expect([v28.length, v29.length, v64.length]).to.deep.equal([28, 29, 64]);
      for (const v of [v28, v29, v64]) await registry.connect(alice).publish(repositoryId, "hello", v, a.meta, a.src);
      expect((await registry.getPackageVersion(packageId, v29)).version).to.equal(v29);
      const [page] = await registry.getPackageVersions(packageId, ethers.ZeroHash, 10);
      expect(page.map((v) => v.version)).to.deep.equal([v64, v29, v28]);
      await expect(registry.connect(alice).publish(repositoryId, "hello", v64, a.meta, a.src))
        .to.be.revertedWithCustomError(registry, "RegistryVersionExists")
        .withArgs(packageId, v64);
    });

    const badVersions = [
      "", "1", "1.0", "1.0.0.0", "01.0.0", "1.00.0", "1.0.00", "v1.0.0", "1.0.0-", "1.0.0+", "1.0.0-a..b",
      "1.0.0-.a", "1.0.0-a.", "1.0.0+a+b", "1.0.0-ü", "1.0.0 ", " 1.0.0", "1.0.0-a_b", "1.a.0", "1.0.0" + "-x".repeat(30),
    ];
    for (const bad of badVersions) {
      it(`refuses the version ${JSON.stringify(bad.length > 20 ? `${bad.slice(0, 8)}…(${bad.length})` : bad)}`, async () => {
        const { registry, alice, repositoryId } = await loadFixture(deployWithPackage);
        const a = await cids("a");
        await expect(registry.connect(alice).publish(repositoryId, "hello", bad, a.meta, a.src))
          .to.be.revertedWithCustomError(registry, "RegistryInvalidVersion")
          .withArgs(bad);
      });
    }

    it("accepts semver's own examples", async () => {
      const { registry, alice, repositoryId, packageId } = await loadFixture(deployWithPackage);
      const a = await cids("a");
      const good = ["0.0.0", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-0.3.7", "1.0.0-x.7.z.92", "1.0.0-x-y-z.--",
        // (semver.org's 1.0.0+21AF26D3----117B344092BD as 1.0.1+…: it equals 1.0.0+20130313144700 but for build metadata)
        "1.0.0+20130313144700", "1.0.0-beta+exp.sha.5114f85", "1.0.1+21AF26D3----117B344092BD", "10.20.30"];
      for (const v of good) await registry.connect(alice).publish(repositoryId, "hello", v, a.meta, a.src);
      expect((await registry.getPackages([packageId], 0))[0].versionCount).to.equal(BigInt(good.length));
    });

    it("refuses unsupported CIDs", async () => {
      const { registry, alice, repositoryId } = await loadFixture(deployWithPackage);
      const a = await cids("a");
      const sha512 = "0x0155134000" + "11".repeat(63); // CIDv1 raw sha2-512: 64-byte digest
      for (const bad of ["0x", "0x1220", "0x1220" + "11".repeat(31), "0x01551220" + "11".repeat(33), "0x01a9021220" + "11".repeat(32), sha512]) {
        await expect(registry.connect(alice).publish(repositoryId, "hello", "1.0.0", bad, a.src))
          .to.be.revertedWithCustomError(registry, "RegistryUnsupportedCid")
          .withArgs(bad);
        await expect(registry.connect(alice).publish(repositoryId, "hello", "1.0.0", a.meta, bad))
          .to.be.revertedWithCustomError(registry, "RegistryUnsupportedCid")
          .withArgs(bad);
      }
    });

    it("lets maintainers publish and refuses strangers and unknown packages", async () => {
      const { registry, alice, bob, carol, repositoryId, packageId } = await loadFixture(deployWithPackage);
      const a = await cids("a");
      await expect(registry.connect(bob).publish(repositoryId, "hello", "1.0.0", a.meta, a.src))
        .to.be.revertedWithCustomError(registry, "RegistryUnauthorized")
        .withArgs(packageId, bob.address);
      await registry.connect(alice).addMaintainer(packageId, bob.address);
      await registry.connect(bob).publish(repositoryId, "hello", "1.0.0", a.meta, a.src);
      // a repository maintainer is not a package maintainer
      await registry.connect(alice).addMaintainer(repositoryId, carol.address);
      await expect(registry.connect(carol).publish(repositoryId, "hello", "1.0.1", a.meta, a.src))
        .to.be.revertedWithCustomError(registry, "RegistryUnauthorized")
        .withArgs(packageId, carol.address);
      await expect(registry.connect(alice).publish(repositoryId, "nope", "1.0.0", a.meta, a.src))
        .to.be.revertedWithCustomError(registry, "RegistryUnknownPackage")
        .withArgs(packageIdOf("crates", "nope"));
    });
  });

  describe("publishBatch", () => {
    it("publishes many versions of many packages in one transaction", async () => {
      const { registry, alice, repositoryId, packageId } = await loadFixture(deployWithPackage);
      await registry.connect(alice).registerPackage(repositoryId, "dep");
      const versions = ["0.1.0", "0.2.0", "0.2.1-" + "long".repeat(8)];
      const digests = versions.map((v) => ethers.keccak256(ethers.toUtf8Bytes(v)));
      const srcDigests = versions.map((v) => ethers.keccak256(ethers.toUtf8Bytes(`src ${v}`)));
      const entry = (name: string) => ({
        repositoryId, name, versions: packVersions(versions),
        metaCidHeader: "0x01551220", metaDigests: digests, srcCidHeader: "0x1220", srcDigests,
      });
      const tx = registry.connect(alice).publishBatch([entry("hello"), entry("dep")]);
      await expect(tx).to.emit(registry, "PublishedBatch").withArgs(repositoryId, packageId, packVersions(versions));
      await expect(tx)
        .to.emit(registry, "PublishedBatch")
        .withArgs(repositoryId, packageIdOf("crates", "dep"), packVersions(versions));
      const [hello, dep] = await registry.getPackages([packageId, packageIdOf("crates", "dep")], 10);
      for (const view of [hello, dep]) {
        expect(view.versions.map((v) => v.version)).to.deep.equal([...versions].reverse());
        expect(view.versions[2].metaCid).to.equal(ethers.concat(["0x01551220", digests[0]]));
        expect(view.versions[2].srcCid).to.equal(ethers.concat(["0x1220", srcDigests[0]]));
      }
    });

    it("is all or nothing: one bad version reverts the whole batch", async () => {
      const { registry, alice, repositoryId, packageId } = await loadFixture(deployWithPackage);
      const d = ethers.ZeroHash.replace(/0$/, "1");
      const entry = (versions: string[]) => ({
        repositoryId, name: "hello", versions: packVersions(versions),
        metaCidHeader: "0x01551220", metaDigests: versions.map(() => d), srcCidHeader: "0x01701220",
        srcDigests: versions.map(() => d),
      });
      await expect(registry.connect(alice).publishBatch([entry(["1.0.0", "1.0"])]))
        .to.be.revertedWithCustomError(registry, "RegistryInvalidVersion")
        .withArgs("1.0");
      await expect(registry.connect(alice).publishBatch([entry(["1.0.0"]), entry(["1.0.0"])]))
        .to.be.revertedWithCustomError(registry, "RegistryVersionExists")
        .withArgs(packageId, "1.0.0");
      expect((await registry.getPackages([packageId], 10))[0].versionCount).to.equal(0n);
    });

    it("refuses malformed entries, bad headers, strangers and unknown packages", async () => {
      const { registry, alice, bob, repositoryId, packageId } = await loadFixture(deployWithPackage);
      const d = ethers.keccak256("0x01");
      const base = {
        repositoryId, name: "hello", versions: packVersions(["1.0.0", "1.0.1"]),
        metaCidHeader: "0x01551220", metaDigests: [d, d], srcCidHeader: "0x01701220", srcDigests: [d, d],
      };
      const malformed = [
        { ...base, srcDigests: [d] }, // arrays differ
        { ...base, metaDigests: [d, d, d], srcDigests: [d, d, d] }, // fewer versions than digests
        { ...base, versions: packVersions(["1.0.0", "1.0.1", "1.0.2"]) }, // more versions than digests
        { ...base, versions: base.versions.slice(0, -2) }, // last version cut short
      ];
      for (const entry of malformed) {
        await expect(registry.connect(alice).publishBatch([entry]))
          .to.be.revertedWithCustomError(registry, "RegistryMalformedBatch")
          .withArgs(0);
      }
      await expect(registry.connect(alice).publishBatch([{ ...base, metaCidHeader: "0x01551320" }]))
        .to.be.revertedWithCustomError(registry, "RegistryUnsupportedCid")
        .withArgs("0x01551320");
      await expect(registry.connect(bob).publishBatch([base]))
        .to.be.revertedWithCustomError(registry, "RegistryUnauthorized")
        .withArgs(packageId, bob.address);
      await expect(registry.connect(alice).publishBatch([{ ...base, name: "nope" }]))
        .to.be.revertedWithCustomError(registry, "RegistryUnknownPackage")
        .withArgs(packageIdOf("crates", "nope"));
    });
  });

  describe("setYanked", () => {
    it("flags and unflags a version, emitting only on change; CIDs stay", async () => {
      const { registry, alice, repositoryId, packageId } = await loadFixture(deployWithPackage);
      const a = await cids("a");
      await registry.connect(alice).publish(repositoryId, "hello", "1.0.0", a.meta, a.src);
      await expect(registry.connect(alice).setYanked(repositoryId, "hello", "1.0.0", true))
        .to.emit(registry, "YankChanged")
        .withArgs(repositoryId, packageId, "1.0.0", true);
      await expect(registry.connect(alice).setYanked(repositoryId, "hello", "1.0.0", true)).not.to.emit(
        registry,
        "YankChanged",
      );
      const yanked = await registry.getPackageVersion(packageId, "1.0.0");
      expect([yanked.yanked, yanked.metaCid, yanked.srcCid]).to.deep.equal([true, a.meta, a.src]);
      await expect(registry.connect(alice).setYanked(repositoryId, "hello", "1.0.0", false))
        .to.emit(registry, "YankChanged")
        .withArgs(repositoryId, packageId, "1.0.0", false);
      expect((await registry.getPackageVersion(packageId, "1.0.0")).yanked).to.equal(false);
    });

    it("refuses unknown versions and strangers", async () => {
      const { registry, alice, bob, repositoryId, packageId } = await loadFixture(deployWithPackage);
      await expect(registry.connect(alice).setYanked(repositoryId, "hello", "9.9.9", true))
        .to.be.revertedWithCustomError(registry, "RegistryUnknownVersion")
        .withArgs(packageId, "9.9.9");
      await expect(registry.connect(bob).setYanked(repositoryId, "hello", "9.9.9", true))
        .to.be.revertedWithCustomError(registry, "RegistryUnauthorized")
        .withArgs(packageId, bob.address);
    });
  });

  describe("repository versions", () => {
    it("publishes, lists and yanks repository versions for maintainers", async () => {
      const { registry, alice, bob, repositoryId } = await loadFixture(deployWithPackage);
      const lock = hexOf(await cidOf("repo lock 23.05"));
      await registry.connect(alice).addMaintainer(repositoryId, bob.address);
      await expect(registry.connect(bob).publishRepository(repositoryId, "23.5.0", lock))
        .to.emit(registry, "RepositoryPublished")
        .withArgs(repositoryId, "23.5.0", lock);
      await registry.connect(alice).publishRepository(repositoryId, "23.11.0", lock);
      const one = await registry.getRepositoryVersion(repositoryId, "23.5.0");
      expect([one.version, one.metaCid, one.srcCid, one.yanked]).to.deep.equal(["23.5.0", lock, "0x", false]);
      await expect(registry.connect(bob).setRepositoryYanked(repositoryId, "23.5.0", true))
        .to.emit(registry, "RepositoryYankChanged")
        .withArgs(repositoryId, "23.5.0", true);
      await expect(registry.connect(bob).setRepositoryYanked(repositoryId, "23.5.0", true)).not.to.emit(
        registry,
        "RepositoryYankChanged",
      );
      const [page] = await registry.getRepositoryVersions(repositoryId, ethers.ZeroHash, 10);
      expect(page.map((v) => [v.version, v.yanked])).to.deep.equal([["23.11.0", false], ["23.5.0", true]]);
      expect((await registry.getRepository(repositoryId)).versionCount).to.equal(2n);
    });

    it("refuses strangers, unknown repositories and versions, duplicates, bad input", async () => {
      const { registry, alice, bob, repositoryId, packageId } = await loadFixture(deployWithPackage);
      const lock = hexOf(await cidOf("lock"));
      await expect(registry.connect(bob).publishRepository(repositoryId, "1.0.0", lock))
        .to.be.revertedWithCustomError(registry, "RegistryUnauthorized")
        .withArgs(repositoryId, bob.address);
      await expect(registry.connect(alice).publishRepository(repositoryIdOf("nope"), "1.0.0", lock))
        .to.be.revertedWithCustomError(registry, "RegistryUnknownRepository")
        .withArgs(repositoryIdOf("nope"));
      await expect(registry.connect(alice).publishRepository(packageId, "1.0.0", lock))
        .to.be.revertedWithCustomError(registry, "RegistryUnknownRepository")
        .withArgs(packageId);
      await expect(registry.connect(alice).publishRepository(repositoryId, "1..0", lock))
        .to.be.revertedWithCustomError(registry, "RegistryInvalidVersion")
        .withArgs("1..0");
      await expect(registry.connect(alice).publishRepository(repositoryId, "1.0.0", "0x1234"))
        .to.be.revertedWithCustomError(registry, "RegistryUnsupportedCid")
        .withArgs("0x1234");
      await registry.connect(alice).publishRepository(repositoryId, "1.0.0", lock);
      await expect(registry.connect(alice).publishRepository(repositoryId, "1.0.0", lock))
        .to.be.revertedWithCustomError(registry, "RegistryVersionExists")
        .withArgs(repositoryId, "1.0.0");
      await expect(registry.connect(alice).setRepositoryYanked(repositoryId, "2.0.0", true))
        .to.be.revertedWithCustomError(registry, "RegistryUnknownVersion")
        .withArgs(repositoryId, "2.0.0");
      await expect(registry.connect(bob).setRepositoryYanked(repositoryId, "1.0.0", true))
        .to.be.revertedWithCustomError(registry, "RegistryUnauthorized")
        .withArgs(repositoryId, bob.address);
      await expect(registry.getRepositoryVersion(repositoryId, "2.0.0"))
        .to.be.revertedWithCustomError(registry, "RegistryUnknownVersion")
        .withArgs(repositoryId, "2.0.0");
    });
  });

  describe("maintainers", () => {
    it("adds and removes maintainers of repositories and packages, emitting only on change", async () => {
      const { registry, alice, bob, carol, repositoryId, packageId } = await loadFixture(deployWithPackage);
      for (const id of [repositoryId, packageId]) {
        await expect(registry.connect(alice).addMaintainer(id, bob.address))
          .to.emit(registry, "MaintainerAdded")
          .withArgs(id, bob.address);
        await expect(registry.connect(alice).addMaintainer(id, bob.address)).not.to.emit(registry, "MaintainerAdded");
        await registry.connect(alice).addMaintainer(id, carol.address);
        expect(await registry.getMaintainers(id)).to.deep.equal([bob.address, carol.address]);
        expect(await registry.isMaintainer(id, bob.address)).to.equal(true);
        await expect(registry.connect(alice).removeMaintainer(id, bob.address))
          .to.emit(registry, "MaintainerRemoved")
          .withArgs(id, bob.address);
        await expect(registry.connect(alice).removeMaintainer(id, bob.address)).not.to.emit(
          registry,
          "MaintainerRemoved",
        );
        expect(await registry.getMaintainers(id)).to.deep.equal([carol.address]);
      }
    });

    it("lets only the owner manage maintainers — not the maintainers themselves", async () => {
      const { registry, alice, bob, carol, packageId } = await loadFixture(deployWithPackage);
      await registry.connect(alice).addMaintainer(packageId, bob.address);
      await expect(registry.connect(bob).addMaintainer(packageId, carol.address))
        .to.be.revertedWithCustomError(registry, "RegistryUnauthorized")
        .withArgs(packageId, bob.address);
      await expect(registry.connect(bob).removeMaintainer(packageId, bob.address))
        .to.be.revertedWithCustomError(registry, "RegistryUnauthorized")
        .withArgs(packageId, bob.address);
      await expect(registry.connect(alice).addMaintainer(packageId, ethers.ZeroAddress)).to.be.revertedWithCustomError(
        registry,
        "RegistryZeroAddress",
      );
      await expect(registry.connect(alice).addMaintainer(repositoryIdOf("nope"), bob.address))
        .to.be.revertedWithCustomError(registry, "RegistryUnknownId")
        .withArgs(repositoryIdOf("nope"));
    });
  });

  describe("ownership", () => {
    it("moves in two steps and can be cancelled", async () => {
      const { registry, alice, bob, carol, packageId, repositoryId } = await loadFixture(deployWithPackage);
      await expect(registry.connect(alice).transferOwnership(packageId, bob.address))
        .to.emit(registry, "OwnershipTransferStarted")
        .withArgs(packageId, alice.address, bob.address);
      expect(await registry.owner(packageId)).to.equal(alice.address);
      expect(await registry.pendingOwner(packageId)).to.equal(bob.address);
      await expect(registry.connect(carol).acceptOwnership(packageId))
        .to.be.revertedWithCustomError(registry, "RegistryNotPendingOwner")
        .withArgs(packageId, carol.address);
      await expect(registry.connect(bob).acceptOwnership(packageId))
        .to.emit(registry, "OwnershipTransferred")
        .withArgs(packageId, alice.address, bob.address);
      expect(await registry.owner(packageId)).to.equal(bob.address);
      expect(await registry.pendingOwner(packageId)).to.equal(ethers.ZeroAddress);
      // the old owner lost its rights
      await expect(registry.connect(alice).addMaintainer(packageId, carol.address)).to.be.revertedWithCustomError(
        registry,
        "RegistryUnauthorized",
      );
      // cancel: offer, then offer to zero
      await registry.connect(alice).transferOwnership(repositoryId, carol.address);
      await registry.connect(alice).transferOwnership(repositoryId, ethers.ZeroAddress);
      await expect(registry.connect(carol).acceptOwnership(repositoryId)).to.be.revertedWithCustomError(
        registry,
        "RegistryNotPendingOwner",
      );
      await expect(registry.connect(carol).transferOwnership(repositoryId, carol.address))
        .to.be.revertedWithCustomError(registry, "RegistryUnauthorized")
        .withArgs(repositoryId, carol.address);
    });

    it("refuses accepting with no offer, even for the zero address's slot", async () => {
      const { registry, bob } = await loadFixture(deployWithPackage);
      await expect(registry.connect(bob).acceptOwnership(repositoryIdOf("nope")))
        .to.be.revertedWithCustomError(registry, "RegistryNotPendingOwner")
        .withArgs(repositoryIdOf("nope"), bob.address);
    });
  });

  describe("importer (migrations)", () => {
    async function withImporter() {
      const [deployer] = await ethers.getSigners();
      const base = await deployRegistry(deployer.address);
      await base.registry.connect(base.alice).createRepository("crates", true);
      await base.registry.connect(base.alice).registerPackage(repositoryIdOf("crates"), "hello");
      return base;
    }

    it("acts as owner of everything and sets owners directly until sealed", async () => {
      const { registry, deployer, alice, bob } = await loadFixture(withImporter);
      const repo = repositoryIdOf("crates");
      const pkg = packageIdOf("crates", "hello");
      const a = await cids("a");
      expect(await registry.importer()).to.equal(deployer.address);
      await registry.connect(deployer).registerPackage(repo, "serde"); // curated, yet allowed
      await registry.connect(deployer).publish(repo, "hello", "1.0.0", a.meta, a.src);
      await registry.connect(deployer).addMaintainer(pkg, bob.address);
      await expect(registry.connect(deployer).transferOwnership(pkg, bob.address))
        .to.emit(registry, "OwnershipTransferred")
        .withArgs(pkg, alice.address, bob.address);
      expect(await registry.owner(pkg)).to.equal(bob.address);
      await expect(registry.connect(deployer).transferOwnership(pkg, ethers.ZeroAddress)).to.be.revertedWithCustomError(
        registry,
        "RegistryZeroAddress",
      );
      await expect(registry.connect(bob).sealImport())
        .to.be.revertedWithCustomError(registry, "RegistryNotImporter")
        .withArgs(bob.address);
      await expect(registry.connect(deployer).sealImport()).to.emit(registry, "ImportSealed").withArgs(deployer.address);
      expect(await registry.importer()).to.equal(ethers.ZeroAddress);
      await expect(registry.connect(deployer).publish(repo, "hello", "1.0.1", a.meta, a.src))
        .to.be.revertedWithCustomError(registry, "RegistryUnauthorized")
        .withArgs(pkg, deployer.address);
      await expect(registry.connect(deployer).sealImport()).to.be.revertedWithCustomError(registry, "RegistryImportSealed");
    });

    it("does not exist on a registry deployed without one", async () => {
      const { registry, deployer } = await loadFixture(deployWithPackage);
      expect(await registry.importer()).to.equal(ethers.ZeroAddress);
      await expect(registry.connect(deployer).sealImport()).to.be.revertedWithCustomError(registry, "RegistryImportSealed");
      await expect(
        registry.connect(deployer).setYanked(repositoryIdOf("crates"), "hello", "1.0.0", true),
      ).to.be.revertedWithCustomError(registry, "RegistryUnauthorized");
    });
  });

  describe("fixes found by the property tests", () => {
    it("lets the importer hand over what it created itself, at once", async () => {
      const [deployer] = await ethers.getSigners();
      const { registry, alice } = await deployRegistry(deployer.address);
      await registry.connect(deployer).createRepository("core", false);
      await expect(registry.connect(deployer).transferOwnership(repositoryIdOf("core"), alice.address))
        .to.emit(registry, "OwnershipTransferred")
        .withArgs(repositoryIdOf("core"), deployer.address, alice.address);
      expect(await registry.owner(repositoryIdOf("core"))).to.equal(alice.address);
      expect(await registry.pendingOwner(repositoryIdOf("core"))).to.equal(ethers.ZeroAddress);
    });

    it("does not let a version with NUL bytes alias a published one", async () => {
      const { registry, alice, repositoryId, packageId } = await loadFixture(deployWithPackage);
      const a = await cids("a");
      await registry.connect(alice).publish(repositoryId, "hello", "1.0.0", a.meta, a.src);
      for (const alias of ["1.0.0\0", "1.0.0\0\0", "1.0\0.0"]) {
        await expect(registry.getPackageVersion(packageId, alias))
          .to.be.revertedWithCustomError(registry, "RegistryInvalidVersion")
          .withArgs(alias);
        await expect(registry.connect(alice).setYanked(repositoryId, "hello", alias, true))
          .to.be.revertedWithCustomError(registry, "RegistryInvalidVersion")
          .withArgs(alias);
      }
      expect((await registry.getPackageVersion(packageId, "1.0.0")).yanked).to.equal(false);
    });

    it("reports no owner when a view is given the other kind of id", async () => {
      const { registry, repositoryId, packageId } = await loadFixture(deployWithPackage);
      const asRepository = await registry.getRepository(packageId);
      expect([asRepository.owner, asRepository.name]).to.deep.equal([ethers.ZeroAddress, ""]);
      const [asPackage] = await registry.getPackages([repositoryId], 1);
      expect([asPackage.owner, asPackage.name]).to.deep.equal([ethers.ZeroAddress, ""]);
    });

    it("checks that setCurated is given a repository before checking rights", async () => {
      const { registry, bob, packageId } = await loadFixture(deployWithPackage);
      await expect(registry.connect(bob).setCurated(packageId, true))
        .to.be.revertedWithCustomError(registry, "RegistryUnknownRepository")
        .withArgs(packageId);
    });

    it("takes release names such as 23.05 as repository versions, and refuses malformed ones", async () => {
      const { registry, alice, repositoryId } = await loadFixture(deployWithPackage);
      const lock = hexOf(await cidOf("lock"));
      for (const good of ["23.05", "2026.11-lts", "1.0.0", "1.0.0-rc.1+b5", "v2", "24"]) {
        await registry.connect(alice).publishRepository(repositoryId, good, lock);
        expect((await registry.getRepositoryVersion(repositoryId, good)).version).to.equal(good);
      }
      for (const bad of ["", ".23", "23.", "23..05", "23_05", "23/05", "-1", "a".repeat(65), "23.05\0"]) {
        await expect(registry.connect(alice).publishRepository(repositoryId, bad, lock))
          .to.be.revertedWithCustomError(registry, "RegistryInvalidVersion")
          .withArgs(bad);
      }
    });
  });

  describe("views", () => {
    it("pages versions with cursors, and refuses foreign cursors", async () => {
      const { registry, alice, repositoryId, packageId } = await loadFixture(deployWithPackage);
      const a = await cids("a");
      const versions = Array.from({ length: 7 }, (_, i) => `1.0.${i}`);
      versions.push("1.1.0-" + "x".repeat(30)); // a long version in the middle of the walk
      versions.push("1.2.0");
      for (const v of versions) await registry.connect(alice).publish(repositoryId, "hello", v, a.meta, a.src);
      const seen: string[] = [];
      let cursor = ethers.ZeroHash;
      let calls = 0;
      do {
        const [page, next] = await registry.getPackageVersions(packageId, cursor, 2);
        expect(page.length).to.be.at.most(2);
        seen.push(...page.map((v) => v.version));
        cursor = next;
        calls++;
      } while (cursor !== ethers.ZeroHash);
      expect(seen).to.deep.equal([...versions].reverse());
      expect(calls).to.equal(5);
      const [empty, end] = await registry.getPackageVersions(packageId, ethers.ZeroHash, 0);
      expect(empty).to.deep.equal([]);
      expect(end).to.not.equal(ethers.ZeroHash); // limit 0 reads nothing and points at the newest
      await expect(registry.getPackageVersions(packageId, ethers.id("garbage"), 2))
        .to.be.revertedWithCustomError(registry, "RegistryInvalidCursor")
        .withArgs(packageId, ethers.id("garbage"));
      const unknownKey = ethers.zeroPadBytes(ethers.toUtf8Bytes("9.9.9"), 32);
      await expect(registry.getPackageVersions(packageId, unknownKey, 2))
        .to.be.revertedWithCustomError(registry, "RegistryInvalidCursor")
        .withArgs(packageId, unknownKey);
      await expect(registry.getPackageVersion(packageId, "9.9.9"))
        .to.be.revertedWithCustomError(registry, "RegistryUnknownVersion")
        .withArgs(packageId, "9.9.9");
    });

    it("reads many packages in one call, unknown ones with a zero owner", async () => {
      const { registry, alice, repositoryId, packageId } = await loadFixture(deployWithPackage);
      await registry.connect(alice).registerPackage(repositoryId, "dep");
      const a = await cids("a");
      for (const v of ["0.1.0", "0.2.0", "0.2.1"]) await registry.connect(alice).publish(repositoryId, "dep", v, a.meta, a.src);
      await registry.connect(alice).setYanked(repositoryId, "dep", "0.2.1", true);
      const views = await registry.getPackages([packageIdOf("crates", "dep"), packageId, packageIdOf("crates", "nope")], 2);
      expect(views.map((v) => [v.name, v.owner, v.versionCount])).to.deep.equal([
        ["dep", alice.address, 3n],
        ["hello", alice.address, 0n],
        ["", ethers.ZeroAddress, 0n],
      ]);
      expect(views[0].versions.map((v) => [v.version, v.yanked])).to.deep.equal([["0.2.1", true], ["0.2.0", false]]);
      expect(views[0].repositoryId).to.equal(repositoryId);
      const [rest] = await registry.getPackageVersions(views[0].packageId, views[0].nextCursor, 10);
      expect(rest.map((v) => v.version)).to.deep.equal(["0.1.0"]);
      expect((await registry.getRepository(repositoryIdOf("nope"))).owner).to.equal(ethers.ZeroAddress);
    });
  });
});
