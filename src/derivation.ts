/**
 * Derivations: what to build and from what, as one canonical value whose CID the store, the builders,
 * the meta packages and the compute layer all share. A derivation says nothing about how a build went
 * (that is the build file's and the compute layer's business); two machines that compute the same
 * derivation get the same bytes and so the same CID.
 *
 * ```ts
 * {
 *   format: 1,
 *   name: "hello-1.0.0",                               // a label, later part of store path names
 *   system: "x86_64-linux",
 *   builder: { kind: "input", input: "cargo", path: "bin/cargo" },   // $cargo/bin/cargo
 *   args: ["build"],
 *   env: {},
 *   src: CID(bafybei…),                                // the package's source tree
 *   inputSrcs: [CID(bafybei…)],                        // every source referenced (a set; holds src)
 *   inputDrvs: {
 *     cargo: { drv: CID(bafyrei…), kinds: ["meta-input"], output: "out" },
 *     dep:   { drv: CID(bafyrei…), kinds: ["input"], output: "out" },
 *   },
 *   outputs: { out: { kind: "input-addressed" } },
 *   package: { repository: "crates", name: "hello", version: "1.0.0", meta: CID(bafkrei…) },
 * }
 * ```
 *
 * Encoding: DAG-CBOR (codec 0x71), CIDv1 with sha2-256. Every CID is a real IPLD link (tag 42), so IPFS
 * tooling (and our own DAG walker: pin, has, CAR export) follows a derivation to its input derivations,
 * its sources and its package's pkg.toml. Pinning a derivation therefore keeps its whole closure.
 *
 * Decisions, and why:
 * - Canonical form: DAG-CBOR sorts map keys, so object key order never matters. Arrays whose order
 *   means nothing (`inputSrcs`, `kinds`) are sorted by {@link encodeDerivation} (UTF-8 order of the
 *   CID string / kind); duplicates are an error, not silently merged. `args` keeps its order. The
 *   decoder refuses any bytes that are not exactly what the encoder would write for the value they
 *   hold, so one derivation has one byte string and one CID.
 * - Every field is present (null where there is nothing): no "absent means default" case to disagree on.
 * - CIDs are CIDv1 only: CIDv0 (`Qm…`) and its CIDv1 name one block but would encode differently.
 * - `inputDrvs` is keyed by input NAME (the package name: `cargo`, `dep`), which is what `$name` means
 *   at build time — not by lock key. Lock keys depend on the rest of a lock (`repo:name@version` only
 *   when a lock holds two versions), so keying by them would give one build different CIDs in
 *   different locks. Two inputs with one name are an error where derivations are made (instantiate).
 * - One input listed in several tables (pkg.toml allows it: Nix's nativeBuildInputs + buildInputs)
 *   is one entry with several `kinds`, since it is one derivation used in several ways.
 * - `builder.input` names a key of `inputDrvs`; `{ kind: "source" }` is a file of `src`; `{ kind:
 *   "none" }` is a source-only package (most npm packages, crates used through cargo): realising it
 *   does not run anything, its `out` IS `src`, unchanged — so dependents get `$dep` as a path to its
 *   sources. It still lists its inputDrvs: a source-only crate's own dependencies are part of what a
 *   dependent needs, and its CID must change when they change.
 * - `src` is explicit even though `inputSrcs` holds it: later derivations reference more sources
 *   (patches, meta-rustc's recorded files), and the build needs to know which tree it runs in. `src`
 *   is null for derivations without one (an invocation recorded by a meta package may have none).
 * - `env` holds only what the derivation itself sets. The builder sets, at build time, `$out` (and
 *   one variable per output), `$name` for each input, HOME, PATH and TMPDIR, and owns the PKG_ prefix
 *   for anything it adds later; those names are refused here, so a stored derivation can never
 *   disagree with what the builder sets.
 * - `outputs`: `input-addressed` only for now (the output is found by this derivation's CID). The
 *   type is a tagged union so that `content-addressed` (and fixed outputs) can be added as variants;
 *   a reader that does not know a variant refuses it with ERR_DERIVATION_UNSUPPORTED, never guesses.
 *   Output names are environment variable names (`out`, `dev`, `lib`), since each becomes `$name`.
 * - `package` is provenance (which published version this is, by its pkg.toml's CID). It is part of the
 *   hash, as Nix's name is: two packages never share a derivation by accident. Null for derivations
 *   that come from no package (a rustc invocation recorded by meta-rustc).
 */
