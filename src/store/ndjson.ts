/**
 * The daemon protocol's framing: newline-delimited JSON objects. One reader for the daemon, the CLI's client and
 * the no-op fast path (which loads nothing heavy, so this module imports nothing).
 */

/** Why a line was not a message: it is not JSON, or not a JSON object. */
export type NdjsonProblem = (line: string, reason: string) => void;

/**
 * Returns a function to feed socket chunks (utf8 strings) to: each complete, non-blank line that is a JSON object
 * goes to `onMessage`; any other line goes to `onProblem` (default: skipped). A partial last line waits for the rest.
 */
export function ndjsonReader(onMessage: (message: Record<string, unknown>) => void, onProblem?: NdjsonProblem): (chunk: string) => void {
  let buffer = "";
  return (chunk) => {
    buffer += chunk;
    for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
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
  };
}
