/**
 * pkg.toml, the package file: what a package is (`[package]`) and what it is built from
 * (`[meta-inputs]`, `[native-inputs]`, `[inputs]`).
 *
 * ```toml
 * [package]
 * repository = "crates"
 * name = "hello"
 * version = "1.0.0"
 * license = "ISC"
 * src = ["Cargo.toml", "src/**\/*.rs"]
 * builder = "$cargo/bin/cargo"
 * args = ["build"]
 *
 * [meta-inputs]
 * "nixpkgs:cargo" = "*"
 *
 * [native-inputs]
 * "nixpkgs:rustc" = ">=1.36"
 *
 * [inputs]
 * "crates:dep" = "0.2"
 * ```
 *
 * Decisions, and why:
 * - Keys are quoted when written: TOML bare keys cannot contain ':'. The seed's unquoted
 *   `nixpkgs:cargo = "*"` is still read (see files/toml.ts), so hand-written files keep working.
 * - Ranges use node-semver's grammar (`semver.validRange`), as npm does. Note for Cargo users: a
 *   bare `1.2` means `1.2.x` here, not Cargo's `^1.2`; the crates mirror translates requirements.
 * - `builder` is either `$name/path/in/input` — `name` must be the package name of exactly one
 *   declared input of any kind (the build sees it as `$name`) — or `./path` to a file shipped in
 *   `src` (a build script). A bare `build.sh` is rejected: builds have no PATH to search.
 *   No builder: a source-only package (its output is its `src`, as most npm packages); `args`
 *   then must be empty.
 * - The same `repo:name` may appear in several input tables (Nix lists a package in both
 *   nativeBuildInputs and buildInputs when cross compiling); a package may not be its own input.
 * - Unknown keys are errors, not warnings: a misspelt `native-input` table would otherwise drop a
 *   dependency silently from an immutable published version.
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { CID } from "multiformats/cid";
import * as semver from "semver";
import { FileFormatError } from "./errors/files";
import { writeFileAtomic } from "./files/atomic";
import {
  checkKeys,
  checkStringLength,
  fail,
  isTable,
  optionalStringArray,
  optionalString,
  optionalTable,
  requiredString,
  requiredStringArray,
  requiredTable,
  typeName,
  type FieldContext,
} from "./files/fields";
import {
  checkTextSize,
  collectBytes,
  MAX_LICENSE_BYTES,
  MAX_MANIFEST_BYTES,
  MAX_PATH_BYTES,
  MAX_RANGE_BYTES,
  MAX_STRING_BYTES,
  type SizeLimit,
} from "./files/limits";
import type { FieldPath } from "./files/locate";
import { quoteValue } from "./files/name";
import { orNull, readTextFileOrNull } from "./files/read";
import { compareUtf8 } from "./files/order";
import { checkSourcePattern, expandSourcePatterns } from "./files/sources";
import { isSpdxProblem, parseSpdxExpression } from "./files/spdx";
import { isWellFormedUnicode, parseToml, tomlKey, tomlString, tomlStringArray, type TomlTable } from "./files/toml";
import { checkName, checkVersion, nameHint, versionHint } from "./ids";

export { FileFormatError, type FileErrorDetails } from "./errors/files";

export const MANIFEST_FILE_NAME = "pkg.toml";

export const ERR_MANIFEST_TOML = "ERR_MANIFEST_TOML";
export const ERR_MANIFEST_NOT_FOUND = "ERR_MANIFEST_NOT_FOUND";
export const ERR_MANIFEST_MISSING_FIELD = "ERR_MANIFEST_MISSING_FIELD";
export const ERR_MANIFEST_UNKNOWN_KEY = "ERR_MANIFEST_UNKNOWN_KEY";
export const ERR_MANIFEST_INVALID_TYPE = "ERR_MANIFEST_INVALID_TYPE";
export const ERR_MANIFEST_INVALID_NAME = "ERR_MANIFEST_INVALID_NAME";
export const ERR_MANIFEST_INVALID_VERSION = "ERR_MANIFEST_INVALID_VERSION";
export const ERR_MANIFEST_INVALID_LICENSE = "ERR_MANIFEST_INVALID_LICENSE";
export const ERR_MANIFEST_INVALID_SRC = "ERR_MANIFEST_INVALID_SRC";
export const ERR_MANIFEST_INVALID_BUILDER = "ERR_MANIFEST_INVALID_BUILDER";
export const ERR_MANIFEST_INVALID_ARGS = "ERR_MANIFEST_INVALID_ARGS";
export const ERR_MANIFEST_INVALID_INPUT = "ERR_MANIFEST_INVALID_INPUT";
export const ERR_MANIFEST_INVALID_RANGE = "ERR_MANIFEST_INVALID_RANGE";
export const ERR_MANIFEST_SRC_NOT_FOUND = "ERR_MANIFEST_SRC_NOT_FOUND";
export const ERR_MANIFEST_SRC_NO_MATCH = "ERR_MANIFEST_SRC_NO_MATCH";
export const ERR_MANIFEST_SRC_OUTSIDE = "ERR_MANIFEST_SRC_OUTSIDE";
export const ERR_MANIFEST_SRC_LOOP = "ERR_MANIFEST_SRC_LOOP";
export const ERR_MANIFEST_SRC_UNSUPPORTED = "ERR_MANIFEST_SRC_UNSUPPORTED";
export const ERR_MANIFEST_TOO_LARGE = "ERR_MANIFEST_TOO_LARGE";

export type ManifestErrorCode =
  | typeof ERR_MANIFEST_TOML
  | typeof ERR_MANIFEST_NOT_FOUND
  | typeof ERR_MANIFEST_MISSING_FIELD
  | typeof ERR_MANIFEST_UNKNOWN_KEY
  | typeof ERR_MANIFEST_INVALID_TYPE
  | typeof ERR_MANIFEST_INVALID_NAME
  | typeof ERR_MANIFEST_INVALID_VERSION
  | typeof ERR_MANIFEST_INVALID_LICENSE
  | typeof ERR_MANIFEST_INVALID_SRC
  | typeof ERR_MANIFEST_INVALID_BUILDER
  | typeof ERR_MANIFEST_INVALID_ARGS
  | typeof ERR_MANIFEST_INVALID_INPUT
  | typeof ERR_MANIFEST_INVALID_RANGE
  | typeof ERR_MANIFEST_SRC_NOT_FOUND
  | typeof ERR_MANIFEST_SRC_NO_MATCH
  | typeof ERR_MANIFEST_SRC_OUTSIDE
  | typeof ERR_MANIFEST_SRC_LOOP
  | typeof ERR_MANIFEST_SRC_UNSUPPORTED
  | typeof ERR_MANIFEST_TOO_LARGE;

/** How an input is used, as in Nix: linked into the output, run at build time, or a tool shim. */
export type InputKind = "input" | "native-input" | "meta-input";

