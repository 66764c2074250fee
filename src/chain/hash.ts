/**
 * The chain's hashing and address rules, for the schemas (ids, pkg.lock, repo.lock) that need them without a
 * chain client: keccak256 as the registry computes its ids, and EIP-55 addresses. Only ethers' crypto and
 * address modules are loaded here (about a third of what `ethers` costs to load), never a provider or typechain.
 */
import { getAddress as ethersGetAddress, isAddress as ethersIsAddress } from "ethers/address";
import { keccak256 as ethersKeccak256 } from "ethers/crypto";

/** A 0x-prefixed 32-byte hex string (a keccak256 digest, a bytes32 id). */
export type Bytes32 = string;

/** keccak256 of bytes, as `0x` and 64 hex digits. */
export function keccak256(bytes: Uint8Array): Bytes32 {
  return ethersKeccak256(bytes);
}

/** keccak256 of a text's UTF-8 bytes (Solidity's `keccak256(bytes(text))`). */
export function keccak256Utf8(text: string): Bytes32 {
  return keccak256(Buffer.from(text, "utf8"));
}

/**
 * keccak256 of `abi.encode(bytes32 word, string text)` (Solidity's head/tail layout: the word, the offset of
 * the string (0x40), its byte length, then its UTF-8 bytes padded with zeros to a multiple of 32).
 */
export function keccak256Bytes32String(word: Bytes32, text: string): Bytes32 {
  if (!/^0x[0-9a-fA-F]{64}$/.test(word)) throw new TypeError(`not a bytes32: ${word}`);
  const data = Buffer.from(text, "utf8");
  const encoded = Buffer.alloc(96 + Math.ceil(data.length / 32) * 32);
  Buffer.from(word.slice(2), "hex").copy(encoded, 0);
  encoded.writeUInt32BE(0x40, 60);
  encoded.writeUInt32BE(data.length, 92);
  data.copy(encoded, 96);
  return keccak256(encoded);
}

/** Whether `text` is an address: `0x` and 40 hex digits, with a right EIP-55 checksum if its letters mix case. */
export function isAddress(text: string): boolean {
  return ethersIsAddress(text);
}

/**
 * The EIP-55 checksummed form of an address. Throws a TypeError on anything that is not one, including an
 * address whose mixed-case letters are a wrong checksum (lower-case it first to take it as it is).
 */
export function checksumAddress(text: string): string {
  try {
    return ethersGetAddress(text);
  } catch {
    throw new TypeError(`not an address (or a wrong checksum): ${text.slice(0, 64)}`);
  }
}
