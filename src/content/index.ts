/**
 * Content in IPFS: one ContentStore interface, two backends (embedded on-disk store, kubo daemon),
 * CAR import/export, and block exchange between store nodes over trustless HTTP gateways.
 */
import { openEmbeddedStore, type EmbeddedStoreOptions } from "./embedded";
import { openKuboStore, type KuboStoreOptions } from "./kubo";
import type { ContentStore } from "./types";

export type * from "./types";
export { openEmbeddedStore, type EmbeddedContentStore, type EmbeddedStoreOptions } from "./embedded";
export { openKuboStore, type KuboContentStore, type KuboStoreOptions } from "./kubo";
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

export async function openContentStore(config: ContentStoreConfig): Promise<ContentStore> {
  switch (config.kind) {
    case "embedded":
      return openEmbeddedStore(config);
    case "kubo":
      return openKuboStore(config);
  }
}