/** The input tables in the order they are written, with the kind each declares. */
export const INPUT_TABLES: readonly { table: string; kind: InputKind; field: "metaInputs" | "nativeInputs" | "inputs" }[] = [
  { table: "meta-inputs", kind: "meta-input", field: "metaInputs" },
  { table: "native-inputs", kind: "native-input", field: "nativeInputs" },
  { table: "inputs", kind: "input", field: "inputs" },
];

/** `"repo:name"` → semver range, e.g. `{ "crates:dep": "0.2" }`. */
export type InputRanges = Record<string, string>;

/** The program a build runs. */
export type Builder =
  /** `$cargo/bin/cargo`: `path` inside the output of the input whose package name is `input`. */
  | { kind: "input"; input: string; path: string }
  /** `./build.sh`: a file of the package's own `src`. */
  | { kind: "source"; path: string };

export interface Manifest {
  repository: string;
  name: string;
  /** Exact semver. */
  version: string;
  /** SPDX license expression. */
  license: string;
  /** Files, directories and globs relative to the package directory, as written. */
  src: string[];
  /** Null for a source-only package. */
  builder: Builder | null;
  args: string[];
  metaInputs: InputRanges;
  nativeInputs: InputRanges;
  inputs: InputRanges;
  /** Where a version published through the gateway came from (absent for pkg's own packages). */
  origin?: ManifestOrigin;
}

