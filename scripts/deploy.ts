/**
 * Deploys the registry through Ignition and records it in deployments/<network>.json.
 *
 *   npx hardhat run scripts/deploy.ts --network localhost     (PKG_RPC_URL or http://127.0.0.1:8545)
 *   PKG_RPC_URL=… PKG_PRIVATE_KEY=… npx hardhat run scripts/deploy.ts --network custom
 *
 * Env: PKG_IMPORTER      constructor's importer (default: none)
 *      PKG_DEPLOYMENT_ID Ignition deployment id (default: see scripts/lib/deploy.ts; on real networks the
 *                        default `chain-<id>` resumes or reuses an earlier deployment — give a new id for another)
 *      PKG_DEPLOYMENTS_DIR where records go (default: deployments/)
 */
import hre from "hardhat";
import { deployRegistry } from "./lib/deploy";
import { deploymentFile, deploymentsDir } from "./lib/deployments";

async function main(): Promise<void> {
  const dir = deploymentsDir(hre.config.paths.root);
  const { record } = await deployRegistry(hre, {
    importer: process.env.PKG_IMPORTER || undefined,
    deploymentId: process.env.PKG_DEPLOYMENT_ID || undefined,
    recordIn: dir,
  });
  console.log(`Registry deployed on ${record.network} (chain ${record.chainId}) at ${record.registry}`);
  console.log(`  block ${record.blockNumber}, tx ${record.transactionHash}, deployer ${record.deployer}`);
  console.log(`  recorded in ${deploymentFile(dir, record.network)}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
