/**
 * repo.lock: the exact layout, a table of malformed files (each naming file, line and field with a stable
 * code), atomic read/write, the chain check, and a fast-check round trip.
 */
import { expect } from "chai";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { getAddress, hexlify } from "ethers";
import fc from "fast-check";
import { FileFormatError } from "../../src/errors/files";
import * as R from "../../src/repolock";
import type { RepositoryLock } from "../../src/repolock";
import { arbCid, arbName, arbVersion } from "./files/arbitraries";

const REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const CID_A = "bafkreiacm4xpejd742ctegcq4htchsp6cz52z4vm4ul3fcky5wniqwjeye";
const CID_B = "bafybeibml5uieyxa5tufngvg7fgwbkwvlsuntwbxgtskoqynbt7wlchmfm";

const VALID = `# repo.lock: written by \`repo lock\`. Do not edit.
[repository]
format = 1
name = "crates"
block = 102
chain-id = 31337
registry = "${REGISTRY}"

[packages.dep]
version = "0.2.3"
meta = "${CID_A}"
src = "${CID_B}"

[packages."serde.json"]
version = "1.0.0-rc.1"
meta = "${CID_B}"
src = "${CID_A}"
`;

const VALID_LOCK: RepositoryLock = {
  name: "crates",
  block: 102,
  chainId: 31337,
  registry: REGISTRY,
  packages: {
    dep: { version: "0.2.3", meta: CID_A, src: CID_B },
    "serde.json": { version: "1.0.0-rc.1", meta: CID_B, src: CID_A },
  },
};

function edit(base: string, ...pairs: [string, string][]): string {
  let text = base;
  for (const [from, to] of pairs) {
    expect(text, `fixture contains ${JSON.stringify(from)}`).to.contain(from);
    text = text.replace(from, to);
  }
  return text;
}

function thrown(run: () => unknown): FileFormatError {
  try {
    run();
  } catch (error) {
    expect(error).to.be.instanceOf(FileFormatError);
    return error as FileFormatError;
  }
  throw new Error("expected a FileFormatError");
}

/** 1-based line of the first line containing `marker`. */
function lineOf(text: string, marker: string): number {
  const index = text.split("\n").findIndex((line) => line.includes(marker));
  expect(index, `marker ${JSON.stringify(marker)} in text`).to.be.at.least(0);
  return index + 1;
}

interface Case {
  title: string;
  text: string;
  code: string;
  /** `details.field`; null for TOML syntax errors. */
  field: string | null;
  /** The expected line is the first containing this marker; null when no line applies. */
  at: string | null;
  says?: string;
}

const c = (title: string, text: string, code: string, field: string | null, at: string | null, says?: string): Case => ({ title, text, code, field, at, says });

