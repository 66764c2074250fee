/**
 * Where chainpkg keeps its data by default. A module of its own, importing only node:os and node:path, so
 * that the store, profiles and the no-op `pkg build` can find the data directory without loading config.ts
 * (which loads ethers, more than the whole no-op costs).
 */
import { homedir } from "node:os";
import path from "node:path";

/** `$PKG_DATA_DIR`, else `$XDG_DATA_HOME/chainpkg` (default `~/.local/share/chainpkg`). */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string {
  if (env.PKG_DATA_DIR) return path.resolve(env.PKG_DATA_DIR);
  return path.join(env.XDG_DATA_HOME || path.join(home, ".local", "share"), "chainpkg");
}

/**
 * The store: `$PKG_STORE_DIR`, else `<dataDir>/store`. Here rather than in store/paths.ts (which
 * re-exports it) so that the no-op build's client finds it without loading node:crypto.
 */
export function defaultStoreDir(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string {
  if (env.PKG_STORE_DIR) return path.resolve(env.PKG_STORE_DIR);
  return path.join(defaultDataDir(env, home), "store");
}
