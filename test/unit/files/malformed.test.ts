/**
 * Table test: malformed package, lock and build files and ids. Each case asserts the error code,
 * and that the one-line message and `details` name the file, the line and the field. Cases are
 * edits of the valid fixtures, and the expected line is found by a marker in the edited text, so
 * a case reads as "this change to a good file gives this error there".
 */
import { expect } from "chai";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import * as B from "../../../src/buildfile";
import { FileFormatError } from "../../../src/errors/files";
import * as I from "../../../src/ids";
import * as L from "../../../src/lockfile";
import * as M from "../../../src/manifest";

const fixtures = path.join(__dirname, "../../fixtures/files");
const manifest = readFileSync(path.join(fixtures, "seed/pkg.toml"), "utf8");
const lock = readFileSync(path.join(fixtures, "valid/pkg.lock"), "utf8");
const build = readFileSync(path.join(fixtures, "valid/pkg.build.toml"), "utf8");

/** Replaces `from` (which must occur) by `to`. */
function edit(base: string, ...pairs: [string, string][]): string {
  let text = base;
  for (const [from, to] of pairs) {
    expect(text, `fixture contains ${JSON.stringify(from)}`).to.contain(from);
    text = text.replace(from, to);
  }
  return text;
}

type Format = "manifest" | "lock" | "build";

interface FileCase {
  title: string;
  format: Format;
  text: string;
  code: string;
  /** Expected `details.field`; null for TOML syntax errors, which have no field. */
  field: string | null;
  /** The expected line is the first line containing this marker; null when no line applies. */
  at: string | null;
  /** Optional: the message must contain this too. */
  says?: string;
}

const FILE_NAMES: Record<Format, string> = { manifest: "pkg.toml", lock: "pkg.lock", build: "pkg.build.toml" };
const PARSERS: Record<Format, (text: string, file: string) => unknown> = {
  manifest: M.parseManifest,
  lock: L.parseLockfile,
  build: B.parseBuildfile,
};

const m = (title: string, text: string, code: string, field: string | null, at: string | null, says?: string): FileCase =>
  ({ title, format: "manifest", text, code, field, at, says });
const l = (title: string, text: string, code: string, field: string | null, at: string | null, says?: string): FileCase =>
  ({ title, format: "lock", text, code, field, at, says });
const b = (title: string, text: string, code: string, field: string | null, at: string | null, says?: string): FileCase =>
  ({ title, format: "build", text, code, field, at, says });

const CID_A = "bafkreiacm4xpejd742ctegcq4htchsp6cz52z4vm4ul3fcky5wniqwjeye";
const ZLIB = '[dependencies."nixpkgs:zlib"]\nversion = "1.3.1"';

