/**
 * dist/, the built JavaScript that end-to-end tests and some unit tests run: built on demand when it is
 * missing or stale, and a test fails (never skips) when it cannot be built.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { expect } from "chai";

export const ROOT = path.resolve(__dirname, "../..");

function newestMtime(dir: string, pattern: RegExp): number {
  let newest = 0;
  if (!existsSync(dir)) return newest;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(full, pattern));
    else if (pattern.test(entry.name)) newest = Math.max(newest, statSync(full).mtimeMs);
  }
  return newest;
}

/** Whether dist/ must be rebuilt: dist/cli/pkg/publish.js missing or older than a source it is built from. */
export function distIsStale(): boolean {
  const marker = path.join(ROOT, "dist", "cli", "pkg", "publish.js");
  if (!existsSync(marker)) return true;
  const built = statSync(marker).mtimeMs;
  const sources = Math.max(
    newestMtime(path.join(ROOT, "cli"), /\.ts$/),
    newestMtime(path.join(ROOT, "src"), /\.ts$/),
    newestMtime(path.join(ROOT, "contracts"), /\.sol$/),
  );
  return sources > built || !existsSync(path.join(ROOT, "typechain-types"));
}

/** Runs `npm run build`; throws with its output when it fails. */
export function buildDist(): void {
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const result = spawnSync(npm, ["run", "--silent", "build"], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  if (result.status !== 0) throw new Error(`npm run build failed (${result.status ?? result.signal}):\n${result.stdout}\n${result.stderr}`);
}

/** Runs `npm run build` when dist/ is stale (CI builds before the tests, so there it is a no-op). */
export function ensureBuilt(): void {
  if (distIsStale()) buildDist();
}

/**
 * Makes sure these files of dist/ (paths relative to the repository) exist: when one is missing, builds
 * dist/ (`npm run build`); fails with what is missing and why when the build does not produce them.
 * Returns their absolute paths. Slow the first time: call it from a hook with a long timeout.
 */
export function requireBuilt(...files: string[]): string[] {
  const absolute = files.map((f) => path.join(ROOT, f));
  if (absolute.every((f) => existsSync(f))) return absolute;
  let failure = "";
  try {
    buildDist();
  } catch (error) {
    failure = `: ${(error as Error).message}`;
  }
  for (const [i, f] of absolute.entries()) {
    expect(existsSync(f), `${files[i]} is missing, and \`npm run build\` did not make it${failure.slice(0, 4000)}`).to.equal(true);
  }
  return absolute;
}
