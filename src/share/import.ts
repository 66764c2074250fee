/**
 * `pkg store import FILE.car`: a CAR's blocks into the content store, each verified against its CID before it is
 * stored, and its roots pinned only when every root's whole DAG is there: a truncated or partial CAR pins
 * nothing (its blocks stay unpinned, for gc), so the store never holds half of what the file claimed.
 */
import { open } from "node:fs/promises";
import path from "node:path";
import type { CID } from "multiformats/cid";
import type { ContentStore } from "../content/types";
import { isPkgError, PkgError } from "../errors";
import { ERR_CAR_INCOMPLETE, ERR_CAR_INVALID, ERR_CAR_NOT_FOUND } from "./errors";

export interface ImportParams {
  content: Pick<ContentStore, "importCar" | "has" | "pin">;
  file: string;
}

export interface ImportResult {
  file: string;
  roots: string[];
}

/** @throws PkgError ERR_CAR_INVALID (not a CAR), ERR_CAR_INCOMPLETE (a root's DAG is not all there), ERR_CONTENT_INTEGRITY (a block that is not its CID's). */
export async function importContent(params: ImportParams): Promise<ImportResult> {
  const file = path.resolve(params.file);
  const handle = await open(file, "r").catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") throw new PkgError(ERR_CAR_NOT_FOUND, `${file}: no such file`, { details: { file }, hint: "name a CAR file made by `pkg store export` (or `ipfs dag export`)" });
    throw error;
  });
  let roots: CID[];
  try {
    roots = await params.content.importCar(handle.createReadStream(), { pin: false });
  } catch (error) {
    if (isPkgError(error)) throw error;
    throw new PkgError(ERR_CAR_INVALID, `${file} is not a CARv1 file: ${(error as Error).message}`, { details: { file }, hint: "make it with `pkg store export CID... -o FILE` (or `ipfs dag export`)", cause: error });
  } finally {
    await handle.close().catch(() => undefined);
  }
  if (roots.length === 0) throw new PkgError(ERR_CAR_INVALID, `${file} names no root`, { details: { file }, hint: "a CAR to import must name the DAGs it carries" });
  const missing: string[] = [];
  for (const root of roots) if (!(await params.content.has(root))) missing.push(root.toString());
  if (missing.length > 0) {
    throw new PkgError(ERR_CAR_INCOMPLETE, `${file} lacks blocks of ${missing.length} of its ${roots.length} root(s): ${missing[0]}${missing.length > 1 ? ", …" : ""}; nothing was pinned`, {
      details: { file, missing },
      hint: "export it again (the file may be truncated), or fetch the rest from a gateway",
    });
  }
  for (const root of roots) await params.content.pin(root, { offline: true });
  return { file, roots: roots.map(String) };
}
