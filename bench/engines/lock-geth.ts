/**
 * lock-1000-geth: `pkg lock` (a fresh `node bin/pkg.js lock --quiet` process, no pkg.lock yet) of a project
 * depending on the roots of the synthetic 1,000-package graph of lock-1000, against go-ethereum (`geth --dev`,
 * built by scripts/engines.sh) configured as a user configures any network ([networks.geth] with rpc-url,
 * chain-id and registry), beside the same lock against the Hardhat-based local node (`pkg node`) in the same
 * run. Medians of BENCH_LOCK_RUNS (default 3) after one untimed run of each. lock-1000-geth-rpc: the JSON-RPC
 * requests of the same lock made in-process, on each chain. The two chains must give the same dependencies.
 *
 *   npx hardhat run bench/engines/lock-geth.ts
 *
 * Setup: geth runs a dev chain with Ethereum mainnet's rules (forks through Osaka, see writeMainnetRulesGenesis),
 * --dev.period 0 (a block whenever transactions are pending) and a 60M block gas limit (publishGraph's
 * publishBatch transactions take up to 16M gas; geth's dev chain starts at 11.5M). The Registry is deployed from
 * the dev account (Registry__factory, no importer), and the graph published with bench/cli/chain.ts publishGraph
 * through a small JSON-RPC proxy, since publishGraph is written for an automining node and geth --dev is not one
 * (see automineProxy).
 * Without Go, where the engines cannot be built, prints a note and exits 0.
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { isDeepStrictEqual } from "node:util";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { ethers } from "ethers";
import { Registry__factory } from "../../typechain-types";
import { createRegistryClient } from "../../src/chain/registry";
import { openEmbeddedStore } from "../../src/content";
import { lockDirectory } from "../../src/lock";
import { readLockfile, type Lockfile } from "../../src/lockfile";
import { startLocalNode, type LocalNode } from "../../src/node";
import { startGeth, type GethNode } from "../../test/helpers/engines";
import { devAccount, publishGraph } from "../cli/chain";
import { describe, graphDepth, makeGraph, versionCount, writePkgProject } from "../cli/graph";
import { bench, cleanEnv, freePort, median, note, ROOT, run, since } from "../cli/util";
import { findEngines, withSignalCleanup } from "./engines";

const GETH_CHAIN_ID = 1337;
const GETH_GAS_LIMIT = 60_000_000;

interface JsonRpcCall {
  jsonrpc: "2.0";
  id: number | string;
  method: string;
  params?: unknown[];
}
interface JsonRpcAnswer {
  id: number | string;
  result?: unknown;
  error?: { code: number; message: string };
}

async function readBody(request: IncomingMessage): Promise<string> {
  let body = "";
  for await (const chunk of request) body += chunk;
  return body;
}

/**
 * A JSON-RPC proxy to geth that behaves, for publishGraph, like an automining node (Hardhat's), which
 * bench/cli/chain.ts's sendAll assumes: it sends batches of eth_sendTransaction without nonces, then expects
 * every receipt at once. geth --dev answers a send before the transaction is mined (receipts are null for a
 * while), and its own nonce choice for rapid sends from one account races with the blocks --dev.period 0
 * makes, so that sends in one batch get a nonce already taken ("replacement transaction underpriced",
 * "already known"). So the proxy gives each eth_sendTransaction without a nonce the next nonce of its sender
 * (counted from eth_getTransactionCount "pending" on first use), and answers eth_getTransactionReceipt only
 * once the receipt exists (polling geth, for at most two minutes). Everything else passes through.
 */
