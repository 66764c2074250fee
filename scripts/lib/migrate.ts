import { ethers, type Provider, type Signer } from "ethers";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { type Registry, Registry__factory } from "../../typechain-types";
import {
  type BatchChunk,
  DEFAULT_MAX_GAS_PER_TX,
  DEFAULT_MAX_VERSIONS_PER_TX,
  type PackageReleaseList,
  type PlanOptions,
  planBatches,
  unpackVersions,
} from "./batch";
import { deployRegistry, LOCAL_CHAIN_ID } from "./deploy";
import { type DeploymentRecord, type MigrationInfo, readDeploymentRecord, writeDeploymentRecord } from "./deployments";
import { assertSnapshotsEqual, readRegistry, type RegistrySnapshot } from "./snapshot";
import { TxQueue } from "./txqueue";

/*
 * Copying a registry into a new one through the contract's ordinary paths, with the new registry's importer
 * (the migrating account) standing in for every owner until it seals the import.
 *
 * Owners. The importer sets an owner directly only for ids it does not own itself (Registry.transferOwnership:
 * `msg.sender == importer && msg.sender != owner`); for an id it owns, transferOwnership is the ordinary
 * two-step offer, which the copied accounts cannot accept during a migration. createRepository and
 * registerPackage make the caller the owner, so if the importer created the repositories and packages it
 * could never hand them over. They are therefore created by a second account, the creator (by default a fresh
 * wallet the importer funds for those transactions and that returns the rest at the end); the importer then
 * publishes, yanks, adds maintainers and finally sets every owner directly.
 *
 * Pending owners. An ownership offer (pendingOwner) can only be made by the owner itself, and the importer's
 * direct transfer clears any offer. So an offer is carried over only where the owner is the migrating account
 * (it then re-offers as owner before sealing); any other offer is dropped and reported — its owner has to offer
 * again on the new registry. The check compares against the source with exactly those offers cleared.
 */

export interface CopyRegistryOptions extends PlanOptions {
  /** The target registry's importer. */
  importer: Signer;
  /** Creates the repositories and packages (see above); default: a fresh wallet funded by the importer. */
  creator?: Signer;
  /** Transactions in flight per account (default 16). */
  window?: number;
  /** Seal the import at the end (default true). */
  seal?: boolean;
  log?: (line: string) => void;
  /** Log every transaction, not only each phase. */
  verbose?: boolean;
}

export interface DroppedOffer {
  id: string;
  name: string;
  owner: string;
  pendingOwner: string;
}

export interface CopyResult {
  /** What the target must read back as: the source with the dropped offers cleared. */
  expected: RegistrySnapshot;
  droppedPendingOwners: DroppedOffer[];
  repositories: number;
  packages: number;
  packageVersions: number;
  repositoryVersions: number;
  batches: number;
  transactions: number;
  gasUsed: bigint;
}

/** Gas budgeted per creator transaction (createRepository / registerPackage use about 120k–200k). */
const CREATOR_GAS_PER_TX = 300_000n;

/**
 * Copies `source` (a snapshot, see readRegistry) into the empty registry `target`, whose importer is
 * `options.importer`: repositories (creation order, curated flag), packages (registration order), package
 * versions through publishBatch (oldest first, so the newest-first lists come out identical; exact CIDs),
 * repository versions, yank flags, maintainers (in order), owners, carried-over ownership offers; then seals
 * the import. Does not verify: see {@link migrateRegistry} or assertSnapshotsEqual(result.expected, …).
 */
