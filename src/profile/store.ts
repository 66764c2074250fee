/** Wiring profiles to the local store: its GC roots keep every generation's paths, and what its index knows of a path. */
import { PkgError } from "../errors";
import { defaultStoreDir } from "../store/paths";
import { queryStorePath } from "../store/query";
import { addRoot, listRoots, removeRoot } from "../store/store";
import { DEFAULT_PROFILE, defaultProfilesDir, ERR_PROFILE_NOT_STORE_PATH, type GcRoots, type ProfileOptions } from "./layout";

/** The store's `roots` table as GcRoots (each call opens the index: works with or without a daemon). */
export function storeGcRoots(storeDir: string): GcRoots {
  return {
    addRoot: (name, p) => addRoot(name, p, storeDir),
    removeRoot: (name) => removeRoot(name, storeDir),
    listRoots: () => listRoots(storeDir),
  };
}

/** What the CLI uses: the default profile in `$PKG_PROFILE_DIR` (or the data dir), rooted in the default store. */
export function defaultProfileOptions(env: NodeJS.ProcessEnv = process.env, name: string = DEFAULT_PROFILE): ProfileOptions & { dir: string; storeRoot: string } {
  const storeRoot = defaultStoreDir(env);
  return { dir: defaultProfilesDir(env), name, storeRoot, roots: storeGcRoots(storeRoot) };
}

/** What the store's index knows of an output path: the derivation that built it and its content CID. */
export interface StorePathInfo {
  path: string;
  drv: string | null;
  cid: string;
}

/**
 * Looks `storePath` up in the store's index (src/store/query.ts).
 * @throws ERR_PROFILE_NOT_STORE_PATH when it is not a registered path of that store.
 */
export function describeStorePath(storeDir: string, storePath: string): StorePathInfo {
  const answer = queryStorePath(storeDir, storePath);
  if ("found" in answer) return answer.found;
  const why = answer.missing === "not-store-path" ? "a path" : "a valid (registered) path";
  throw new PkgError(ERR_PROFILE_NOT_STORE_PATH, `${storePath} is not ${why} of the store at ${answer.root}`, {
    details: { path: answer.path, store: answer.root },
    hint: "install what pkg build made (its output path), or set PKG_STORE_DIR to the store it is in",
  });
}