const cases: Case[] = [
  // [repository]
  c("format from the future", edit(VALID, ["format = 1", "format = 2"]), R.ERR_REPOLOCK_UNSUPPORTED_FORMAT, "[repository].format", "format =", "not supported"),
  c("format missing", edit(VALID, ["format = 1\n", ""]), R.ERR_REPOLOCK_MISSING_FIELD, "[repository].format", "[repository]"),
  c("format as a string", edit(VALID, ["format = 1", 'format = "1"']), R.ERR_REPOLOCK_INVALID_TYPE, "[repository].format", "format ="),
  c("name missing", edit(VALID, ['name = "crates"\n', ""]), R.ERR_REPOLOCK_MISSING_FIELD, "[repository].name", "[repository]"),
  c("name uppercase", edit(VALID, ['name = "crates"', 'name = "Crates"']), R.ERR_REPOLOCK_INVALID_NAME, "[repository].name", "name =", "uppercase"),
  c("name with a version", edit(VALID, ['name = "crates"', 'name = "crates:1.0.0"']), R.ERR_REPOLOCK_INVALID_NAME, "[repository].name", "name ="),
  c("name as a number", edit(VALID, ['name = "crates"', "name = 7"]), R.ERR_REPOLOCK_INVALID_TYPE, "[repository].name", "name =", "found an integer"),
  c("negative block", edit(VALID, ["block = 102", "block = -1"]), R.ERR_REPOLOCK_INVALID_TYPE, "[repository].block", "block =", "below 0"),
  c("block as a string", edit(VALID, ["block = 102", 'block = "102"']), R.ERR_REPOLOCK_INVALID_TYPE, "[repository].block", "block ="),
  c("block beyond 2^53", edit(VALID, ["block = 102", "block = 9007199254740993"]), R.ERR_REPOLOCK_INVALID_TYPE, "[repository].block", "block =", "too large"),
  c("block as a float", edit(VALID, ["block = 102", "block = 1.5"]), R.ERR_REPOLOCK_INVALID_TYPE, "[repository].block", "block =", "float"),
  c("chain-id missing", edit(VALID, ["chain-id = 31337\n", ""]), R.ERR_REPOLOCK_MISSING_FIELD, "[repository].chain-id", "[repository]"),
  c("chain-id zero", edit(VALID, ["chain-id = 31337", "chain-id = 0"]), R.ERR_REPOLOCK_INVALID_TYPE, "[repository].chain-id", "chain-id ="),
  c("registry not checksummed", edit(VALID, [REGISTRY, REGISTRY.toLowerCase()]), R.ERR_REPOLOCK_INVALID_REGISTRY, "[repository].registry", "registry =", "checksummed"),
  c("registry too short", edit(VALID, [REGISTRY, "0x1234"]), R.ERR_REPOLOCK_INVALID_REGISTRY, "[repository].registry", "registry ="),
  c("registry missing", edit(VALID, [`registry = "${REGISTRY}"\n`, ""]), R.ERR_REPOLOCK_MISSING_FIELD, "[repository].registry", "[repository]"),
  c("misspelt header key", edit(VALID, ["chain-id =", "chainid ="]), R.ERR_REPOLOCK_UNKNOWN_KEY, "[repository].chainid", "chainid =", "chain-id"),
  c("pkg.lock's header", edit(VALID, ["[repository]", "[lock]"]), R.ERR_REPOLOCK_UNKNOWN_KEY, "[lock]", "[lock]", "unknown table"),
  c("no [repository]", `[packages.dep]\nversion = "0.2.3"\nmeta = "${CID_A}"\nsrc = "${CID_B}"\n`, R.ERR_REPOLOCK_MISSING_FIELD, "[repository]", null, "missing table"),
  c("empty file", "", R.ERR_REPOLOCK_MISSING_FIELD, "[repository]", null, "missing table"),
  c("[repository] not a table", 'repository = "crates"\n', R.ERR_REPOLOCK_INVALID_TYPE, "[repository]", "repository ="),
  // [packages.NAME]
  c("version not exact", edit(VALID, ['version = "0.2.3"', 'version = "0.2"']), R.ERR_REPOLOCK_INVALID_VERSION, "[packages].dep.version", 'version = "0.2"', "MAJOR.MINOR.PATCH"),
  c("version a range", edit(VALID, ['version = "0.2.3"', 'version = "^0.2.3"']), R.ERR_REPOLOCK_INVALID_VERSION, "[packages].dep.version", "version =", "range"),
  c("version missing", edit(VALID, ['version = "0.2.3"\n', ""]), R.ERR_REPOLOCK_MISSING_FIELD, "[packages].dep.version", "[packages.dep]"),
  c("meta not a CID", edit(VALID, [`meta = "${CID_A}"`, 'meta = "not-a-cid"']), R.ERR_REPOLOCK_INVALID_CID, "[packages].dep.meta", 'meta = "not-a-cid"', "not a CID"),
  c("src CID not canonical", edit(VALID, [`src = "${CID_B}"`, 'src = "zb2rhZhfZ71VE6u6BX78cmaNKsLmDde9EYyrY9dsRVLJWr9oW"']),
    R.ERR_REPOLOCK_INVALID_CID, "[packages].dep.src", "zb2rh", "canonical"),
  c("src missing", edit(VALID, [`src = "${CID_B}"\n`, ""]), R.ERR_REPOLOCK_MISSING_FIELD, "[packages].dep.src", "[packages.dep]"),
  c("unknown package field", edit(VALID, ['version = "0.2.3"', 'version = "0.2.3"\nsha = "x"']), R.ERR_REPOLOCK_UNKNOWN_KEY, "[packages].dep.sha", "sha ="),
  c("package name uppercase", edit(VALID, ["[packages.dep]", "[packages.Dep]"]), R.ERR_REPOLOCK_INVALID_NAME, "[packages].Dep", "[packages.Dep]", "uppercase"),
  c("package named repo:name", edit(VALID, ["[packages.dep]", '[packages."crates:dep"]']), R.ERR_REPOLOCK_INVALID_NAME, '[packages]."crates:dep"', "crates:dep"),
  c("package as a string", edit(VALID, ['[packages."serde.json"]\nversion = "1.0.0-rc.1"', '[packages]\n"serde.json" = "1.0.0-rc.1"']).replace(/\nmeta = "[^"]+"\nsrc = "[^"]+"\n$/, "\n"),
    R.ERR_REPOLOCK_INVALID_TYPE, '[packages]."serde.json"', '"serde.json" =', "found a string"),
  c("packages not a table", `packages = "dep"\n${VALID.split("\n[packages.dep]")[0]}`, R.ERR_REPOLOCK_INVALID_TYPE, "[packages]", "packages ="),
  // syntax
  c("unclosed string", edit(VALID, ['"crates"', '"crates']), R.ERR_REPOLOCK_TOML, null, 'name = "crates'),
  c("package twice", `${VALID}\n[packages.dep]\nversion = "0.2.4"\n`, R.ERR_REPOLOCK_TOML, null, null),
];

