/**
 * content-kubo: the ~100 MB benchmark tree of bench/content (mixed file sizes) added to a Kubo node through the
 * kubo backend (openKuboStore().putDirectory), then fetched from a second Kubo node peered with the first on
 * loopback, with every block verified by our code (openKuboStore({ url: node2 }).getTree: block/get one by one,
 * checked against its CID, the tree written by our reader). Node 2 gets the blocks over bitswap: it is a fresh
 * node every run, checked not to hold the root before the timed fetch. In MB/s against `cp -r` of the same tree,
 * timed in the same run.
 *
 * content-serve: the same tree from `pkg store serve` (a fresh `node bin/pkg.js store serve` process over an
 * embedded store holding it) into a second, empty embedded store listing it as its only gateway (getTree into a
 * fresh directory), in MB/s against the same `cp -r`.
 *
 * Medians of BENCH_CONTENT_RUNS (default 3) runs; each run times cp -r, the Kubo fetch and the serve fetch once,
 * and every written tree is compared byte for byte with the source after timing.
 *
 *   npx hardhat run bench/engines/content-kubo.ts
 *
 * Without Go, where the engines cannot be built, prints a note and exits 0.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import type { CID } from "multiformats/cid";
import { openEmbeddedStore, openKuboStore } from "../../src/content";
import { startKubo, stopProcess, type KuboNode } from "../../test/helpers/engines";
import { writeBenchTree } from "../content/tree";
import { bench, median, note, ROOT, since } from "../cli/util";
import { cleanEnv, expectSameTree, findEngines, withSignalCleanup } from "./engines";

/** Seconds `action` takes. */
async function timed(action: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await action();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** `pkg store serve --listen 127.0.0.1:0` over the data directory `dataDir`; its URL (stdout's first line). */
async function startStoreServe(dataDir: string, work: string): Promise<{ url: string; child: ChildProcess; stderr: () => string }> {
  const env = cleanEnv({ PKG_DATA_DIR: dataDir, PKG_CONFIG: path.join(work, "no-config.toml"), NO_COLOR: "1" });
  const child = spawn(process.execPath, [path.join(ROOT, "bin", "pkg.js"), "store", "serve", "--listen", "127.0.0.1:0"], { env, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (chunk) => (stderr += chunk));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`pkg store serve printed no URL within 60 s:\n${stderr}`)), 60_000);
      child.once("exit", (code) => reject(new Error(`pkg store serve exited ${code}:\n${stderr}`)));
      createInterface({ input: child.stdout! }).once("line", (line) => {
        clearTimeout(timer);
        resolve(line.trim());
      });
    });
    if (!/^http:\/\/127\.0\.0\.1:\d+/.test(url)) throw new Error(`pkg store serve printed ${JSON.stringify(url)}, not its URL`);
    return { url, child, stderr: () => stderr };
  } catch (error) {
    await stopProcess(child);
    throw error;
  }
}