export async function copyRegistry(
  source: RegistrySnapshot,
  target: Registry,
  options: CopyRegistryOptions,
): Promise<CopyResult> {
  const log = options.log ?? (() => {});
  const provider = target.runner?.provider ?? options.importer.provider;
  if (!provider) throw new Error("copyRegistry: no provider");
  const importer = options.importer;
  const importerAddress = ethers.getAddress(await importer.getAddress());
  const asImporter = target.connect(importer);

  const currentImporter = ethers.getAddress(await target.importer());
  if (currentImporter !== importerAddress) {
    throw new Error(`target registry's importer is ${currentImporter}, not the migrating account ${importerAddress}`);
  }
  const existing = await target.repositoryCount();
  if (existing !== 0n) throw new Error(`target registry is not empty (${existing} repositories)`);

  const ownCreator = options.creator === undefined;
  const creator = options.creator ?? new ethers.Wallet(ethers.hexlify(ethers.randomBytes(32)), provider);
  const creatorAddress = ethers.getAddress(await creator.getAddress());
  if (creatorAddress === importerAddress) {
    throw new Error("the creator must not be the importer: the importer cannot set owners of ids it owns itself");
  }
  const asCreator = target.connect(creator);

  const queueOptions = { window: options.window, log: options.verbose ? log : undefined };
  const importerQueue = new TxQueue(importer, queueOptions);
  const creatorQueue = new TxQueue(creator, queueOptions);
  const repositories = source.repositories;
  const packages = repositories.flatMap((repository) => repository.packages.map((pkg) => ({ repository, pkg })));

  const fund = async (transactions: number) => {
    if (!ownCreator || transactions === 0) return;
    const needed = (CREATOR_GAS_PER_TX * BigInt(transactions) * (await feePerGas(provider)) * 3n) / 2n;
    const balance = await provider.getBalance(creatorAddress);
    if (balance >= needed) return;
    await importerQueue.send("fund the creator account", (overrides) =>
      importer.sendTransaction({ to: creatorAddress, value: needed - balance, ...overrides }),
    );
    await importerQueue.flush();
  };

  // 1. repositories, by the creator (which becomes their owner until step 7)
  log(`creating ${repositories.length} repositories (creator ${creatorAddress})`);
  await fund(repositories.length + packages.length);
  for (const repository of repositories) {
    await creatorQueue.send(`createRepository ${repository.name}`, (overrides) =>
      asCreator.createRepository(repository.name, repository.curated, overrides),
    );
  }
  await creatorQueue.flush();

  // 2. packages, in registration order (the creator owns every repository, so curated ones admit it too)
  log(`registering ${packages.length} packages`);
  for (const { repository, pkg } of packages) {
    await creatorQueue.send(`registerPackage ${repository.name}/${pkg.name}`, (overrides) =>
      asCreator.registerPackage(repository.id, pkg.name, overrides),
    );
  }
  await creatorQueue.flush();

  // 3. package versions, oldest first, through publishBatch
  const lists: PackageReleaseList[] = packages.map(({ repository, pkg }) => ({
    repositoryId: repository.id,
    name: pkg.name,
    label: `${repository.name}/${pkg.name}`,
    releases: [...pkg.versions].reverse().map(({ version, metaCid, srcCid }) => ({ version, metaCid, srcCid })),
  }));
  const blockGasLimit = (await provider.getBlock("latest"))?.gasLimit ?? 30_000_000n;
  // at most half a block, so a batch never competes for a whole block
  const maxGasPerTx = Math.min(options.maxGasPerTx ?? DEFAULT_MAX_GAS_PER_TX, Number(blockGasLimit / 2n));
  const planOptions = { maxVersionsPerTx: options.maxVersionsPerTx ?? DEFAULT_MAX_VERSIONS_PER_TX, maxGasPerTx };
  const planned = planBatches(lists, planOptions);
  const packageVersions = lists.reduce((sum, list) => sum + list.releases.length, 0);
  log(`publishing ${packageVersions} package versions in ${planned.length} publishBatch transaction(s)`);
  let batches = 0;
  const sendBatch = async (chunk: BatchChunk): Promise<void> => {
    const estimate = await asImporter.publishBatch.estimateGas(chunk.entries).catch((error: unknown) => {
      throw new Error(`publishBatch ${chunk.label}: estimate failed: ${String((error as Error).message)}`, { cause: error });
    });
    if (estimate > BigInt(maxGasPerTx) && chunk.versionCount > 1) {
      // the estimates in batch.ts are upper bounds, so this is unexpected; halve rather than fail
      const halves = planBatches(chunkToLists(chunk), { maxVersionsPerTx: Math.ceil(chunk.versionCount / 2), maxGasPerTx });
      for (const half of halves) await sendBatch(half);
      return;
    }
    const gasLimit = (estimate * 6n) / 5n < blockGasLimit ? (estimate * 6n) / 5n : estimate;
    batches += 1;
    await importerQueue.send(`publishBatch ${chunk.label} (${chunk.versionCount} versions)`, (overrides) =>
      asImporter.publishBatch(chunk.entries, { ...overrides, gasLimit }),
    );
  };
  for (const chunk of planned) await sendBatch(chunk);

  // 4. repository versions, oldest first (there is no batch path for them)
  const repositoryVersions = repositories.reduce((sum, repository) => sum + repository.versions.length, 0);
  log(`publishing ${repositoryVersions} repository versions`);
  for (const repository of repositories) {
    for (const version of [...repository.versions].reverse()) {
      await importerQueue.send(`publishRepository ${repository.name} ${version.version}`, (overrides) =>
        asImporter.publishRepository(repository.id, version.version, version.metaCid, overrides),
      );
    }
  }
  await importerQueue.flush();

  // 5. yank flags
  let yanks = 0;
  for (const repository of repositories) {
    for (const version of repository.versions.filter((v) => v.yanked)) {
      yanks += 1;
      await importerQueue.send(`setRepositoryYanked ${repository.name} ${version.version}`, (overrides) =>
        asImporter.setRepositoryYanked(repository.id, version.version, true, overrides),
      );
    }
    for (const pkg of repository.packages) {
      for (const version of pkg.versions.filter((v) => v.yanked)) {
        yanks += 1;
        await importerQueue.send(`setYanked ${repository.name}/${pkg.name} ${version.version}`, (overrides) =>
          asImporter.setYanked(repository.id, pkg.name, version.version, true, overrides),
        );
      }
    }
  }
  log(`yanked ${yanks} versions`);

  // 6. maintainers, in the source's order (EnumerableSet keeps insertion order when nothing is removed)
  const ids = repositories.flatMap((repository) => [
    { id: repository.id, name: repository.name, owner: repository.owner, pendingOwner: repository.pendingOwner, maintainers: repository.maintainers },
    ...repository.packages.map((pkg) => ({
      id: pkg.id,
      name: `${repository.name}/${pkg.name}`,
      owner: pkg.owner,
      pendingOwner: pkg.pendingOwner,
      maintainers: pkg.maintainers,
    })),
  ]);
  let maintainers = 0;
  for (const entry of ids) {
    for (const account of entry.maintainers) {
      maintainers += 1;
      await importerQueue.send(`addMaintainer ${entry.name} ${account}`, (overrides) =>
        asImporter.addMaintainer(entry.id, account, overrides),
      );
    }
  }
  log(`added ${maintainers} maintainers`);
  await importerQueue.flush();

  // 7. owners: the creator owns everything, so the importer's transfer sets each owner at once
  log(`setting ${ids.length} owners`);
  for (const entry of ids) {
    await importerQueue.send(`transferOwnership ${entry.name} -> ${entry.owner}`, (overrides) =>
      asImporter.transferOwnership(entry.id, entry.owner, overrides),
    );
  }
  await importerQueue.flush();

  // 8. ownership offers: only an owner can make one, so only the importer's own ids keep theirs
  const droppedPendingOwners: DroppedOffer[] = [];
  for (const entry of ids) {
    if (entry.pendingOwner === ethers.ZeroAddress) continue;
    if (entry.owner === importerAddress) {
      await importerQueue.send(`transferOwnership ${entry.name} (offer to ${entry.pendingOwner})`, (overrides) =>
        asImporter.transferOwnership(entry.id, entry.pendingOwner, overrides),
      );
    } else {
      droppedPendingOwners.push({ id: entry.id, name: entry.name, owner: entry.owner, pendingOwner: entry.pendingOwner });
      log(`WARNING: ownership offer of ${entry.name} from ${entry.owner} to ${entry.pendingOwner} not carried over`);
    }
  }

  // 9. seal: from here on the importer is an ordinary account
  if (options.seal ?? true) {
    await importerQueue.send("sealImport", (overrides) => asImporter.sealImport(overrides));
    log("sealed the import");
  }
  await importerQueue.flush();

  if (ownCreator) await sweep(creator, provider, importerAddress, log);

  const dropped = new Set(droppedPendingOwners.map((offer) => offer.id));
  const expected: RegistrySnapshot = {
    ...source,
    repositories: source.repositories.map((repository) => ({
      ...repository,
      pendingOwner: dropped.has(repository.id) ? ethers.ZeroAddress : repository.pendingOwner,
      packages: repository.packages.map((pkg) => ({
        ...pkg,
        pendingOwner: dropped.has(pkg.id) ? ethers.ZeroAddress : pkg.pendingOwner,
      })),
    })),
  };
  return {
    expected,
    droppedPendingOwners,
    repositories: repositories.length,
    packages: packages.length,
    packageVersions,
    repositoryVersions,
    batches,
    transactions: importerQueue.transactions + creatorQueue.transactions,
    gasUsed: importerQueue.gasUsed + creatorQueue.gasUsed,
  };
}

