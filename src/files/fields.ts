/**
 * Typed access to a parsed TOML table, with errors that name the file, the line and the field.
 * Shared by manifest.ts, lockfile.ts and buildfile.ts; each passes its own error codes so that a
 * caller can tell a bad lock file from a bad manifest by code alone.
 */
import type { ErrorCode } from "../errors/codes";
import { FileFormatError } from "../errors/files";
import { lengthProblem, MAX_STRING_BYTES } from "./limits";
import { locateLine, type FieldPath } from "./locate";
import { quoteValue } from "./name";
import type { TomlTable, TomlValue } from "./toml";

/** The error codes one file format uses for problems every format has. */
export interface FormatCodes {
  /** A required key or table is absent. */
  missing: ErrorCode;
  /** A key nobody reads: a typo, or a field from a newer format. */
  unknownKey: ErrorCode;
  /** A value of the wrong TOML type (a number where a string belongs, ...). */
  type: ErrorCode;
  /** A string over its size limit (default: {@link FormatCodes.type}). */
  tooLarge?: ErrorCode;
}

/** What a reader needs to report errors: the file name to print, and the text to find lines in. */
export interface FieldContext {
  file: string;
  /** The TOML text, or null when the object did not come from text (serializing). */
  text: string | null;
  codes: FormatCodes;
  /** The limit in bytes of every string read through this module (default {@link MAX_STRING_BYTES}). */
  maxString?: number;
}

/** A key as it appears in a field path: bare when short and plain, else quoted, escaped and cut (keys come from files). */
function formatSegment(segment: string): string {
  return segment.length <= 64 && /^[A-Za-z0-9_-]+$/.test(segment) ? segment : quoteValue(segment);
}

/**
 * `[package].version`, `[package].src[2]`, `[dependencies]."crates:dep".meta`, `[[build]][1].output`. Always one
 * short line: a key with a newline or of a megabyte is quoted escaped and cut (see {@link quoteValue}).
 */
export function formatField(path: FieldPath): string {
  if (path.length === 0) return "(top level)";
  const head = formatSegment(String(path[0]));
  let out = typeof path[1] === "number" ? `[[${head}]][${path[1]}]` : `[${head}]`;
  for (const segment of path.slice(typeof path[1] === "number" ? 2 : 1)) {
    out += typeof segment === "number" ? `[${segment}]` : `.${formatSegment(segment)}`;
  }
  return out;
}

/** Builds (does not throw) the error for `path`: `file:line: field: problem`, hint apart. */
export function fieldError(ctx: FieldContext, code: ErrorCode, path: FieldPath, problem: string, hint?: string): FileFormatError {
  const line = ctx.text === null ? undefined : locateLine(ctx.text, path);
  const field = formatField(path);
  const where = line === undefined ? ctx.file : `${ctx.file}:${line}`;
  return new FileFormatError(code, `${where}: ${field}: ${problem}`, { file: ctx.file, line, field }, hint);
}

export function fail(ctx: FieldContext, code: ErrorCode, path: FieldPath, problem: string, hint?: string): never {
  throw fieldError(ctx, code, path, problem, hint);
}

/** The TOML type name of a value, for "expected a string, found an integer". */
export function typeName(value: unknown): string {
  if (typeof value === "string") return "a string";
  if (typeof value === "number") return Number.isInteger(value) ? "an integer" : "a float";
  if (typeof value === "bigint") return "an integer";
  if (typeof value === "boolean") return "a boolean";
  if (Array.isArray(value)) return "an array";
  if (value instanceof Date) return "a date";
  if (value !== null && typeof value === "object") return "a table";
  return typeof value;
}

export function isTable(value: unknown): value is TomlTable {
  return value !== null && typeof value === "object" && !Array.isArray(value) && !(value instanceof Date);
}

/** Rejects keys outside `allowed`, suggesting the closest allowed key (Cargo warns the same way). */
export function checkKeys(ctx: FieldContext, table: TomlTable, path: FieldPath, allowed: readonly string[]): void {
  for (const key of Object.keys(table)) {
    if (allowed.includes(key)) continue;
    const guess = key.length <= 64 ? closest(key, allowed) : null;
    const hint = guess !== null ? `did you mean \`${guess}\`?` : `known keys: ${allowed.join(", ")}`;
    fail(ctx, ctx.codes.unknownKey, [...path, key], isTable(table[key]) ? "unknown table" : "unknown key", hint);
  }
}