/**
 * `[origin]`: the registry artifact a version was published as — the npm tarball or the .crate, byte-identical,
 * by CID — so the gateway serves it back with the digests the client computed when it published.
 */
export interface ManifestOrigin {
  registry: "npm" | "crates";
  /** The name in that registry (`@scope/name`). */
  name: string;
  /** CID of the artifact's bytes. */
  artifact: string;
  /** npm: `dist.integrity` (SRI) and `dist.shasum` of the artifact; crates: the sha256 `cksum`. */
  integrity?: string;
  shasum?: string;
  /** CID of what the registry's index says of the version, verbatim (crates: the index line). */
  metadata?: string;
}

const ORIGIN_KEYS = ["registry", "name", "artifact", "integrity", "shasum", "metadata"];
const ORIGIN_REGISTRIES = ["npm", "crates"];

/** One declared input, for resolvers: `listInputs` flattens the three tables. */
export interface ManifestInput {
  key: string;
  repository: string;
  name: string;
  kind: InputKind;
  range: string;
}

const PACKAGE_KEYS = ["repository", "name", "version", "license", "src", "builder", "args"];
const TOP_KEYS = ["package", ...INPUT_TABLES.map((t) => t.table), "origin"];

const CODES = {
  missing: ERR_MANIFEST_MISSING_FIELD,
  unknownKey: ERR_MANIFEST_UNKNOWN_KEY,
  type: ERR_MANIFEST_INVALID_TYPE,
  tooLarge: ERR_MANIFEST_TOO_LARGE,
} as const;

/** pkg.toml as a whole, as written and as published (README: Limits). */
export const MANIFEST_LIMIT: SizeLimit = {
  max: MAX_MANIFEST_BYTES,
  code: ERR_MANIFEST_TOO_LARGE,
  what: "a pkg.toml",
  hint: "a package file is a few hundred bytes: list sources with globs (src = [\"src/**\"]), not file by file",
};

/** Names people bring from Cargo, npm and Nix for the tables and keys above. */
const FAMILIAR: Record<string, string> = {
  dependencies: "inputs",
  "build-dependencies": "native-inputs",
  buildInputs: "inputs",
  nativeBuildInputs: "native-inputs",
  "build-inputs": "inputs",
  "native-input": "native-inputs",
  "meta-input": "meta-inputs",
  input: "inputs",
  include: "src",
  files: "src",
  sources: "src",
};

function checkKnownKeys(ctx: FieldContext, table: TomlTable, at: FieldPath, allowed: readonly string[]): void {
  for (const key of Object.keys(table)) {
    const familiar = FAMILIAR[key];
    if (!allowed.includes(key) && familiar !== undefined && allowed.includes(familiar)) {
      fail(ctx, ERR_MANIFEST_UNKNOWN_KEY, [...at, key], isTable(table[key]) ? "unknown table" : "unknown key", `pkg.toml calls it \`${familiar}\``);
    }
  }
  checkKeys(ctx, table, at, allowed);
}

