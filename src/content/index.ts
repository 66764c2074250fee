/**
 * Content in IPFS: one ContentStore interface, two backends (embedded on-disk store, kubo daemon),
 * CAR import/export, and block exchange between store nodes over trustless HTTP gateways.
 */
import { openEmbeddedStore, type EmbeddedStoreOptions } from "./embedded";
import type { KuboContentStore, KuboStoreOptions } from "./kubo";
import type { ContentStore } from "./types";

export type * from "./types";
export { openEmbeddedStore, type EmbeddedContentStore, type EmbeddedStoreOptions } from "./embedded";
export type { KuboContentStore, KuboStoreOptions } from "./kubo";
export { defaultContentDir } from "./paths";
export { CHUNK_SIZE, MAX_CHILDREN_PER_NODE, importerOptions, KUBO_ADD_OPTIONS } from "./profile";
export { checkBlock } from "./verify";
export { exportCar, importCar, carContentType } from "./car";
export { fetchBlock, fetchCar, MAX_BLOCK_BYTES, type GatewayFetchOptions } from "./fetch";
export { createGatewayHandler, createGatewayServer, listenGateway, type GatewaySource, type RunningGateway } from "./gateway";
export { directoryEntries } from "./tree";

/** Which backend to open, as the config file names it. */
export type ContentStoreConfig =
  | ({ kind: "embedded" } & EmbeddedStoreOptions)
  | ({ kind: "kubo" } & KuboStoreOptions);

/**
 * The kubo backend, loaded on first use: kubo-rpc-client costs ~300 ms to load, which commands on the
 * embedded store (the default) should not pay.
 */
export function openKuboStore(options: KuboStoreOptions): KuboContentStore {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require("./kubo") as typeof import("./kubo")).openKuboStore(options);
}

export async function openContentStore(config: ContentStoreConfig): Promise<ContentStore> {
  switch (config.kind) {
    case "embedded":
      return openEmbeddedStore(config);
    case "kubo":
      return openKuboStore(config);
  }
}
