/**
 * `getPackages(bytes32[] packageIds, uint256 versionLimit)` without ethers' generic ABI coder: the call data
 * is written and the `PackageView[]` result read directly from bytes. ethers decodes through nested
 * Result proxies and copies a sub-reader per dynamic member (with GC, ~2.5 s of a 1,000-package lock);
 * this reads each word once. Every offset and length is checked against the data, so a malformed or
 * truncated answer is an error, never a wrong record.
 *
 * Layout (IRegistry.PackageView, VersionView): the result is one offset to the array; the array is its
 * length, then one offset per element (relative to the first offset word), each to a tuple of 7 head words
 * (packageId, repositoryId, name*, owner, versionCount, versions*, nextCursor; * = offset from the tuple's
 * start); `versions` is the same shape again with 4-word tuples (version*, metaCid*, srcCid*, yanked).
 */
import { getAddress } from "ethers";
import { CID } from "multiformats/cid";

export interface RawVersionView {
  version: string;
  /** Canonical CID string; null for empty bytes. */
  meta: string | null;
  src: string | null;
  yanked: boolean;
}

export interface RawPackageView {
  packageId: string;
  repositoryId: string;
  name: string;
  /** Checksummed; the zero address for an unknown id. */
  owner: string;
  versionCount: bigint;
  versions: RawVersionView[];
  nextCursor: string;
}

export const ZERO_ADDRESS = "0x0000000000000000000000000000000000000000";
export const ZERO_WORD = `0x${"0".repeat(64)}`;

/** The call data of getPackages(ids, versionLimit); ids are 0x-prefixed 32-byte hex strings. */
export function encodeGetPackages(selector: string, ids: readonly string[], versionLimit: number): string {
  const word = (n: number) => n.toString(16).padStart(64, "0");
  const parts = [selector, word(0x40), word(versionLimit), word(ids.length)];
  for (const id of ids) {
    if (!/^0x[0-9a-fA-F]{64}$/.test(id)) throw new Error(`not a 32-byte id: ${id}`);
    parts.push(id.slice(2).toLowerCase());
  }
  return parts.join("");
}

/** Checked reads of ABI words, byte strings and dynamic arrays at byte offsets of `data`. */
function abiReader(data: Buffer) {
  const check = (at: number, length: number): void => {
    if (at < 0 || at + length > data.length) {
      throw new Error(`getPackages result is malformed: reading ${length} bytes at ${at} of ${data.length}`);
    }
  };
  /** A word that must fit a JS number (offsets, lengths, counts). */
  const size = (at: number): number => {
    check(at, 32);
    for (let i = at; i < at + 26; i++) {
      if (data[i] !== 0) throw new Error(`getPackages result is malformed: word at ${at} is not a small number`);
    }
    return data.readUIntBE(at + 26, 6);
  };
  return {
    size,
    /** The last `length` bytes of the word at `at`, as 0x-hex. */
    hex(at: number, length = 32): string {
      check(at, 32);
      return `0x${data.toString("hex", at + 32 - length, at + 32)}`;
    },
    uint(at: number): bigint {
      check(at, 32);
      return BigInt(`0x${data.toString("hex", at, at + 32)}`);
    },
    bool(at: number): boolean {
      const value = size(at);
      if (value > 1) throw new Error(`getPackages result is malformed: bool at ${at} is ${value}`);
      return value === 1;
    },
    /** The bytes of a `bytes`/`string` whose length word is at `at`. */
    bytes(at: number): Buffer {
      const length = size(at);
      check(at + 32, length);
      return data.subarray(at + 32, at + 32 + length);
    },
    /** Where the elements of a dynamic array whose length word is at `at` start. */
    array(at: number): number[] {
      const length = size(at);
      const base = at + 32;
      check(base, length * 32);
      const out = new Array<number>(length);
      for (let i = 0; i < length; i++) out[i] = base + size(base + i * 32);
      return out;
    },
  };
}

function cidOf(bytes: Buffer): string | null {
  return bytes.length === 0 ? null : CID.decode(bytes).toString();
}

/** Decodes the return data of getPackages (0x-hex). */
export function decodeGetPackages(hex: string): RawPackageView[] {
  // Buffer.from stops at the first character that is not hex: a short buffer means the text was not hex
  const bytes = Buffer.from(hex.slice(2), "hex");
  if (!hex.startsWith("0x") || bytes.length * 2 !== hex.length - 2) throw new Error("getPackages result is not hex");
  const reader = abiReader(bytes);
  const views: RawPackageView[] = [];
  for (const at of reader.array(reader.size(0))) {
    const ownerWord = reader.hex(at + 96, 20);
    const owner = ownerWord === ZERO_ADDRESS ? ZERO_ADDRESS : getAddress(ownerWord);
    const versions: RawVersionView[] = reader.array(at + reader.size(at + 160)).map((v) => ({
      version: reader.bytes(v + reader.size(v)).toString("utf8"),
      meta: cidOf(reader.bytes(v + reader.size(v + 32))),
      src: cidOf(reader.bytes(v + reader.size(v + 64))),
      yanked: reader.bool(v + 96),
    }));
    views.push({
      packageId: reader.hex(at),
      repositoryId: reader.hex(at + 32),
      name: reader.bytes(at + reader.size(at + 64)).toString("utf8"),
      owner,
      versionCount: reader.uint(at + 128),
      versions,
      nextCursor: reader.hex(at + 192),
    });
  }
  return views;
}