/** Parses a builder string: `$name[/path]` or `./path`. */
export function parseBuilder(text: string): Builder | { problem: string; hint: string } {
  const usage = 'write "$input/path", e.g. "$cargo/bin/cargo", or "./path/in/src", e.g. "./build.sh"';
  const inside = "a builder path stays inside its input or the package: no '..', no leading or doubled '/'";
  if (text.startsWith("${")) return { problem: "uses ${...}", hint: `drop the braces; ${usage}` };
  if (text.startsWith("$")) {
    const slash = text.indexOf("/");
    const input = slash < 0 ? text.slice(1) : text.slice(1, slash);
    const problem = checkName(input);
    if (problem !== null) return { problem: `names input ${quoteValue(input)}, which ${problem}`, hint: nameHint(input) };
    if (slash < 0) return { kind: "input", input, path: "" };
    const rest = text.slice(slash + 1);
    const pathProblem = checkPlainPath(rest);
    if (pathProblem !== null) return { problem: `path ${quoteValue(rest)} ${pathProblem.problem}`, hint: inside };
    return { kind: "input", input, path: rest };
  }
  if (text.startsWith("./")) {
    const rest = text.slice(2);
    const pathProblem = checkPlainPath(rest);
    if (pathProblem !== null) return { problem: `path ${quoteValue(rest)} ${pathProblem.problem}`, hint: inside };
    return { kind: "source", path: rest };
  }
  if (text.startsWith("/")) return { problem: "is an absolute path", hint: `builds see only their inputs; ${usage}` };
  return { problem: "is neither an input path nor a ./ path", hint: usage };
}

export function formatBuilder(builder: Builder): string {
  switch (builder.kind) {
    case "input":
      return builder.path === "" ? `$${builder.input}` : `$${builder.input}/${builder.path}`;
    case "source":
      return `./${builder.path}`;
  }
}

/** A relative path without globs (builder paths). */
function checkPlainPath(p: string): { problem: string; hint: string } | null {
  if (/[*?]/.test(p)) return { problem: "contains a wildcard", hint: "name one file" };
  return checkSourcePattern(p);
}

function checkedString(ctx: FieldContext, at: FieldPath, value: string): string {
  if (!isWellFormedUnicode(value)) fail(ctx, ERR_MANIFEST_INVALID_TYPE, at, "contains an unpaired UTF-16 surrogate", "use valid Unicode text");
  return value;
}

/**
 * The size limits of every field (README: Limits), checked before anything else looks at a value: the other
 * checks, and their messages, only ever see short strings. Names and versions have the registry's own limits
 * (64 bytes), checked with their shape.
 */
function checkSizes(ctx: FieldContext, m: Manifest): void {
  checkStringLength(ctx, ["package", "license"], m.license, MAX_LICENSE_BYTES);
  m.src.forEach((pattern, i) => checkStringLength(ctx, ["package", "src", i], pattern, MAX_PATH_BYTES));
  if (m.builder !== null) checkStringLength(ctx, ["package", "builder"], formatBuilder(m.builder), MAX_PATH_BYTES);
  m.args.forEach((arg, i) => checkStringLength(ctx, ["package", "args", i], arg, MAX_STRING_BYTES));
  for (const { table, field } of INPUT_TABLES) {
    for (const [key, range] of Object.entries(m[field])) checkStringLength(ctx, [table, key], range, MAX_RANGE_BYTES);
  }
}

