/**
 * Shared parts of the engine benchmarks (issue 12: pkg against the real engines, geth and Kubo): finding the
 * engines scripts/engines.sh builds, the environment of the `pkg` child processes, and a byte-for-byte tree
 * comparison.
 */
import { spawnSync } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { note, ROOT, run } from "../cli/util";

export interface Engines {
  ipfs: string;
  geth: string;
}

/**
 * The engines' paths, building them if they are missing (minutes, once per version). Where they cannot be built
 * because there is no Go toolchain, says so in a note and gives null (the benchmark is skipped, exit 0); where Go
 * is installed a failed build is an error, so the benchmark cannot silently stop running.
 */
export async function findEngines(benchId: string): Promise<Engines | null> {
  const result = await run("bash", [path.join(ROOT, "scripts", "engines.sh")], { cwd: ROOT });
  if (result.code === 0) {
    const bin = result.stdout.trim().split("\n").pop()!;
    return { ipfs: path.join(bin, "ipfs"), geth: path.join(bin, "geth") };
  }
  const why = result.stderr.trim().split("\n").slice(-3).join(" / ");
  if (spawnSync("go", ["version"], { stdio: "ignore" }).status === 0) {
    throw new Error(`scripts/engines.sh failed (exit ${result.code ?? result.signal}) although go is installed: ${why}`);
  }
  note(`${benchId}: skipped, the engines (geth, ipfs) cannot be built here: ${why}`);
  return null;
}


export { cleanEnv } from "../cli/util";

/** Throws unless the two trees hold the same files with the same bytes. */
export async function expectSameTree(expected: string, actual: string): Promise<void> {
  const list = async (root: string) =>
    (await readdir(root, { recursive: true, withFileTypes: true }))
      .filter((entry) => entry.isFile())
      .map((entry) => path.join(entry.parentPath, entry.name).slice(root.length))
      .sort();
  const [want, got] = await Promise.all([list(expected), list(actual)]);
  if (want.join("\n") !== got.join("\n")) throw new Error(`${actual} holds other files than ${expected} (${got.length} vs ${want.length})`);
  for (const file of want) {
    const [a, b] = await Promise.all([readFile(path.join(expected, file)), readFile(path.join(actual, file))]);
    if (!a.equals(b)) throw new Error(`${actual}${file} differs from ${expected}${file}`);
  }
}

/** Removes the signal handlers it installs once `work` settles; on SIGINT/SIGTERM runs `cleanup` and exits 130. */
export async function withSignalCleanup<T>(cleanup: () => Promise<void>, work: () => Promise<T>): Promise<T> {
  const onSignal = () => void cleanup().finally(() => process.exit(130));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    return await work();
  } finally {
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
  }
}
