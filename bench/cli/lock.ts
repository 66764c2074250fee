/**
 * lock-1000: `pkg lock` (a fresh `node bin/pkg.js lock` process, no pkg.lock yet) of a project whose pkg.toml
 * depends on the roots of a synthetic 1,000-package graph on a local pkg node, against
 * `npm install --package-lock-only` of the same graph in a local verdaccio (fresh npm cache, --prefer-online).
 * Medians of 3. lock-1000-rpc / lock-250-rpc: JSON-RPC requests of the same lock made in-process through a
 * CountingProvider, for the 1,000-package graph and a 250-package graph of the same depth.
 *
 *   npx hardhat run bench/cli/lock.ts
 *
 * BENCH_LOCK_RUNS (default 3) changes the number of timed runs; BENCH_CPU_PROF=<dir> writes a V8 CPU profile
 * of every timed `pkg lock` there (node --cpu-prof).
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createRegistryClient } from "../../src/chain/registry";
import { openEmbeddedStore } from "../../src/content";
import { lockDirectory } from "../../src/lock";
import { readLockfile } from "../../src/lockfile";
import { startLocalNode, type LocalNode } from "../../src/node";
import { devAccount, publishGraph } from "./chain";
import { describe, graphDepth, makeGraph, versionCount, writePkgProject, type Graph } from "./graph";
import { ensureVerdaccio, publishNpmGraph, startVerdaccio, type Verdaccio } from "./verdaccio";
import { bench, cleanEnv, median, note, ROOT, run, since } from "./util";

const LEVELS = 10;


async function writeNpmProject(dir: string, graph: Graph): Promise<void> {
  await mkdir(dir, { recursive: true });
  const pkg = { name: "app", version: "1.0.0", private: true, license: "MIT", dependencies: Object.fromEntries(graph.roots) };
  await writeFile(path.join(dir, "package.json"), `${JSON.stringify(pkg, null, 2)}\n`);
}


export async function benchLock(): Promise<void> {
  const started = performance.now();
  const runs = Number(process.env.BENCH_LOCK_RUNS ?? 3);
  const profileDir = process.env.BENCH_CPU_PROF ? path.resolve(process.env.BENCH_CPU_PROF) : null;
  const pkgBin = path.join(ROOT, "bin", "pkg.js");
  if (!existsSync(path.join(ROOT, "dist", "cli", "pkg", "lock.js"))) throw new Error("dist/ is not built: run `npm run build` first");
  const log = (line: string) => console.log(`  [${since(started)}] ${line}`);

  const big = makeGraph({ total: 1000, levels: LEVELS, seed: 1000, prefix: "g1000" });
  const small = makeGraph({ total: 250, levels: LEVELS, seed: 250, prefix: "g250" });
  for (const graph of [big, small]) {
    if (graphDepth(graph).depth < 8) throw new Error(`graph ${graph.prefix} is too shallow`);
  }

  const work = await mkdtemp(path.join(tmpdir(), "chainpkg-bench-cli-"));
  const dataDir = path.join(work, "data");
  let node: LocalNode | null = null;
  let verdaccio: Verdaccio | null = null;
  const nodeLog: string[] = [];
  const stop = async () => {
    await verdaccio?.stop();
    verdaccio = null;
    await node?.stop();
    node = null;
  };
  const onSignal = () => void stop().finally(() => rm(work, { recursive: true, force: true }).finally(() => process.exit(130)));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    // ---------------------------------------------------------------- setup: both registries, in parallel
    await ensureVerdaccio(log);
    node = await startLocalNode({ dataDir, port: 0, log: (line) => nodeLog.push(line) });
    const localNode = node;
    log(`pkg node on ${localNode.url}, registry ${localNode.registry}`);
    const pkgSetup = (async () => {
      const content = await openEmbeddedStore({ directory: path.join(dataDir, "ipfs") });
      try {
        const from = await devAccount(localNode.url, 1);
        let transactions = 0;
        for (const graph of [big, small]) {
          const t = performance.now();
          const published = await publishGraph({ graph, url: localNode.url, registry: localNode.registry, content, from });
          transactions += published.transactions;
          log(`published ${graph.prefix} on the pkg node: ${versionCount(graph)} versions, ${published.transactions} transactions, ${since(t)}`);
        }
        return transactions;
      } finally {
        await content.close();
      }
    })();
    const npmSetup = (async () => {
      verdaccio = await startVerdaccio(path.join(work, "verdaccio"));
      const t = performance.now();
      const published = await publishNpmGraph(verdaccio, big);
      log(`published ${big.prefix} to verdaccio (${verdaccio.url}): ${published} versions, ${since(t)}`);
      return verdaccio;
    })();
    // both finish before anything is stopped or removed, even when one fails
    const [pkgDone, npmDone] = await Promise.allSettled([pkgSetup, npmSetup]);
    if (pkgDone.status === "rejected") throw pkgDone.reason;
    if (npmDone.status === "rejected") throw npmDone.reason;
    const registry = npmDone.value;

    // ---------------------------------------------------------------- lock-1000: pkg lock vs npm lock-only
    const pkgDir = path.join(work, "app-pkg");
    const npmDir = path.join(work, "app-npm");
    await writePkgProject(pkgDir, big);
    await writeNpmProject(npmDir, big);
    const pkgEnv = cleanEnv({
      PKG_DATA_DIR: dataDir,
      PKG_RPC_URL: localNode.url,
      PKG_CONFIG: path.join(work, "no-config.toml"),
      NO_COLOR: "1",
    });
    await writeFile(path.join(work, "npmrc"), "");
    const npmEnv = cleanEnv({ npm_config_userconfig: path.join(work, "npmrc"), npm_config_update_notifier: "false", NO_COLOR: "1" });

    const pkgLock = async (i: number) => {
      await rm(path.join(pkgDir, "pkg.lock"), { force: true });
      const prof = profileDir ? ["--cpu-prof", "--cpu-prof-dir", profileDir, "--cpu-prof-name", `pkg-lock-${i}.cpuprofile`] : [];
      const result = await run(process.execPath, [...prof, pkgBin, "lock", "--quiet"], { cwd: pkgDir, env: pkgEnv });
      if (result.code !== 0) throw new Error(`pkg lock failed (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
      return result;
    };
    const npmLock = async (i: number) => {
      await rm(path.join(npmDir, "package-lock.json"), { force: true });
      const cache = path.join(work, `npm-cache-${i}`);
      const result = await run(
        "npm",
        [
          "install",
          "--package-lock-only",
          "--registry",
          `${registry.url}/`,
          "--cache",
          cache,
          "--prefer-online",
          "--no-audit",
          "--no-fund",
          "--ignore-scripts",
          "--loglevel=error",
        ],
        { cwd: npmDir, env: npmEnv },
      );
      await rm(cache, { recursive: true, force: true });
      if (result.code !== 0) throw new Error(`npm install --package-lock-only failed (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
      return result;
    };

    if (profileDir) await mkdir(profileDir, { recursive: true });
    // one untimed run of each warms the servers (the node's EVM, verdaccio's storage), not the clients
    await pkgLock(0);
    await npmLock(0);
    const pkgTimes: number[] = [];
    const npmTimes: number[] = [];
    for (let i = 1; i <= runs; i++) {
      pkgTimes.push((await pkgLock(i)).ms);
      npmTimes.push((await npmLock(i)).ms);
    }
    const pkgLockfile = await readLockfile(path.join(pkgDir, "pkg.lock"));
    const npmLockfile = JSON.parse(await readFile(path.join(npmDir, "package-lock.json"), "utf8")) as { packages: Record<string, { version: string; deprecated?: string }> };
    const pkgEntries = Object.keys(pkgLockfile.dependencies).length;
    const pkgNames = new Set(Object.keys(pkgLockfile.dependencies).map((k) => k.split("@")[0]));
    const npmEntries = Object.keys(npmLockfile.packages).filter((k) => k !== "");
    const npmDeprecated = npmEntries.filter((k) => npmLockfile.packages[k].deprecated !== undefined).length;
    const npmNames = new Set(npmEntries.map((k) => k.slice(k.lastIndexOf("node_modules/") + "node_modules/".length)));
    const npmVersions = new Set(npmEntries.map((k) => `${k.slice(k.lastIndexOf("node_modules/") + 13)}@${npmLockfile.packages[k].version}`));

    const pkgMedian = median(pkgTimes) / 1000;
    const npmMedian = median(npmTimes) / 1000;
    bench("lock-1000", pkgMedian, "s", "npm-lock-only", npmMedian, 2);
    note(`pkg lock runs ${pkgTimes.map((t) => (t / 1000).toFixed(2)).join(", ")} s; npm ${npmTimes.map((t) => (t / 1000).toFixed(2)).join(", ")} s`);
    note(`npm / pkg = ${(npmMedian / pkgMedian).toFixed(2)}× (goal ≥ 3×)`);
    note(
      `pkg.lock: ${pkgEntries} entries, ${pkgNames.size} packages; package-lock.json: ${npmEntries.length} entries, ` +
        `${npmVersions.size} package versions, ${npmNames.size} packages, ${npmDeprecated} deprecated (pkg locks no yanked version)`,
    );
    note(`graph: ${describe(big)}`);

    // ---------------------------------------------------------------- lock-N-rpc: requests per lock, in-process
    for (const graph of [big, small]) {
      const dir = path.join(work, `rpc-${graph.prefix}`);
      await writePkgProject(dir, graph);
      const client = createRegistryClient({ rpcUrl: localNode.url, address: localNode.registry, expectedChainId: localNode.chainId });
      const content = await openEmbeddedStore({ directory: path.join(dataDir, "ipfs") });
      try {
        const before = { requests: client.provider.requests, roundTrips: client.provider.roundTrips };
        const outcome = await lockDirectory({ session: { client, content, chain: { chainId: Number(localNode.chainId), registry: localNode.registry } }, dir });
        const requests = client.provider.requests - before.requests;
        const roundTrips = client.provider.roundTrips - before.roundTrips;
        const { depth, perLevel } = graphDepth(graph);
        bench(`lock-${graph.packages.length}-rpc`, requests, "requests", "graph-depth", depth);
        note(
          `${graph.packages.length} packages, ${Object.keys(outcome.lock.dependencies).length} locked, ${outcome.levels} resolver levels, ` +
            `${roundTrips} HTTP round trips: 1 eth_blockNumber + one getPackages eth_call per level, or per 240 packages ` +
            `first seen there (the node's eth_call gas cap, 2^24) (${perLevel.join("/")})`,
        );
      } finally {
        client.close();
        await content.close();
      }
    }
    log("done");
  } catch (error) {
    if (nodeLog.length > 0) console.error(`pkg node log:\n${nodeLog.slice(-20).join("\n")}`);
    throw error;
  } finally {
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
    await stop();
    await rm(work, { recursive: true, force: true });
  }
}

if (require.main === module) {
  benchLock().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
