import { expect } from "chai";
import { concat, keccak256, toUtf8Bytes, zeroPadValue, toBeHex } from "ethers";
import fc from "fast-check";
import {
  ERR_ID_INVALID_NAME,
  ERR_ID_INVALID_VERSION,
  ERR_ID_SYNTAX,
  IdError,
  checkName,
  formatPackageKey,
  formatPackageSpec,
  formatRepositorySpec,
  hashPackageId,
  hashPackageKey,
  hashRepositoryId,
  isExactVersion,
  parsePackageKey,
  parsePackageSpec,
  parseRepositorySpec,
  type PackageSpec,
} from "../../../src/ids";
import { arbName, arbVersion } from "./arbitraries";

function errorOf(fn: () => unknown): IdError {
  try {
    fn();
  } catch (error) {
    expect(error).to.be.instanceOf(IdError);
    return error as IdError;
  }
  expect.fail("expected an IdError");
}

describe("ids", () => {
  describe("parsePackageSpec", () => {
    const cases: [string, PackageSpec][] = [
      ["crates/hello", { repository: { name: "crates", version: null }, name: "hello", version: null }],
      ["crates/hello:1.0.0", { repository: { name: "crates", version: null }, name: "hello", version: "1.0.0" }],
      ["nixos:23.05/rustc", { repository: { name: "nixos", version: "23.05" }, name: "rustc", version: null }],
      ["nixos:23.05/rustc:1.70.0", { repository: { name: "nixos", version: "23.05" }, name: "rustc", version: "1.70.0" }],
      ["npm:1.2.3/left-pad:1.3.0-rc.1", { repository: { name: "npm", version: "1.2.3" }, name: "left-pad", version: "1.3.0-rc.1" }],
      ["crates/wasi:0.11.0+wasi-snapshot-preview1", { repository: { name: "crates", version: null }, name: "wasi", version: "0.11.0+wasi-snapshot-preview1" }],
      ["a/b_c.d-e", { repository: { name: "a", version: null }, name: "b_c.d-e", version: null }],
    ];
    for (const [text, spec] of cases) {
      it(`parses ${text} and formats it back`, () => {
        expect(parsePackageSpec(text)).to.deep.equal(spec);
        expect(formatPackageSpec(spec)).to.equal(text);
      });
    }

    it("rejects a range as a version, saying so", () => {
      const error = errorOf(() => parsePackageSpec("crates/hello:^1.0.0"));
      expect(error.code).to.equal(ERR_ID_INVALID_VERSION);
      expect(error.details).to.deep.equal({ input: "crates/hello:^1.0.0", field: "version" });
      expect(error.hint).to.match(/range is not allowed/);
    });

    it("rejects a leading v and suggests the bare version", () => {
      const error = errorOf(() => parsePackageSpec("crates/hello:v1.0.0"));
      expect(error.code).to.equal(ERR_ID_INVALID_VERSION);
      expect(error.hint).to.equal("drop the prefix: 1.0.0");
    });

    it("points npm users from @ to :", () => {
      const error = errorOf(() => parsePackageSpec("crates/hello@1.0.0"));
      expect(error.code).to.equal(ERR_ID_INVALID_NAME);
      expect(error.hint).to.contain("crates/hello:1.0.0");
    });

    it("suggests the lowercase name", () => {
      const error = errorOf(() => parsePackageSpec("crates/Hello"));
      expect(error.code).to.equal(ERR_ID_INVALID_NAME);
      expect(error.message).to.equal('invalid id "crates/Hello": name "Hello" has uppercase letters');
      expect(error.hint).to.equal("names are lowercase: hello");
    });

    it("explains that a bare name is missing its repository", () => {
      const error = errorOf(() => parsePackageSpec("hello"));
      expect(error.code).to.equal(ERR_ID_SYNTAX);
      expect(error.hint).to.contain("crates/hello");
    });
  });

  describe("parseRepositorySpec", () => {
    it("parses a repository with and without a version", () => {
      expect(parseRepositorySpec("crates")).to.deep.equal({ name: "crates", version: null });
      expect(parseRepositorySpec("nixos:23.05")).to.deep.equal({ name: "nixos", version: "23.05" });
      expect(parseRepositorySpec("nixos:24.11.1")).to.deep.equal({ name: "nixos", version: "24.11.1" });
      expect(formatRepositorySpec({ name: "nixos", version: "23.05" })).to.equal("nixos:23.05");
    });

    it("rejects a package id where a repository is expected", () => {
      expect(errorOf(() => parseRepositorySpec("crates/hello")).code).to.equal(ERR_ID_SYNTAX);
    });

    it("rejects a repository version range", () => {
      expect(errorOf(() => parseRepositorySpec("nixos:>=23")).code).to.equal(ERR_ID_INVALID_VERSION);
    });
  });

  describe("names and versions", () => {
    it("accepts exactly the registry's name rule", () => {
      expect(checkName("a")).to.equal(null);
      expect(checkName("0day")).to.equal(null);
      expect(checkName("a".repeat(64))).to.equal(null);
      expect(checkName("a".repeat(65))).to.match(/65 characters/);
      expect(checkName("")).to.equal("is empty");
      expect(checkName("-a")).to.match(/must start/);
      expect(checkName(".a")).to.match(/must start/);
      expect(checkName("_a")).to.match(/must start/);
      expect(checkName("a b")).to.match(/may only contain/);
      expect(checkName("a/b")).to.match(/may only contain/);
      expect(checkName("héllo")).to.match(/may only contain/);
    });

    it("accepts only canonical semver as an exact version", () => {
      for (const v of ["0.0.0", "1.2.3", "1.2.3-rc.1", "1.2.3+build.5", "1.2.3-alpha+001"]) expect(isExactVersion(v), v).to.equal(true);
      for (const v of ["1.2", "v1.2.3", "=1.2.3", " 1.2.3", "01.2.3", "1.2.3-01", "^1.2.3", "1.2.x", "", `1.0.0-${"a".repeat(60)}`]) {
        expect(isExactVersion(v), v).to.equal(false);
      }
    });
  });

  describe("parsePackageKey", () => {
    it("parses repo:name and formats it back", () => {
      expect(parsePackageKey("crates:dep")).to.deep.equal({ repository: "crates", name: "dep" });
      expect(formatPackageKey({ repository: "nixpkgs", name: "rustc" })).to.equal("nixpkgs:rustc");
    });

    it("rejects a path-style key, suggesting the colon form", () => {
      const error = errorOf(() => parsePackageKey("crates/dep"));
      expect(error.code).to.equal(ERR_ID_SYNTAX);
      expect(error.hint).to.equal("write crates:dep");
    });
  });

  describe("on-chain ids", () => {
    it("hashes a repository name as keccak256 of its UTF-8 bytes", () => {
      // keccak256("") is a well-known constant; this pins the hash function, not just ethers' wiring.
      expect(keccak256(new Uint8Array())).to.equal("0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
      expect(hashRepositoryId("crates")).to.equal(keccak256(toUtf8Bytes("crates")));
    });

    it("hashes a package id as keccak256(abi.encode(bytes32, string)), laid out by hand", () => {
      const repositoryId = hashRepositoryId("crates");
      const name = "hello";
      // abi.encode(bytes32, string): head = repositoryId, offset 0x40; tail = length, padded bytes.
      const padded = toUtf8Bytes(name.padEnd(32, "\0"));
      const encoded = concat([repositoryId, zeroPadValue(toBeHex(64), 32), zeroPadValue(toBeHex(name.length), 32), padded]);
      expect(hashPackageId(repositoryId, name)).to.equal(keccak256(encoded));
      expect(hashPackageKey({ repository: "crates", name })).to.deep.equal({ repositoryId, packageId: keccak256(encoded) });
    });

    it("refuses to hash a name the registry would reject", () => {
      expect(errorOf(() => hashRepositoryId("Crates")).code).to.equal(ERR_ID_INVALID_NAME);
      expect(errorOf(() => hashPackageId(hashRepositoryId("crates"), "a/b")).code).to.equal(ERR_ID_INVALID_NAME);
    });

    it("differs for the same name in different repositories", () => {
      expect(hashPackageId(hashRepositoryId("crates"), "rand")).not.to.equal(hashPackageId(hashRepositoryId("npm"), "rand"));
    });
  });

  describe("properties", () => {
    const arbSpec: fc.Arbitrary<PackageSpec> = fc.record({
      repository: fc.record({ name: arbName, version: fc.option(fc.oneof(arbVersion, fc.constantFrom("23.05", "24.11")), { nil: null }) }),
      name: arbName,
      version: fc.option(arbVersion, { nil: null }),
    });

    it("format then parse is the identity for every valid id", () => {
      fc.assert(fc.property(arbSpec, (spec) => {
        expect(parsePackageSpec(formatPackageSpec(spec))).to.deep.equal(spec);
      }));
    });

    it("never throws anything but an IdError on arbitrary input", () => {
      fc.assert(fc.property(fc.string({ maxLength: 80 }), (text) => {
        for (const parse of [parsePackageSpec, parseRepositorySpec, parsePackageKey]) {
          try {
            parse(text);
          } catch (error) {
            expect(error).to.be.instanceOf(IdError);
          }
        }
      }));
    });
  });
});