const fileCases: FileCase[] = [
  // pkg.toml: [package] fields
  m("version with two parts", edit(manifest, ['"1.0.0"', '"1.0"']), M.ERR_MANIFEST_INVALID_VERSION, "[package].version", 'version = "1.0"', "is not a semver version"),
  m("version with a v", edit(manifest, ['"1.0.0"', '"v1.0.0"']), M.ERR_MANIFEST_INVALID_VERSION, "[package].version", "version ="),
  m("version range", edit(manifest, ['"1.0.0"', '"^1.0.0"']), M.ERR_MANIFEST_INVALID_VERSION, "[package].version", "version ="),
  m("version as a number", edit(manifest, ['"1.0.0"', "1"]), M.ERR_MANIFEST_INVALID_TYPE, "[package].version", "version =", "found an integer"),
  m("version missing", edit(manifest, ['version = "1.0.0"\n', ""]), M.ERR_MANIFEST_MISSING_FIELD, "[package].version", "[package]"),
  m("uppercase name", edit(manifest, ['"hello"', '"Hello"']), M.ERR_MANIFEST_INVALID_NAME, "[package].name", "name =", "uppercase"),
  m("empty repository", edit(manifest, ['"crates"', '""']), M.ERR_MANIFEST_INVALID_NAME, "[package].repository", "repository ="),
  m("name too long", edit(manifest, ['"hello"', `"${"h".repeat(65)}"`]), M.ERR_MANIFEST_INVALID_NAME, "[package].name", "name =", "65 characters"),
  m("license with /", edit(manifest, ['"ISC"', '"MIT/Apache-2.0"']), M.ERR_MANIFEST_INVALID_LICENSE, "[package].license", "license =", "'/'"),
  m("license lowercase operator", edit(manifest, ['"ISC"', '"MIT and Apache-2.0"']), M.ERR_MANIFEST_INVALID_LICENSE, "[package].license", "license ="),
  m("license unbalanced", edit(manifest, ['"ISC"', '"(MIT OR Apache-2.0"']), M.ERR_MANIFEST_INVALID_LICENSE, "[package].license", "license =", "'('"),
  m("license dangling OR", edit(manifest, ['"ISC"', '"MIT OR"']), M.ERR_MANIFEST_INVALID_LICENSE, "[package].license", "license ="),
  m("license missing", edit(manifest, ['license = "ISC"\n', ""]), M.ERR_MANIFEST_MISSING_FIELD, "[package].license", "[package]"),
  m("src with ..", edit(manifest, ['"src/lib.rs"', '"../lib.rs"']), M.ERR_MANIFEST_INVALID_SRC, "[package].src[2]", '"../lib.rs"', "'..'"),
  m("src absolute", edit(manifest, ['"Cargo.toml"', '"/etc/passwd"']), M.ERR_MANIFEST_INVALID_SRC, "[package].src[0]", '"/etc/passwd"', "absolute"),
  m("src with backslash", edit(manifest, ['"src/main.rs"', '"src\\\\main.rs"']), M.ERR_MANIFEST_INVALID_SRC, "[package].src[1]", "main.rs"),
  m("src empty string", edit(manifest, ['"src/main.rs"', '""']), M.ERR_MANIFEST_INVALID_SRC, "[package].src[1]", '  "",', "empty"),
  m("src listed twice", edit(manifest, ['"src/lib.rs"', '"src/main.rs"']), M.ERR_MANIFEST_INVALID_SRC, "[package].src[2]", '"src/main.rs"', "twice"),
  m("src as a string", edit(manifest, ['src = [\n  "Cargo.toml",\n  "src/main.rs",\n  "src/lib.rs",\n]', 'src = "Cargo.toml"']), M.ERR_MANIFEST_INVALID_TYPE, "[package].src", "src ="),
  m("src ** inside a segment", edit(manifest, ['"src/lib.rs"', '"src/**.rs"']), M.ERR_MANIFEST_INVALID_SRC, "[package].src[2]", "**.rs"),
  m("src missing", edit(manifest, ['src = [\n  "Cargo.toml",\n  "src/main.rs",\n  "src/lib.rs",\n]\n', ""]), M.ERR_MANIFEST_MISSING_FIELD, "[package].src", "[package]"),
  m("builder names no input", edit(manifest, ["$cargo/bin/cargo", "$make/bin/make"]), M.ERR_MANIFEST_INVALID_BUILDER, "[package].builder", "builder =", "not an input"),
  m("builder bare path", edit(manifest, ["$cargo/bin/cargo", "build.sh"]), M.ERR_MANIFEST_INVALID_BUILDER, "[package].builder", "builder ="),
  m("builder absolute", edit(manifest, ["$cargo/bin/cargo", "/usr/bin/make"]), M.ERR_MANIFEST_INVALID_BUILDER, "[package].builder", "builder =", "absolute"),
  m("builder ${}", edit(manifest, ["$cargo/bin/cargo", "${cargo}/bin/cargo"]), M.ERR_MANIFEST_INVALID_BUILDER, "[package].builder", "builder ="),
  m("builder escapes its input", edit(manifest, ["$cargo/bin/cargo", "$cargo/../x"]), M.ERR_MANIFEST_INVALID_BUILDER, "[package].builder", "builder =", "'..'"),
  m("builder ambiguous", edit(manifest, ['crates:dep = "0.2"', 'crates:cargo = "0.2"']), M.ERR_MANIFEST_INVALID_BUILDER, "[package].builder", "builder =", "ambiguous"),
  m("args as a string", edit(manifest, ['args = ["build"]', 'args = "build"']), M.ERR_MANIFEST_INVALID_TYPE, "[package].args", "args ="),
  m("args with a number", edit(manifest, ['args = ["build"]', 'args = ["build", 1]']), M.ERR_MANIFEST_INVALID_TYPE, "[package].args[1]", "args ="),
  m("args without builder", edit(manifest, ['builder = "$cargo/bin/cargo"\n', ""]), M.ERR_MANIFEST_INVALID_ARGS, "[package].args", "args =", "no builder"),
  m("misspelt key", edit(manifest, ["args =", "argz ="]), M.ERR_MANIFEST_UNKNOWN_KEY, "[package].argz", "argz =", "unknown key"),
  m("cargo's table name", edit(manifest, ["[inputs]", "[dependencies]"]), M.ERR_MANIFEST_UNKNOWN_KEY, "[dependencies]", "[dependencies]", "unknown table"),
  m("unknown top-level key", `description = "x"\n${manifest}`, M.ERR_MANIFEST_UNKNOWN_KEY, "[description]", "description ="),
  // pkg.toml: inputs
  m("range not semver", edit(manifest, ['nixpkgs:cargo = "*"', 'nixpkgs:cargo = "latest"']), M.ERR_MANIFEST_INVALID_RANGE, '[meta-inputs]."nixpkgs:cargo"', "nixpkgs:cargo =", "not a semver range"),
  m("range empty", edit(manifest, ['">=1.36"', '""']), M.ERR_MANIFEST_INVALID_RANGE, '[native-inputs]."nixpkgs:rustc"', "nixpkgs:rustc =", "empty"),
  m("range as a table", edit(manifest, ['crates:dep = "0.2"', 'crates:dep = { version = "0.2" }']), M.ERR_MANIFEST_INVALID_TYPE, '[inputs]."crates:dep"', "crates:dep ="),
  m("input key with /", edit(manifest, ['crates:dep = "0.2"', '"crates/dep" = "0.2"']), M.ERR_MANIFEST_INVALID_INPUT, '[inputs]."crates/dep"', '"crates/dep"', "repo:name"),
  m("input key uppercase", edit(manifest, ['crates:dep = "0.2"', '"crates:Dep" = "0.2"']), M.ERR_MANIFEST_INVALID_INPUT, '[inputs]."crates:Dep"', "crates:Dep"),
  m("input is the package", edit(manifest, ['crates:dep = "0.2"', 'crates:hello = "0.2"']), M.ERR_MANIFEST_INVALID_INPUT, '[inputs]."crates:hello"', "crates:hello =", "own input"),
  m("dotted key instead of repo:name", edit(manifest, ['crates:dep = "0.2"', 'crates.dep = "0.2"']), M.ERR_MANIFEST_INVALID_TYPE, "[inputs].crates", "crates.dep =", "found a table"),
  m("inputs as a string", edit(manifest, ['[inputs]\ncrates:dep = "0.2"', 'inputs = "crates:dep"']).replace('inputs = "crates:dep"', "").replace("[package]", 'inputs = "crates:dep"\n[package]'),
    M.ERR_MANIFEST_INVALID_TYPE, "[inputs]", "inputs ="),
  // pkg.toml: syntax and shape
  m("unclosed string", edit(manifest, ['"hello"', '"hello']), M.ERR_MANIFEST_TOML, null, 'name = "hello'),
  m("duplicate key", edit(manifest, ['name = "hello"', 'name = "hello"\nname = "other"']), M.ERR_MANIFEST_TOML, null, 'name = "other"'),
  m("no [package]", 'name = "hello"\n', M.ERR_MANIFEST_UNKNOWN_KEY, "[name]", "name ="),
  m("empty file", "", M.ERR_MANIFEST_MISSING_FIELD, "[package]", null, "missing table"),
  m("[package] not a table", 'package = "hello"\n', M.ERR_MANIFEST_INVALID_TYPE, "[package]", "package ="),

  // pkg.lock
  l("negative block", edit(lock, ["block = 102", "block = -1"]), L.ERR_LOCKFILE_INVALID_TYPE, "[lock].block", "block =", "below 0"),
  l("block as a string", edit(lock, ["block = 102", 'block = "102"']), L.ERR_LOCKFILE_INVALID_TYPE, "[lock].block", "block ="),
  l("block beyond 2^53", edit(lock, ["block = 102", "block = 9007199254740993"]), L.ERR_LOCKFILE_INVALID_TYPE, "[lock].block", "block =", "too large"),
  l("block as a float", edit(lock, ["block = 102", "block = 1.5"]), L.ERR_LOCKFILE_INVALID_TYPE, "[lock].block", "block =", "float"),
  l("chain-id missing", edit(lock, ["chain-id = 31337\n", ""]), L.ERR_LOCKFILE_MISSING_FIELD, "[lock].chain-id", "[lock]"),
  l("chain-id zero", edit(lock, ["chain-id = 31337", "chain-id = 0"]), L.ERR_LOCKFILE_INVALID_TYPE, "[lock].chain-id", "chain-id ="),
  l("registry not checksummed", edit(lock, ["0x5FbDB2315678afecb367f032d93F642f64180aa3", "0x5fbdb2315678afecb367f032d93f642f64180aa3"]), L.ERR_LOCKFILE_INVALID_REGISTRY, "[lock].registry", "registry =", "checksummed"),
  l("registry too short", edit(lock, ["0x5FbDB2315678afecb367f032d93F642f64180aa3", "0x1234"]), L.ERR_LOCKFILE_INVALID_REGISTRY, "[lock].registry", "registry ="),
  l("package not a CID", edit(lock, [`package = "${CID_A}"`, 'package = "not-a-cid"']), L.ERR_LOCKFILE_INVALID_CID, "[lock].package", "package =", "not a CID"),
  l("CID in base58 instead of base32", edit(lock, ['meta = "bafkreidhqbte7bnbs6hgvqi4dpsrccyuixlzwsyeocxvyzfghgiriujw4u"', 'meta = "zb2rhZhfZ71VE6u6BX78cmaNKsLmDde9EYyrY9dsRVLJWr9oW"']),
    L.ERR_LOCKFILE_INVALID_CID, '[dependencies]."crates:dep".meta', "zb2rh", "canonical"),
  l("format from the future", edit(lock, ["format = 1", "format = 2"]), L.ERR_LOCKFILE_UNSUPPORTED_FORMAT, "[lock].format", "format =", "not supported"),
  l("format missing", edit(lock, ["format = 1\n", ""]), L.ERR_LOCKFILE_MISSING_FIELD, "[lock].format", "[lock]"),
  l("edge to nowhere", edit(lock, ['inputs = ["crates:dep2"]', 'inputs = ["crates:dep3"]']), L.ERR_LOCKFILE_UNKNOWN_DEPENDENCY, '[dependencies]."crates:dep".inputs[0]', 'inputs = ["crates:dep3"]'),
  l("edge listed twice", edit(lock, ['native-inputs = ["nixpkgs:rustc"]', 'native-inputs = ["nixpkgs:rustc", "nixpkgs:rustc"]']), L.ERR_LOCKFILE_DUPLICATE_EDGE, "[lock].native-inputs[1]", "native-inputs =", "twice"),
  l("dependency cycle", edit(lock, [ZLIB, `${ZLIB}\ninputs = ["nixpkgs:rustc"]`]), L.ERR_LOCKFILE_CYCLE, '[dependencies]."nixpkgs:rustc"', '[dependencies."nixpkgs:rustc"]', "nixpkgs:rustc -> nixpkgs:zlib -> nixpkgs:rustc"),
  l("unreachable entry", `${lock}\n[dependencies."npm:left-pad"]\nversion = "1.3.0"\nmeta = "${CID_A}"\nsrc = "${CID_A}"\n`, L.ERR_LOCKFILE_UNREACHABLE, '[dependencies]."npm:left-pad"', '[dependencies."npm:left-pad"]', "not reachable"),
  l("@version key with one version", edit(lock, ['"crates:dep2"]', '"crates:dep2@0.1.0"]'], ['[dependencies."crates:dep2"]', '[dependencies."crates:dep2@0.1.0"]']),
    L.ERR_LOCKFILE_INVALID_KEY, '[dependencies]."crates:dep2@0.1.0"', '[dependencies."crates:dep2@0.1.0"]', "only one version"),
  l("@version key disagrees with version", edit(lock, ['"crates:dep2"]', '"crates:dep2@0.1.1"]'], ['[dependencies."crates:dep2"]', '[dependencies."crates:dep2@0.1.1"]']),
    L.ERR_LOCKFILE_INVALID_KEY, '[dependencies]."crates:dep2@0.1.1".version', 'version = "0.1.0"'),
  l("two versions, one without @", `${edit(lock, ['inputs = ["crates:dep"]', 'inputs = ["crates:dep", "crates:dep@1.0.0"]'])}\n[dependencies."crates:dep@1.0.0"]\nversion = "1.0.0"\nmeta = "${CID_A}"\nsrc = "${CID_A}"\n`,
    L.ERR_LOCKFILE_INVALID_KEY, '[dependencies]."crates:dep"', '[dependencies."crates:dep"]', "several versions"),
  l("version not exact", edit(lock, ['version = "0.2.3"', 'version = "0.2"']), L.ERR_LOCKFILE_INVALID_VERSION, '[dependencies]."crates:dep".version', 'version = "0.2"'),
  l("unknown dependency field", edit(lock, ['version = "0.2.3"', 'version = "0.2.3"\nsha = "x"']), L.ERR_LOCKFILE_UNKNOWN_KEY, '[dependencies]."crates:dep".sha', "sha ="),
  l("seed-style string entry", edit(lock, ['[dependencies."crates:dep2"]\nversion = "0.1.0"', '[dependencies.other]\nversion = "0.1.0"'], ['[dependencies."crates:dep"]', `[dependencies]\n"crates:dep2" = "${CID_A}"\n\n[dependencies."crates:dep"]`]),
    L.ERR_LOCKFILE_INVALID_TYPE, '[dependencies]."crates:dep2"', '"crates:dep2" =', "expected a table"),
  l("dependency key not repo:name", edit(lock, ['[dependencies."nixpkgs:zlib"]', '[dependencies.zlib]']), L.ERR_LOCKFILE_INVALID_KEY, "[dependencies].zlib", "[dependencies.zlib]"),
  l("meta missing", edit(lock, ['meta = "bafkreidhqbte7bnbs6hgvqi4dpsrccyuixlzwsyeocxvyzfghgiriujw4u"\n', ""]), L.ERR_LOCKFILE_MISSING_FIELD, '[dependencies]."crates:dep".meta', '[dependencies."crates:dep"]'),
  l("bad TOML", edit(lock, ["block = 102", "block = = 102"]), L.ERR_LOCKFILE_TOML, null, "block = = 102"),

  // pkg.build.toml
  b("duplicate build names", edit(build, ['name = "windows"', 'name = "linux"']), B.ERR_BUILDFILE_DUPLICATE_NAME, "[[build]][1].name", 'name = "linux"', "already the name of [[build]][0]"),
  b("output not a CID", edit(build, ['output = "bafkreidwebu3yb5g4g256er2llt33eobbwvai2kpxkqx7oqm22unztupei"', 'output = "Qm123"']), B.ERR_BUILDFILE_INVALID_CID, "[[build]][1].output", 'output = "Qm123"'),
  b("system without a dash", edit(build, ['system = "x86_64-windows"', 'system = "windows"']), B.ERR_BUILDFILE_INVALID_SYSTEM, "[[build]][1].system", 'system = "windows"'),
  b("output missing", edit(build, ['output = "bafybeidwebu3yb5g4g256er2llt33eobbwvai2kpxkqx7oqm22unztupei"\n', ""]), B.ERR_BUILDFILE_MISSING_FIELD, "[[build]][0].output", "[[build]]"),
  b("[build] with one bracket", edit(build, ["[[build]]", "[build]"]).replace(/\n\[\[build\]\][^]*$/, "\n"), B.ERR_BUILDFILE_INVALID_TYPE, "[build]", "[build]", "[[build]]"),
  b("misspelt key", edit(build, ["system = \"x86_64-linux-musl\"", "sytem = \"x86_64-linux-musl\""]), B.ERR_BUILDFILE_UNKNOWN_KEY, "[[build]][0].sytem", "sytem =", "unknown key"),
  b("uppercase name", edit(build, ['name = "windows"', 'name = "Windows"']), B.ERR_BUILDFILE_INVALID_NAME, "[[build]][1].name", 'name = "Windows"'),
  b("subderivation twice", edit(build, ['"bafkreieuwzy4tnmsfhpqtamzmq7uqptovbwp3g7avxmw3up3auymu3xvzq",', '"bafkreie2cecbssbppfgfb4qp7enqomjtgignhc55kjakxbsmmsaiite2jm",']),
    B.ERR_BUILDFILE_INVALID_CID, "[[build]][0].subderivations[1]", '"bafkreie2cecbssbppfgfb4qp7enqomjtgignhc55kjakxbsmmsaiite2jm",', "twice"),
  b("args with a number", edit(build, ['args = ["build", "--features A,B"]', 'args = ["build", 2]']), B.ERR_BUILDFILE_INVALID_TYPE, "[[build]][0].args[1]", 'args = ["build", 2]'),
  b("unknown table", `[meta]\nx = 1\n${build}`, B.ERR_BUILDFILE_UNKNOWN_KEY, "[meta]", "[meta]"),
];

