/**
 * CIDs in lock and build files. They are kept as strings (easy to compare, print and put in JSON),
 * but only in their canonical form — `CID.parse(s).toString() === s` — so that one CID has one
 * spelling and a file's bytes are a function of its content (base32 `bafy...` for CIDv1, base58
 * `Qm...` for CIDv0, as multiformats prints them).
 */
import { CID } from "multiformats/cid";

/** Why `text` is not a canonical CID, or null if it is; the second item is the canonical form, if any. */
export function checkCid(text: string): { problem: string; canonical: string | null } | null {
  let cid: CID;
  try {
    cid = CID.parse(text);
  } catch {
    // Base36 (`k...`) needs its decoder passed explicitly; base32 and base58 are the forms we write.
    return { problem: "is not a CID", canonical: null };
  }
  const canonical = cid.toString();
  return canonical === text ? null : { problem: "is not in canonical form", canonical };
}

export function isCanonicalCid(text: string): boolean {
  return checkCid(text) === null;
}