import { createHash } from "node:crypto";
import { arch, endianness, platform } from "node:os";
import * as dagCbor from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import { create as createDigest } from "multiformats/hashes/digest";
import { quoteValue } from "./files/name";
import { PkgError } from "./errors";
import { compareUtf8 } from "./files/order";
import { isWellFormedUnicode } from "./files/toml";
import { checkName, checkVersion } from "./ids";
import type { BlockStore, ReadOptions } from "./content/types";
import type { InputKind } from "./manifest";

/** The layout written by this code; a derivation with a larger number was written by a newer pkg. */
export const DERIVATION_FORMAT = 1;
/** Multicodec of DAG-CBOR, the codec of every derivation CID. */
export const DAG_CBOR_CODE = 0x71;
const SHA2_256_CODE = 0x12;

export const ERR_DERIVATION_DECODE = "ERR_DERIVATION_DECODE";
export const ERR_DERIVATION_NOT_CANONICAL = "ERR_DERIVATION_NOT_CANONICAL";
export const ERR_DERIVATION_INTEGRITY = "ERR_DERIVATION_INTEGRITY";
export const ERR_DERIVATION_UNSUPPORTED_FORMAT = "ERR_DERIVATION_UNSUPPORTED_FORMAT";
export const ERR_DERIVATION_UNSUPPORTED = "ERR_DERIVATION_UNSUPPORTED";
export const ERR_DERIVATION_MISSING_FIELD = "ERR_DERIVATION_MISSING_FIELD";
export const ERR_DERIVATION_EXTRA_FIELD = "ERR_DERIVATION_EXTRA_FIELD";
export const ERR_DERIVATION_INVALID_TYPE = "ERR_DERIVATION_INVALID_TYPE";
export const ERR_DERIVATION_INVALID_NAME = "ERR_DERIVATION_INVALID_NAME";
export const ERR_DERIVATION_INVALID_SYSTEM = "ERR_DERIVATION_INVALID_SYSTEM";
export const ERR_DERIVATION_INVALID_BUILDER = "ERR_DERIVATION_INVALID_BUILDER";
export const ERR_DERIVATION_INVALID_ARGS = "ERR_DERIVATION_INVALID_ARGS";
export const ERR_DERIVATION_INVALID_ENV = "ERR_DERIVATION_INVALID_ENV";
export const ERR_DERIVATION_INVALID_SRC = "ERR_DERIVATION_INVALID_SRC";
export const ERR_DERIVATION_INVALID_INPUT = "ERR_DERIVATION_INVALID_INPUT";
export const ERR_DERIVATION_INVALID_OUTPUT = "ERR_DERIVATION_INVALID_OUTPUT";
export const ERR_DERIVATION_INVALID_PACKAGE = "ERR_DERIVATION_INVALID_PACKAGE";

export type DerivationErrorCode =
  | typeof ERR_DERIVATION_DECODE
  | typeof ERR_DERIVATION_NOT_CANONICAL
  | typeof ERR_DERIVATION_INTEGRITY
  | typeof ERR_DERIVATION_UNSUPPORTED_FORMAT
  | typeof ERR_DERIVATION_UNSUPPORTED
  | typeof ERR_DERIVATION_MISSING_FIELD
  | typeof ERR_DERIVATION_EXTRA_FIELD
  | typeof ERR_DERIVATION_INVALID_TYPE
  | typeof ERR_DERIVATION_INVALID_NAME
  | typeof ERR_DERIVATION_INVALID_SYSTEM
  | typeof ERR_DERIVATION_INVALID_BUILDER
  | typeof ERR_DERIVATION_INVALID_ARGS
  | typeof ERR_DERIVATION_INVALID_ENV
  | typeof ERR_DERIVATION_INVALID_SRC
  | typeof ERR_DERIVATION_INVALID_INPUT
  | typeof ERR_DERIVATION_INVALID_OUTPUT
  | typeof ERR_DERIVATION_INVALID_PACKAGE;

