import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";

/**
 * What deployments/<network>.json holds: where the registry of a network lives and how it got there.
 * Written by scripts/deploy.ts and scripts/migrate.ts (and `pkg node`), read by the CLI's config.
 */
export interface DeploymentRecord {
  network: string;
  chainId: number;
  /** The Registry contract's address (checksummed). */
  registry: string;
  /** The account that sent the deployment transaction. */
  deployer: string;
  /** Block and transaction of the contract creation. */
  blockNumber: number;
  transactionHash: string;
  /** The contract's name and version: keccak256 of its runtime code on chain (equal to the compiled artifact's). */
  contract: {
    name: string;
    codeHash: string;
    compiler: string;
    /** package.json version of the project that deployed it. */
    packageVersion: string;
  };
  /** The constructor's `importer` (zero: none). After a migration it has been sealed on chain. */
  importer: string;
  /** Ignition deployment id whose journal under ignition/deployments/ records it; null when none is kept
   * (the in-process network, local chains: see scripts/lib/deploy.ts). */
  deploymentId: string | null;
  /** Timestamp of the deployment block, ISO 8601. */
  deployedAt: string;
  /** Set by migrations: what was copied. */
  migration?: MigrationInfo;
  /** Set by migrations: the record (or at least the address) of the registry this one replaced. */
  previousRegistry?: Partial<DeploymentRecord> & { registry: string };
}

export interface MigrationInfo {
  from: string;
  /** The source registry was read at this block; later changes to it are not in this registry. */
  sourceBlock: number;
  repositories: number;
  packages: number;
  packageVersions: number;
  repositoryVersions: number;
  transactions: number;
  gasUsed: string;
  /** Ownership offers that could not be carried over (see scripts/lib/migrate.ts). */
  droppedPendingOwners: { id: string; name: string; owner: string; pendingOwner: string }[];
  completedAt: string;
}

/** Where records live: $PKG_DEPLOYMENTS_DIR, else <project root>/deployments. */
export function deploymentsDir(root: string): string {
  return process.env.PKG_DEPLOYMENTS_DIR ?? path.join(root, "deployments");
}

export function deploymentFile(dir: string, network: string): string {
  if (!/^[A-Za-z0-9_.-]+$/.test(network) || network.startsWith(".")) {
    throw new Error(`network name ${JSON.stringify(network)} cannot name a deployments file`);
  }
  return path.join(dir, `${network}.json`);
}

/** The record of `network`, or undefined when there is none. */
export async function readDeploymentRecord(dir: string, network: string): Promise<DeploymentRecord | undefined> {
  const file = deploymentFile(dir, network);
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  try {
    return JSON.parse(text) as DeploymentRecord;
  } catch (error) {
    throw new Error(`${file}: not valid JSON (${(error as Error).message})`);
  }
}

/**
 * Writes the record of `record.network` atomically: a temp file in the same directory, fsynced, then
 * renamed over the old one, so a reader sees the old record or the new one, never half of one.
 */
export async function writeDeploymentRecord(dir: string, record: DeploymentRecord): Promise<string> {
  const file = deploymentFile(dir, record.network);
  await fs.mkdir(dir, { recursive: true });
  const temp = path.join(dir, `.${record.network}.json.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  const handle = await fs.open(temp, "wx", 0o644);
  try {
    await handle.writeFile(`${JSON.stringify(record, null, 2)}\n`, "utf8");
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.rename(temp, file);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  }
  return file;
}