describe("repo.lock", () => {
  describe("layout", () => {
    it("parses to the typed lock", () => {
      expect(R.parseRepositoryLock(VALID)).to.deep.equal(VALID_LOCK);
    });

    it("serializes to exactly the documented layout (header comment, fixed order, UTF-8 sorted, quoted dotted names)", () => {
      expect(R.serializeRepositoryLock(VALID_LOCK)).to.equal(VALID);
    });

    it("writes no [packages] table for a repository without packages", () => {
      const text = R.serializeRepositoryLock({ ...VALID_LOCK, packages: {} });
      expect(text).not.to.contain("packages");
      expect(R.parseRepositoryLock(text)).to.deep.equal({ ...VALID_LOCK, packages: {} });
    });

    it("sorts packages by UTF-8 bytes whatever the insertion order", () => {
      const packages = { zed: VALID_LOCK.packages.dep, "a-b": VALID_LOCK.packages.dep, a0: VALID_LOCK.packages.dep, "a.b": VALID_LOCK.packages.dep };
      const text = R.serializeRepositoryLock({ ...VALID_LOCK, packages });
      const headers = text.split("\n").filter((line) => line.startsWith("[packages"));
      expect(headers).to.deep.equal(["[packages.a-b]", '[packages."a.b"]', "[packages.a0]", "[packages.zed]"]);
    });

    it("reads comments and any key order, and writes them back canonical", () => {
      const shuffled = `# mine\n[packages.dep]\nsrc = "${CID_B}" # the tree\nmeta = "${CID_A}"\nversion = "0.2.3"\n\n[repository]\nregistry = "${REGISTRY}"\nchain-id = 31337\nblock = 102\nname = "crates"\nformat = 1\n`;
      const lock = R.parseRepositoryLock(shuffled);
      expect(R.serializeRepositoryLock(lock)).to.equal(R.serializeRepositoryLock({ ...VALID_LOCK, packages: { dep: VALID_LOCK.packages.dep } }));
    });

    it("refuses to serialize an invalid lock, naming the field", () => {
      const error = thrown(() => R.serializeRepositoryLock({ ...VALID_LOCK, packages: { dep: { ...VALID_LOCK.packages.dep, src: "nope" } } }, "out/repo.lock"));
      expect(error.code).to.equal(R.ERR_REPOLOCK_INVALID_CID);
      expect(error.message).to.equal('out/repo.lock: [packages].dep.src: "nope" is not a CID');
      expect(thrown(() => R.serializeRepositoryLock({ ...VALID_LOCK, block: -1 })).code).to.equal(R.ERR_REPOLOCK_INVALID_TYPE);
      expect(thrown(() => R.serializeRepositoryLock({ ...VALID_LOCK, name: "Crates" })).code).to.equal(R.ERR_REPOLOCK_INVALID_NAME);
      expect(thrown(() => R.serializeRepositoryLock({ ...VALID_LOCK, packages: JSON.parse(`{"__proto__": ${JSON.stringify(VALID_LOCK.packages.dep)}}`) })).code)
        .to.equal(R.ERR_REPOLOCK_INVALID_NAME);
    });
  });

  describe("malformed files", () => {
    it("has at least 30 cases", () => {
      expect(cases.length).to.be.at.least(30);
    });

    for (const t of cases) {
      it(`${t.title} → ${t.code}`, () => {
        const file = "some/dir/repo.lock";
        const error = thrown(() => R.parseRepositoryLock(t.text, file));
        expect(error.code, error.message).to.equal(t.code);
        expect(error.message).not.to.contain("\n");
        expect(error.details.file).to.equal(file);
        if (t.at !== null) expect(error.details.line, error.message).to.equal(lineOf(t.text, t.at));
        else if (t.field !== null) expect(error.details.line, error.message).to.equal(undefined);
        const where = error.details.line === undefined ? file : `${file}:${error.details.line}`;
        if (t.field === null) {
          expect(error.message.startsWith(`${where}: invalid TOML: `), error.message).to.equal(true);
        } else {
          expect(error.details.field).to.equal(t.field);
          expect(error.message.startsWith(`${where}: ${t.field}: `), error.message).to.equal(true);
        }
        if (t.says !== undefined) expect(error.toLine()).to.contain(t.says);
        expect(error.hint, "every error says what to do").to.be.a("string").and.not.equal("");
      });
    }
  });

  describe("chain check", () => {
    it("accepts the lock's own chain and registry (in any letter case)", () => {
      R.checkRepositoryLockChain(VALID_LOCK, { chainId: 31337, registry: REGISTRY.toLowerCase() });
    });

    it("refuses another chain or registry with ERR_REPOLOCK_CHAIN_MISMATCH", () => {
      for (const target of [{ chainId: 1, registry: REGISTRY }, { chainId: 31337, registry: "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512" }]) {
        const error = thrown(() => R.checkRepositoryLockChain(VALID_LOCK, target, "x/repo.lock"));
        expect(error.code).to.equal(R.ERR_REPOLOCK_CHAIN_MISMATCH);
        expect(error.message).to.match(/^x\/repo\.lock: \[repository\]: locked against registry /);
      }
    });
  });

  describe("read and write", () => {
    let dir: string;
    beforeEach(async () => {
      dir = await fs.mkdtemp(path.join(os.tmpdir(), "repolock-"));
    });
    afterEach(async () => {
      await fs.rm(dir, { recursive: true, force: true });
    });

    it("writes atomically a file that reads back equal, leaving nothing else", async () => {
      const file = path.join(dir, R.REPOLOCK_FILE_NAME);
      await R.writeRepositoryLock(file, VALID_LOCK);
      expect(await fs.readFile(file, "utf8")).to.equal(VALID);
      expect(await R.readRepositoryLock(file)).to.deep.equal(VALID_LOCK);
      await R.writeRepositoryLock(file, { ...VALID_LOCK, block: 103 });
      expect((await R.readRepositoryLock(file)).block).to.equal(103);
      expect(await fs.readdir(dir)).to.deep.equal([R.REPOLOCK_FILE_NAME]);
    });

    it("writes nothing for an invalid lock, and keeps the old file", async () => {
      const file = path.join(dir, R.REPOLOCK_FILE_NAME);
      await R.writeRepositoryLock(file, VALID_LOCK);
      let error: unknown;
      await R.writeRepositoryLock(file, { ...VALID_LOCK, registry: "0x1234" }).catch((e: unknown) => (error = e));
      expect((error as FileFormatError).code).to.equal(R.ERR_REPOLOCK_INVALID_REGISTRY);
      expect(await fs.readFile(file, "utf8")).to.equal(VALID);
      expect(await fs.readdir(dir)).to.deep.equal([R.REPOLOCK_FILE_NAME]);
    });

    it("reports a missing file as ERR_REPOLOCK_NOT_FOUND, and errors with the file's path", async () => {
      const file = path.join(dir, "nope.lock");
      let error: unknown;
      await R.readRepositoryLock(file).catch((e: unknown) => (error = e));
      expect((error as FileFormatError).code).to.equal(R.ERR_REPOLOCK_NOT_FOUND);
      await fs.writeFile(file, edit(VALID, ["block = 102", "block = -1"]));
      error = undefined;
      await R.readRepositoryLock(file).catch((e: unknown) => (error = e));
      expect((error as FileFormatError).message.startsWith(`${file}:5: [repository].block: `)).to.equal(true);
    });
  });

  describe("round trip (fast-check)", () => {
    const arbAddress = fc.uint8Array({ minLength: 20, maxLength: 20 }).map((bytes) => getAddress(hexlify(bytes)));
    const arbPackage = fc.record({ version: arbVersion, meta: arbCid, src: arbCid });
    const arbLock: fc.Arbitrary<RepositoryLock> = fc.record({
      name: arbName,
      block: fc.oneof(fc.nat({ max: 1000 }), fc.constant(Number.MAX_SAFE_INTEGER)),
      chainId: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
      registry: arbAddress,
      packages: fc.dictionary(arbName, arbPackage, { maxKeys: 12 }),
    });
    const runs = { numRuns: 300 };

    it("parse(serialize(lock)) deep-equals lock", () => {
      fc.assert(fc.property(arbLock, (lock) => {
        expect(R.parseRepositoryLock(R.serializeRepositoryLock(lock))).to.deep.equal(lock);
      }), runs);
    });

    it("serialize is idempotent and ignores the packages' insertion order", () => {
      fc.assert(fc.property(arbLock, (lock) => {
        const text = R.serializeRepositoryLock(lock);
        expect(R.serializeRepositoryLock(R.parseRepositoryLock(text))).to.equal(text);
        expect(R.serializeRepositoryLock({ ...lock, packages: Object.fromEntries(Object.entries(lock.packages).reverse()) })).to.equal(text);
      }), runs);
    });
  });
});
