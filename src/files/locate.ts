/**
 * Finds the line of a key in TOML text, so that a semantic error ("not a semver version") can point
 * at `pkg.toml:7` the way a syntax error from the TOML parser does.
 *
 * smol-toml returns plain objects without positions, so this is a second, small scanner over text
 * the real parser has already accepted. It only needs to be right for valid TOML: it tracks
 * headers, dotted and quoted keys, multi-line strings and arrays, and inline tables, and records
 * the line where each key, header and array element starts. It never decides validity.
 */

/** A path into a TOML document: keys, and numbers for array elements or `[[table]]` occurrences. */
export type FieldPath = readonly (string | number)[];

interface Scanner {
  text: string;
  pos: number;
  line: number;
  lines: Map<string, number>;
}

const BARE_KEY = /[A-Za-z0-9_\-:.]/; // ':' for the seed's unquoted `repo:name` keys (see toml.ts)

function pathKey(path: FieldPath): string {
  return JSON.stringify(path);
}

function record(s: Scanner, path: FieldPath, line: number): void {
  const key = pathKey(path);
  if (!s.lines.has(key)) s.lines.set(key, line);
}

function peek(s: Scanner, n = 0): string {
  return s.text[s.pos + n] ?? "";
}

function advance(s: Scanner): string {
  const c = s.text[s.pos++] ?? "";
  if (c === "\n") s.line++;
  return c;
}

function skipSpaces(s: Scanner): void {
  while (peek(s) === " " || peek(s) === "\t") advance(s);
}

/** Whitespace, newlines and comments (inside arrays). */
function skipBlank(s: Scanner): void {
  for (;;) {
    const c = peek(s);
    if (c === " " || c === "\t" || c === "\r" || c === "\n") advance(s);
    else if (c === "#") while (s.pos < s.text.length && peek(s) !== "\n") advance(s);
    else return;
  }
}

function skipLine(s: Scanner): void {
  while (s.pos < s.text.length && peek(s) !== "\n") advance(s);
  advance(s);
}

function readString(s: Scanner): string {
  const quote = peek(s);
  const multi = peek(s, 1) === quote && peek(s, 2) === quote;
  let out = "";
  if (multi) {
    s.pos += 3;
    while (s.pos < s.text.length && !(peek(s) === quote && peek(s, 1) === quote && peek(s, 2) === quote)) {
      if (quote === '"' && peek(s) === "\\") out += advance(s); // the escaped character is kept below
      out += advance(s);
    }
    s.pos += 3;
    // Up to two more quotes may close a multi-line string (`""""` is a quote then the delimiter).
    while (peek(s) === quote) s.pos++;
    return out;
  }
  advance(s);
  while (s.pos < s.text.length && peek(s) !== quote && peek(s) !== "\n") {
    if (quote === '"' && peek(s) === "\\") {
      advance(s);
      const e = advance(s);
      out += e === "n" ? "\n" : e === "t" ? "\t" : e;
      continue;
    }
    out += advance(s);
  }
  advance(s);
  return out;
}

/** A dotted key: `a`, `"a:b".c`, `a . 'b'`. Returns null if the text here is not a key. */
function readKey(s: Scanner): string[] | null {
  const parts: string[] = [];
  for (;;) {
    skipSpaces(s);
    const c = peek(s);
    if (c === '"' || c === "'") {
      parts.push(readString(s));
    } else if (BARE_KEY.test(c) && c !== ".") {
      let k = "";
      while (BARE_KEY.test(peek(s)) && peek(s) !== ".") k += advance(s);
      parts.push(k);
    } else {
      return null;
    }
    skipSpaces(s);
    if (peek(s) !== ".") return parts;
    advance(s);
  }
}

function skipScalar(s: Scanner): void {
  while (s.pos < s.text.length && !",]}#\n".includes(peek(s))) advance(s);
}

function readValue(s: Scanner, path: FieldPath): void {
  const c = peek(s);
  if (c === '"' || c === "'") {
    readString(s);
  } else if (c === "[") {
    advance(s);
    for (let i = 0; ; i++) {
      skipBlank(s);
      if (peek(s) === "]" || s.pos >= s.text.length) break;
      record(s, [...path, i], s.line);
      readValue(s, [...path, i]);
      skipBlank(s);
      if (peek(s) === ",") advance(s);
    }
    advance(s);
  } else if (c === "{") {
    advance(s);
    for (;;) {
      skipSpaces(s);
      if (peek(s) === "}" || s.pos >= s.text.length) break;
      const line = s.line;
      const key = readKey(s);
      if (key === null) break;
      skipSpaces(s);
      advance(s); // '='
      skipSpaces(s);
      for (let i = 1; i <= key.length; i++) record(s, [...path, ...key.slice(0, i)], line);
      readValue(s, [...path, ...key]);
      skipSpaces(s);
      if (peek(s) === ",") advance(s);
    }
    advance(s);
  } else {
    skipScalar(s);
  }
}

/** Scans `text` into a map from every key, header and array element path to its 1-based line. */
export function scanLines(text: string): Map<string, number> {
  const s: Scanner = { text, pos: 0, line: 1, lines: new Map() };
  let table: FieldPath = [];
  const occurrences = new Map<string, number>();
  while (s.pos < text.length) {
    skipSpaces(s);
    const c = peek(s);
    if (c === "[") {
      const array = peek(s, 1) === "[";
      s.pos += array ? 2 : 1;
      const key = readKey(s) ?? [];
      if (array) {
        const n = occurrences.get(pathKey(key)) ?? 0;
        occurrences.set(pathKey(key), n + 1);
        table = [...key, n];
      } else {
        table = key;
      }
      for (let i = 1; i <= table.length; i++) record(s, table.slice(0, i), s.line);
      skipLine(s);
    } else if (c === "#" || c === "\r" || c === "\n" || c === "") {
      skipLine(s);
    } else {
      const line = s.line;
      const key = readKey(s);
      if (key === null || peek(s) !== "=") {
        skipLine(s);
        continue;
      }
      advance(s);
      skipSpaces(s);
      for (let i = 1; i <= key.length; i++) record(s, [...table, ...key.slice(0, i)], line);
      readValue(s, [...table, ...key]);
      skipLine(s);
    }
  }
  return s.lines;
}

/**
 * The line of `path` in `text`, or of its nearest enclosing key or table when the path itself is
 * not written (a missing required key points at its table header). Undefined when not even the
 * first segment appears, e.g. a missing table.
 */
export function locateLine(text: string, path: FieldPath): number | undefined {
  const lines = scanLines(text);
  for (let n = path.length; n > 0; n--) {
    const line = lines.get(pathKey(path.slice(0, n)));
    if (line !== undefined) return line;
  }
  return undefined;
}
