/**
 * `pkg store export CID... -o FILE.car`: the DAGs under some CIDs, from the content store, into one CARv1 file
 * (every root in its header, each block once), for moving content where no network reaches (air-gapped
 * machines, another data directory). Every block is verified as it is read; the file appears complete or not
 * at all (written beside it, then renamed).
 */
import { createWriteStream } from "node:fs";
import { rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import { CID } from "multiformats/cid";
import { exportCar } from "../content/car";
import type { ContentStore } from "../content/types";
import { PkgError } from "../errors";
import { ContentDestinationExistsError } from "../errors/content";
import { quoteValue } from "../files/name";
import { ERR_CAR_INVALID } from "./errors";

export interface ExportParams {
  content: Pick<ContentStore, "getBlock">;
  /** CIDs as the user gave them. */
  cids: readonly string[];
  /** The CAR file to write (refused if it exists). */
  file: string;
}

export interface ExportResult {
  file: string;
  roots: string[];
  bytes: number;
}

/** Parses the CIDs a user named. @throws PkgError ERR_CAR_INVALID naming the first that is not one. */
export function parseRoots(cids: readonly string[], what: string): CID[] {
  if (cids.length === 0) throw new PkgError(ERR_CAR_INVALID, `${what}: no CID given`, { hint: "name at least one CID (a published version's meta and src, from `pkg publish --json`)" });
  return cids.map((text) => {
    try {
      return CID.parse(text);
    } catch {
      throw new PkgError(ERR_CAR_INVALID, `${what}: ${quoteValue(text)} is not a CID`, { details: { cid: text.slice(0, 100) }, hint: "CIDs look like bafy… or Qm…" });
    }
  });
}

/** @throws ContentNotFoundError / ContentIntegrityError of the store, ERR_CONTENT_DESTINATION_EXISTS. */
export async function exportContent(params: ExportParams): Promise<ExportResult> {
  const roots = parseRoots(params.cids, "pkg store export");
  const file = path.resolve(params.file);
  if (await stat(file).then(() => true, () => false)) {
    throw new ContentDestinationExistsError(file, { hint: "choose another -o, or remove it first" });
  }
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    // flags "wx": never write through something that appeared at the temporary name (a link someone planted)
    await pipeline(Readable.from(exportCar(params.content, roots)), createWriteStream(temporary, { flags: "wx", mode: 0o644 }));
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  return { file, roots: roots.map(String), bytes: (await stat(file)).size };
}
