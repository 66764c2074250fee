/**
 * pkg.build.toml, the build file: what building a package produced, per build configuration.
 *
 * ```toml
 * [[build]]
 * name = "linux"
 * package = "bafkrei..."          # CID of the package's pkg.toml
 * lock = "bafkrei..."             # CID of the pkg.lock it was built with
 * args = ["build", "--features A,B"]
 * metadrv = "bafyrei..."          # the top-level derivation
 * subderivations = ["bafyrei...", "bafyrei..."]
 * output = "bafybei..."           # CID of the output tree
 * system = "x86_64-linux-musl"
 *
 * [[build]]
 * name = "windows"
 * ...
 * ```
 *
 * Decisions, and why:
 * - Builds keep the order they are written in (a file usually grows by appending a target);
 *   `subderivations` is a set (the derivations meta packages recorded; their dependencies are in
 *   the derivations themselves), so it is sorted and must not repeat.
 * - Names follow the package-name rule and are unique: `pkg build <name>` selects by name.
 * - `system` is a Nix system (`x86_64-linux`) or a target triple (`x86_64-unknown-linux-musl`):
 *   2 to 4 dash-separated parts; the shape is checked, not a list, so new targets need no release.
 */
import { FileFormatError } from "./errors/files";
import { writeFileAtomic } from "./files/atomic";
import { checkCid } from "./files/cid";
import { checkTextSize, MAX_BUILDFILE_BYTES, type SizeLimit } from "./files/limits";
import { readTextFileOrNull } from "./files/read";
import {
  checkKeys,
  fail,
  isTable,
  optionalStringArray,
  requiredString,
  typeName,
  type FieldContext,
} from "./files/fields";
import type { FieldPath } from "./files/locate";
import { quoteValue } from "./files/name";
import { compareUtf8 } from "./files/order";
import { isWellFormedUnicode, parseToml, tomlString, tomlStringArray } from "./files/toml";
import { checkName, nameHint } from "./ids";

export { FileFormatError, type FileErrorDetails } from "./errors/files";

export const BUILDFILE_FILE_NAME = "pkg.build.toml";

export const ERR_BUILDFILE_TOML = "ERR_BUILDFILE_TOML";
export const ERR_BUILDFILE_NOT_FOUND = "ERR_BUILDFILE_NOT_FOUND";
export const ERR_BUILDFILE_MISSING_FIELD = "ERR_BUILDFILE_MISSING_FIELD";
export const ERR_BUILDFILE_UNKNOWN_KEY = "ERR_BUILDFILE_UNKNOWN_KEY";
export const ERR_BUILDFILE_INVALID_TYPE = "ERR_BUILDFILE_INVALID_TYPE";
export const ERR_BUILDFILE_INVALID_NAME = "ERR_BUILDFILE_INVALID_NAME";
export const ERR_BUILDFILE_DUPLICATE_NAME = "ERR_BUILDFILE_DUPLICATE_NAME";
export const ERR_BUILDFILE_INVALID_CID = "ERR_BUILDFILE_INVALID_CID";
export const ERR_BUILDFILE_INVALID_ARGS = "ERR_BUILDFILE_INVALID_ARGS";
export const ERR_BUILDFILE_INVALID_SYSTEM = "ERR_BUILDFILE_INVALID_SYSTEM";
export const ERR_BUILDFILE_TOO_LARGE = "ERR_BUILDFILE_TOO_LARGE";

export type BuildfileErrorCode =
  | typeof ERR_BUILDFILE_TOML
  | typeof ERR_BUILDFILE_NOT_FOUND
  | typeof ERR_BUILDFILE_MISSING_FIELD
  | typeof ERR_BUILDFILE_UNKNOWN_KEY
  | typeof ERR_BUILDFILE_INVALID_TYPE
  | typeof ERR_BUILDFILE_INVALID_NAME
  | typeof ERR_BUILDFILE_DUPLICATE_NAME
  | typeof ERR_BUILDFILE_INVALID_CID
  | typeof ERR_BUILDFILE_INVALID_ARGS
  | typeof ERR_BUILDFILE_INVALID_SYSTEM
  | typeof ERR_BUILDFILE_TOO_LARGE;

