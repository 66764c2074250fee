/**
 * Read-only questions to a store's index from outside the store (a profile, `pkg install --path`), without a
 * daemon: each call opens the index (SQLite, WAL: readers never block the daemon) and closes it again.
 */
import path from "node:path";
import { isStorePath, storeLayout } from "./paths";
import { openIndex } from "./store";

/** What the store's index knows of a registered path: its content CID and, for an output, the derivation that built it. */
export interface StorePathRecord {
  path: string;
  cid: string;
  /** CID of the derivation it is an output of; null for a source (or an output recorded without one). */
  drv: string | null;
}

/**
 * Looks `storePath` up in the index of the store at `storeDir` (the `paths` and `outputs` tables of
 * docs/build-layer.md): `not-store-path` when it is not a path directly in the store's `paths/`, `unregistered`
 * when it is not a valid (registered) path there.
 */
export function queryStorePath(storeDir: string, storePath: string): { found: StorePathRecord } | { missing: "not-store-path" | "unregistered"; root: string; path: string } {
  const layout = storeLayout(storeDir);
  const resolved = path.resolve(storePath);
  if (!isStorePath(layout, resolved)) return { missing: "not-store-path", root: layout.root, path: resolved };
  const db = openIndex(layout);
  try {
    const row = db.prepare("SELECT cid FROM paths WHERE path = ?").get(resolved) as { cid: string } | undefined;
    if (row === undefined) return { missing: "unregistered", root: layout.root, path: resolved };
    const output = db.prepare("SELECT drv FROM outputs WHERE path = ? LIMIT 1").get(resolved) as { drv: string } | undefined;
    return { found: { path: resolved, cid: row.cid, drv: output?.drv ?? null } };
  } finally {
    db.close();
  }
}
