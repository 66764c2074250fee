/**
 * Where the store lives and what its paths are called (docs/build-layer.md, "Store layout" and
 * "Daemon protocol"). Pure functions of their inputs and the environment: the CLI computes the same
 * socket and the same store path names as the daemon without opening anything.
 */
import { createHash } from "node:crypto";
import path from "node:path";
import { checkPathComponent } from "../files/name";

/** Characters of the hash part of a store path name. */
export const STORE_HASH_LENGTH = 32;

/** `$PKG_STORE_DIR`, else `<dataDir>/store` (files/dirs.ts: `$PKG_DATA_DIR` or `$XDG_DATA_HOME/chainpkg`). */
export { defaultStoreDir } from "../files/dirs";

/** The layout inside a store root. */
export interface StoreLayout {
  root: string;
  db: string;
  paths: string;
  tmp: string;
  trash: string;
  logs: string;
  pidFile: string;
  lockFile: string;
  daemonLog: string;
  /**
   * `daemon.sock`: a symlink to the daemon's socket, made when it starts listening. Thin clients that
   * do not compute {@link storeSocketPath} (it hashes; the native no-op client has no sha256) read it.
   */
  socketLink: string;
}

export function storeLayout(root: string): StoreLayout {
  const r = path.resolve(root);
  return {
    root: r,
    db: path.join(r, "db.sqlite"),
    paths: path.join(r, "paths"),
    tmp: path.join(r, "tmp"),
    trash: path.join(r, "trash"),
    logs: path.join(r, "logs"),
    pidFile: path.join(r, "daemon.pid"),
    lockFile: path.join(r, "daemon.lock"),
    daemonLog: path.join(r, "daemon.log"),
    socketLink: path.join(r, "daemon.sock"),
  };
}

/** First 32 characters of the lowercase RFC 4648 base32 (no padding) of sha256(text). */
export function storeHash(text: string): string {
  return base32().baseEncode(createHash("sha256").update(text).digest()).slice(0, STORE_HASH_LENGTH);
}

// Loaded on first use: the no-op `pkg build` (src/noop/cache.ts) needs only the store dir and the
// socket from this module, and multiformats costs it ~10 ms.
let base32Codec: typeof import("multiformats/bases/base32").base32 | undefined;
function base32(): typeof import("multiformats/bases/base32").base32 {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (base32Codec ??= (require("multiformats/bases/base32") as typeof import("multiformats/bases/base32")).base32);
}

/** `<hash32>-<name>[-<output>]` of an output of a derivation. */
export function outputPathName(drv: string, output: string, drvName: string): string {
  checkPathComponent(drvName, "derivation name");
  checkPathComponent(output, "output name");
  return checkPathComponent(`${storeHash(`output:${drv}:${output}`)}-${drvName}${output === "out" ? "" : `-${output}`}`, "store path name");
}

/** `<hash32>-<name>` of a tree exported from the content store. */
export function sourcePathName(cid: string, name: string): string {
  checkPathComponent(name, "source name");
  return checkPathComponent(`${storeHash(`source:${cid}`)}-${name}`, "store path name");
}

/**
 * The daemon's socket: `$PKG_STORE_SOCKET`, else `$XDG_RUNTIME_DIR/chainpkg/store-<h>.sock`, else
 * `/tmp/chainpkg-<uid>/store-<h>.sock`, `<h>` = 12 hex of sha256(store root): one daemon per store.
 */
export function storeSocketPath(root: string, env: NodeJS.ProcessEnv = process.env): string {
  if (env.PKG_STORE_SOCKET) return path.resolve(env.PKG_STORE_SOCKET);
  const h = createHash("sha256").update(path.resolve(root)).digest("hex").slice(0, 12);
  const dir = env.XDG_RUNTIME_DIR && path.isAbsolute(env.XDG_RUNTIME_DIR)
    ? path.join(env.XDG_RUNTIME_DIR, "chainpkg")
    : path.join("/tmp", `chainpkg-${typeof process.getuid === "function" ? process.getuid() : "user"}`);
  return path.join(dir, `store-${h}.sock`);
}

/** Whether `p` names an entry directly under the store's paths/ (not the directory itself, not deeper). */
export function isStorePath(layout: StoreLayout, p: string): boolean {
  const resolved = path.resolve(p);
  return path.dirname(resolved) === layout.paths && /^[a-z2-7]{32}-/.test(path.basename(resolved));
}
