import { ethers, type Signer } from "ethers";
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
 * (the migrating account) standing in for every owner until it seals the import. Every transaction is the
 * importer's: no other account is created, funded or used.
 *
 * Owners. The importer's transferOwnership sets the owner at once (OwnershipTransferred), also of ids the
 * importer owns itself. So the importer creates the repositories and registers the packages (becoming their
 * owner), publishes, sets yank flags and maintainers, then hands every id to its original owner with
 * transferOwnership and seals. Ids the migrating account owned in the source need no transfer: they stay its own.
 *
 * Pending owners. No ownership offer (pendingOwner) is carried over: an offer can only be made by an owner
 * through the ordinary two-step path, which the importer never takes (its transfer sets the owner directly and
 * clears any offer), and after sealing the migrating account has no importer rights left. Every offer in the
 * source is therefore dropped, listed in the result (droppedPendingOwners) and logged with a warning; its
 * owner has to offer again on the new registry. The check compares against the source with every offer
 * cleared (CopyResult.expected).
 */

export interface CopyRegistryOptions extends PlanOptions {
  /** The target registry's importer: sends every transaction of the copy. */
  importer: Signer;
  /** Transactions in flight at once (default 16). */
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
  /** What the target must read back as: the source with every ownership offer cleared. */
  expected: RegistrySnapshot;
  /** Every ownership offer of the source (none is carried over), in the order of the ids. */
  droppedPendingOwners: DroppedOffer[];
  repositories: number;
  packages: number;
  packageVersions: number;
  repositoryVersions: number;
  batches: number;
  /** Transactions sent, all by the importer. */
  transactions: number;
  gasUsed: bigint;
}

/**
 * Copies `source` (a snapshot, see readRegistry) into the empty registry `target`, whose importer is
 * `options.importer`, with the importer's transactions only: repositories (creation order, curated flag),
 * packages (registration order), package versions through publishBatch (oldest first, so the newest-first
 * lists come out identical; exact CIDs), repository versions, yank flags, maintainers (in order), owners;
 * then seals the import. Ownership offers are dropped (see above). Does not verify: see
 * {@link migrateRegistry} or assertSnapshotsEqual(result.expected, …).
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

  const queue = new TxQueue(importer, { window: options.window, log: options.verbose ? log : undefined });
  const repositories = source.repositories;
  const packages = repositories.flatMap((repository) => repository.packages.map((pkg) => ({ repository, pkg })));
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

  // ownership offers: none can be carried over (see above); said up front, before any transaction
  const droppedPendingOwners: DroppedOffer[] = ids
    .filter((entry) => entry.pendingOwner !== ethers.ZeroAddress)
    .map(({ id, name, owner, pendingOwner }) => ({ id, name, owner, pendingOwner }));
  for (const offer of droppedPendingOwners) {
    log(
      `WARNING: ownership offer of ${offer.name} from ${offer.owner} to ${offer.pendingOwner} not carried over ` +
        "(the owner has to offer again on the new registry)",
    );
  }

  // 1. repositories, by the importer (their owner until step 7)
  log(`creating ${repositories.length} repositories`);
  for (const repository of repositories) {
    await queue.send(`createRepository ${repository.name}`, (overrides) =>
      asImporter.createRepository(repository.name, repository.curated, overrides),
    );
  }
  await queue.flush();

  // 2. packages, in registration order (the importer owns every repository, so curated ones admit it too)
  log(`registering ${packages.length} packages`);
  for (const { repository, pkg } of packages) {
    await queue.send(`registerPackage ${repository.name}/${pkg.name}`, (overrides) =>
      asImporter.registerPackage(repository.id, pkg.name, overrides),
    );
  }
  await queue.flush();

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
    await queue.send(`publishBatch ${chunk.label} (${chunk.versionCount} versions)`, (overrides) =>
      asImporter.publishBatch(chunk.entries, { ...overrides, gasLimit }),
    );
  };
  for (const chunk of planned) await sendBatch(chunk);

  // 4. repository versions, oldest first (there is no batch path for them)
  const repositoryVersions = repositories.reduce((sum, repository) => sum + repository.versions.length, 0);
  log(`publishing ${repositoryVersions} repository versions`);
  for (const repository of repositories) {
    for (const version of [...repository.versions].reverse()) {
      await queue.send(`publishRepository ${repository.name} ${version.version}`, (overrides) =>
        asImporter.publishRepository(repository.id, version.version, version.metaCid, overrides),
      );
    }
  }
  await queue.flush();

  // 5. yank flags
  let yanks = 0;
  for (const repository of repositories) {
    for (const version of repository.versions.filter((v) => v.yanked)) {
      yanks += 1;
      await queue.send(`setRepositoryYanked ${repository.name} ${version.version}`, (overrides) =>
        asImporter.setRepositoryYanked(repository.id, version.version, true, overrides),
      );
    }
    for (const pkg of repository.packages) {
      for (const version of pkg.versions.filter((v) => v.yanked)) {
        yanks += 1;
        await queue.send(`setYanked ${repository.name}/${pkg.name} ${version.version}`, (overrides) =>
          asImporter.setYanked(repository.id, pkg.name, version.version, true, overrides),
        );
      }
    }
  }
  log(`yanked ${yanks} versions`);

  // 6. maintainers, in the source's order (EnumerableSet keeps insertion order when nothing is removed)
  let maintainers = 0;
  for (const entry of ids) {
    for (const account of entry.maintainers) {
      maintainers += 1;
      await queue.send(`addMaintainer ${entry.name} ${account}`, (overrides) =>
        asImporter.addMaintainer(entry.id, account, overrides),
      );
    }
  }
  log(`added ${maintainers} maintainers`);
  await queue.flush();

  // 7. owners: the importer's transfer sets each owner at once; ids the migrating account owned in the
  // source are its own already (it created them)
  const handedOver = ids.filter((entry) => ethers.getAddress(entry.owner) !== importerAddress);
  log(`setting ${handedOver.length} owners (${ids.length - handedOver.length} stay with the migrating account)`);
  for (const entry of handedOver) {
    await queue.send(`transferOwnership ${entry.name} -> ${entry.owner}`, (overrides) =>
      asImporter.transferOwnership(entry.id, entry.owner, overrides),
    );
  }
  await queue.flush();

  // 8. seal: from here on the importer is an ordinary account
  if (options.seal ?? true) {
    await queue.send("sealImport", (overrides) => asImporter.sealImport(overrides));
    log("sealed the import");
  }
  await queue.flush();

  const expected: RegistrySnapshot = {
    ...source,
    repositories: source.repositories.map((repository) => ({
      ...repository,
      pendingOwner: ethers.ZeroAddress,
      packages: repository.packages.map((pkg) => ({ ...pkg, pendingOwner: ethers.ZeroAddress })),
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
    transactions: queue.transactions,
    gasUsed: queue.gasUsed,
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

// ---------------------------------------------------------------- the whole migration

export interface MigrateRegistryOptions extends Omit<CopyRegistryOptions, "importer"> {
  /** Address of the registry to copy. */
  from: string;
  /** The migrating account (deploys the new registry, is its importer and sends every transaction); default: the
   * first signer. */
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
 * snapshot (with every ownership offer cleared: none is carried over) and the source did not change meanwhile. Only then is the
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