/** The program a build runs. */
export type DerivationBuilder =
  /** `$cargo/bin/cargo`: `path` inside output `inputDrvs[input].output` of that input ("" = the output itself). */
  | { kind: "input"; input: string; path: string }
  /** `./build.sh`: a file of `src`. */
  | { kind: "source"; path: string }
  /** Nothing runs: the output `out` is `src`, unchanged (a source-only package). */
  | { kind: "none" };

/** One input derivation, as the build sees it under `$name`. */
export interface DerivationInput {
  /** CID of the input's derivation (DAG-CBOR, sha2-256). */
  drv: CID;
  /** How it is used; a set, sorted. Usually one kind. */
  kinds: InputKind[];
  /** Which output of the input's derivation `$name` points at. */
  output: string;
}

/**
 * How an output is addressed. Only `input-addressed` exists in format 1: the output is looked up by
 * the derivation's CID. Later variants: `content-addressed` (found by the output's own CID after the
 * build, so dependents can stop rebuilding when an input rebuilt to the same bytes) and fixed outputs.
 */
export type DerivationOutput = { kind: "input-addressed" };

/** Which published package version the derivation was made from. */
export interface DerivationPackage {
  repository: string;
  name: string;
  version: string;
  /** CID of the version's pkg.toml. */
  meta: CID;
}

export interface Derivation {
  format: typeof DERIVATION_FORMAT;
  /** A label for people and store path names: `hello-1.0.0`. */
  name: string;
  /** Nix system or target triple: `x86_64-linux`, `aarch64-darwin`, `x86_64-unknown-linux-musl`. */
  system: string;
  builder: DerivationBuilder;
  args: string[];
  /** Variables the derivation sets (not the builder's own: see the top of this file). */
  env: Record<string, string>;
  /** The tree the build runs in (and the output of `{ kind: "none" }`); null for none. */
  src: CID | null;
  /** Every source the derivation references, `src` included; a set, sorted. */
  inputSrcs: CID[];
  /** Input name (`$name`) → its derivation. */
  inputDrvs: Record<string, DerivationInput>;
  /** Output name → how it is addressed; always has `out`. */
  outputs: Record<string, DerivationOutput>;
  /** Provenance; null for derivations that come from no package. */
  package: DerivationPackage | null;
}

const INPUT_KINDS: readonly InputKind[] = ["input", "meta-input", "native-input"]; // sorted (UTF-8)
const TOP_FIELDS = ["format", "name", "system", "builder", "args", "env", "src", "inputSrcs", "inputDrvs", "outputs", "package"];
const BUILDER_FIELDS: Record<DerivationBuilder["kind"], string[]> = {
  input: ["kind", "input", "path"],
  source: ["kind", "path"],
  none: ["kind"],
};
const INPUT_FIELDS = ["drv", "kinds", "output"];
const PACKAGE_FIELDS = ["repository", "name", "version", "meta"];

// Nix's store-path name characters, no leading '.', at most 211 characters (Nix's limit).
const NAME = /^[A-Za-z0-9+\-_?=][A-Za-z0-9+\-._?=]{0,210}$/;
// x86_64-linux, aarch64-darwin, wasm32-wasi, x86_64-linux-musl, x86_64-unknown-linux-gnu (as the build file).
const SYSTEM = /^[a-z0-9_]+(-[a-z0-9_.]+){1,3}$/;
// Portable environment variable names (POSIX): what a shell can expand.
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// Output names become variables too ($out, $dev).
const OUTPUT_NAME = /^[a-z][a-z0-9_]{0,31}$/;
/** Set by the builder at build time, besides one variable per output and per input. */
export const BUILDER_ENV: readonly string[] = ["HOME", "PATH", "TMPDIR"];
/** Variable-name prefix the builder owns. */
export const BUILDER_ENV_PREFIX = "PKG_";

type Fail = (code: DerivationErrorCode, field: string, problem: string, hint?: string) => never;