/** One build of a package: its inputs by CID, what it ran, and what it produced. */
export interface BuildRecord {
  name: string;
  /** CID of the package's pkg.toml. */
  package: string;
  /** CID of the pkg.lock used. */
  lock: string;
  args: string[];
  /** CID of the top-level derivation. */
  metadrv: string;
  /** CIDs of the derivations recorded by meta packages during the build; sorted, unique. */
  subderivations: string[];
  /** CID of the output tree. */
  output: string;
  system: string;
}

export interface Buildfile {
  builds: BuildRecord[];
}

const BUILD_KEYS = ["name", "package", "lock", "args", "metadrv", "subderivations", "output", "system"];
const CID_FIELDS = ["package", "lock", "metadrv", "output"] as const;
const CODES = {
  missing: ERR_BUILDFILE_MISSING_FIELD,
  unknownKey: ERR_BUILDFILE_UNKNOWN_KEY,
  type: ERR_BUILDFILE_INVALID_TYPE,
  tooLarge: ERR_BUILDFILE_TOO_LARGE,
} as const;

/** pkg.build.toml as a whole (README: Limits): only absurd sizes are refused. */
export const BUILDFILE_LIMIT: SizeLimit = {
  max: MAX_BUILDFILE_BYTES,
  code: ERR_BUILDFILE_TOO_LARGE,
  what: "a build file",
  hint: "run `pkg build` to write it again",
};

// x86_64-linux, aarch64-darwin, wasm32-wasi, x86_64-linux-musl, x86_64-unknown-linux-gnu.
const SYSTEM = /^[a-z0-9_]+(-[a-z0-9_.]+){1,3}$/;

function checkCidField(ctx: FieldContext, at: FieldPath, value: string): void {
  const problem = checkCid(value);
  if (problem !== null) {
    fail(ctx, ERR_BUILDFILE_INVALID_CID, at, `${quoteValue(value)} ${problem.problem}`,
      problem.canonical !== null ? `write ${problem.canonical}` : "run `pkg build` to regenerate the build file");
  }
}

function checkBuildfile(ctx: FieldContext, file: Buildfile): void {
  const names = new Map<string, number>();
  file.builds.forEach((build, i) => {
    const at = ["build", i];
    const nameProblem = checkName(build.name);
    if (nameProblem !== null) fail(ctx, ERR_BUILDFILE_INVALID_NAME, [...at, "name"], `${quoteValue(build.name)} ${nameProblem}`, nameHint(build.name));
    const first = names.get(build.name);
    if (first !== undefined) {
      fail(ctx, ERR_BUILDFILE_DUPLICATE_NAME, [...at, "name"], `${quoteValue(build.name)} is already the name of [[build]][${first}]`, "give each build its own name");
    }
    names.set(build.name, i);
    for (const field of CID_FIELDS) checkCidField(ctx, [...at, field], build[field]);
    const seen = new Set<string>();
    build.subderivations.forEach((cid, j) => {
      checkCidField(ctx, [...at, "subderivations", j], cid);
      if (seen.has(cid)) fail(ctx, ERR_BUILDFILE_INVALID_CID, [...at, "subderivations", j], `${quoteValue(cid)} is listed twice`, "remove one");
      seen.add(cid);
    });
    build.args.forEach((arg, j) => {
      if (!isWellFormedUnicode(arg) || arg.includes("\u0000")) {
        fail(ctx, ERR_BUILDFILE_INVALID_ARGS, [...at, "args", j], "contains a NUL or an unpaired surrogate", "program arguments must be valid text without NUL");
      }
    });
    if (!SYSTEM.test(build.system)) {
      fail(ctx, ERR_BUILDFILE_INVALID_SYSTEM, [...at, "system"], `${quoteValue(build.system)} is not a system`,
        "write a Nix system or target triple, e.g. x86_64-linux or aarch64-apple-darwin");
    }
  });
}