/** Semantic checks shared by parse (with text, for line numbers) and serialize (without). */
function checkManifest(ctx: FieldContext, m: Manifest): void {
  checkSizes(ctx, m);
  if (m.origin !== undefined) checkOrigin(ctx, m.origin);
  for (const field of ["repository", "name"] as const) {
    const problem = checkName(m[field]);
    if (problem !== null) fail(ctx, ERR_MANIFEST_INVALID_NAME, ["package", field], `${quoteValue(m[field])} ${problem}`, nameHint(m[field]));
  }
  const versionProblem = checkVersion(m.version);
  if (versionProblem !== null) {
    fail(ctx, ERR_MANIFEST_INVALID_VERSION, ["package", "version"], `${quoteValue(m.version)} ${versionProblem}`, versionHint(m.version));
  }
  const license = parseSpdxExpression(m.license);
  if (isSpdxProblem(license)) {
    fail(ctx, ERR_MANIFEST_INVALID_LICENSE, ["package", "license"], `${quoteValue(m.license)} ${license.problem}`, license.hint);
  }

  const seen = new Set<string>();
  m.src.forEach((pattern, i) => {
    checkedString(ctx, ["package", "src", i], pattern);
    const problem = checkSourcePattern(pattern);
    if (problem !== null) fail(ctx, ERR_MANIFEST_INVALID_SRC, ["package", "src", i], `${quoteValue(pattern)} ${problem.problem}`, problem.hint);
    if (seen.has(pattern)) fail(ctx, ERR_MANIFEST_INVALID_SRC, ["package", "src", i], `${quoteValue(pattern)} is listed twice`, "remove one");
    seen.add(pattern);
  });

  m.args.forEach((arg, i) => {
    checkedString(ctx, ["package", "args", i], arg);
    if (arg.includes("\u0000")) fail(ctx, ERR_MANIFEST_INVALID_ARGS, ["package", "args", i], "contains a NUL character", "program arguments cannot contain NUL");
  });
  if (m.builder === null && m.args.length > 0) {
    fail(ctx, ERR_MANIFEST_INVALID_ARGS, ["package", "args"], "is set but there is no builder", 'add builder = "..." or remove args');
  }

  const self = `${m.repository}:${m.name}`;
  const names = new Map<string, Set<string>>(); // package name → keys with that name
  for (const { table, field } of INPUT_TABLES) {
    for (const [key, range] of Object.entries(m[field])) {
      const at = [table, key];
      const pieces = key.split(":");
      if (pieces.length !== 2) {
        const hint = key.includes("/") && key.length <= 129 ? `write ${quoteValue(key.replace("/", ":"))}` : 'write "repo:name", e.g. "crates:dep"';
        fail(ctx, ERR_MANIFEST_INVALID_INPUT, at, `key ${quoteValue(key)} is not repo:name`, hint);
      }
      for (const part of pieces) {
        const problem = checkName(part);
        if (problem !== null) fail(ctx, ERR_MANIFEST_INVALID_INPUT, at, `key ${quoteValue(key)}: ${quoteValue(part)} ${problem}`, nameHint(part));
      }
      if (key === self) fail(ctx, ERR_MANIFEST_INVALID_INPUT, at, "a package cannot be its own input", "remove it");
      checkedString(ctx, at, range);
      if (range.trim() === "") fail(ctx, ERR_MANIFEST_INVALID_RANGE, at, "the version range is empty", 'write "*" for any version');
      if (semver.validRange(range) === null) {
        fail(ctx, ERR_MANIFEST_INVALID_RANGE, at, `${quoteValue(range)} is not a semver range`, 'write a range such as "^1.2.3", "~0.2", ">=1.36" or "*"');
      }
      const name = pieces[1];
      names.set(name, (names.get(name) ?? new Set()).add(key));
    }
  }

  if (m.builder !== null) {
    const text = formatBuilder(m.builder);
    const parsed = parseBuilder(text);
    if ("problem" in parsed) fail(ctx, ERR_MANIFEST_INVALID_BUILDER, ["package", "builder"], `${quoteValue(text)} ${parsed.problem}`, parsed.hint);
    if (m.builder.kind === "input") {
      const keys = [...(names.get(m.builder.input) ?? [])];
      if (keys.length === 0) {
        fail(ctx, ERR_MANIFEST_INVALID_BUILDER, ["package", "builder"], `${quoteValue(text)} names $${m.builder.input}, which is not an input`,
          `declare it, e.g. [native-inputs] "nixpkgs:${m.builder.input}" = "*"`);
      }
      if (keys.length > 1) {
        fail(ctx, ERR_MANIFEST_INVALID_BUILDER, ["package", "builder"], `${quoteValue(text)}: $${m.builder.input} is ambiguous (${keys.sort().join(", ")})`,
          "keep one input with that name, or use a ./ build script that picks one");
      }
    }
  }
}