export async function benchContentKubo(): Promise<void> {
  const started = performance.now();
  const log = (line: string) => console.log(`  [${since(started)}] ${line}`);
  const runs = Number(process.env.BENCH_CONTENT_RUNS ?? 3);
  if (!existsSync(path.join(ROOT, "dist", "cli", "pkg", "store", "serve.js"))) throw new Error("dist/ is not built: run `npm run build` first");
  const engines = await findEngines("content-kubo");
  if (engines === null) return;

  const work = await mkdtemp(path.join(tmpdir(), "chainpkg-bench-kubo-"));
  let node1: KuboNode | null = null;
  let node2: KuboNode | null = null;
  let serve: ChildProcess | null = null;
  const cleanup = async () => {
    for (const node of [node2, node1]) await node?.stop().catch(() => undefined);
    node1 = node2 = null;
    if (serve !== null) await stopProcess(serve).catch(() => undefined);
    serve = null;
    await rm(work, { recursive: true, force: true });
  };
  await withSignalCleanup(cleanup, async () => {
    try {
      const source = path.join(work, "tree");
      const tree = await writeBenchTree(source);
      const megabytes = tree.bytes / 1e6;
      log(`tree: ${tree.files} files, ${megabytes.toFixed(1)} MB`);

      // node 1 holds the tree, added (and pinned) through the kubo backend
      node1 = await startKubo(engines.ipfs, path.join(work, "kubo-1"));
      const first = node1;
      const kubo1 = openKuboStore({ url: first.api });
      let root: CID | undefined;
      const addSeconds = await timed(async () => (root = await kubo1.putDirectory(source, { pin: true })));
      log(`added to kubo node 1 (${first.api}) in ${addSeconds.toFixed(1)} s: ${root!.toString()}`);

      // data directory A: an embedded store holding the same tree, served by `pkg store serve`
      const serveData = path.join(work, "serve-data");
      const storeA = await openEmbeddedStore({ directory: path.join(serveData, "ipfs") });
      try {
        const rootA = await storeA.putDirectory(source, { pin: true });
        if (!rootA.equals(root!)) throw new Error(`the embedded store added the tree as ${rootA.toString()}, kubo as ${root!.toString()}`);
      } finally {
        await storeA.close();
      }
      const served = await startStoreServe(serveData, work);
      serve = served.child;
      log(`pkg store serve at ${served.url}`);

      const cpTimes: number[] = [];
      const kuboTimes: number[] = [];
      const serveTimes: number[] = [];
      const rate = (seconds: number) => (megabytes / seconds).toFixed(0);
      for (let i = 0; i < runs; i++) {
        const copy = path.join(work, `cp-${i}`);
        cpTimes.push(
          await timed(async () => {
            const result = spawnSync("cp", ["-r", source, copy]);
            if (result.status !== 0) throw new Error(`cp -r failed: ${result.stderr.toString()}`);
          }),
        );
        await rm(copy, { recursive: true, force: true });

        // a fresh node 2, peered with node 1 only: every block comes over bitswap
        node2 = await startKubo(engines.ipfs, path.join(work, `kubo-2-${i}`));
        const second = node2;
        second.ipfs(["swarm", "connect", first.swarm]);
        const kubo2 = openKuboStore({ url: second.api });
        if (await kubo2.hasBlock(root!)) throw new Error("the fresh kubo node 2 already holds the root block");
        const kuboOut = path.join(work, `kubo-out-${i}`);
        kuboTimes.push(await timed(() => kubo2.getTree(root!, kuboOut)));
        await expectSameTree(source, kuboOut);
        await rm(kuboOut, { recursive: true, force: true });
        await second.stop();
        node2 = null;
        await rm(second.repo, { recursive: true, force: true });

        // a fresh embedded store B whose only gateway is `pkg store serve`
        const storeB = await openEmbeddedStore({ directory: path.join(work, `store-b-${i}`), gateways: [served.url] });
        const serveOut = path.join(work, `serve-out-${i}`);
        try {
          if (await storeB.hasBlock(root!)) throw new Error("the fresh embedded store B already holds the root block");
          serveTimes.push(await timed(() => storeB.getTree(root!, serveOut)));
        } finally {
          await storeB.close();
        }
        await expectSameTree(source, serveOut);
        await rm(serveOut, { recursive: true, force: true });
        await rm(path.join(work, `store-b-${i}`), { recursive: true, force: true });
        log(`run ${i + 1}: cp -r ${rate(cpTimes[i])} MB/s, kubo node 2 fetch+verify ${rate(kuboTimes[i])} MB/s, pkg store serve fetch+verify ${rate(serveTimes[i])} MB/s`);
      }

      const cpMBps = megabytes / median(cpTimes);
      const kuboMBps = megabytes / median(kuboTimes);
      const serveMBps = megabytes / median(serveTimes);
      bench("content-kubo", kuboMBps, "MB/s", "cp-r", cpMBps, 1);
      note(
        `${tree.files} files, ${megabytes.toFixed(1)} MB, medians of ${runs} runs: kubo node 1 → bitswap on loopback → node 2 → block/get, ` +
          `every block checked here; ${(kuboMBps / cpMBps).toFixed(2)}× cp -r (a fresh node 2 per run)`,
      );
      bench("content-serve", serveMBps, "MB/s", "cp-r", cpMBps, 1);
      note(`pkg store serve (embedded store, trustless gateway) → empty embedded store B, every block checked; ${(serveMBps / cpMBps).toFixed(2)}× cp -r`);
      log("done");
    } finally {
      await cleanup();
    }
  });
}

if (require.main === module) {
  benchContentKubo().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
