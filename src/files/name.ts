/**
 * The one rule for a name that becomes a path component: a store path's name, the `name` of the
 * daemon's get-path/add-path, a profile entry, a fetch destination's last part, a name inside a
 * published tree. Every entry point that turns someone's string into a directory entry asks this
 * module, so `..`, `/`, NUL and friends are refused in one place, the same way everywhere.
 *
 * A name is refused when it is empty, `.` or `..`, holds `/` or NUL or any other control character
 * (a newline in a file name breaks every line-oriented tool and log that lists it), or is longer
 * than {@link MAX_NAME_BYTES} bytes in UTF-8 (Linux's NAME_MAX; a longer one fails later, in the
 * middle of a write, with ENAMETOOLONG).
 */
import { PkgError } from "../errors";

/** Linux's NAME_MAX: the longest directory entry, in bytes. */
export const MAX_NAME_BYTES = 255;

export const ERR_NAME_INVALID = "ERR_NAME_INVALID";

/** Why `name` cannot be a path component, or null when it can. */
export function nameProblem(name: string): string | null {
  if (name === "") return "empty name";
  if (name === "." || name === "..") return `"${name}" is not allowed`;
  if (name.includes("/")) return "a name may not contain '/'";
  if (name.includes("\0")) return "a name may not contain NUL";
  // eslint-disable-next-line no-control-regex
  if (/[\u0001-\u001f\u007f]/.test(name)) return "a name may not contain control characters";
  const bytes = Buffer.byteLength(name, "utf8");
  if (bytes > MAX_NAME_BYTES) return `a name may be at most ${MAX_NAME_BYTES} bytes (this one has ${bytes})`;
  return null;
}

/** How a hostile value is shown in a message: JSON-escaped (one line), cut to a short prefix with its length. */
export function quoteValue(value: string, max = 64): string {
  if (value.length <= max) return JSON.stringify(value);
  return `${JSON.stringify(value.slice(0, max))}… (${value.length} characters)`;
}

/**
 * Returns `name` when it may be a path component, else throws ERR_NAME_INVALID (exit 7) naming
 * `what` (e.g. `get-path "name"`, `profile entry`) and the reason.
 */
export function checkPathComponent(name: string, what: string): string {
  const problem = nameProblem(name);
  if (problem === null) return name;
  throw new PkgError(ERR_NAME_INVALID, `${what} ${quoteValue(name)} cannot be a file name: ${problem}`, {
    details: { what, name: name.slice(0, 256), length: name.length, reason: problem },
    hint: "use a plain name: no '/', no '..', no control characters, at most 255 bytes",
  });
}
