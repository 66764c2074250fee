/**
 * Upstream names → package names that pass the one name rule (`[a-z0-9][a-z0-9._-]{0,63}`), reversibly.
 *
 * `_` starts a two-character escape, so decoding is never ambiguous:
 *   `__` is the scope separator: npm's `@scope/name` → `scope__name` (DefinitelyTyped's own convention);
 *   `_.` is a literal underscore: `string_decoder` → `string_.decoder`;
 *   `_` + a lowercase letter is that letter in upper case: `jQuery` → `j_query`;
 *   `_-` right after the first character says that character is upper case, since a package name cannot start
 *        with `_`: the legacy `JSONStream` → `j_-_s_o_n_stream` (`_-` appears nowhere else).
 * Everything else must already be in `[a-z0-9.-]`. Names longer than 64 characters once escaped are refused.
 */
import { checkName } from "../ids";

export function encodeName(upstream: string): { name: string } | { problem: string } {
  let scope: string | null = null;
  let rest = upstream;
  if (upstream.startsWith("@")) {
    const slash = upstream.indexOf("/");
    if (slash < 2 || slash === upstream.length - 1 || upstream.indexOf("/", slash + 1) >= 0) return { problem: `${JSON.stringify(upstream)} is not @scope/name` };
    scope = upstream.slice(1, slash);
    rest = upstream.slice(slash + 1);
  } else if (upstream.includes("/")) {
    return { problem: `${JSON.stringify(upstream)} has a '/' outside a scope` };
  }
  const escape = (part: string): string | null => {
    let out = "";
    for (const ch of part) {
      if (ch === "_") out += "_.";
      else if (ch >= "A" && ch <= "Z") out += `_${ch.toLowerCase()}`;
      else if (/^[a-z0-9.-]$/.test(ch)) out += ch;
      else return null;
    }
    return out;
  };
  const escapedScope = scope === null ? "" : escape(scope);
  const escapedName = escape(rest);
  if (escapedScope === null || escapedName === null) return { problem: `${JSON.stringify(upstream)} has characters outside a-z, A-Z, 0-9, '.', '-', '_'` };
  let name = scope === null ? escapedName : `${escapedScope}__${escapedName}`;
  if (/^_[a-z]/.test(name)) name = `${name[1]}_-${name.slice(2)}`; // an upper-case first letter
  const problem = checkName(name);
  if (problem !== null) return { problem: `${JSON.stringify(upstream)} becomes ${JSON.stringify(name)}, which ${problem}` };
  return { name };
}

/** The inverse of {@link encodeName}; null for a text encodeName never returns. */
export function decodeName(name: string): string | null {
  const capital = /^[a-z]_-/.test(name);
  let out = capital ? name[0].toUpperCase() : "";
  let scoped = false;
  for (let i = capital ? 3 : 0; i < name.length; i++) {
    const ch = name[i];
    if (ch !== "_") {
      out += ch;
      continue;
    }
    const next = name[++i];
    if (next === "_") {
      if (scoped) return null;
      scoped = true;
      out += "/";
    } else if (next === ".") out += "_";
    else if (next !== undefined && next >= "a" && next <= "z") out += next.toUpperCase();
    else return null;
  }
  const upstream = scoped ? `@${out}` : out;
  const again = encodeName(upstream);
  return "name" in again && again.name === name ? upstream : null;
}
