/**
 * Deploying the registry on the local node (`pkg node`): the one place that needs the Registry's bytecode and
 * a signer to send it. src/node/ decides when to deploy and records where (deployment.json).
 */
import { JsonRpcProvider, Network, ZeroAddress } from "ethers";
import { Registry__factory } from "../../typechain-types";
import { NodeError, ERR_NODE_START_FAILED } from "../errors/node";
import { checksumAddress } from "./hash";

/** Where a registry was deployed. */
export interface RegistryDeployment {
  registry: string;
  deployBlock: number;
  deployTx: string;
}

/** The Registry's creation bytecode, lower case: a creation transaction whose data starts with it deploys one. */
export function registryBytecode(): string {
  return Registry__factory.bytecode.toLowerCase();
}

/**
 * Deploys a registry (no initial owner: `address(0)`) from the node's first unlocked account, through `rpcUrl`
 * (the journaling proxy, so the deploy is journaled), and waits for its receipt.
 * @throws NodeError ERR_NODE_START_FAILED when the deploy transaction fails.
 */
export async function deployRegistry(rpcUrl: string, chainId: bigint): Promise<RegistryDeployment> {
  const network = Network.from(chainId);
  const provider = new JsonRpcProvider(rpcUrl, network, { staticNetwork: network });
  provider.pollingInterval = 100;
  try {
    const signer = await provider.getSigner(0);
    const tx = await signer.sendTransaction(await new Registry__factory(signer).getDeployTransaction(ZeroAddress));
    const receipt = await tx.wait();
    if (!receipt?.contractAddress || receipt.status !== 1) {
      throw new NodeError(ERR_NODE_START_FAILED, `deploying the registry failed (transaction ${tx.hash})`);
    }
    return { registry: checksumAddress(receipt.contractAddress), deployBlock: receipt.blockNumber, deployTx: tx.hash };
  } finally {
    provider.destroy();
  }
}