function closest(key: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = Math.max(2, Math.floor(key.length / 3)) + 1;
  for (const candidate of candidates) {
    const d = editDistance(key.toLowerCase(), candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

function present(table: TomlTable, key: string): TomlValue | undefined {
  return Object.prototype.hasOwnProperty.call(table, key) ? table[key] : undefined;
}

export function optionalTable(ctx: FieldContext, table: TomlTable, path: FieldPath, key: string): TomlTable | undefined {
  const value = present(table, key);
  if (value === undefined) return undefined;
  if (!isTable(value)) fail(ctx, ctx.codes.type, [...path, key], `expected a table, found ${typeName(value)}`, `write it as a table: [${key}]`);
  return value;
}

export function requiredTable(ctx: FieldContext, table: TomlTable, path: FieldPath, key: string): TomlTable {
  const value = optionalTable(ctx, table, path, key);
  if (value === undefined) fail(ctx, ctx.codes.missing, [...path, key], "missing table", `add a [${key}] table`);
  return value;
}

/**
 * Refuses a string over the context's limit (every string field has one: a file from the chain or the content
 * store may be hostile). The message quotes a short, escaped prefix of the value and says its length.
 */
export function checkStringLength(ctx: FieldContext, at: FieldPath, value: string, max = ctx.maxString ?? MAX_STRING_BYTES): string {
  const problem = lengthProblem(value, max);
  if (problem !== null) fail(ctx, ctx.codes.tooLarge ?? ctx.codes.type, at, problem, "see the README's Limits: no real file needs a longer one");
  return value;
}

export function optionalString(ctx: FieldContext, table: TomlTable, path: FieldPath, key: string): string | undefined {
  const value = present(table, key);
  if (value === undefined) return undefined;
  if (typeof value !== "string") {
    fail(ctx, ctx.codes.type, [...path, key], `expected a string, found ${typeName(value)}`, `quote the value: ${key} = "..."`);
  }
  return checkStringLength(ctx, [...path, key], value);
}

export function requiredString(ctx: FieldContext, table: TomlTable, path: FieldPath, key: string): string {
  const value = optionalString(ctx, table, path, key);
  if (value === undefined) fail(ctx, ctx.codes.missing, [...path, key], "missing", `add ${key} = "..."`);
  return value;
}

export function optionalStringArray(ctx: FieldContext, table: TomlTable, path: FieldPath, key: string): string[] | undefined {
  const value = present(table, key);
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) {
    fail(ctx, ctx.codes.type, [...path, key], `expected an array of strings, found ${typeName(value)}`, `write ${key} = ["...", "..."]`);
  }
  return value.map((item, i) => {
    if (typeof item !== "string") fail(ctx, ctx.codes.type, [...path, key, i], `expected a string, found ${typeName(item)}`, "quote every element");
    return checkStringLength(ctx, [...path, key, i], item);
  });
}

export function requiredStringArray(ctx: FieldContext, table: TomlTable, path: FieldPath, key: string): string[] {
  const value = optionalStringArray(ctx, table, path, key);
  if (value === undefined) fail(ctx, ctx.codes.missing, [...path, key], "missing", `add ${key} = [...]`);
  return value;
}

/** A non-negative integer that fits a JS number exactly (block numbers, chain ids). */
export function requiredSafeInteger(ctx: FieldContext, table: TomlTable, path: FieldPath, key: string, min: number): number {
  const value = present(table, key);
  if (value === undefined) fail(ctx, ctx.codes.missing, [...path, key], "missing", `add ${key} = <integer>`);
  if (typeof value === "bigint" || (typeof value === "number" && Number.isInteger(value) && !Number.isSafeInteger(value))) {
    fail(ctx, ctx.codes.type, [...path, key], `${String(value)} is too large (at most ${Number.MAX_SAFE_INTEGER})`, "run the command that writes this file again");
  }
  if (typeof value !== "number" || !Number.isInteger(value)) {
    fail(ctx, ctx.codes.type, [...path, key], `expected an integer, found ${typeName(value)}`, `write a whole number without quotes: ${key} = ${min}`);
  }
  if (value < min) fail(ctx, ctx.codes.type, [...path, key], `${value} is below ${min}`, `write a whole number >= ${min}`);
  return value;
}
