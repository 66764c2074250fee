/**
 * Bounded concurrency, written once: a limiter for tasks that arrive over time (the content store's hot
 * paths, builds), a semaphore for producers that take and give back slots themselves, and `mapLimit` /
 * `forEachLimit` for a known list of items. Imports nothing: every layer may use it.
 */

/**
 * Runs at most `limit` tasks at once; the others wait their turn in order. A finishing task hands its slot
 * straight to the next waiter, so a task arriving meanwhile never gets ahead of it.
 */
export function createLimiter(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  const slots = new Semaphore(limit);
  return async (task) => {
    await slots.acquire();
    try {
      return await task();
    } finally {
      slots.release();
    }
  };
}

/** A counting semaphore: `acquire` waits while all `size` permits are taken. */
export class Semaphore {
  private available: number;
  private readonly waiting: Array<() => void> = [];

  constructor(size: number) {
    this.available = size;
  }

  /** Takes a permit: undefined when one was free, else a promise that resolves when one is handed over. */
  acquire(): Promise<void> | undefined {
    if (this.available > 0) {
      this.available--;
      return undefined;
    }
    return new Promise((resume) => this.waiting.push(resume));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next !== undefined) next();
    else this.available++;
  }
}

/**
 * `run` over `items`, at most `limit` at a time, results in the order of `items`. After a failure no new item
 * is started; the ones running are waited for, then the first failure is thrown.
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, run: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | null = null;
  const worker = async () => {
    while (failure === null && next < items.length) {
      const i = next++;
      try {
        results[i] = await run(items[i], i);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure !== null) throw (failure as { error: unknown }).error;
  return results;
}

/** {@link mapLimit} for work without results. */
export async function forEachLimit<T>(items: readonly T[], limit: number, run: (item: T, index: number) => Promise<void>): Promise<void> {
  await mapLimit(items, limit, run);
}
