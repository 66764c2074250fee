import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import type {} from "@nomicfoundation/hardhat-ethers";
import { HardhatArtifactResolver } from "@nomicfoundation/hardhat-ignition/helpers";
import type {} from "@nomicfoundation/hardhat-ignition-ethers";
import { listTransactions } from "@nomicfoundation/ignition-core";
import { ethers } from "ethers";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import RegistryModule, { REGISTRY_MODULE_ID } from "../../ignition/modules/Registry";
import { type Registry, Registry__factory } from "../../typechain-types";
import { type DeploymentRecord, deploymentFile, readDeploymentRecord, writeDeploymentRecord } from "./deployments";

/** The chain id of local development nodes (`npx hardhat node`, anvil): their state is disposable. */
export const LOCAL_CHAIN_ID = 31337;

const CONTRACT_NAME = "Registry";
const CONTRACT_FQN = "contracts/Registry.sol:Registry";

export interface DeployRegistryOptions {
  /** The constructor's migration account; zero (default) for none. */
  importer?: string;
  /** The account that deploys (Ignition's default sender); default: the network's first account. */
  from?: string;
  /**
   * Ignition deployment id (its journal directory under ignition/deployments/). Default: none on the
   * in-process network, a fresh id per deploy on local chains (31337; journal removed afterwards), and
   * `chain-<chainId>` elsewhere (Ignition's default: an interrupted deploy resumes, a finished one is reused).
   */
  deploymentId?: string;
  /**
   * When set, the record is also written (atomically) to `<recordIn>/<network>.json` — except when Ignition
   * reused an earlier deployment while the file names another registry (e.g. one migrated to since): then
   * this throws rather than point the network back at the old registry.
   */
  recordIn?: string;
}

export interface DeployedRegistry {
  registry: Registry;
  record: DeploymentRecord;
  /** True when Ignition returned a contract deployed before this call (a finished deployment of the same id). */
  reused: boolean;
}

/**
 * Deploys the registry through the Ignition module (ignition/modules/Registry.ts) on `hre`'s network and
 * describes the deployment. Works against the in-process network, a fresh `npx hardhat node`/anvil, and
 * any configured network.
 *
 * Why local chains get a fresh deployment id: Ignition keeps a journal per deployment id and, for the default
 * id `chain-<chainId>`, reuses it for every chain with that id. A local node's state is ephemeral, but every
 * local node has chain id 31337, so a journal left by a previous node would make Ignition report the old
 * (now nonexistent) contract as deployed or fail reconciling nonces against the new node. Each deploy on
 * chain 31337 therefore runs under its own id (`chain-31337-<time>-<random>`, so two deploys running at once
 * against two local nodes never share a journal either) and its journal is deleted once the deploy finished:
 * the address lives in deployments/<network>.json. Other chains keep Ignition's journal as usual.
 */
