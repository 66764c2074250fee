/**
 * deployment.json: where the local registry is, written atomically once it is deployed, and read by the
 * CLI to find the local chain with no configuration.
 */
import path from "node:path";
import { deployRegistry, registryBytecode } from "../chain/deploy";
import { checksumAddress } from "../chain/hash";
import { writeFileAtomic } from "../files/atomic";
import { readTextFileOrNull } from "../files/read";
import { NodeError, ERR_NODE_DEPLOYMENT_CORRUPT } from "../errors/node";
import type { JournalLine } from "./journal";
import { rpc } from "./rpc";

export const DEPLOYMENT_FILE = "deployment.json";

export interface DeploymentRecord {
  rpcUrl: string;
  chainId: bigint;
  registry: string;
  deployBlock: number;
  deployTx: string;
}

/** The record in `dir` (the node directory), or null when there is none. */
export async function readDeploymentFile(dir: string): Promise<DeploymentRecord | null> {
  const file = path.join(dir, DEPLOYMENT_FILE);
  const text = await readTextFileOrNull(file);
  if (text === null) return null;
  const bad = (problem: string) =>
    new NodeError(ERR_NODE_DEPLOYMENT_CORRUPT, `${file}: ${problem}`, {
      details: { file },
      hint: "start `pkg node` again: it checks the registry and rewrites this file",
    });
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw bad("not valid JSON");
  }
  const { rpcUrl, chainId, registry, deployBlock, deployTx } = value ?? {};
  if (typeof rpcUrl !== "string") throw bad("rpcUrl is missing");
  if (typeof chainId !== "number" && typeof chainId !== "string") throw bad("chainId is missing");
  if (typeof registry !== "string" || !/^0x[0-9a-fA-F]{40}$/.test(registry)) throw bad("registry is not an address");
  if (typeof deployBlock !== "number" || !Number.isInteger(deployBlock)) throw bad("deployBlock is missing");
  return { rpcUrl, chainId: BigInt(chainId), registry: checksumAddress(registry.toLowerCase()), deployBlock, deployTx: typeof deployTx === "string" ? deployTx : "" };
}

export async function writeDeploymentFile(dir: string, record: DeploymentRecord): Promise<void> {
  await writeFileAtomic(path.join(dir, DEPLOYMENT_FILE), `${JSON.stringify({ ...record, chainId: Number(record.chainId) }, null, 2)}\n`);
}

async function hasCode(url: string, address: string): Promise<boolean> {
  return (await rpc<string>(url, "eth_getCode", [address, "latest"])) !== "0x";
}

/**
 * A registry deployed by a journaled transaction whose deployment.json was lost (e.g. a crash between
 * the deploy and the write): the first successful creation transaction carrying the Registry's bytecode.
 */
async function findJournaledDeployment(url: string, entries: JournalLine[]): Promise<Omit<DeploymentRecord, "rpcUrl" | "chainId"> | null> {
  const bytecode = registryBytecode();
  for (const { entry } of entries) {
    if (entry.method !== "eth_sendTransaction" || !entry.ok || !Array.isArray(entry.params)) continue;
    const tx = entry.params[0] as { to?: string | null; data?: string; input?: string } | undefined;
    const data = (tx?.data ?? tx?.input ?? "").toLowerCase();
    if (!tx || tx.to || !data.startsWith(bytecode)) continue;
    const receipt = await rpc<{ contractAddress: string | null; blockNumber: string; status: string } | null>(url, "eth_getTransactionReceipt", [entry.result]);
    if (!receipt?.contractAddress || receipt.status !== "0x1" || !(await hasCode(url, receipt.contractAddress))) continue;
    return { registry: checksumAddress(receipt.contractAddress), deployBlock: Number(BigInt(receipt.blockNumber)), deployTx: String(entry.result) };
  }
  return null;
}

/**
 * Makes sure a registry answers on the chain: the one in deployment.json if it has code, else one found in
 * the journal, else a new one deployed by dev account 0 through the proxy (so the deploy is journaled).
 */
export async function ensureRegistry(options: {
  dir: string;
  proxyUrl: string;
  chainId: bigint;
  entries: JournalLine[];
  log: (line: string) => void;
}): Promise<DeploymentRecord> {
  const { dir, proxyUrl, chainId, log } = options;
  let existing: DeploymentRecord | null = null;
  try {
    existing = await readDeploymentFile(dir);
  } catch (error) {
    log(`warning: ${(error as Error).message}; looking for the registry again`);
  }
  let found: Omit<DeploymentRecord, "rpcUrl" | "chainId"> | null = null;
  if (existing && existing.chainId === chainId && (await hasCode(proxyUrl, existing.registry))) {
    found = { registry: existing.registry, deployBlock: existing.deployBlock, deployTx: existing.deployTx };
  } else {
    if (existing) log(`the registry recorded in ${DEPLOYMENT_FILE} (${existing.registry}) is not on this chain`);
    found = await findJournaledDeployment(proxyUrl, options.entries);
    if (found) log(`found the registry deployed at ${found.registry} in the journal`);
  }
  if (!found) {
    found = await deployRegistry(proxyUrl, chainId);
    log(`deployed the registry at ${found.registry} (block ${found.deployBlock})`);
  }
  const record: DeploymentRecord = { rpcUrl: proxyUrl, chainId, ...found };
  const same =
    existing &&
    existing.rpcUrl === record.rpcUrl &&
    existing.chainId === record.chainId &&
    existing.registry === record.registry &&
    existing.deployBlock === record.deployBlock &&
    existing.deployTx === record.deployTx;
  if (!same) await writeDeploymentFile(dir, record);
  return record;
}
