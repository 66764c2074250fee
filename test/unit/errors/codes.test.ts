/**
 * The one table of error codes (src/errors/codes.ts) against the sources: every code src/ and cli/ raise is in
 * it, everything in it is raised somewhere, each has an exit code of the README's table and a summary a
 * person can read; exitCodeOf is a lookup in it, and codes that arrive as data are checked where they enter.
 */
import { expect } from "chai";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { exitCodeOf as cliExitCodeOf } from "../../../cli/base";
import { ERROR_CODES, exitCodeOf, isErrorCode, PkgError, type ErrorCode } from "../../../src/errors";
import { errorFromData } from "../../../src/store/errors";

const ROOT = path.resolve(__dirname, "../../..");
const TABLE_FILE = path.join(ROOT, "src/errors/codes.ts");
const CODES = Object.keys(ERROR_CODES) as ErrorCode[];

/** Every .ts file under src/ and cli/, with its text. */
function sources(): { file: string; text: string }[] {
  const out: { file: string; text: string }[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith(".ts")) out.push({ file: full, text: readFileSync(full, "utf8") });
    }
  };
  walk(path.join(ROOT, "src"));
  walk(path.join(ROOT, "cli"));
  return out;
}

/** A whole code as a string literal: "ERR_X_Y" (or in ' or `); a prefix such as "ERR_BUILD_" is not one. */
const CODE_LITERAL = /["'`](ERR_[A-Z0-9]+(?:_[A-Z0-9]+)*)["'`]/g;

describe("errors/codes: the one table of error codes", () => {
  const files = sources();

  it("has every code that src/ and cli/ write as a string", () => {
    const missing: string[] = [];
    const seen = new Set<string>();
    for (const { file, text } of files) {
      if (file === TABLE_FILE) continue;
      for (const match of text.matchAll(CODE_LITERAL)) {
        seen.add(match[1]);
        if (!isErrorCode(match[1])) missing.push(`${path.relative(ROOT, file)}: ${match[1]}`);
      }
    }
    expect(missing, "codes raised but not in src/errors/codes.ts").to.deep.equal([]);
    expect(seen.size, "the scan finds the codes at all").to.be.above(150);
  });

  it("names each exported ERR_ constant after its own code", () => {
    const wrong: string[] = [];
    for (const { file, text } of files) {
      for (const match of text.matchAll(/\bconst (ERR_[A-Z0-9_]+) = ["'`]([^"'`]*)["'`]/g)) {
        if (match[1] !== match[2]) wrong.push(`${path.relative(ROOT, file)}: ${match[1]} = "${match[2]}"`);
      }
    }
    expect(wrong).to.deep.equal([]);
  });

  it("holds no code that nothing in src/ or cli/ uses", () => {
    const others = files.filter(({ file }) => file !== TABLE_FILE).map(({ text }) => text);
    const unused = CODES.filter((code) => !others.some((text) => new RegExp(`\\b${code}\\b`).test(text)));
    expect(unused, "codes in the table that no source outside it names").to.deep.equal([]);
  });

  it("gives every code an exit code of the README's table (1-10)", () => {
    for (const code of CODES) {
      const { exit } = ERROR_CODES[code];
      expect(Number.isInteger(exit) && exit >= 1 && exit <= 10, `${code}: exit ${exit}`).to.equal(true);
    }
  });

  it("gives every code a one-line summary of at most 100 characters that says more than its name", () => {
    for (const code of CODES) {
      const { summary } = ERROR_CODES[code];
      expect(summary.trim(), code).not.to.equal("");
      expect(summary.length, `${code}: ${summary}`).to.be.at.most(100);
      expect(summary, code).not.to.match(/[\n\r]/);
      expect(summary, `${code}: a summary is prose, not the code`).not.to.match(/\bERR_/);
      const spelled = code.replace(/^ERR_/, "").toLowerCase().replace(/_/g, " ");
      expect(summary.toLowerCase().replace(/[^a-z0-9 ]/g, ""), `${code}: the name re-spelled`).not.to.equal(spelled);
    }
  });

  it("lets PkgError take every code of the table, and only those (the type refuses others, not the runtime)", () => {
    for (const code of CODES) expect(new PkgError(code, "m").code).to.equal(code);
    // @ts-expect-error: a code the table does not have is a type error (npx tsc --noEmit -p . checks this line)
    const unknown = new PkgError("ERR_NOT_IN_THE_TABLE", "m");
    expect(unknown.code, "nothing is refused at runtime: an error path never throws in its turn").to.equal("ERR_NOT_IN_THE_TABLE");
    expect(exitCodeOf(unknown.code)).to.equal(1);
  });
});

describe("errors/codes: exit codes", () => {
  it("maps a lock another process holds to a conflict, and a running store daemon to 10", () => {
    expect(exitCodeOf("ERR_PROFILE_LOCKED"), "another command is changing the profile").to.equal(6);
    expect(exitCodeOf("ERR_NODE_LOCKED"), "another pkg node holds the data directory").to.equal(6);
    expect(exitCodeOf("ERR_STORE_LOCKED"), "a store daemon is already running").to.equal(10);
  });

  it("maps representative codes of each exit code as the table says", () => {
    const cases: [ErrorCode, number][] = [
      ["ERR_INTERNAL", 1], ["ERR_CONTENT_BACKEND", 1], ["ERR_CHAIN_REVERTED", 1],
      ["ERR_USAGE", 2], ["ERR_NODE_INVALID_OPTION", 2],
      ["ERR_CHAIN_UNREACHABLE", 3], ["ERR_CHAIN_NO_REGISTRY", 3], ["ERR_CHAIN_WRONG_NETWORK", 3], ["ERR_CONFIG_NO_REGISTRY", 3],
      ["ERR_FETCH_UNKNOWN_PACKAGE", 4], ["ERR_CHAIN_UNKNOWN_VERSION", 4], ["ERR_LOCK_UNKNOWN_BLOCK", 4], ["ERR_LOCKFILE_NOT_FOUND", 4],
      ["ERR_CHAIN_UNAUTHORIZED", 5], ["ERR_KEY_BAD_PASSWORD", 5], ["ERR_CHAIN_NO_SIGNER", 5],
      ["ERR_PUBLISH_VERSION_EXISTS", 6], ["ERR_KEY_KEYSTORE_EXISTS", 6], ["ERR_PROFILE_CONFLICT", 6], ["ERR_LOCKFILE_CHAIN_MISMATCH", 6],
      ["ERR_MANIFEST_TOML", 7], ["ERR_ID_SYNTAX", 7], ["ERR_STORE_BAD_REQUEST", 7], ["ERR_LOCKFILE_UNKNOWN_DEPENDENCY", 7], ["ERR_CID_INVALID", 7],
      ["ERR_CONTENT_INTEGRITY", 8], ["ERR_STORE_CORRUPT", 8], ["ERR_LOCK_INTEGRITY", 8], ["ERR_RESOLVE_LOCK_MISMATCH", 8],
      ["ERR_BUILD_FAILED", 9], ["ERR_BUILD_NOT_REPRODUCIBLE", 9], ["ERR_BUILD_BUILDER_NOT_FOUND", 9],
      ["ERR_STORE_DAEMON_UNREACHABLE", 10], ["ERR_STORE_DAEMON_GONE", 10], ["ERR_STORE_DAEMON_MISMATCH", 10],
    ];
    for (const [code, exit] of cases) {
      expect(exitCodeOf(code), code).to.equal(exit);
      expect(ERROR_CODES[code].exit, code).to.equal(exit);
    }
    for (let exit = 1; exit <= 10; exit++) expect(CODES.some((code) => ERROR_CODES[code].exit === exit), `some code exits ${exit}`).to.equal(true);
  });

  it("exits 1 for a code the table does not have; the CLI's exitCodeOf is the table's", () => {
    expect(exitCodeOf("ERR_NOT_IN_THE_TABLE")).to.equal(1);
    expect(exitCodeOf("")).to.equal(1);
    expect(exitCodeOf("constructor"), "no inherited property counts as a code").to.equal(1);
    expect(cliExitCodeOf).to.equal(exitCodeOf);
  });
});

describe("errors/codes: codes that arrive as data (the store daemon's answers)", () => {
  it("keeps a code of the table as it is", () => {
    const error = errorFromData({ code: "ERR_STORE_BAD_CID", message: "m", details: { cid: "x" }, hint: "h" });
    expect(error.code).to.equal("ERR_STORE_BAD_CID");
    expect(error.details).to.deep.equal({ cid: "x" });
    expect(error.hint).to.equal("h");
  });

  it("makes an unknown code ERR_INTERNAL, the code it came with in the details", () => {
    const error = errorFromData({ code: "ERR_FROM_A_NEWER_DAEMON", message: "m", details: { op: "build" } });
    expect(error.code).to.equal("ERR_INTERNAL");
    expect(error.message).to.equal("m");
    expect(error.details).to.deep.equal({ op: "build", code: "ERR_FROM_A_NEWER_DAEMON" });
    expect(errorFromData({ code: 42, message: "m" }).details).to.deep.equal({ code: "number" });
    expect(errorFromData({ code: "x".repeat(10_000) }).details.code).to.have.lengthOf(200);
    expect(errorFromData({}).code).to.equal("ERR_INTERNAL");
    expect(errorFromData({}).details).to.deep.equal({});
  });
});