export async function deployRegistry(
  hre: HardhatRuntimeEnvironment,
  options: DeployRegistryOptions = {},
): Promise<DeployedRegistry> {
  const provider = hre.ethers.provider;
  const chainId = Number((await provider.getNetwork()).chainId);
  const importer = ethers.getAddress(options.importer ?? ethers.ZeroAddress);
  const inProcess = hre.network.name === "hardhat";
  const disposableJournal = !inProcess && chainId === LOCAL_CHAIN_ID && options.deploymentId === undefined;
  let deploymentId: string | undefined = options.deploymentId;
  if (!inProcess && deploymentId === undefined) {
    deploymentId = disposableJournal ? localDeploymentId() : `chain-${chainId}`;
  }
  const deploymentDir =
    inProcess || deploymentId === undefined ? undefined : path.join(hre.config.paths.ignition, "deployments", deploymentId);

  const startBlock = await provider.getBlockNumber();
  let address: string;
  let transactionHash: string;
  try {
    const { registry: deployed } = await hre.ignition.deploy(RegistryModule, {
      parameters: { [REGISTRY_MODULE_ID]: { importer } },
      deploymentId,
      defaultSender: options.from,
    });
    address = ethers.getAddress(await deployed.getAddress());
    transactionHash = await findCreationTransaction(hre, address, startBlock, deploymentDir);
  } finally {
    if (disposableJournal && deploymentDir !== undefined) {
      await fs.rm(deploymentDir, { recursive: true, force: true });
      await fs.rmdir(path.dirname(deploymentDir)).catch(() => {}); // ignition/deployments/, when empty now
    }
  }

  const receipt = await provider.getTransactionReceipt(transactionHash);
  if (receipt === null || receipt.status !== 1 || receipt.contractAddress === null) {
    throw new Error(`deployment transaction ${transactionHash} has no successful receipt`);
  }
  if (ethers.getAddress(receipt.contractAddress) !== address) {
    throw new Error(`deployment transaction ${transactionHash} created ${receipt.contractAddress}, not ${address}`);
  }
  const block = await provider.getBlock(receipt.blockNumber);
  if (block === null) throw new Error(`block ${receipt.blockNumber} not found`);

  const code = await provider.getCode(address);
  const artifact = await hre.artifacts.readArtifact(CONTRACT_NAME);
  const codeHash = ethers.keccak256(code);
  if (codeHash !== ethers.keccak256(artifact.deployedBytecode)) {
    throw new Error(
      `the code at ${address} is not the compiled ${CONTRACT_NAME} (a stale Ignition journal in ` +
        `${deploymentDir ?? "memory"}? deploy with another deploymentId)`,
    );
  }
  const buildInfo = await hre.artifacts.getBuildInfo(CONTRACT_FQN);

  const record: DeploymentRecord = {
    network: hre.network.name,
    chainId,
    registry: address,
    deployer: ethers.getAddress(receipt.from),
    blockNumber: receipt.blockNumber,
    transactionHash,
    contract: {
      name: CONTRACT_NAME,
      codeHash,
      compiler: buildInfo?.solcVersion ?? "unknown",
      packageVersion: await packageVersion(hre.config.paths.root),
    },
    importer,
    deploymentId: deploymentDir === undefined || disposableJournal ? null : (deploymentId ?? null),
    deployedAt: new Date(block.timestamp * 1000).toISOString(),
  };
  // Ignition hands back a finished deployment of the same id instead of deploying again (real networks)
  const reused = receipt.blockNumber <= startBlock;
  if (options.recordIn !== undefined) {
    const previous = await readDeploymentRecord(options.recordIn, record.network);
    if (reused && previous !== undefined && previous.registry.toLowerCase() !== address.toLowerCase()) {
      throw new Error(
        `Ignition deployment ${deploymentId} already holds the registry ${address} (block ${receipt.blockNumber}), ` +
          `but ${deploymentFile(options.recordIn, record.network)} names ${previous.registry}; not overwriting it. ` +
          `Deploy another registry under a new deployment id (PKG_DEPLOYMENT_ID).`,
      );
    }
    await writeDeploymentRecord(options.recordIn, record);
  }

  const runner = await hre.ethers.getSigner(record.deployer).catch(() => provider);
  return { registry: Registry__factory.connect(address, runner), record, reused };
}

function localDeploymentId(): string {
  const time = new Date().toISOString().replace(/[-:.TZ]/g, "");
  return `chain-${LOCAL_CHAIN_ID}-${time}-${randomBytes(3).toString("hex")}`;
}

/**
 * The hash of the transaction that created `address`: from Ignition's journal when there is one (it also
 * covers a deployment resumed or reused from an earlier run), otherwise by looking through the blocks mined
 * since `startBlock` for the creation (the in-process network keeps its journal in memory).
 */
async function findCreationTransaction(
  hre: HardhatRuntimeEnvironment,
  address: string,
  startBlock: number,
  deploymentDir: string | undefined,
): Promise<string> {
  if (deploymentDir !== undefined) {
    const transactions = await listTransactions(deploymentDir, new HardhatArtifactResolver(hre));
    const creation = transactions.find(
      (tx) =>
        tx.type === "DEPLOYMENT_EXECUTION_STATE" &&
        tx.status === "SUCCESS" &&
        tx.address !== undefined &&
        ethers.getAddress(tx.address) === address,
    );
    if (creation !== undefined) return creation.txHash;
  }
  const provider = hre.ethers.provider;
  const latest = await provider.getBlockNumber();
  for (let number = startBlock + 1; number <= latest; ++number) {
    const block = await provider.getBlock(number, true);
    for (const tx of block?.prefetchedTransactions ?? []) {
      if (tx.to === null && ethers.getCreateAddress({ from: tx.from, nonce: tx.nonce }) === address) return tx.hash;
    }
  }
  throw new Error(`cannot find the transaction that created ${address} (blocks ${startBlock + 1}..${latest})`);
}

async function packageVersion(root: string): Promise<string> {
  try {
    const manifest = JSON.parse(await fs.readFile(path.join(root, "package.json"), "utf8")) as { version?: unknown };
    return typeof manifest.version === "string" ? manifest.version : "unknown";
  } catch {
    return "unknown";
  }
}
