/**
 * Hostile values in package, lock and build files and in ids (security issue 10): size limits (README,
 * "Security" → "Limits"), refused before anything is processed, and errors that never echo a value whole —
 * every message is one short line, whatever the file holds.
 */
import { expect } from "chai";
import { readFileSync } from "node:fs";
import { mkdtemp, open, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { exitCodeOf } from "../../../cli/base";
import * as B from "../../../src/buildfile";
import { isPkgError, type ErrorCode, type PkgError } from "../../../src/errors";
import * as L from "../../../src/lockfile";
import * as M from "../../../src/manifest";
import * as R from "../../../src/repolock";
import * as I from "../../../src/ids";
import { MAX_LICENSE_BYTES, MAX_LOCKFILE_BYTES, MAX_MANIFEST_BYTES } from "../../../src/files/limits";
import { rejectsWith, throwsWith } from "../../helpers/errors";

const fixtures = path.join(__dirname, "../../fixtures/files");
const manifest = readFileSync(path.join(fixtures, "seed/pkg.toml"), "utf8");
const lock = readFileSync(path.join(fixtures, "valid/pkg.lock"), "utf8");
const build = readFileSync(path.join(fixtures, "valid/pkg.build.toml"), "utf8");
const FIVE_MB = 5 * 1024 * 1024;

function edit(base: string, from: string, to: string): string {
  expect(base, `fixture contains ${JSON.stringify(from)}`).to.contain(from);
  return base.replace(from, to);
}

/** An error as the CLI prints it (message, hint, and the JSON of --json) is one short line. */
function expectShort(error: PkgError, max = 400): void {
  for (const text of [error.message, error.hint ?? "", error.toLine()]) {
    expect(text, "one line").not.to.match(/[\n\r]/);
    expect(text.length, `short: ${text.slice(0, 200)}…`).to.be.at.most(max);
  }
  expect(JSON.stringify(error.toJSON()).length, "the --json error is short too").to.be.at.most(2 * max + 512);
}

describe("hostile values: size limits and one-line errors", () => {
  describe("pkg.toml", () => {
    it(`refuses a file over ${MAX_MANIFEST_BYTES / 1024} KiB before parsing it (a 5 MB license)`, () => {
      const text = edit(manifest, '"ISC"', `"${"MIT OR ".repeat(FIVE_MB / 7)}MIT"`);
      const error = throwsWith(() => M.parseManifest(text), M.ERR_MANIFEST_TOO_LARGE);
      expect(error.message).to.match(/^pkg\.toml: a pkg\.toml of \d+ bytes or more is over the limit of 64 KiB$/);
      expect(error.details).to.include({ file: "pkg.toml", limit: MAX_MANIFEST_BYTES });
      expectShort(error);
      expect(exitCodeOf(error.code)).to.equal(7);
      // the limit is the file's size in bytes, not in characters
      const multiByte = `${manifest}# ${"é".repeat((MAX_MANIFEST_BYTES - manifest.length) / 2 + 1)}\n`;
      expect(multiByte.length).to.be.below(MAX_MANIFEST_BYTES);
      throwsWith(() => M.parseManifest(multiByte), M.ERR_MANIFEST_TOO_LARGE);
      expect(() => M.parseManifest(`${manifest}# ${"x".repeat(MAX_MANIFEST_BYTES - manifest.length - 3)}\n`), "exactly 64 KiB").not.to.throw();
    });

    const fields: [string, string, string, string, number][] = [
      // [title, from, to, field, limit]
      ["license", '"ISC"', `"${"MIT OR ".repeat(300)}MIT"`, "[package].license", 1024],
      ["src pattern", '"src/lib.rs"', `"src/${"d/".repeat(2100)}lib.rs"`, "[package].src[2]", 4096],
      ["builder", '"$cargo/bin/cargo"', `"$cargo/${"b".repeat(5000)}"`, "[package].builder", 4096],
      ["builder argument", 'args = ["build"]', `args = ["${"a".repeat(5000)}"]`, "[package].args[0]", 4096],
      ["input range", 'crates:dep = "0.2"', `crates:dep = "${">=0.2 ".repeat(200)}"`, '[inputs]."crates:dep"', 1024],
    ];
    for (const [title, from, to, field, limit] of fields) {
      it(`refuses a ${title} over ${limit} bytes, naming the field, quoting a short prefix`, () => {
        const error = throwsWith(() => M.parseManifest(edit(manifest, from, to)), M.ERR_MANIFEST_TOO_LARGE);
        expect(error.details).to.include({ file: "pkg.toml", field });
        expect(error.message).to.contain(`${field}: is `).and.contain(`bytes long (at most ${limit}): "`).and.match(/… \(\d+ characters\)$/);
        expectShort(error);
      });
    }

    it(`takes a license of exactly ${MAX_LICENSE_BYTES} bytes`, () => {
      const license = `LicenseRef-${"x".repeat(MAX_LICENSE_BYTES - "LicenseRef-".length)}`;
      expect(M.parseManifest(edit(manifest, '"ISC"', `"${license}"`)).license).to.equal(license);
    });

    it("refuses a too long version (and any other value) without echoing it, also from serialize", () => {
      const long = `1.0.0-${"a".repeat(4000)}`;
      const error = throwsWith(() => M.parseManifest(edit(manifest, '"1.0.0"', `"${long}"`)), M.ERR_MANIFEST_INVALID_VERSION);
      expect(error.message).to.contain("is 4006 characters long (at most 64)").and.contain("… (4006 characters)");
      expectShort(error);
      // past the limit of any string field (4 KiB), the generic refusal comes first
      const longer = `1.0.0-${"a".repeat(60_000)}`;
      expectShort(throwsWith(() => M.parseManifest(edit(manifest, '"1.0.0"', `"${longer}"`)), M.ERR_MANIFEST_TOO_LARGE));
      const object = M.parseManifest(manifest);
      expectShort(throwsWith(() => M.serializeManifest({ ...object, license: "x".repeat(FIVE_MB) }), M.ERR_MANIFEST_TOO_LARGE));
      expectShort(throwsWith(() => M.serializeManifest({ ...object, version: long }), M.ERR_MANIFEST_INVALID_VERSION));
    });

    it("keeps values with newlines and escape sequences on one line, escaped", () => {
      const cases: [string, string, ErrorCode][] = [
        ['"1.0.0"', '"1.0.0\\n\\u001b[31mlooks fine"', M.ERR_MANIFEST_INVALID_VERSION],
        ['"hello"', '"hel\\nlo"', M.ERR_MANIFEST_INVALID_NAME],
        ['"ISC"', '"MIT OR \\u001b[2J"', M.ERR_MANIFEST_INVALID_LICENSE],
        ['crates:dep = "0.2"', '"crates:d\\nep" = "0.2"', M.ERR_MANIFEST_INVALID_INPUT],
        ['crates:dep = "0.2"', 'crates:dep = "0.2\\n!"', M.ERR_MANIFEST_INVALID_RANGE],
      ];
      for (const [from, to, code] of cases) {
        const error = throwsWith(() => M.parseManifest(edit(manifest, from, to)), code);
        expectShort(error);
        expect(error.message, code).to.match(/\\n|\\u001b/); // escaped as JSON does
        expect(error.message, code).not.to.contain("\u001b");
      }
    });

    it("stops reading a published meta as soon as it passes the limit", async () => {
      let chunks = 0;
      async function* endless(): AsyncGenerator<Uint8Array> {
        for (;;) {
          chunks++;
          yield new Uint8Array(16 * 1024).fill(0x23); // "#": a comment, forever
        }
      }
      const error = await rejectsWith(M.readPublishedManifest(endless(), "crates:evil@1.0.0 (meta bafk…)"), M.ERR_MANIFEST_TOO_LARGE);
      expect(chunks, "chunks read").to.equal(MAX_MANIFEST_BYTES / (16 * 1024) + 1);
      expect(error.message).to.match(/^crates:evil@1\.0\.0 \(meta bafk…\): a pkg\.toml of \d+ bytes or more is over the limit/);
      async function* once(): AsyncGenerator<Uint8Array> {
        yield Buffer.from(manifest);
      }
      expect((await M.readPublishedManifest(once(), "meta")).name).to.equal("hello");
    });

    it("refuses a pkg.toml file over the limit from its size, without reading it", async () => {
      const dir = await mkdtemp(path.join(tmpdir(), "limits-"));
      try {
        const file = path.join(dir, "pkg.toml");
        await writeFile(file, manifest);
        const handle = await open(file, "r+");
        await handle.truncate(1024 * 1024 * 1024); // a sparse 1 GiB file: reading it would take a while
        await handle.close();
        const error = await rejectsWith(M.readManifest(dir), M.ERR_MANIFEST_TOO_LARGE);
        expect(error.details).to.include({ bytes: 1024 * 1024 * 1024 });
        expectShort(error);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });

  describe("pkg.lock, pkg.build.toml, repo.lock", () => {
    it("refuse absurd sizes (parse and read)", async () => {
      const huge = `${lock}${"#".repeat(MAX_LOCKFILE_BYTES)}\n`;
      expectShort(throwsWith(() => L.parseLockfile(huge), L.ERR_LOCKFILE_TOO_LARGE));
      expectShort(throwsWith(() => B.parseBuildfile(`${build}${"#".repeat(16 * 1024 * 1024)}\n`), B.ERR_BUILDFILE_TOO_LARGE));
      const dir = await mkdtemp(path.join(tmpdir(), "limits-"));
      try {
        for (const [name, read, code] of [
          ["pkg.lock", L.readLockfile, L.ERR_LOCKFILE_TOO_LARGE],
          ["pkg.build.toml", B.readBuildfile, B.ERR_BUILDFILE_TOO_LARGE],
          ["repo.lock", R.readRepositoryLock, R.ERR_REPOLOCK_TOO_LARGE],
        ] as const) {
          const file = path.join(dir, name);
          const handle = await open(file, "w");
          await handle.truncate(4 * 1024 * 1024 * 1024); // sparse 4 GiB: more than a string can hold
          await handle.close();
          const error = await rejectsWith((read as (f: string) => Promise<unknown>)(file), code);
          expectShort(error);
          expect(exitCodeOf(error.code), code).to.equal(7);
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it("refuse a 5 MB version or string with a short error", () => {
      const version = `0.2.3-${"a".repeat(FIVE_MB)}`;
      expectShort(throwsWith(() => L.parseLockfile(edit(lock, '"0.2.3"', `"${version}"`)), L.ERR_LOCKFILE_TOO_LARGE));
      const registry = `0x${"5".repeat(FIVE_MB)}`;
      expectShort(throwsWith(() => L.parseLockfile(edit(lock, '"0x5FbDB2315678afecb367f032d93F642f64180aa3"', `"${registry}"`)), L.ERR_LOCKFILE_TOO_LARGE));
      expectShort(throwsWith(() => B.parseBuildfile(edit(build, 'args = [', `args = ["${"x".repeat(FIVE_MB)}", `)), B.ERR_BUILDFILE_TOO_LARGE));
      // under the generic limit, the field's own check still quotes short
      const medium = `0.2.3-${"a".repeat(4000)}`;
      const error = throwsWith(() => L.parseLockfile(edit(lock, '"0.2.3"', `"${medium}"`)), L.ERR_LOCKFILE_INVALID_VERSION);
      expect(error.message).to.contain("(at most 64)");
      expectShort(error);
    });

    it("quote hostile keys escaped and cut, in the field path too", () => {
      const newline = throwsWith(() => L.parseLockfile(edit(lock, '[dependencies."crates:dep2"]', '[dependencies."crates:dep2\\nFAKE: all good"]')),
        L.ERR_LOCKFILE_INVALID_KEY);
      expectShort(newline);
      expect(newline.details.field).to.equal('[dependencies]."crates:dep2\\nFAKE: all good"');
      const long = throwsWith(() => L.parseLockfile(edit(lock, '[dependencies."crates:dep2"]', `[dependencies."crates:${"d".repeat(100_000)}"]`)),
        L.ERR_LOCKFILE_INVALID_KEY);
      expectShort(long);
      const unknown = throwsWith(() => B.parseBuildfile(edit(build, "[[build]]", `[[build]]\n"${"k".repeat(100_000)}" = 1`)), B.ERR_BUILDFILE_UNKNOWN_KEY);
      expectShort(unknown);
    });
  });

  describe("a pkg.lock without [dependencies]", () => {
    it("is an invalid file (exit 7), not an unknown package (exit 4)", () => {
      const cut = lock.slice(0, lock.indexOf("[dependencies."));
      const error = throwsWith(() => L.parseLockfile(cut), L.ERR_LOCKFILE_MISSING_FIELD);
      expect(error.message).to.equal('pkg.lock: [dependencies]: missing table, but [lock].meta-inputs names "flakes:meta-rustc"');
      expect(exitCodeOf(error.code)).to.equal(7);
      // a lock without inputs needs none
      const alone = cut.replace(/^(meta-inputs|native-inputs|inputs) = \[[^\]]*\]\n/gms, "");
      expect(L.parseLockfile(alone).dependencies).to.deep.equal({});
      // an edge to an entry that is not there is an invalid file as well, and so is an unknown key
      const dangling = throwsWith(() => L.parseLockfile(edit(lock, 'inputs = ["crates:dep2"]', 'inputs = ["crates:nope"]')), L.ERR_LOCKFILE_UNKNOWN_DEPENDENCY);
      expect(exitCodeOf(dangling.code)).to.equal(7);
      for (const code of [L.ERR_LOCKFILE_UNKNOWN_KEY, M.ERR_MANIFEST_UNKNOWN_KEY, B.ERR_BUILDFILE_UNKNOWN_KEY, R.ERR_REPOLOCK_UNKNOWN_KEY]) {
        expect(exitCodeOf(code), code).to.equal(7);
      }
      expect(exitCodeOf(L.ERR_LOCKFILE_NOT_FOUND), "a missing file is still 4").to.equal(4);
    });
  });

  describe("ids", () => {
    it("print an id holding a newline on one line, escaped", () => {
      for (const input of ["crates/he\nllo", "crates/hello:1.0.0\n\u001b[32mok", "cra\ntes/hello", "crates\n/hello", "crates/hello\n"]) {
        let error: unknown;
        try {
          I.parsePackageSpec(input);
        } catch (e) {
          error = e;
        }
        expect(isPkgError(error), JSON.stringify(input)).to.equal(true);
        expectShort(error as PkgError);
        expect((error as PkgError).message).to.contain(JSON.stringify(input).slice(1, -1));
      }
    });

    it("cut a huge id to a short prefix and its length, in the message and in details", () => {
      const input = `crates/hello:1.0.0-${"a".repeat(FIVE_MB)}`;
      const error = throwsWith(() => I.parsePackageSpec(input), I.ERR_ID_INVALID_VERSION);
      expectShort(error);
      expect(error.message).to.contain(`(${input.length} characters)`);
      expect(error.details).to.deep.equal({ input: input.slice(0, 256), inputLength: input.length, field: "version" });
      expectShort(throwsWith(() => I.parsePackageKey(`crates:${"x".repeat(FIVE_MB)}`), I.ERR_ID_INVALID_NAME));
      expectShort(throwsWith(() => I.parseRepositorySpec(`nixos:${"1".repeat(FIVE_MB)}`), I.ERR_ID_INVALID_VERSION));
    });

    it("treat versions that differ only in build metadata as the same version", () => {
      expect(I.withoutBuildMetadata("1.0.0+linux")).to.equal("1.0.0");
      expect(I.withoutBuildMetadata("1.0.0-rc.1+b.2")).to.equal("1.0.0-rc.1");
      expect(I.withoutBuildMetadata("1.0.0")).to.equal("1.0.0");
      expect(I.isSameVersion("1.0.0", "1.0.0+evil")).to.equal(true);
      expect(I.isSameVersion("1.0.0+a", "1.0.0+b")).to.equal(true);
      expect(I.isSameVersion("1.0.0-a", "1.0.0")).to.equal(false);
      expect(I.isSameVersion("1.0.0-a+x", "1.0.0-b+x")).to.equal(false);
    });
  });
});
