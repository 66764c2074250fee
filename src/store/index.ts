/**
 * The local store (docs/build-layer.md). Import the module you need (paths, client, store…) where
 * start-up time matters: this index loads all of them.
 */
export * from "./errors";
export * from "./paths";
export * from "./store";
export * from "./realise";
export * from "./gc";
export * from "./daemon";
export * from "./client";
