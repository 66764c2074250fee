/**
 * Test fixtures on a real chain and a real content store: a deployed registry and a way to publish
 * packages whose pkg.toml (meta) and sources go into the store, exactly as `pkg publish` leaves them.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { ContractFactory, JsonRpcProvider } from "ethers";
import { Registry__factory } from "../../typechain-types";
import { createRegistryClient, type RegistryClient } from "../../src/chain/registry";
import { openEmbeddedStore, type EmbeddedContentStore } from "../../src/content";
import { serializeManifest, type Manifest } from "../../src/manifest";
import { startHardhatNode, type RunningNode } from "./node";

export interface World {
  node: RunningNode;
  registry: string;
  client: RegistryClient;
  content: EmbeddedContentStore;
  dir: string;
  close(): Promise<void>;
}

/** A node, a registry deployed by dev account 0, a client signing as dev account 1, an embedded store in a temp dir. */
export async function createWorld(): Promise<World> {
  const node = await startHardhatNode();
  const provider = new JsonRpcProvider(node.url);
  const factory = new ContractFactory(Registry__factory.abi, Registry__factory.bytecode, await provider.getSigner(0));
  const deployed = await factory.deploy("0x0000000000000000000000000000000000000000");
  await deployed.waitForDeployment();
  const registry = await deployed.getAddress();
  provider.destroy();
  const signerProvider = new JsonRpcProvider(node.url);
  const client = createRegistryClient({ rpcUrl: node.url, address: registry, signer: await signerProvider.getSigner(1), expectedChainId: 31337n });
  const dir = await mkdtemp(path.join(tmpdir(), "chainpkg-world-"));
  const content = await openEmbeddedStore({ directory: path.join(dir, "ipfs") });
  return {
    node,
    registry,
    client,
    content,
    dir,
    async close() {
      client.close();
      signerProvider.destroy();
      await content.close();
      await node.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface TestPackage {
  repository?: string;
  name: string;
  version: string;
  inputs?: Record<string, string>;
  nativeInputs?: Record<string, string>;
  metaInputs?: Record<string, string>;
}

export function manifestOf(p: TestPackage): Manifest {
  return {
    repository: p.repository ?? "crates",
    name: p.name,
    version: p.version,
    license: "MIT",
    src: ["README"],
    builder: null,
    args: [],
    metaInputs: p.metaInputs ?? {},
    nativeInputs: p.nativeInputs ?? {},
    inputs: p.inputs ?? {},
  };
}

/** Puts the package's pkg.toml and a one-file source tree in the store and publishes it (registering it first). */
export async function publishTestPackage(world: Pick<World, "client" | "content">, p: TestPackage): Promise<{ meta: string; src: string; block: number }> {
  const manifest = manifestOf(p);
  const meta = (await world.content.putBytes(serializeManifest(manifest), { pin: true })).toString();
  const src = (await world.content.putTree([{ path: "README", content: `${p.name} ${p.version}\n` }], { pin: true })).toString();
  const key = { repository: manifest.repository, name: manifest.name };
  if (!(await world.client.getRepository(manifest.repository))) await world.client.createRepository(manifest.repository, false);
  if (!(await world.client.getPackage(key))) await world.client.registerPackage(key);
  const tx = await world.client.publish(key, manifest.version, meta, src);
  return { meta, src, block: tx.blockNumber };
}