/** 1-based line of the first line containing `marker`; for a repeated marker, the last one. */
function lineOf(text: string, marker: string, last: boolean): number {
  const lines = text.split("\n");
  const index = last ? lines.map((x) => x.includes(marker)).lastIndexOf(true) : lines.findIndex((x) => x.includes(marker));
  expect(index, `marker ${JSON.stringify(marker)} in text`).to.be.at.least(0);
  return index + 1;
}

function thrown(fn: () => unknown): FileFormatError {
  try {
    fn();
  } catch (error) {
    if (error instanceof FileFormatError) return error;
    throw error;
  }
  return expect.fail("expected a FileFormatError") as never;
}

// Cases whose marker occurs more than once (an edit that duplicates a line) point at the later one.
const LAST_MARKER = new Set(["src listed twice", "duplicate key", "duplicate build names", "subderivation twice"]);

describe("malformed files", () => {
  it("has at least 40 file cases", () => {
    expect(fileCases.length).to.be.at.least(40);
  });

  for (const c of fileCases) {
    it(`${FILE_NAMES[c.format]}: ${c.title} → ${c.code}`, () => {
      const file = `some/dir/${FILE_NAMES[c.format]}`;
      const error = thrown(() => PARSERS[c.format](c.text, file));
      expect(error.code).to.equal(c.code);
      expect(error.message).not.to.contain("\n");
      const line = c.at === null ? undefined : lineOf(c.text, c.at, LAST_MARKER.has(c.title));
      expect(error.details.file).to.equal(file);
      expect(error.details.line, error.message).to.equal(line);
      const where = line === undefined ? file : `${file}:${line}`;
      if (c.field === null) {
        expect(error.message.startsWith(`${where}: invalid TOML: `), error.message).to.equal(true);
      } else {
        expect(error.details.field).to.equal(c.field);
        expect(error.message.startsWith(`${where}: ${c.field}: `), error.message).to.equal(true);
      }
      if (c.says !== undefined) expect(error.toLine()).to.contain(c.says);
      expect(error.hint, "every error says what to do").to.be.a("string").and.not.equal("");
    });
  }
});