function failer(where: string, cid?: CID): Fail {
  return (code, field, problem, hint) => {
    throw new PkgError(code, `${where}: ${field}: ${problem}`, {
      details: { field, ...(cid ? { cid: cid.toString() } : {}) },
      hint,
    });
  };
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (value instanceof Uint8Array) return "bytes";
  if (CID.asCID(value) !== null) return "a CID";
  return typeof value === "object" ? "a map" : `a ${typeof value}`;
}

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array) && CID.asCID(value) === null;
}

function map(fail: Fail, value: unknown, field: string): Record<string, unknown> {
  if (!isMap(value)) fail(ERR_DERIVATION_INVALID_TYPE, field, `expected a map, found ${describe(value)}`);
  return value;
}

/** Exactly these fields: none missing, none extra (a misspelt or newer field is never ignored). */
function fields(fail: Fail, value: Record<string, unknown>, field: string, allowed: readonly string[]): void {
  for (const key of allowed) {
    if (!Object.prototype.hasOwnProperty.call(value, key) || value[key] === undefined) {
      fail(ERR_DERIVATION_MISSING_FIELD, field === "" ? key : `${field}.${key}`, "is missing");
    }
  }
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      fail(ERR_DERIVATION_EXTRA_FIELD, field === "" ? key : `${field}.${key}`, "is not a derivation field", `a format-${DERIVATION_FORMAT} derivation has ${allowed.join(", ")}`);
    }
  }
}

function text(fail: Fail, value: unknown, field: string, code: DerivationErrorCode = ERR_DERIVATION_INVALID_TYPE): string {
  if (typeof value !== "string") fail(ERR_DERIVATION_INVALID_TYPE, field, `expected a string, found ${describe(value)}`);
  if (!isWellFormedUnicode(value)) fail(code, field, "contains an unpaired UTF-16 surrogate", "use valid Unicode text");
  if (value.includes("\u0000")) fail(code, field, "contains a NUL character", "program arguments and environment values cannot contain NUL");
  return value;
}

function list(fail: Fail, value: unknown, field: string): unknown[] {
  if (!Array.isArray(value)) fail(ERR_DERIVATION_INVALID_TYPE, field, `expected an array, found ${describe(value)}`);
  return value;
}

function cidV1(fail: Fail, value: unknown, field: string, code: DerivationErrorCode): CID {
  const cid = CID.asCID(value) as CID | null;
  if (cid === null) fail(ERR_DERIVATION_INVALID_TYPE, field, `expected a CID, found ${describe(value)}`);
  if ((cid.version as number) !== 1) fail(code, field, `${cid.toString()} is a CIDv0`, `use its CIDv1, ${cid.toV1().toString()}`);
  return cid;
}

function isDerivationCid(cid: CID): boolean {
  return cid.version === 1 && cid.code === DAG_CBOR_CODE && cid.multihash.code === SHA2_256_CODE && cid.multihash.size === 32;
}

/** A relative '/'-separated path inside a tree: no leading '/', no empty, '.' or '..' segment. */
function pathProblem(p: string): string | null {
  if (p.startsWith("/")) return "is absolute";
  if (p.includes("\\")) return "contains '\\'";
  if ([...p].some((c) => c.charCodeAt(0) < 0x20 || c === "\u007f")) return "contains a control character";
  const segments = p.split("/");
  if (segments.includes("")) return "has an empty segment";
  if (segments.includes(".") || segments.includes("..")) return "has a '.' or '..' segment";
  return null;
}