function readOrigin(ctx: FieldContext, doc: TomlTable): ManifestOrigin | undefined {
  const t = optionalTable(ctx, doc, [], "origin");
  if (t === undefined) return undefined;
  checkKeys(ctx, t, ["origin"], ORIGIN_KEYS);
  const at = ["origin"];
  const origin: ManifestOrigin = {
    registry: requiredString(ctx, t, at, "registry") as ManifestOrigin["registry"],
    name: requiredString(ctx, t, at, "name"),
    artifact: requiredString(ctx, t, at, "artifact"),
  };
  const integrity = optionalString(ctx, t, at, "integrity");
  const shasum = optionalString(ctx, t, at, "shasum");
  const metadata = optionalString(ctx, t, at, "metadata");
  if (integrity !== undefined) origin.integrity = integrity;
  if (shasum !== undefined) origin.shasum = shasum;
  if (metadata !== undefined) origin.metadata = metadata;
  return origin;
}

function checkOrigin(ctx: FieldContext, origin: ManifestOrigin): void {
  if (!ORIGIN_REGISTRIES.includes(origin.registry)) {
    fail(ctx, ERR_MANIFEST_INVALID_TYPE, ["origin", "registry"], `${quoteValue(String(origin.registry))} is not one of ${ORIGIN_REGISTRIES.join(", ")}`, 'write "npm" or "crates"');
  }
  checkStringLength(ctx, ["origin", "name"], origin.name, 214);
  if (!/^[\x21-\x7e]+$/.test(origin.name)) fail(ctx, ERR_MANIFEST_INVALID_TYPE, ["origin", "name"], `${quoteValue(origin.name)} is not a registry name`, "write the name as the registry spells it");
  for (const field of ["artifact", "metadata"] as const) {
    const value = origin[field];
    if (value === undefined) continue;
    checkStringLength(ctx, ["origin", field], value, 128);
    let canonical = false;
    try {
      canonical = CID.parse(value).toString() === value;
    } catch {
      canonical = false;
    }
    if (!canonical) fail(ctx, ERR_MANIFEST_INVALID_TYPE, ["origin", field], `${quoteValue(value)} is not a CIDv1 in base32`, "write the CID as the content store prints it");
  }
  for (const field of ["integrity", "shasum"] as const) {
    const value = origin[field];
    if (value !== undefined) {
      checkStringLength(ctx, ["origin", field], value, 512);
      if (!/^[A-Za-z0-9+/=.:? -]*$/.test(value)) fail(ctx, ERR_MANIFEST_INVALID_TYPE, ["origin", field], "is not a digest", "write the digest the registry gave");
    }
  }
}

function readInputs(ctx: FieldContext, doc: TomlTable, table: string): InputRanges {
  const t = optionalTable(ctx, doc, [], table);
  if (t === undefined) return {};
  const entries = Object.entries(t).map(([key, value]): [string, string] => {
    if (typeof value !== "string") {
      const hint = value !== null && typeof value === "object" && !Array.isArray(value) && !key.includes(":")
        ? `quote the key: ${quoteValue(`${key}:${Object.keys(value)[0] ?? "name"}`)} = "..."` // `crates.dep = ...` is a dotted key
        : 'write "repo:name" = "<semver range>"';
      fail(ctx, ERR_MANIFEST_INVALID_TYPE, [table, key], `expected a version range string, found ${typeName(value)}`, hint);
    }
    return [key, checkStringLength(ctx, [table, key], value, MAX_RANGE_BYTES)];
  });
  return Object.fromEntries(entries.sort(([a], [b]) => compareUtf8(a, b)));
}

/**
 * Parses and validates pkg.toml text.
 * @param file the name to print in errors (`pkg.toml`, or a path).
 * @throws FileFormatError with an ERR_MANIFEST_* code; the message is `file:line: field: problem`.
 */
