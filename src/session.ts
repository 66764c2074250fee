/**
 * Everything a command talks to, opened from the resolved Config: the registry client (with a signer when
 * the command writes) and the content store. The local network needs no configuration: the registry's
 * address comes from the deployment record `pkg node` writes.
 */
import { PkgError } from "./errors";
import { LOCAL_NETWORK, ERR_CONFIG_NO_REGISTRY, type Config } from "./config";
import { createProvider, createRegistryClient, probeChainId, type RegistryClient } from "./chain/registry";
import { ERR_CHAIN_WRONG_NETWORK } from "./chain/errors";
import { managedNonces } from "./chain/nonces";
import { openContentStore, type ContentStore } from "./content";
import { withSnapshots } from "./mirror/read";
import { resolveSigner, type PasswordPrompt } from "./keys";
import { readLocalDeployment } from "./node";

export interface Session {
  config: Config;
  client: RegistryClient;
  content: ContentStore;
  chain: { chainId: number; registry: string };
  close(): Promise<void>;
}

export interface SessionOptions {
  /** Open a signer (commands that send transactions). */
  signer?: boolean;
  /** Open the content store (most commands). */
  content?: boolean;
  prompt?: PasswordPrompt;
}

export async function openContent(config: Config): Promise<ContentStore> {
  return config.content.backend === "embedded"
    ? openContentStore({ kind: "embedded", directory: config.content.dir, gateways: config.content.gateways })
    : openContentStore({ kind: "kubo", url: config.content.url });
}

export async function openSession(config: Config, options: SessionOptions = {}): Promise<Session> {
  const { network } = config;
  let registry = network.registry;
  if (registry === null && network.name === LOCAL_NETWORK) {
    const local = await readLocalDeployment(config.dataDir);
    if (local && local.rpcUrl === network.rpcUrl) registry = local.registry;
  }
  if (registry === null) {
    throw new PkgError(ERR_CONFIG_NO_REGISTRY, `no registry is known for network ${network.name} at ${network.rpcUrl}`, {
      details: { network: network.name, rpcUrl: network.rpcUrl },
      hint: network.name === LOCAL_NETWORK
        ? "start the local node with `pkg node` (it deploys the registry and records where)"
        : `set registry in [networks.${network.name}] of ${config.configFile}, or pass --registry`,
    });
  }
  const chainId = await probeChainId(network.rpcUrl, network.name);
  if (network.chainId !== null && chainId !== network.chainId) {
    throw new PkgError(ERR_CHAIN_WRONG_NETWORK, `the node at ${network.rpcUrl} is chain ${chainId}, but network ${network.name} is chain ${network.chainId}`, {
      hint: "pass the --rpc-url of the right network",
    });
  }
  const provider = createProvider(network.rpcUrl, chainId);
  // one nonce count per command: consecutive writes (register, then publish) never take the same nonce
  const signer = options.signer ? managedNonces(await resolveSigner(network.key, provider, { prompt: options.prompt })) : undefined;
  const client = createRegistryClient({ rpcUrl: network.rpcUrl, address: registry, signer, provider, expectedChainId: chainId });
  try {
    await client.checkDeployed();
  } catch (error) {
    client.close();
    throw error;
  }
  const content = options.content === false ? null : await openContent(config);
  // a command that does not use the content store (a lock check) opens it only if a mirrored package is read
  let lazyContent: Promise<ContentStore> | null = null;
  const snapshotContent: Pick<ContentStore, "getBlock" | "getBytes"> = content ?? {
    getBlock: async (cid, readOptions) => (await (lazyContent ??= openContent(config))).getBlock(cid, readOptions),
    async *getBytes(cid, readOptions) {
      yield* (await (lazyContent ??= openContent(config))).getBytes(cid, readOptions);
    },
  };
  return {
    config,
    // packages of mirror repositories read through their snapshot index, as transparently as native ones
    client: withSnapshots(client, snapshotContent),
    content: content as ContentStore,
    chain: { chainId: Number(chainId), registry },
    async close() {
      client.close();
      await content?.close();
      if (lazyContent !== null) await (await lazyContent).close();
    },
  };
}
