/** Waiting for something to happen in a test: poll a condition until it holds, or fail naming what was awaited. */

export interface WaitOptions {
  /** What is awaited, for the failure message ("the daemon's socket to go away"). */
  what: string;
  /** Give up after this long (default 20 s). */
  timeoutMs?: number;
  /** Between two checks (default 50 ms). */
  intervalMs?: number;
}

/**
 * Resolves once `condition` returns true (checked at once, then every `intervalMs`); rejects with
 * "timed out after N ms waiting for <what>" at the deadline, or with the condition's own error.
 */
export async function waitFor(condition: () => boolean | Promise<boolean>, options: WaitOptions): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${options.what}`);
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 50));
  }
}

/** Lets `ms` milliseconds pass. Only for time that must pass (a timeout under test, a random kill point), never to wait for an event. */
export function letTimePass(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