export function parseManifest(text: string, file: string = MANIFEST_FILE_NAME): Manifest {
  checkTextSize(text, file, MANIFEST_LIMIT);
  const ctx: FieldContext = { file, text, codes: CODES };
  const doc = parseToml(text, file, ERR_MANIFEST_TOML, { bareColonKeys: true });
  checkKnownKeys(ctx, doc, [], TOP_KEYS);
  const pkg = requiredTable(ctx, doc, [], "package");
  checkKnownKeys(ctx, pkg, ["package"], PACKAGE_KEYS);
  const at = ["package"];
  const fields = {
    repository: requiredString(ctx, pkg, at, "repository"),
    name: requiredString(ctx, pkg, at, "name"),
    version: requiredString(ctx, pkg, at, "version"),
    license: requiredString(ctx, pkg, at, "license"),
    src: requiredStringArray(ctx, pkg, at, "src"),
  };
  const builderText = optionalString(ctx, pkg, at, "builder");
  let builder: Builder | null = null;
  if (builderText !== undefined) {
    checkStringLength(ctx, ["package", "builder"], builderText, MAX_PATH_BYTES);
    const parsed = parseBuilder(builderText);
    if ("problem" in parsed) fail(ctx, ERR_MANIFEST_INVALID_BUILDER, ["package", "builder"], `${quoteValue(builderText)} ${parsed.problem}`, parsed.hint);
    builder = parsed;
  }
  const manifest: Manifest = {
    ...fields,
    builder,
    args: optionalStringArray(ctx, pkg, at, "args") ?? [],
    metaInputs: readInputs(ctx, doc, "meta-inputs"),
    nativeInputs: readInputs(ctx, doc, "native-inputs"),
    inputs: readInputs(ctx, doc, "inputs"),
  };
  const origin = readOrigin(ctx, doc);
  if (origin !== undefined) manifest.origin = origin;
  checkManifest(ctx, manifest);
  return manifest;
}

/**
 * Renders a manifest as pkg.toml text: fixed key order, inputs sorted, keys quoted, one `src`
 * entry per line. The same object always gives the same bytes.
 * @throws FileFormatError when the object is not a valid manifest (nothing is half-written).
 */
