import { expect } from "chai";
import { readFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { FileFormatError } from "../../../src/errors/files";
import {
  ERR_LOCKFILE_CHAIN_MISMATCH,
  ERR_LOCKFILE_CYCLE,
  ERR_LOCKFILE_NOT_FOUND,
  ERR_LOCKFILE_UNKNOWN_DEPENDENCY,
  assignLockKeys,
  checkLockfileChain,
  compareLockKeys,
  parseLockKey,
  parseLockfile,
  readLockfile,
  serializeLockfile,
  type Lockfile,
} from "../../../src/lockfile";

const fixture = readFileSync(path.join(__dirname, "../../fixtures/files/valid/pkg.lock"), "utf8");
const CID = "bafkreiacm4xpejd742ctegcq4htchsp6cz52z4vm4ul3fcky5wniqwjeye";
const REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3";

function thrown(fn: () => unknown): FileFormatError {
  try {
    fn();
  } catch (error) {
    expect(error).to.be.instanceOf(FileFormatError);
    return error as FileFormatError;
  }
  return expect.fail("expected a FileFormatError") as never;
}

/** A lock with two versions of crates:rand, reached through different parents. */
const twoVersions: Lockfile = {
  package: CID,
  block: 7,
  chainId: 1,
  registry: REGISTRY,
  metaInputs: [],
  nativeInputs: [],
  inputs: ["crates:a", "crates:b"],
  dependencies: {
    "crates:a": { version: "1.0.0", meta: CID, src: CID, metaInputs: [], nativeInputs: [], inputs: ["crates:rand@0.8.5"] },
    "crates:b": { version: "1.0.0", meta: CID, src: CID, metaInputs: [], nativeInputs: [], inputs: ["crates:rand@0.10.0"] },
    "crates:rand@0.8.5": { version: "0.8.5", meta: CID, src: CID, metaInputs: [], nativeInputs: [], inputs: [] },
    "crates:rand@0.10.0": { version: "0.10.0", meta: CID, src: CID, metaInputs: [], nativeInputs: [], inputs: [] },
  },
};

describe("lockfile (pkg.lock)", () => {
  it("parses the fixture into the graph it describes", () => {
    const lock = parseLockfile(fixture);
    expect(lock.package).to.equal(CID);
    expect(lock.block).to.equal(102);
    expect(lock.chainId).to.equal(31337);
    expect(lock.registry).to.equal(REGISTRY);
    expect(lock.metaInputs).to.deep.equal(["flakes:meta-rustc", "nixpkgs:cargo"]);
    expect(lock.nativeInputs).to.deep.equal(["nixpkgs:rustc"]);
    expect(lock.inputs).to.deep.equal(["crates:dep"]);
    expect(Object.keys(lock.dependencies)).to.have.members(["crates:dep", "crates:dep2", "flakes:meta-rustc", "nixpkgs:cargo", "nixpkgs:rustc", "nixpkgs:zlib"]);
    expect(lock.dependencies["flakes:meta-rustc"]).to.deep.equal({
      version: "1.0.0",
      meta: "bafkreie2cecbssbppfgfb4qp7enqomjtgignhc55kjakxbsmmsaiite2jm",
      src: "bafybeie2cecbssbppfgfb4qp7enqomjtgignhc55kjakxbsmmsaiite2jm",
      metaInputs: [],
      nativeInputs: ["nixpkgs:rustc"],
      inputs: [],
    });
  });

  it("serializes the fixture back byte for byte", () => {
    expect(serializeLockfile(parseLockfile(fixture))).to.equal(fixture);
  });

  it("keys two versions of one package as repo:name@version, in semver order", () => {
    const text = serializeLockfile(twoVersions);
    expect(text.indexOf('[dependencies."crates:rand@0.8.5"]')).to.be.lessThan(text.indexOf('[dependencies."crates:rand@0.10.0"]'));
    expect(parseLockfile(text)).to.deep.equal(twoVersions);
  });

  it("assigns keys by the one-version / several-versions rule", () => {
    expect(
      assignLockKeys([
        { repository: "crates", name: "rand", version: "0.8.5" },
        { repository: "crates", name: "serde", version: "1.0.0" },
        { repository: "crates", name: "rand", version: "0.10.0" },
      ]),
    ).to.deep.equal(["crates:rand@0.8.5", "crates:serde", "crates:rand@0.10.0"]);
  });

  it("parses lock keys and orders them by package then precedence", () => {
    expect(parseLockKey("crates:rand@0.8.5")).to.deep.equal({ repository: "crates", name: "rand", version: "0.8.5" });
    expect(parseLockKey("crates:rand")).to.deep.equal({ repository: "crates", name: "rand", version: null });
    expect(parseLockKey("crates:rand@latest")).to.have.property("problem");
    expect(["crates:rand@10.0.0", "crates:b", "crates:rand@9.0.0", "crates:rand@9.0.0-rc.1"].sort(compareLockKeys)).to.deep.equal([
      "crates:b",
      "crates:rand@9.0.0-rc.1",
      "crates:rand@9.0.0",
      "crates:rand@10.0.0",
    ]);
  });

  it("refuses to serialize a lock with a dangling edge or a cycle", () => {
    const dangling = { ...twoVersions, inputs: [...twoVersions.inputs, "crates:c"] };
    expect(thrown(() => serializeLockfile(dangling)).code).to.equal(ERR_LOCKFILE_UNKNOWN_DEPENDENCY);
    const a = twoVersions.dependencies["crates:a"];
    const cyclic: Lockfile = {
      ...twoVersions,
      dependencies: { ...twoVersions.dependencies, "crates:rand@0.8.5": { ...a, version: "0.8.5", inputs: ["crates:a"] } },
    };
    const error = thrown(() => serializeLockfile(cyclic));
    expect(error.code).to.equal(ERR_LOCKFILE_CYCLE);
    expect(error.message).to.contain("crates:a -> crates:rand@0.8.5 -> crates:a");
  });

  it("accepts a lock of a package without dependencies", () => {
    const empty: Lockfile = { package: CID, block: 0, chainId: 1, registry: REGISTRY, metaInputs: [], nativeInputs: [], inputs: [], dependencies: {} };
    expect(parseLockfile(serializeLockfile(empty))).to.deep.equal(empty);
  });

  describe("checkLockfileChain", () => {
    const lock = parseLockfile(fixture);

    it("passes for the chain and registry the lock was made on, in any address case", () => {
      expect(() => checkLockfileChain(lock, { chainId: 31337, registry: REGISTRY.toLowerCase() })).not.to.throw();
    });

    it("refuses another chain id or another registry", () => {
      for (const target of [{ chainId: 1, registry: REGISTRY }, { chainId: 31337, registry: "0x0000000000000000000000000000000000000001" }]) {
        const error = thrown(() => checkLockfileChain(lock, target));
        expect(error.code).to.equal(ERR_LOCKFILE_CHAIN_MISMATCH);
        expect(error.details).to.include({ lockChainId: 31337, chainId: target.chainId });
      }
    });
  });

  it("reports a missing lock file with its own code", async () => {
    try {
      await readLockfile(path.join(os.tmpdir(), "no-such-dir-pkg", "pkg.lock"));
      expect.fail("expected an error");
    } catch (error) {
      expect((error as FileFormatError).code).to.equal(ERR_LOCKFILE_NOT_FOUND);
    }
  });
});