function checkBuilder(fail: Fail, value: unknown): DerivationBuilder {
  const b = map(fail, value, "builder");
  const kind = b.kind;
  if (typeof kind !== "string") fail(ERR_DERIVATION_INVALID_TYPE, "builder.kind", `expected a string, found ${describe(kind)}`);
  if (!Object.prototype.hasOwnProperty.call(BUILDER_FIELDS, kind)) {
    fail(ERR_DERIVATION_UNSUPPORTED, "builder.kind", `${quoteValue(String(kind))} is not a builder kind this pkg knows (input, source, none)`, "upgrade pkg");
  }
  const known = kind as DerivationBuilder["kind"];
  fields(fail, b, "builder", BUILDER_FIELDS[known]);
  switch (known) {
    case "input": {
      const input = text(fail, b.input, "builder.input", ERR_DERIVATION_INVALID_BUILDER);
      const path = text(fail, b.path, "builder.path", ERR_DERIVATION_INVALID_BUILDER);
      const problem = path === "" ? null : pathProblem(path);
      if (problem !== null) fail(ERR_DERIVATION_INVALID_BUILDER, "builder.path", `${quoteValue(String(path))} ${problem}`, "name a file inside the input's output");
      return { kind: "input", input, path };
    }
    case "source": {
      const path = text(fail, b.path, "builder.path", ERR_DERIVATION_INVALID_BUILDER);
      const problem = path === "" ? "is empty" : pathProblem(path);
      if (problem !== null) fail(ERR_DERIVATION_INVALID_BUILDER, "builder.path", `${quoteValue(String(path))} ${problem}`, "name a file of src");
      return { kind: "source", path };
    }
    case "none":
      return { kind: "none" };
  }
}

function checkInput(fail: Fail, value: unknown, field: string): DerivationInput {
  const entry = map(fail, value, field);
  fields(fail, entry, field, INPUT_FIELDS);
  const drv = cidV1(fail, entry.drv, `${field}.drv`, ERR_DERIVATION_INVALID_INPUT);
  if (!isDerivationCid(drv)) {
    fail(ERR_DERIVATION_INVALID_INPUT, `${field}.drv`, `${drv.toString()} is not a derivation CID (DAG-CBOR, sha2-256)`, "inputs are derivations: use derivationCid()");
  }
  const kinds = list(fail, entry.kinds, `${field}.kinds`).map((kind, i) => {
    if (typeof kind !== "string" || !INPUT_KINDS.includes(kind as InputKind)) {
      fail(ERR_DERIVATION_INVALID_INPUT, `${field}.kinds[${i}]`, `${quoteValue(String(kind))} is not an input kind`, `use ${INPUT_KINDS.join(", ")}`);
    }
    return kind as InputKind;
  });
  if (kinds.length === 0) fail(ERR_DERIVATION_INVALID_INPUT, `${field}.kinds`, "is empty", "an input is used in at least one way");
  if (new Set(kinds).size !== kinds.length) fail(ERR_DERIVATION_INVALID_INPUT, `${field}.kinds`, "lists a kind twice", "list each kind once");
  const output = text(fail, entry.output, `${field}.output`, ERR_DERIVATION_INVALID_INPUT);
  if (!OUTPUT_NAME.test(output)) fail(ERR_DERIVATION_INVALID_INPUT, `${field}.output`, `${quoteValue(String(output))} is not an output name`, 'usually "out"');
  return { drv, kinds: [...kinds].sort(compareUtf8), output };
}

function checkPackage(fail: Fail, value: unknown): DerivationPackage | null {
  if (value === null) return null;
  const p = map(fail, value, "package");
  fields(fail, p, "package", PACKAGE_FIELDS);
  const repository = text(fail, p.repository, "package.repository");
  const name = text(fail, p.name, "package.name");
  const version = text(fail, p.version, "package.version");
  for (const [field, v] of [["repository", repository], ["name", name]] as const) {
    const problem = checkName(v);
    if (problem !== null) fail(ERR_DERIVATION_INVALID_PACKAGE, `package.${field}`, `${quoteValue(String(v))} ${problem}`);
  }
  const versionProblem = checkVersion(version);
  if (versionProblem !== null) fail(ERR_DERIVATION_INVALID_PACKAGE, "package.version", `${quoteValue(String(version))} ${versionProblem}`);
  const meta = cidV1(fail, p.meta, "package.meta", ERR_DERIVATION_INVALID_PACKAGE);
  return { repository, name, version, meta };
}

/**
 * Checks a derivation field by field and returns its canonical form: sets sorted, fresh objects.
 * @param where how to name it in messages (`derivation`, `derivation bafyrei…`).
 * @throws PkgError ERR_DERIVATION_* naming the field.
 */