/**
 * Parses and validates pkg.build.toml text.
 * @throws FileFormatError with an ERR_BUILDFILE_* code; the message is `file:line: field: problem`.
 */
export function parseBuildfile(text: string, file: string = BUILDFILE_FILE_NAME): Buildfile {
  checkTextSize(text, file, BUILDFILE_LIMIT);
  const ctx: FieldContext = { file, text, codes: CODES };
  const doc = parseToml(text, file, ERR_BUILDFILE_TOML);
  checkKeys(ctx, doc, [], ["build"]);
  const list = doc.build ?? [];
  if (!Array.isArray(list)) {
    fail(ctx, ERR_BUILDFILE_INVALID_TYPE, ["build"], `expected an array of tables, found ${typeName(list)}`, "write each build as [[build]], with two brackets");
  }
  const builds = list.map((entry, i): BuildRecord => {
    const at = ["build", i];
    if (!isTable(entry)) fail(ctx, ERR_BUILDFILE_INVALID_TYPE, at, `expected a table, found ${typeName(entry)}`, "write each build as [[build]]");
    checkKeys(ctx, entry, at, BUILD_KEYS);
    return {
      name: requiredString(ctx, entry, at, "name"),
      package: requiredString(ctx, entry, at, "package"),
      lock: requiredString(ctx, entry, at, "lock"),
      args: optionalStringArray(ctx, entry, at, "args") ?? [],
      metadrv: requiredString(ctx, entry, at, "metadrv"),
      subderivations: (optionalStringArray(ctx, entry, at, "subderivations") ?? []).sort(compareUtf8),
      output: requiredString(ctx, entry, at, "output"),
      system: requiredString(ctx, entry, at, "system"),
    };
  });
  const buildfile = { builds };
  checkBuildfile(ctx, buildfile);
  return buildfile;
}

/**
 * Renders builds as pkg.build.toml text: builds in the given order, fields in a fixed order,
 * `args` and `subderivations` always written (an empty list is information too).
 * @throws FileFormatError when a build is invalid; nothing is half-written.
 */
export function serializeBuildfile(buildfile: Buildfile, file: string = BUILDFILE_FILE_NAME): string {
  checkBuildfile({ file, text: null, codes: CODES }, buildfile);
  const blocks = buildfile.builds.map((b) =>
    [
      "[[build]]",
      `name = ${tomlString(b.name)}`,
      `package = ${tomlString(b.package)}`,
      `lock = ${tomlString(b.lock)}`,
      tomlStringArray("args", b.args, "fit"),
      `metadrv = ${tomlString(b.metadrv)}`,
      tomlStringArray("subderivations", [...b.subderivations].sort(compareUtf8)),
      `output = ${tomlString(b.output)}`,
      `system = ${tomlString(b.system)}`,
    ].join("\n"),
  );
  return ["# pkg.build.toml: written by `pkg build`.", ...blocks].join("\n\n") + "\n";
}

/** The build called `name`, or undefined. */
export function findBuild(buildfile: Buildfile, name: string): BuildRecord | undefined {
  return buildfile.builds.find((b) => b.name === name);
}

/** Reads a pkg.build.toml. @throws FileFormatError ERR_BUILDFILE_NOT_FOUND, or any error of {@link parseBuildfile}. */
export async function readBuildfile(file: string): Promise<Buildfile> {
  const text = await readTextFileOrNull(file, BUILDFILE_LIMIT);
  if (text === null) throw new FileFormatError(ERR_BUILDFILE_NOT_FOUND, `${file}: no such file`, { file }, "run `pkg build` first");
  return parseBuildfile(text, file);
}

/** Writes a build file atomically; an invalid one throws before any file is touched. */
export async function writeBuildfile(file: string, buildfile: Buildfile): Promise<void> {
  await writeFileAtomic(file, serializeBuildfile(buildfile, file));
}
