/**
 * TOML in and out for pkg.toml, pkg.lock and pkg.build.toml.
 *
 * Reading goes through smol-toml (a complete TOML 1.0 parser). Writing does not: the three files
 * are written by hand here so that key order, quoting and array layout are fixed by this code and
 * not by a library version — a lock file that changes layout on `npm update` makes noisy diffs.
 */
import { parse, TomlError, type TomlTable } from "smol-toml";
import type { ErrorCode } from "../errors/codes";
import { FileFormatError } from "../errors/files";

export type { TomlTable, TomlValue } from "smol-toml";

export interface ParseTomlOptions {
  /**
   * Accept `repo:name = ...` with the key unquoted, as the seed writes pkg.toml. TOML bare keys
   * are [A-Za-z0-9_-] only, so standard TOML needs `"repo:name" = ...`. We read the seed's form in
   * hand-written manifests and always write the quoted form (see {@link tomlKey}).
   */
  bareColonKeys?: boolean;
}

// A `repo:name` key at the start of a line, unquoted, followed by `=`.
const BARE_COLON_KEY = /^(\s*)([a-z0-9][a-z0-9._-]*:[a-z0-9][a-z0-9._-]*)(\s*=)/;

/**
 * Parses TOML text; a syntax error becomes a FileFormatError `file:line: invalid TOML: ...`.
 * Integers beyond 2^53 come back as bigint so that callers can reject them instead of silently
 * losing digits.
 */
export function parseToml(text: string, file: string, code: ErrorCode, options: ParseTomlOptions = {}): TomlTable {
  // A UTF-8 byte order mark (some Windows editors add one) is not part of the document.
  let source = text.startsWith("\uFEFF") ? text.slice(1) : text;
  // Each retry quotes exactly the key the parser stopped at, so a line inside a multi-line string
  // is never touched: the parser would not have stopped there. Bounded by the number of lines.
  for (let attempt = 0; ; attempt++) {
    try {
      return parse(source, { integersAsBigInt: "asNeeded" });
    } catch (error) {
      if (!(error instanceof TomlError)) throw error;
      if (options.bareColonKeys === true && attempt < 10_000) {
        const lines = source.split("\n");
        const match = BARE_COLON_KEY.exec(lines[error.line - 1] ?? "");
        if (match !== null && /illegal character in key/.test(error.message)) {
          lines[error.line - 1] = lines[error.line - 1].replace(BARE_COLON_KEY, `$1"$2"$3`);
          source = lines.join("\n");
          continue;
        }
      }
      const reason = error.message.split("\n")[0].replace(/^Invalid TOML document: /, "");
      throw new FileFormatError(
        code,
        `${file}:${error.line}: invalid TOML: ${reason}`,
        { file, line: error.line, column: error.column },
        "fix the TOML syntax on that line; see https://toml.io",
        error,
      );
    }
  }
}

/** A TOML basic string. Escapes what TOML requires (", \, control characters, DEL); keeps Unicode. */
export function tomlString(value: string): string {
  let out = '"';
  for (const ch of value) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\b") out += "\\b";
    else if (ch === "\f") out += "\\f";
    else if (code < 0x20 || code === 0x7f) out += `\\u${code.toString(16).toUpperCase().padStart(4, "0")}`;
    else out += ch;
  }
  return `${out}"`;
}

/** A key: bare when TOML allows it, quoted otherwise (`"crates:dep"`). */
export function tomlKey(key: string): string {
  return /^[A-Za-z0-9_-]+$/.test(key) ? key : tomlString(key);
}

/**
 * `key = [...]`: one element per line, with a trailing comma (as Cargo.lock), so that adding an
 * element is a one-line diff. With `layout: "fit"`, short arrays stay on one line (`args`).
 */
export function tomlStringArray(key: string, values: readonly string[], layout: "lines" | "fit" = "lines"): string {
  const items = values.map(tomlString);
  const oneLine = `${tomlKey(key)} = [${items.join(", ")}]`;
  if (items.length <= 1 || (layout === "fit" && oneLine.length <= 80)) return oneLine;
  return `${tomlKey(key)} = [\n${items.map((item) => `  ${item},\n`).join("")}]`;
}

/** True when the string can be written as UTF-8 (no unpaired surrogate halves). */
export function isWellFormedUnicode(value: string): boolean {
  return !/\p{Surrogate}/u.test(value);
}
