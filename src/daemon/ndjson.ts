/**
 * The daemon protocol's framing: newline-delimited JSON objects. One reader for the daemon, the CLI's client and
 * the no-op fast path (which loads nothing heavy, so this module imports nothing).
 */

/** Why a line was not a message: it is not JSON, not a JSON object, or longer than the limit (`overflow`). */
export type NdjsonProblem = (line: string, reason: string, overflow?: true) => void;

/**
 * The longest line a daemon accepts (1 MiB): the largest request a client sends (an `invoke` with a whole
 * environment and argv) is a few tens of KiB. Without a limit one client could grow the daemon without bound.
 */
export const MAX_NDJSON_LINE = 1 << 20;

/**
 * Returns a function to feed socket chunks (utf8 strings) to: each complete, non-blank line that is a JSON object
 * goes to `onMessage`; any other line goes to `onProblem` (default: skipped). A partial last line waits for the rest,
 * up to `maxLine` characters: a longer line is reported once (its first 256 characters, `overflow` set) and skipped
 * up to its end without being kept.
 */
export function ndjsonReader(onMessage: (message: Record<string, unknown>) => void, onProblem?: NdjsonProblem, maxLine: number = Number.POSITIVE_INFINITY): (chunk: string) => void {
  let buffer = "";
  let skipping = false;
  return (chunk) => {
    buffer += chunk;
    for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (skipping) {
        skipping = false;
        continue;
      }
      if (line.length > maxLine) {
        onProblem?.(line.slice(0, 256), `line longer than ${maxLine} characters`, true);
        continue;
      }
      if (line === "") continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch (error) {
        onProblem?.(line, (error as Error).message);
        continue;
      }
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) onProblem?.(line, "not an object");
      else onMessage(parsed as Record<string, unknown>);
    }
    if (buffer.length > maxLine) {
      if (!skipping) onProblem?.(buffer.slice(0, 256), `line longer than ${maxLine} characters`, true);
      skipping = true;
      buffer = "";
    }
  };
}