interface IdCase {
  input: string;
  parse: "package" | "repository" | "key";
  code: string;
  field: string;
}

const idCases: IdCase[] = [
  { input: "crates", parse: "package", code: I.ERR_ID_SYNTAX, field: "id" },
  { input: "crates/", parse: "package", code: I.ERR_ID_SYNTAX, field: "name" },
  { input: "/hello", parse: "package", code: I.ERR_ID_SYNTAX, field: "repository" },
  { input: "crates/hello/x", parse: "package", code: I.ERR_ID_SYNTAX, field: "id" },
  { input: "crates/hello:", parse: "package", code: I.ERR_ID_SYNTAX, field: "version" },
  { input: "crates:/hello", parse: "package", code: I.ERR_ID_SYNTAX, field: "repository version" },
  { input: "crates/hello:1.0.0:2", parse: "package", code: I.ERR_ID_SYNTAX, field: "name" },
  { input: "crates/hello:1.0", parse: "package", code: I.ERR_ID_INVALID_VERSION, field: "version" },
  { input: "crates/hello:~1.0.0", parse: "package", code: I.ERR_ID_INVALID_VERSION, field: "version" },
  { input: "crates/hello:latest", parse: "package", code: I.ERR_ID_INVALID_VERSION, field: "version" },
  { input: "nixos:stable/rustc", parse: "package", code: I.ERR_ID_INVALID_VERSION, field: "repository version" },
  { input: "Crates/hello", parse: "package", code: I.ERR_ID_INVALID_NAME, field: "repository" },
  { input: "crates/he llo", parse: "package", code: I.ERR_ID_INVALID_NAME, field: "name" },
  { input: "crates/.hidden", parse: "package", code: I.ERR_ID_INVALID_NAME, field: "name" },
  { input: "crates/hello@1.0.0", parse: "package", code: I.ERR_ID_INVALID_NAME, field: "name" },
  { input: "nixos/rustc", parse: "repository", code: I.ERR_ID_SYNTAX, field: "id" },
  { input: "nixos:", parse: "repository", code: I.ERR_ID_SYNTAX, field: "repository version" },
  { input: "", parse: "repository", code: I.ERR_ID_SYNTAX, field: "repository" },
  { input: "crates", parse: "key", code: I.ERR_ID_SYNTAX, field: "key" },
  { input: "crates:dep:1.0.0", parse: "key", code: I.ERR_ID_SYNTAX, field: "key" },
  { input: "crates:", parse: "key", code: I.ERR_ID_INVALID_NAME, field: "name" },
];

const ID_PARSERS = { package: I.parsePackageSpec, repository: I.parseRepositorySpec, key: I.parsePackageKey };

describe("malformed ids", () => {
  for (const c of idCases) {
    it(`${c.parse} ${JSON.stringify(c.input)} → ${c.code} (${c.field})`, () => {
      let error: unknown;
      try {
        ID_PARSERS[c.parse](c.input);
      } catch (e) {
        error = e;
      }
      expect(error).to.be.instanceOf(I.IdError);
      const e = error as I.IdError;
      expect(e.code).to.equal(c.code);
      expect(e.details).to.deep.equal({ input: c.input, field: c.field });
      expect(e.message).to.match(new RegExp(`^invalid id "${c.input.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}": ${c.field} `));
      expect(e.message).not.to.contain("\n");
      expect(e.hint).to.be.a("string").and.not.equal("");
    });
  }
});