export function checkDerivation(value: unknown, where = "derivation", cid?: CID): Derivation {
  const fail = failer(where, cid);
  const d = map(fail, value, "(top level)");
  if (Object.prototype.hasOwnProperty.call(d, "format")) {
    const format = d.format;
    if (typeof format !== "number" || !Number.isSafeInteger(format) || format < 1) {
      fail(ERR_DERIVATION_INVALID_TYPE, "format", `expected a positive integer, found ${JSON.stringify(format) ?? describe(format)}`);
    }
    if (format !== DERIVATION_FORMAT) {
      fail(ERR_DERIVATION_UNSUPPORTED_FORMAT, "format", `format ${format} is not supported (this pkg reads format ${DERIVATION_FORMAT})`, "upgrade pkg");
    }
  }
  fields(fail, d, "", TOP_FIELDS);

  const name = text(fail, d.name, "name");
  if (!NAME.test(name)) {
    fail(ERR_DERIVATION_INVALID_NAME, "name", `${quoteValue(String(name))} is not a derivation name`, "1-211 characters of A-Z a-z 0-9 + - . _ ? =, not starting with '.'");
  }
  const system = text(fail, d.system, "system");
  if (!SYSTEM.test(system)) fail(ERR_DERIVATION_INVALID_SYSTEM, "system", `${quoteValue(String(system))} is not a system`, "write a Nix system or target triple, e.g. x86_64-linux");

  const outputsMap = map(fail, d.outputs, "outputs");
  const outputNames = Object.keys(outputsMap).sort(compareUtf8);
  const outputs: Record<string, DerivationOutput> = {};
  for (const out of outputNames) {
    const field = `outputs.${out}`;
    if (!OUTPUT_NAME.test(out)) fail(ERR_DERIVATION_INVALID_OUTPUT, field, `${quoteValue(String(out))} is not an output name`, "lowercase letters, digits and '_', starting with a letter");
    const spec = map(fail, outputsMap[out], field);
    if (typeof spec.kind !== "string") fail(ERR_DERIVATION_INVALID_TYPE, `${field}.kind`, `expected a string, found ${describe(spec.kind)}`);
    if (spec.kind !== "input-addressed") {
      fail(ERR_DERIVATION_UNSUPPORTED, `${field}.kind`, `${quoteValue(String(spec.kind))} is not an output kind this pkg knows (input-addressed)`, "upgrade pkg");
    }
    fields(fail, spec, field, ["kind"]);
    outputs[out] = { kind: "input-addressed" };
  }
  if (!outputNames.includes("out")) fail(ERR_DERIVATION_INVALID_OUTPUT, "outputs", "has no `out`", 'every derivation has an output called "out"');

  const inputsMap = map(fail, d.inputDrvs, "inputDrvs");
  const inputDrvs: Record<string, DerivationInput> = {};
  for (const input of Object.keys(inputsMap).sort(compareUtf8)) {
    const field = `inputDrvs.${input}`;
    const problem = checkName(input);
    if (problem !== null) fail(ERR_DERIVATION_INVALID_INPUT, field, `${quoteValue(String(input))} ${problem}`, "inputs are named by their package name");
    if (outputNames.includes(input)) {
      fail(ERR_DERIVATION_INVALID_INPUT, field, `${quoteValue(String(input))} is also an output name: $${input} cannot be both`, "rename the output, or the input cannot be used here");
    }
    inputDrvs[input] = checkInput(fail, inputsMap[input], field);
  }

  const builder = checkBuilder(fail, d.builder);
  const args = list(fail, d.args, "args").map((arg, i) => text(fail, arg, `args[${i}]`, ERR_DERIVATION_INVALID_ARGS));

  const envMap = map(fail, d.env, "env");
  const env: Record<string, string> = {};
  for (const key of Object.keys(envMap).sort(compareUtf8)) {
    const field = `env.${key}`;
    if (!ENV_NAME.test(key) || key === "__proto__") {
      fail(ERR_DERIVATION_INVALID_ENV, field, `${quoteValue(String(key))} is not a variable name`, "letters, digits and '_', not starting with a digit");
    }
    const reserved = BUILDER_ENV.includes(key) || key.startsWith(BUILDER_ENV_PREFIX)
      ? "is set by the builder"
      : outputNames.includes(key) ? "is an output's variable" : Object.prototype.hasOwnProperty.call(inputDrvs, key) ? "is an input's variable" : null;
    if (reserved !== null) fail(ERR_DERIVATION_INVALID_ENV, field, `${quoteValue(String(key))} ${reserved}`, "the builder sets it at build time; remove it");
    env[key] = text(fail, envMap[key], field, ERR_DERIVATION_INVALID_ENV);
  }

  const src = d.src === null ? null : cidV1(fail, d.src, "src", ERR_DERIVATION_INVALID_SRC);
  const inputSrcs = list(fail, d.inputSrcs, "inputSrcs").map((c, i) => cidV1(fail, c, `inputSrcs[${i}]`, ERR_DERIVATION_INVALID_SRC));
  const srcStrings = inputSrcs.map((c) => c.toString());
  const duplicate = srcStrings.find((s, i) => srcStrings.indexOf(s) !== i);
  if (duplicate !== undefined) fail(ERR_DERIVATION_INVALID_SRC, "inputSrcs", `${duplicate} is listed twice`, "list each source once");
  if (src !== null && !srcStrings.includes(src.toString())) {
    fail(ERR_DERIVATION_INVALID_SRC, "inputSrcs", `does not hold src ${src.toString()}`, "inputSrcs lists every source the derivation references, src included");
  }

  switch (builder.kind) {
    case "input":
      if (!Object.prototype.hasOwnProperty.call(inputDrvs, builder.input)) {
        fail(ERR_DERIVATION_INVALID_BUILDER, "builder.input", `${quoteValue(String(builder.input))} is not in inputDrvs`, "the builder runs a file of one of the derivation's inputs");
      }
      break;
    case "source":
      if (src === null) fail(ERR_DERIVATION_INVALID_BUILDER, "builder", "is a source file but src is null", "set src to the tree holding the builder");
      break;
    case "none":
      if (src === null) fail(ERR_DERIVATION_INVALID_BUILDER, "builder", 'is "none" but src is null', 'a "none" builder\'s output is its src');
      if (args.length > 0) fail(ERR_DERIVATION_INVALID_ARGS, "args", 'are set but the builder is "none"', "nothing runs: remove them");
      if (Object.keys(env).length > 0) fail(ERR_DERIVATION_INVALID_ENV, "env", 'is set but the builder is "none"', "nothing runs: remove it");
      if (outputNames.length !== 1) fail(ERR_DERIVATION_INVALID_OUTPUT, "outputs", 'has outputs besides `out` but the builder is "none"', "its only output is src");
      break;
  }

  return {
    format: DERIVATION_FORMAT,
    name,
    system,
    builder,
    args,
    env,
    src,
    inputSrcs: [...inputSrcs].sort((a, b) => compareUtf8(a.toString(), b.toString())),
    inputDrvs,
    outputs,
    package: checkPackage(fail, d.package),
  };
}

