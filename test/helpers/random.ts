/** mulberry32: a small, fast, seeded generator of numbers in [0, 1), good enough for test and benchmark data. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A test's seed: the environment variable `variable` when set (to replay a failure, or explore another
 * seed), otherwise `fallback` (fixed, so that CI is repeatable). Throws on a value that is not an integer.
 */
export function seedFromEnv(variable: string, fallback: number): number {
  const value = process.env[variable];
  if (value === undefined || value.trim() === "") return fallback;
  const seed = Number(value);
  if (!Number.isSafeInteger(seed)) throw new Error(`${variable}=${value}: a seed is an integer`);
  return seed;
}

/** The seeded generator of a test, its seed printed with how to replay it (`<variable>=<seed>`). */
export function announcedRandom(variable: string, seed: number): () => number {
  console.log(`      seed ${seed} (replay: ${variable}=${seed})`);
  return seededRandom(seed);
}

let uniqueCount = 0;

/** A string no other call returns, in this run or another (pid, time, counter): for names and contents that must differ, not for random data. */
export function uniqueSuffix(): string {
  return `${process.pid}-${Date.now().toString(36)}-${++uniqueCount}`;
}
