/**
 * Dep-info files (Makefile syntax, as rustc `--emit=dep-info` and gcc `-MD` write them): which files a
 * compile read, and (rustc) which environment variables the source read (`# env-dep:NAME=value`).
 */

export interface DepInfo {
  /** Every prerequisite of every rule, as written (relative to the tool's cwd, or absolute), once each. */
  files: string[];
  /** `env!`/`option_env!` reads: name → value at compile time, null when unset. */
  env: Array<[string, string | null]>;
}

function unescape(word: string): string {
  return word.replace(/\\(.)/g, "$1").replace(/\$\$/g, "$");
}

/** Split on unescaped spaces. */
function words(text: string): string[] {
  const out: string[] = [];
  let current = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "\\" && i + 1 < text.length) {
      current += c + text[i + 1];
      i++;
    } else if (c === " " || c === "\t") {
      if (current !== "") out.push(unescape(current));
      current = "";
    } else current += c;
  }
  if (current !== "") out.push(unescape(current));
  return out;
}

/** The index of the rule's `:` (an unescaped colon followed by a space or the end of the line). */
function ruleColon(line: string): number {
  for (let i = 0; i < line.length; i++) {
    if (line[i] === "\\") {
      i++;
      continue;
    }
    if (line[i] === ":" && (i + 1 === line.length || line[i + 1] === " " || line[i + 1] === "\t")) return i;
  }
  return -1;
}

export function parseDepInfo(text: string): DepInfo {
  const files = new Set<string>();
  const env = new Map<string, string | null>();
  const logical = text.replace(/\\\r?\n/g, " ").split(/\r?\n/);
  for (const line of logical) {
    if (line.startsWith("#")) {
      const m = /^# env-dep:([^=]+)(?:=(.*))?$/.exec(line);
      if (m) env.set(m[1], m[2] === undefined ? null : m[2].replace(/\\n/g, "\n").replace(/\\\\/g, "\\"));
      continue;
    }
    const colon = ruleColon(line);
    if (colon < 0) continue;
    for (const word of words(line.slice(colon + 1))) files.add(word);
  }
  return { files: [...files], env: [...env.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)) };
}