async function automineProxy(target: string): Promise<{ url: string; close(): Promise<void> }> {
  const counters = new Map<string, Promise<{ next: number }>>();
  const forward = async (calls: JsonRpcCall[]): Promise<JsonRpcAnswer[]> => {
    const response = await fetch(target, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(calls) });
    return (await response.json()) as JsonRpcAnswer[];
  };
  const counter = (from: string): Promise<{ next: number }> => {
    const key = from.toLowerCase();
    if (!counters.has(key)) {
      counters.set(
        key,
        forward([{ jsonrpc: "2.0", id: 0, method: "eth_getTransactionCount", params: [from, "pending"] }]).then(([answer]) => {
          if (answer.error) throw new Error(`eth_getTransactionCount failed: ${answer.error.message}`);
          return { next: Number(answer.result) };
        }),
      );
    }
    return counters.get(key)!;
  };
  const handle = async (calls: JsonRpcCall[]): Promise<JsonRpcAnswer[]> => {
    for (const call of calls) {
      const tx = call.method === "eth_sendTransaction" ? (call.params?.[0] as { from: string; nonce?: string } | undefined) : undefined;
      if (tx !== undefined && tx.nonce === undefined) tx.nonce = ethers.toQuantity((await counter(tx.from)).next++);
    }
    const answers = await forward(calls);
    const byId = new Map(calls.map((call) => [call.id, call]));
    const deadline = Date.now() + 120_000;
    for (;;) {
      const pending = answers.filter((a) => a.result === null && byId.get(a.id)?.method === "eth_getTransactionReceipt");
      if (pending.length === 0 || Date.now() > deadline) return answers;
      await new Promise((resolve) => setTimeout(resolve, 50));
      const again = await forward(pending.map((a) => byId.get(a.id)!));
      for (const answer of again) Object.assign(pending.find((a) => a.id === answer.id)!, answer);
    }
  };
  const server = createServer((request, response) => {
    void (async () => {
      try {
        const body = JSON.parse(await readBody(request)) as JsonRpcCall | JsonRpcCall[];
        const answers = await handle(Array.isArray(body) ? body : [body]);
        response.setHeader("content-type", "application/json");
        response.end(JSON.stringify(Array.isArray(body) ? answers : answers[0]));
      } catch (error) {
        response.statusCode = 502;
        response.end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32603, message: String(error) } }));
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** The private key geth --dev imports for its dev account (go-ethereum cmd/utils DeveloperKey, public on purpose). */
const GETH_DEV_KEY = "0xb71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291";
const MAINNET_FORKS = new Set(["shanghaiTime", "cancunTime", "pragueTime", "osakaTime"]);

/**
 * geth's own dev genesis (`geth --dev dumpgenesis`) with only the forks Ethereum mainnet runs (through Osaka), a
 * `gasLimit` block gas limit and the dev account funded, written to `file`. The built-in one also turns on
 * geth's unreleased Amsterdam/Bogota rules, whose EIP-8037 state-gas metering makes a new storage slot cost about
 * 4× as much: registerPackage takes 584k gas there (143k on Hardhat), over publishGraph's fixed 300k, and a
 * publishBatch planned at 13.5M would need far more than the 2^24 per-transaction cap.
 */
async function writeMainnetRulesGenesis(geth: string, file: string, gasLimit: number): Promise<{ dropped: string[] }> {
  const dump = await run(geth, ["--dev", "dumpgenesis"]);
  if (dump.code !== 0) throw new Error(`geth --dev dumpgenesis failed (exit ${dump.code}):\n${dump.stderr}`);
  const genesis = JSON.parse(dump.stdout) as { config: Record<string, unknown>; gasLimit: string; alloc: Record<string, { balance: string }> };
  const dropped = Object.keys(genesis.config).filter((key) => key.endsWith("Time") && !MAINNET_FORKS.has(key));
  for (const key of dropped) delete genesis.config[key];
  genesis.gasLimit = ethers.toQuantity(gasLimit);
  genesis.alloc[new ethers.Wallet(GETH_DEV_KEY).address.slice(2).toLowerCase()] = { balance: ethers.toQuantity(ethers.MaxUint256 - 9n) };
  await writeFile(file, JSON.stringify(genesis, null, 2));
  return { dropped };
}

/** Deploys the Registry (no importer) from geth's dev account; its address. */
async function deployOnGeth(url: string): Promise<{ registry: string; dev: string }> {
  const provider = new ethers.JsonRpcProvider(url, GETH_CHAIN_ID, { staticNetwork: true, batchMaxCount: 1 });
  provider.pollingInterval = 100;
  try {
    const [dev] = (await provider.send("eth_accounts", [])) as string[];
    const registry = await new Registry__factory(await provider.getSigner(dev)).deploy(ethers.ZeroAddress);
    await registry.waitForDeployment();
    return { registry: await registry.getAddress(), dev };
  } finally {
    provider.destroy();
  }
}


/** Throws unless two locks hold the same dependencies (same keys, versions, CIDs, inputs). */
function expectSameDependencies(a: Lockfile, b: Lockfile, what: string): void {
  if (isDeepStrictEqual(a.dependencies, b.dependencies)) return;
  const keys = new Set([...Object.keys(a.dependencies), ...Object.keys(b.dependencies)]);
  const differing = [...keys].filter((key) => !isDeepStrictEqual(a.dependencies[key], b.dependencies[key]));
  throw new Error(
    `${what}: the locks differ in ${differing.length} dependencies, e.g. ${differing[0]}: ` +
      `${JSON.stringify(a.dependencies[differing[0]])} vs ${JSON.stringify(b.dependencies[differing[0]])}`,
  );
}

interface Chain {
  name: "hardhat" | "geth";
  url: string;
  registry: string;
  chainId: number;
  dataDir: string;
  env: NodeJS.ProcessEnv;
}

export async function benchLockGeth(): Promise<void> {
  const started = performance.now();
  const log = (line: string) => console.log(`  [${since(started)}] ${line}`);
  const runs = Number(process.env.BENCH_LOCK_RUNS ?? 3);
  const pkgBin = path.join(ROOT, "bin", "pkg.js");
  if (!existsSync(path.join(ROOT, "dist", "cli", "pkg", "lock.js"))) throw new Error("dist/ is not built: run `npm run build` first");
  const engines = await findEngines("lock-1000-geth");
  if (engines === null) return;

  const graph = makeGraph({ total: 1000, levels: 10, seed: 1000, prefix: "g1000" });
  const work = await mkdtemp(path.join(tmpdir(), "chainpkg-bench-geth-"));
  let node: LocalNode | null = null;
  let geth: GethNode | null = null;
  const nodeLog: string[] = [];
  const stop = async () => {
    await node?.stop().catch(() => undefined);
    node = null;
    await geth?.stop().catch(() => undefined);
    geth = null;
  };
  const cleanup = async () => {
    await stop();
    await rm(work, { recursive: true, force: true });
  };
  await withSignalCleanup(cleanup, async () => {
    try {
      // ------------------------------------------------------------ setup: the graph on both chains, in parallel
      const hardhatData = path.join(work, "data-hardhat");
      const gethData = path.join(work, "data-geth");
      const publish = async (chain: { url: string; registry: string; from: string; dataDir: string; name: string }, via = chain.url) => {
        const content = await openEmbeddedStore({ directory: path.join(chain.dataDir, "ipfs") });
        try {
          const t = performance.now();
          const published = await publishGraph({ graph, url: via, registry: chain.registry, content, from: chain.from });
          log(`published ${graph.prefix} on ${chain.name}: ${versionCount(graph)} versions, ${published.transactions} transactions, ${since(t)}`);
          return published.transactions;
        } finally {
          await content.close();
        }
      };
      const hardhatSetup = (async (): Promise<Chain> => {
        node = await startLocalNode({ dataDir: hardhatData, port: 0, log: (line) => nodeLog.push(line) });
        const local = node;
        log(`hardhat local node on ${local.url}, registry ${local.registry}`);
        await publish({ url: local.url, registry: local.registry, from: await devAccount(local.url, 1), dataDir: hardhatData, name: "hardhat" });
        const env = cleanEnv({ PKG_DATA_DIR: hardhatData, PKG_RPC_URL: local.url, PKG_CONFIG: path.join(work, "no-config.toml"), NO_COLOR: "1" });
        return { name: "hardhat", url: local.url, registry: local.registry, chainId: Number(local.chainId), dataDir: hardhatData, env };
      })();
      const gethSetup = (async (): Promise<Chain> => {
        const genesis = path.join(work, "geth-genesis.json");
        const { dropped } = await writeMainnetRulesGenesis(engines.geth, genesis, GETH_GAS_LIMIT);
        geth = await startGeth(engines.geth, path.join(work, "geth"), await freePort(), { period: 0, gasLimit: GETH_GAS_LIMIT, genesis });
        const { url } = geth;
        const { registry, dev } = await deployOnGeth(url);
        log(`geth --dev on ${url} (forks through Osaka; left out of geth's dev genesis: ${dropped.join(", ") || "nothing"}), registry ${registry} (deployed from the dev account ${dev})`);
        const proxy = await automineProxy(url);
        try {
          await publish({ url, registry, from: dev, dataDir: gethData, name: "geth" }, proxy.url);
        } finally {
          await proxy.close();
        }
        const config = path.join(work, "geth-config.toml");
        await writeFile(config, ['network = "geth"', "[networks.geth]", `rpc-url = "${url}"`, `chain-id = ${GETH_CHAIN_ID}`, `registry = "${registry}"`, ""].join("\n"));
        const env = cleanEnv({ PKG_DATA_DIR: gethData, PKG_CONFIG: config, PKG_NETWORK: "geth", NO_COLOR: "1" });
        return { name: "geth", url, registry, chainId: GETH_CHAIN_ID, dataDir: gethData, env };
      })();
      // both finish before anything is stopped or removed, even when one fails
      const [hardhatDone, gethDone] = await Promise.allSettled([hardhatSetup, gethSetup]);
      if (hardhatDone.status === "rejected") throw hardhatDone.reason;
      if (gethDone.status === "rejected") throw gethDone.reason;
      const chains = [hardhatDone.value, gethDone.value];

      // ------------------------------------------------------------ lock-1000-geth: pkg lock on each chain
      const dirs = new Map<string, string>();
      for (const chain of chains) {
        const dir = path.join(work, `app-${chain.name}`);
        await writePkgProject(dir, graph);
        dirs.set(chain.name, dir);
      }
      const pkgLock = async (chain: Chain) => {
        const dir = dirs.get(chain.name)!;
        await rm(path.join(dir, "pkg.lock"), { force: true });
        const result = await run(process.execPath, [pkgBin, "lock", "--quiet"], { cwd: dir, env: chain.env });
        if (result.code !== 0) throw new Error(`pkg lock on ${chain.name} failed (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
        return result.ms;
      };
      // one untimed run of each warms the nodes (EVM, state caches), then the runs alternate
      for (const chain of chains) await pkgLock(chain);
      const times = new Map<string, number[]>(chains.map((chain) => [chain.name, []]));
      for (let i = 0; i < runs; i++) {
        for (const chain of chains) times.get(chain.name)!.push(await pkgLock(chain));
      }
      const [hardhatLock, gethLock] = await Promise.all(chains.map((chain) => readLockfile(path.join(dirs.get(chain.name)!, "pkg.lock"))));
      expectSameDependencies(hardhatLock, gethLock, "pkg lock (CLI) on hardhat vs geth");
      const gethMedian = median(times.get("geth")!) / 1000;
      const hardhatMedian = median(times.get("hardhat")!) / 1000;
      bench("lock-1000-geth", gethMedian, "s", "lock-1000-hardhat", hardhatMedian, 2);
      const list = (name: string) => times.get(name)!.map((t) => (t / 1000).toFixed(2)).join(", ");
      note(`pkg lock runs: geth ${list("geth")} s; hardhat ${list("hardhat")} s (geth / hardhat = ${(gethMedian / hardhatMedian).toFixed(2)}×)`);
      note(
        `both locks: ${Object.keys(gethLock.dependencies).length} entries, the same dependencies (versions, CIDs, inputs); ` +
          `geth lock at block ${gethLock.block} (chain ${gethLock.chainId}), hardhat at block ${hardhatLock.block} (chain ${hardhatLock.chainId})`,
      );
      note(`graph: ${describe(graph)} (depth ${graphDepth(graph).depth})`);

      // ------------------------------------------------------------ lock-1000-geth-rpc: requests per lock, in-process
      const requests = new Map<string, { requests: number; roundTrips: number; lock: Lockfile; levels: number }>();
      for (const chain of chains) {
        const dir = path.join(work, `rpc-${chain.name}`);
        await writePkgProject(dir, graph);
        const client = createRegistryClient({ rpcUrl: chain.url, address: chain.registry, expectedChainId: BigInt(chain.chainId) });
        const content = await openEmbeddedStore({ directory: path.join(chain.dataDir, "ipfs") });
        try {
          const before = { requests: client.provider.requests, roundTrips: client.provider.roundTrips };
          const outcome = await lockDirectory({ session: { client, content, chain: { chainId: chain.chainId, registry: chain.registry } }, dir });
          requests.set(chain.name, {
            requests: client.provider.requests - before.requests,
            roundTrips: client.provider.roundTrips - before.roundTrips,
            lock: outcome.lock,
            levels: outcome.levels,
          });
        } finally {
          client.close();
          await content.close();
        }
      }
      const onGeth = requests.get("geth")!;
      const onHardhat = requests.get("hardhat")!;
      expectSameDependencies(onHardhat.lock, onGeth.lock, "lockDirectory (in-process) on hardhat vs geth");
      expectSameDependencies(onGeth.lock, gethLock, "lockDirectory (in-process) vs pkg lock (CLI) on geth");
      bench("lock-1000-geth-rpc", onGeth.requests, "requests", "lock-1000-hardhat-rpc", onHardhat.requests);
      note(
        `HTTP round trips: geth ${onGeth.roundTrips}, hardhat ${onHardhat.roundTrips}; ${onGeth.levels} resolver levels ` +
          `(${graphDepth(graph).perLevel.join("/")} packages first seen per level)`,
      );
      log("done");
    } catch (error) {
      if (nodeLog.length > 0) console.error(`hardhat local node log:\n${nodeLog.slice(-20).join("\n")}`);
      const gethNode = geth as GethNode | null;
      if (gethNode !== null) console.error(`geth output (last lines):\n${gethNode.output().split("\n").slice(-30).join("\n")}`);
      throw error;
    } finally {
      await cleanup();
    }
  });
}

if (require.main === module) {
  benchLockGeth().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