/** The releases in a planned chunk, back as lists (to plan it again in smaller pieces). */
function chunkToLists(chunk: BatchChunk): PackageReleaseList[] {
  return chunk.entries.map((entry) => {
    const versions = unpackVersions(ethers.hexlify(entry.versions));
    const metaHeader = ethers.hexlify(entry.metaCidHeader);
    const srcHeader = ethers.hexlify(entry.srcCidHeader);
    return {
      repositoryId: ethers.hexlify(entry.repositoryId),
      name: entry.name,
      label: entry.name,
      releases: versions.map((version, i) => ({
        version,
        metaCid: ethers.concat([metaHeader, entry.metaDigests[i]]),
        srcCid: ethers.concat([srcHeader, entry.srcDigests[i]]),
      })),
    };
  });
}

async function feePerGas(provider: Provider): Promise<bigint> {
  const data = await provider.getFeeData();
  return data.maxFeePerGas ?? data.gasPrice ?? 1_000_000_000n;
}

/** Returns what is left of the creator wallet's funding to the importer (best effort: dust may stay). */
async function sweep(creator: Signer, provider: Provider, to: string, log: (line: string) => void): Promise<void> {
  try {
    const from = await creator.getAddress();
    const balance = await provider.getBalance(from);
    const data = await provider.getFeeData();
    const fees =
      data.maxFeePerGas !== null
        ? { maxFeePerGas: data.maxFeePerGas, maxPriorityFeePerGas: data.maxPriorityFeePerGas ?? 0n }
        : { gasPrice: data.gasPrice ?? 0n };
    const price = data.maxFeePerGas ?? data.gasPrice ?? 0n;
    const value = balance - 21_000n * price;
    if (value <= 0n) return;
    const receipt = await (await creator.sendTransaction({ to, value, gasLimit: 21_000n, ...fees })).wait();
    if (receipt?.status !== 1) throw new Error("transfer reverted");
  } catch (error) {
    log(`WARNING: could not return the creator account's remaining funds: ${(error as Error).message}`);
  }
}

