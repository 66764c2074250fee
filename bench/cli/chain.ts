/**
 * Puts a synthetic graph on a local pkg node (startLocalNode, as `pkg node` runs it) and in the embedded
 * content store beside it, as `pkg publish` would leave them: every version's pkg.toml (meta) and a small
 * source tree in the store, pinned; the repository created, every package registered, every version
 * published, yanked versions yanked.
 *
 * For setup speed, versions go through publishBatch (scripts/lib/batch.ts plans the transactions) and the
 * per-package transactions (register, yank) are sent as JSON-RPC batches of eth_sendTransaction with a
 * fixed gas limit: no estimate and no receipt wait per transaction. The node's proxy still runs and
 * journals each one.
 */
import { CID } from "multiformats/cid";
import { ethers } from "ethers";
import { Registry__factory } from "../../typechain-types";
import { hashRepositoryId } from "../../src/ids";
import { serializeManifest, type Manifest } from "../../src/manifest";
import type { EmbeddedContentStore } from "../../src/content";
import { planBatches, type PackageReleaseList } from "../../scripts/lib/batch";
import type { Graph } from "./graph";
import { pool } from "./util";

const registryInterface = Registry__factory.createInterface();

interface RpcAnswer {
  id: number;
  result?: unknown;
  error?: { code: number; message: string };
}

async function rpcBatch(url: string, calls: { method: string; params: unknown[] }[]): Promise<unknown[]> {
  const body = calls.map((call, id) => ({ jsonrpc: "2.0", id, ...call }));
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const answers = (await response.json()) as RpcAnswer[];
  return answers
    .sort((a, b) => a.id - b.id)
    .map((answer, i) => {
      if (answer.error) throw new Error(`${calls[i].method} failed: ${answer.error.message}`);
      return answer.result;
    });
}

async function rpc<T>(url: string, method: string, params: unknown[] = []): Promise<T> {
  return (await rpcBatch(url, [{ method, params }]))[0] as T;
}

/** Sends transactions from `from` (a dev account the node signs for) to `to`, `chunk` per HTTP request; fails on any revert. */
async function sendAll(url: string, from: string, to: string, txs: { data: string; gas: number }[], chunk = 100): Promise<void> {
  const hashes: string[] = [];
  for (let start = 0; start < txs.length; start += chunk) {
    const calls = txs.slice(start, start + chunk).map((tx) => ({
      method: "eth_sendTransaction",
      params: [{ from, to, data: tx.data, gas: ethers.toQuantity(tx.gas) }],
    }));
    hashes.push(...((await rpcBatch(url, calls)) as string[]));
  }
  // automining: every transaction is mined when it is answered; check them all succeeded
  for (let start = 0; start < hashes.length; start += chunk) {
    const receipts = (await rpcBatch(
      url,
      hashes.slice(start, start + chunk).map((hash) => ({ method: "eth_getTransactionReceipt", params: [hash] })),
    )) as ({ status: string } | null)[];
    const bad = receipts.findIndex((r) => r === null || r.status !== "0x1");
    if (bad >= 0) throw new Error(`transaction ${hashes[start + bad]} failed or was not mined`);
  }
}

/** The package's pkg.toml for one version: its inputs point into the graph's repository. */
export function manifestOf(graph: Graph, name: string, version: string, deps: Map<string, string>): Manifest {
  return {
    repository: graph.prefix,
    name,
    version,
    license: "MIT",
    src: ["README.md", "src"],
    builder: null,
    args: [],
    metaInputs: {},
    nativeInputs: {},
    inputs: Object.fromEntries([...deps].map(([dep, range]) => [`${graph.prefix}:${dep}`, range])),
  };
}

export interface PublishedGraph {
  /** name → version → CIDs (strings). */
  cids: Map<string, Map<string, { meta: string; src: string }>>;
  transactions: number;
}

export async function publishGraph(params: {
  graph: Graph;
  url: string;
  registry: string;
  content: EmbeddedContentStore;
  /** The account that creates, registers and publishes. */
  from: string;
}): Promise<PublishedGraph> {
  const { graph, url, content, from } = params;
  const send = (txs: { data: string; gas: number }[], chunk?: number) => sendAll(url, from, params.registry, txs, chunk);

  // content: pkg.toml and a two-file source tree per version
  const cids = new Map<string, Map<string, { meta: string; src: string }>>();
  const jobs = graph.packages.flatMap((p) => p.versions.map((version) => ({ p, version })));
  await pool(jobs, 16, async ({ p, version }) => {
    const manifest = manifestOf(graph, p.name, version, p.deps);
    const meta = (await content.putBytes(serializeManifest(manifest), { pin: true })).toString();
    const src = (
      await content.putTree(
        [
          { path: "README.md", content: `# ${p.name} ${version}\n\nA synthetic package of the lock benchmark.\n` },
          { path: "src/index.js", content: `module.exports = ${JSON.stringify(`${p.name}@${version}`)};\n` },
        ],
        { pin: true },
      )
    ).toString();
    if (!cids.has(p.name)) cids.set(p.name, new Map());
    cids.get(p.name)!.set(version, { meta, src });
  });

  // chain: repository, packages, versions (batched), yanks
  const repositoryId = hashRepositoryId(graph.prefix);
  let transactions = 0;
  await send([{ data: registryInterface.encodeFunctionData("createRepository", [graph.prefix, false]), gas: 500_000 }]);
  transactions++;
  const registers = graph.packages.map((p) => ({ data: registryInterface.encodeFunctionData("registerPackage", [repositoryId, p.name]), gas: 300_000 }));
  await send(registers);
  transactions += registers.length;

  const lists: PackageReleaseList[] = graph.packages.map((p) => ({
    repositoryId,
    name: p.name,
    label: `${graph.prefix}/${p.name}`,
    releases: p.versions.map((version) => {
      const { meta, src } = cids.get(p.name)!.get(version)!;
      return { version, metaCid: ethers.hexlify(CID.parse(meta).bytes), srcCid: ethers.hexlify(CID.parse(src).bytes) };
    }),
  }));
  // Hardhat's node caps a transaction's gas at 2^24 (EIP-7825)
  const batches = planBatches(lists, { maxGasPerTx: 13_500_000 }).map((chunk) => ({
    data: registryInterface.encodeFunctionData("publishBatch", [chunk.entries]),
    gas: Math.min(16_000_000, Math.ceil(chunk.estimatedGas * 1.15)),
  }));
  await send(batches, 1);
  transactions += batches.length;

  const yanks = graph.packages.flatMap((p) =>
    [...p.yanked].map((version) => ({ data: registryInterface.encodeFunctionData("setYanked", [repositoryId, p.name, version, true]), gas: 200_000 })),
  );
  await send(yanks);
  transactions += yanks.length;
  return { cids, transactions };
}

/** The first dev account after the deployer: the publisher. */
export async function devAccount(url: string, index: number): Promise<string> {
  const accounts = await rpc<string[]>(url, "eth_accounts");
  return accounts[index];
}