export function serializeManifest(m: Manifest, file: string = MANIFEST_FILE_NAME): string {
  checkManifest({ file, text: null, codes: CODES }, m);
  const lines = [
    "[package]",
    `repository = ${tomlString(m.repository)}`,
    `name = ${tomlString(m.name)}`,
    `version = ${tomlString(m.version)}`,
    `license = ${tomlString(m.license)}`,
    tomlStringArray("src", m.src),
  ];
  if (m.builder !== null) lines.push(`builder = ${tomlString(formatBuilder(m.builder))}`);
  if (m.args.length > 0) lines.push(tomlStringArray("args", m.args, "fit"));
  for (const { table, field } of INPUT_TABLES) {
    const entries = Object.entries(m[field]).sort(([a], [b]) => compareUtf8(a, b));
    if (entries.length === 0) continue;
    lines.push("", `[${table}]`, ...entries.map(([key, range]) => `${tomlKey(key)} = ${tomlString(range)}`));
  }
  if (m.origin !== undefined) {
    lines.push("", "[origin]");
    for (const key of ORIGIN_KEYS) {
      const value = m.origin[key as keyof ManifestOrigin];
      if (value !== undefined) lines.push(`${key} = ${tomlString(value)}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

/** All inputs of all kinds, in table order then key order. */
export function listInputs(m: Manifest): ManifestInput[] {
  return INPUT_TABLES.flatMap(({ kind, field }) =>
    Object.entries(m[field])
      .sort(([a], [b]) => compareUtf8(a, b))
      .map(([key, range]) => {
        const [repository, name] = key.split(":");
        return { key, repository, name, kind, range };
      }),
  );
}

/**
 * Reads a pkg.toml. `file` may also be a package directory, in which case its pkg.toml is read.
 * @throws FileFormatError ERR_MANIFEST_NOT_FOUND, or any error of {@link parseManifest}.
 */
export async function readManifest(file: string): Promise<Manifest> {
  return (await readManifestFile(file)).manifest;
}

/** {@link readManifest}, with the text it parsed (what `pkg publish` and instantiation put into the content store). */
export async function readManifestFile(file: string): Promise<{ manifest: Manifest; text: string }> {
  const target = (await orNull(fs.stat(file)))?.isDirectory() ? path.join(file, MANIFEST_FILE_NAME) : file;
  const text = await readTextFileOrNull(target, MANIFEST_LIMIT);
  if (text === null) {
    throw new FileFormatError(ERR_MANIFEST_NOT_FOUND, `${target}: no such file`, { file: target }, "run the command in a package directory, or pass a package id");
  }
  return { manifest: parseManifest(text, target), text };
}

/**
 * Reads and parses a published pkg.toml (a version's meta) from the bytes the content store gives: reading
 * stops, and ERR_MANIFEST_TOO_LARGE is thrown, as soon as more than {@link MAX_MANIFEST_BYTES} arrive, so
 * a hostile meta costs at most that much memory. `file` names it in errors, e.g. `crates:hello@1.0.0 (meta bafk…)`.
 */
export async function readPublishedManifest(chunks: AsyncIterable<Uint8Array>, file: string): Promise<Manifest> {
  return parseManifest((await collectBytes(chunks, file, MANIFEST_LIMIT)).toString("utf8"), file);
}

/** Writes a manifest atomically; an invalid manifest throws before any file is touched. */
export async function writeManifest(file: string, m: Manifest): Promise<void> {
  await writeFileAtomic(file, serializeManifest(m, file));
}

/**
 * Expands `src` under the package directory `dir` to the files that make up the package.
 * @returns sorted '/'-separated paths relative to `dir`.
 * @throws FileFormatError ERR_MANIFEST_SRC_NOT_FOUND (a literal path, or a broken symlink),
 *   ERR_MANIFEST_SRC_NO_MATCH (a glob matched nothing), ERR_MANIFEST_SRC_OUTSIDE (a path or
 *   symlink whose real path leaves `dir`), ERR_MANIFEST_SRC_LOOP, ERR_MANIFEST_SRC_UNSUPPORTED
 *   (not a file or directory), ERR_MANIFEST_INVALID_BUILDER (a `./` builder not among the files).
 */
export async function resolveSources(m: Manifest, dir: string): Promise<string[]> {
  const ctx: FieldContext = { file: path.join(dir, MANIFEST_FILE_NAME), text: null, codes: CODES };
  // Patterns are re-checked: the object may not come from parseManifest.
  m.src.forEach((pattern, i) => {
    const problem = checkSourcePattern(pattern);
    if (problem !== null) fail(ctx, ERR_MANIFEST_INVALID_SRC, ["package", "src", i], `${quoteValue(pattern)} ${problem.problem}`, problem.hint);
  });
  const result = await expandSourcePatterns(dir, m.src);
  switch (result.kind) {
    case "files":
      break;
    case "not-found":
      return fail(ctx, ERR_MANIFEST_SRC_NOT_FOUND, ["package", "src", result.index], `${quoteValue(result.pattern)} does not exist`,
        "create it or remove it from src");
    case "no-match":
      return fail(ctx, ERR_MANIFEST_SRC_NO_MATCH, ["package", "src", result.index], `${quoteValue(result.pattern)} matches no files`,
        "fix the pattern or remove it (wildcards skip names starting with '.')");
    case "outside":
      return fail(ctx, ERR_MANIFEST_SRC_OUTSIDE, ["package", "src", result.index],
        `${quoteValue(result.path)} resolves to ${JSON.stringify(result.target)}, outside the package directory`, "copy the file into the package instead of linking it");
    case "loop":
      return fail(ctx, ERR_MANIFEST_SRC_LOOP, ["package", "src", result.index], `${quoteValue(result.path)} is a symlink loop`, "remove the link");
    case "unsupported":
      return fail(ctx, ERR_MANIFEST_SRC_UNSUPPORTED, ["package", "src", result.index],
        `${quoteValue(result.path)} is not a regular file or directory`, "packages hold files, directories and symlinks to them");
  }
  if (m.builder?.kind === "source" && !result.files.includes(m.builder.path)) {
    fail(ctx, ERR_MANIFEST_INVALID_BUILDER, ["package", "builder"], `${quoteValue(`./${m.builder.path}`)} is not among the src files`,
      `add ${quoteValue(m.builder.path)} to src: the build only sees published files`);
  }
  return result.files;
}