// ---------------------------------------------------------------- the whole migration

export interface MigrateRegistryOptions extends Omit<CopyRegistryOptions, "importer"> {
  /** Address of the registry to copy. */
  from: string;
  /** The migrating account (deploys the new registry and is its importer); default: the first signer. */
  importer?: Signer;
  /** Read the source at this block (default: the latest when the migration starts). */
  sourceBlock?: number;
  /** Ignition deployment id of the new registry (default: see below). */
  deploymentId?: string;
  /** When set, the new record is written to `<recordIn>/<network>.json` after the check passed. */
  recordIn?: string;
}

export interface MigrationResult {
  registry: Registry;
  record: DeploymentRecord;
  source: RegistrySnapshot;
  copy: CopyResult;
  /** The deployments file written, if any. */
  file?: string;
}

/**
 * Migrates the registry at `options.from` into a new one: reads it completely (at one block), deploys a new
 * registry through Ignition with the migrating account as importer, copies everything (see copyRegistry),
 * seals, then reads both registries back completely and fails loudly unless the new one equals the source
 * snapshot (with dropped offers cleared) and the source did not change meanwhile. Only then is the
 * deployments record written (the previous record kept as `previousRegistry`).
 *
 * On chains other than local ones (31337) the new registry is deployed under its own Ignition deployment id,
 * `chain-<chainId>-migration-<source address prefix>-<source block>`, never the default id of the registry
 * being replaced (Ignition would hand that one back).
 */
