/**
 * store-put / store-get: add a ~100 MB tree of mixed file sizes to the embedded store, then write
 * it back to disk with every block verified against its CID; both in MB/s against `cp -r` of the
 * same tree, timed in the same run, right before (goals: put 0.2x cp, get 0.3x cp).
 *
 * Every run copies, adds and gets the tree once, in a fresh store and fresh destinations; the
 * figures are medians over the runs (the machine is shared, so single runs vary by 2x). Caches
 * cannot be dropped here: the source tree is in the page cache for cp and for put alike, and
 * the store's blocks are for get. After timing, the tree written by get is compared byte for
 * byte with the source, so a fast but wrong get cannot pass.
 *
 *   npx hardhat run bench/content/store-put-get.ts
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openEmbeddedStore } from "../../src/content";
import { writeBenchTree } from "./tree";

const RUNS = 5;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function timed(action: () => Promise<unknown> | unknown): Promise<number> {
  const start = process.hrtime.bigint();
  await action();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** Throws unless the two trees hold the same files with the same bytes. */
async function expectSameTree(expected: string, actual: string): Promise<void> {
  const list = async (root: string) => (await readdir(root, { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name).slice(root.length)).sort();
  const [want, got] = await Promise.all([list(expected), list(actual)]);
  if (want.join("\n") !== got.join("\n")) throw new Error(`get wrote other files than were added (${got.length} vs ${want.length})`);
  for (const path of want) {
    const [a, b] = await Promise.all([readFile(join(expected, path)), readFile(join(actual, path))]);
    if (!a.equals(b)) throw new Error(`get wrote wrong bytes for ${path}`);
  }
}

export interface PutGetResult {
  putMBps: number;
  getMBps: number;
  cpMBps: number;
}

export async function benchStorePutGet(): Promise<PutGetResult> {
  const base = await mkdtemp(join(tmpdir(), "bench-content-"));
  try {
    const source = join(base, "tree");
    const tree = await writeBenchTree(source);
    const megabytes = tree.bytes / 1e6;
    const cpTimes: number[] = [];
    const putTimes: number[] = [];
    const getTimes: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      const copy = join(base, `cp-${run}`);
      cpTimes.push(
        await timed(() => {
          const result = spawnSync("cp", ["-r", source, copy]);
          if (result.status !== 0) throw new Error(`cp -r failed: ${result.stderr.toString()}`);
        }),
      );
      await rm(copy, { recursive: true, force: true });

      const store = await openEmbeddedStore({ directory: join(base, `store-${run}`) });
      let root = undefined as Awaited<ReturnType<typeof store.putDirectory>> | undefined;
      putTimes.push(await timed(async () => (root = await store.putDirectory(source))));
      const out = join(base, `out-${run}`);
      getTimes.push(await timed(() => store.getTree(root!, out)));
      await expectSameTree(source, out);
      await store.close();
      await rm(out, { recursive: true, force: true });
      await rm(join(base, `store-${run}`), { recursive: true, force: true });
      const rate = (seconds: number) => (megabytes / seconds).toFixed(0);
      console.log(`# run ${run + 1}: cp -r ${rate(cpTimes[run])} MB/s, put ${rate(putTimes[run])} MB/s (${(cpTimes[run] / putTimes[run]).toFixed(2)}x), get ${rate(getTimes[run])} MB/s (${(cpTimes[run] / getTimes[run]).toFixed(2)}x)`);
    }
    const result = {
      putMBps: megabytes / median(putTimes),
      getMBps: megabytes / median(getTimes),
      cpMBps: megabytes / median(cpTimes),
    };
    console.log(`# ${tree.files} files, ${megabytes.toFixed(1)} MB, medians of ${RUNS} runs; put ${(result.putMBps / result.cpMBps).toFixed(2)}x cp (goal 0.2), get+verify ${(result.getMBps / result.cpMBps).toFixed(2)}x cp (goal 0.3)`);
    console.log(`BENCH store-put ${result.putMBps.toFixed(1)} MB/s vs cp-r ${result.cpMBps.toFixed(1)}`);
    console.log(`BENCH store-get ${result.getMBps.toFixed(1)} MB/s vs cp-r ${result.cpMBps.toFixed(1)}`);
    return result;
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

if (require.main === module) {
  benchStorePutGet().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