/**
 * The canonical DAG-CBOR bytes of a derivation: checked, sets sorted; the same derivation always gives
 * the same bytes, whatever order its object keys or set elements are in.
 * @throws PkgError ERR_DERIVATION_* when it is not a valid derivation.
 */
export function encodeDerivation(d: Derivation): Uint8Array {
  return dagCbor.encode(checkDerivation(d));
}

/** The CID of DAG-CBOR bytes: CIDv1, codec dag-cbor, sha2-256. */
export function dagCborCid(bytes: Uint8Array): CID {
  const digest = createHash("sha256").update(bytes).digest();
  return CID.createV1(DAG_CBOR_CODE, createDigest(SHA2_256_CODE, new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength)));
}

/** The derivation's CID: CIDv1, dag-cbor (0x71), sha2-256 of {@link encodeDerivation}. */
export function derivationCid(d: Derivation): CID {
  return dagCborCid(encodeDerivation(d));
}

/**
 * Reads a derivation from its bytes: DAG-CBOR, canonical, every field valid, nothing extra. With `cid`,
 * the bytes must also be that CID's (a derivation CID whose sha2-256 matches).
 * @throws PkgError ERR_DERIVATION_INTEGRITY, ERR_DERIVATION_DECODE, ERR_DERIVATION_NOT_CANONICAL, or
 *   any error of {@link checkDerivation}.
 */
