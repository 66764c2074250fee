/**
 * Copies a deployed registry into a newly deployed one (batch path), seals it, checks that both read back
 * equal, and only then records the new one in deployments/<network>.json (the old record kept as
 * previousRegistry). See scripts/lib/migrate.ts for what is copied and how.
 *
 *   MIGRATE_FROM=0x… npx hardhat run scripts/migrate.ts --network localhost
 *
 * Env: MIGRATE_FROM              address of the registry to copy (required)
 *      MIGRATE_BLOCK             read the source at this block (default: latest)
 *      MIGRATE_MAX_VERSIONS_PER_TX  versions per publishBatch transaction (default 200)
 *      MIGRATE_VERBOSE=1         log every transaction
 *      PKG_DEPLOYMENT_ID         Ignition deployment id of the new registry
 *      PKG_DEPLOYMENTS_DIR       where records go (default: deployments/)
 * The migrating account (deployer and importer) is the network's first account; it sends every transaction
 * (no other account is funded or used). Ownership offers (pending owners) are not carried over: they are
 * listed at the end and recorded as migration.droppedPendingOwners; their owners have to offer again.
 */
import hre from "hardhat";
import { deploymentsDir } from "./lib/deployments";
import { migrateRegistry } from "./lib/migrate";

function intFromEnv(name: string): number | undefined {
  const value = process.env[name];
  if (value === undefined || value === "") return undefined;
  if (!/^\d+$/.test(value)) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(value)}`);
  return Number(value);
}

async function main(): Promise<void> {
  const from = process.env.MIGRATE_FROM;
  if (!from) throw new Error("set MIGRATE_FROM to the address of the registry to migrate");
  const result = await migrateRegistry(hre, {
    from,
    sourceBlock: intFromEnv("MIGRATE_BLOCK"),
    maxVersionsPerTx: intFromEnv("MIGRATE_MAX_VERSIONS_PER_TX"),
    deploymentId: process.env.PKG_DEPLOYMENT_ID || undefined,
    recordIn: deploymentsDir(hre.config.paths.root),
    verbose: process.env.MIGRATE_VERBOSE === "1",
    log: (line) => console.log(line),
  });
  const { record, copy } = result;
  console.log(`Migrated ${copy.repositories} repositories, ${copy.packages} packages, ` +
    `${copy.packageVersions} package versions, ${copy.repositoryVersions} repository versions`);
  console.log(`New registry ${record.registry} on ${record.network}; recorded in ${result.file}`);
  if (copy.droppedPendingOwners.length > 0) {
    console.log(`${copy.droppedPendingOwners.length} ownership offer(s) were not carried over (their owners must offer again on the new registry):`);
    for (const offer of copy.droppedPendingOwners) console.log(`  ${offer.name}: ${offer.owner} -> ${offer.pendingOwner}`);
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
