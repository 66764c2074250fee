/**
 * Block verification: a block is trusted only after its bytes hash to the multihash in its CID.
 * Every read path (disk, kubo, gateways, CAR files) goes through checkBlock.
 */
import { equals } from "multiformats/bytes";
import type { CID } from "multiformats/cid";
import { sha256, sha512 } from "multiformats/hashes/sha2";
import { identity } from "multiformats/hashes/identity";
import type { MultihashHasher } from "multiformats/hashes/interface";
import { ContentIntegrityError, ContentUnsupportedError } from "../errors/content";

const HASHERS: ReadonlyMap<number, MultihashHasher> = new Map<number, MultihashHasher>([
  [sha256.code, sha256],
  [sha512.code, sha512],
]);

/** Identity CIDs carry their block inline (the multihash digest *is* the block). */
export function isIdentity(cid: CID): boolean {
  return cid.multihash.code === identity.code;
}

/** Throws ERR_CONTENT_INTEGRITY unless `bytes` hash to `cid`; `where` names the source for the
 * message (a file path, a gateway URL, "kubo", "CAR"). */
export async function checkBlock(cid: CID, bytes: Uint8Array, where: string): Promise<void> {
  if (isIdentity(cid)) {
    if (!equals(cid.multihash.digest, bytes)) throw new ContentIntegrityError(cid.toString(), where);
    return;
  }
  const hasher = HASHERS.get(cid.multihash.code);
  if (hasher === undefined) {
    throw new ContentUnsupportedError(
      `cannot verify ${cid.toString()}: hash function 0x${cid.multihash.code.toString(16)} is not supported`,
      { details: { cid: cid.toString(), hash: cid.multihash.code }, hint: "use sha2-256 CIDs" },
    );
  }
  const digest = await hasher.digest(bytes);
  if (!equals(digest.bytes, cid.multihash.bytes)) throw new ContentIntegrityError(cid.toString(), where);
}