export function decodeDerivation(bytes: Uint8Array, cid?: CID): Derivation {
  const where = cid ? `derivation ${cid.toString()}` : "derivation";
  if (cid !== undefined) {
    if (!isDerivationCid(cid)) {
      throw new PkgError(ERR_DERIVATION_INTEGRITY, `${cid.toString()} is not a derivation CID (CIDv1, DAG-CBOR, sha2-256)`, {
        details: { cid: cid.toString(), codec: cid.code, hash: cid.multihash.code },
        hint: "derivation CIDs start with bafyrei",
      });
    }
    const actual = dagCborCid(bytes).toString();
    if (actual !== cid.toString()) {
      throw new PkgError(ERR_DERIVATION_INTEGRITY, `${where}: the bytes do not hash to the CID`, {
        details: { cid: cid.toString(), actual },
        hint: "the block is corrupt or is another one; fetch it again",
      });
    }
  }
  let value: unknown;
  try {
    value = dagCbor.decode(bytes);
  } catch (cause) {
    throw new PkgError(ERR_DERIVATION_DECODE, `${where}: not DAG-CBOR: ${(cause as Error).message}`, {
      details: cid ? { cid: cid.toString() } : {},
      hint: "derivations are DAG-CBOR blocks written by encodeDerivation",
      cause,
    });
  }
  const derivation = checkDerivation(value, where, cid);
  const canonical = dagCbor.encode(derivation);
  if (Buffer.compare(Buffer.from(canonical), Buffer.from(bytes)) !== 0) {
    throw new PkgError(ERR_DERIVATION_NOT_CANONICAL, `${where}: valid, but not in canonical form (unsorted sets or map keys)`, {
      details: cid ? { cid: cid.toString(), canonical: dagCborCid(canonical).toString() } : { canonical: dagCborCid(canonical).toString() },
      hint: "one derivation has one encoding: write it with encodeDerivation",
    });
  }
  return derivation;
}

/** Stores a derivation as one block; returns its CID and bytes. Does not pin. */
export async function writeDerivation(blocks: Pick<BlockStore, "putBlock">, d: Derivation): Promise<{ cid: CID; bytes: Uint8Array }> {
  const bytes = encodeDerivation(d);
  const cid = dagCborCid(bytes);
  await blocks.putBlock(cid, bytes);
  return { cid, bytes };
}

/** Reads a derivation by CID from a block store (verified there, and decoded and checked here). */
export async function readDerivation(blocks: Pick<BlockStore, "getBlock">, cid: CID, options?: ReadOptions): Promise<Derivation> {
  return decodeDerivation(await blocks.getBlock(cid, options), cid);
}

const ARCHES: Record<string, string> = { x64: "x86_64", arm64: "aarch64", ia32: "i686", arm: "armv7l", riscv64: "riscv64", s390x: "s390x", loong64: "loongarch64" };
const PLATFORMS: Record<string, string> = { linux: "linux", darwin: "darwin", freebsd: "freebsd", openbsd: "openbsd", netbsd: "netbsd", win32: "windows" };

/** This machine's system in Nix's spelling: `x86_64-linux`, `aarch64-darwin`. */
export function currentSystem(): string {
  const a = arch();
  const cpu = a === "ppc64" ? (endianness() === "LE" ? "powerpc64le" : "powerpc64") : (ARCHES[a] ?? a);
  return `${cpu}-${PLATFORMS[platform()] ?? platform()}`;
}

/** A derivation that runs nothing: its `out` is the tree `src` itself (a source-only package, a recorded tool version). */
export function sourceOnlyDerivation(name: string, src: CID, system: string = currentSystem()): Derivation {
  return {
    format: DERIVATION_FORMAT,
    name,
    system,
    builder: { kind: "none" },
    args: [],
    env: {},
    src,
    inputSrcs: [src],
    inputDrvs: {},
    outputs: { out: { kind: "input-addressed" } },
    package: null,
  };
}
