/**
 * CIDs cross the registry as binary CIDs (IRegistry); everywhere else they are strings. The string form is
 * the canonical one multiformats prints: base58btc for CIDv0, base32 for CIDv1 — so a CID published as its
 * canonical string comes back as exactly that string.
 */
import { CID } from "multiformats/cid";
import { hexlify, getBytes } from "ethers";
import { PkgError } from "../errors";

export const ERR_CID_INVALID = "ERR_CID_INVALID";

/** Parses a CID string, naming `what` in the error. */
export function parseCid(text: string, what = "CID"): CID {
  try {
    return CID.parse(text);
  } catch (cause) {
    throw new PkgError(ERR_CID_INVALID, `${what} ${JSON.stringify(text)} is not a CID`, {
      details: { cid: text },
      hint: "use a CIDv1 (bafy…, bafk…) or CIDv0 (Qm…) string",
      cause,
    });
  }
}

/** The 0x-hex binary CID the contract takes. */
export function cidToHex(text: string, what?: string): string {
  return hexlify(parseCid(text, what).bytes);
}

/** The canonical CID string of a binary CID from the contract; null for "no CID" (empty bytes). */
export function cidFromHex(hex: string): string | null {
  const bytes = getBytes(hex);
  return bytes.length === 0 ? null : CID.decode(bytes).toString();
}