export async function migrateRegistry(
  hre: HardhatRuntimeEnvironment,
  options: MigrateRegistryOptions,
): Promise<MigrationResult> {
  const log = options.log ?? (() => {});
  const provider = hre.ethers.provider;
  if (!ethers.isAddress(options.from)) throw new Error(`not an address: ${options.from}`);
  const from = ethers.getAddress(options.from);
  const importer = options.importer ?? (await hre.ethers.getSigners())[0];
  if (importer === undefined) throw new Error(`network ${hre.network.name} has no account to migrate with`);
  const importerAddress = ethers.getAddress(await importer.getAddress());
  const chainId = Number((await provider.getNetwork()).chainId);

  const sourceContract = Registry__factory.connect(from, provider);
  const source = await readRegistry(sourceContract, { blockTag: options.sourceBlock });
  const packageCount = source.repositories.reduce((sum, r) => sum + r.packages.length, 0);
  log(`read ${from} at block ${source.blockNumber}: ${source.repositories.length} repositories, ${packageCount} packages`);

  const local = hre.network.name === "hardhat" || chainId === LOCAL_CHAIN_ID;
  const deploymentId =
    options.deploymentId ??
    (local ? undefined : `chain-${chainId}-migration-${from.slice(2, 10).toLowerCase()}-${source.blockNumber}`);
  const deployed = await deployRegistry(hre, { importer: importerAddress, from: importerAddress, deploymentId });
  const target = deployed.registry.connect(importer);
  log(`deployed the new registry at ${deployed.record.registry} (importer ${importerAddress})`);

  const copy = await copyRegistry(source, target, { ...options, importer });
  log(`copied in ${copy.transactions} transactions, ${copy.gasUsed} gas`);

  // the check: both registries read back completely through their views
  const copied = await readRegistry(target);
  assertSnapshotsEqual(
    copy.expected,
    copied,
    `migration check failed: ${copied.address} (block ${copied.blockNumber}) differs from ${from} (block ${source.blockNumber})`,
  );
  if ((options.seal ?? true) && (await target.importer()) !== ethers.ZeroAddress) {
    throw new Error(`migration check failed: ${copied.address} still has an importer`);
  }
  const sourceNow = await readRegistry(sourceContract);
  assertSnapshotsEqual(
    source,
    sourceNow,
    `migration check failed: the source ${from} changed between block ${source.blockNumber} and ${sourceNow.blockNumber}; ` +
      `${copied.address} holds the earlier state — stop writes to the source and migrate again`,
  );
  log(`check passed: ${copied.address} equals ${from}`);

  const migration: MigrationInfo = {
    from,
    sourceBlock: source.blockNumber,
    repositories: copy.repositories,
    packages: copy.packages,
    packageVersions: copy.packageVersions,
    repositoryVersions: copy.repositoryVersions,
    transactions: copy.transactions,
    gasUsed: copy.gasUsed.toString(),
    droppedPendingOwners: copy.droppedPendingOwners,
    completedAt: new Date().toISOString(),
  };
  const record: DeploymentRecord = { ...deployed.record, migration };
  let file: string | undefined;
  if (options.recordIn !== undefined) {
    const previous = await readDeploymentRecord(options.recordIn, hre.network.name);
    record.previousRegistry =
      previous !== undefined && previous.registry.toLowerCase() === from.toLowerCase()
        ? previous
        : { registry: from, network: hre.network.name, chainId };
    file = await writeDeploymentRecord(options.recordIn, record);
  }
  return { registry: target, record, source, copy, file };
}
