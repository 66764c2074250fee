/**
 * dag-pb by hand, for tests that craft hostile UnixFS trees (the codec package is ESM-only): a PBNode is its
 * links (field 2) then its data (field 1), a link its hash (1), name (2) and size (3). Links are written in the
 * order given: a publisher is free to list one name twice, and this encoder does not stop it.
 */
import { CID } from "multiformats/cid";

export const DAG_PB = 0x70;

function varint(n: number): number[] {
  const out: number[] = [];
  for (; n >= 0x80; n = Math.floor(n / 128)) out.push((n % 128) | 0x80);
  out.push(n);
  return out;
}

function field(tag: number, bytes: Uint8Array): number[] {
  return [...varint(tag), ...varint(bytes.length), ...bytes];
}

/** A PBNode of `data` (a marshalled UnixFS) and `links`, byte for byte as given. */
export function encodePbNode(data: Uint8Array, links: Array<{ name: string; cid: CID; size?: number }>): Uint8Array {
  const out: number[] = [];
  for (const link of links) {
    const body = [...field(0x0a, link.cid.bytes), ...field(0x12, new TextEncoder().encode(link.name)), 0x18, ...varint(link.size ?? 0)];
    out.push(...field(0x12, Uint8Array.from(body)));
  }
  out.push(...field(0x0a, data));
  return Uint8Array.from(out);
}

/** The CID of a PBNode's first link. */
export function firstLinkOf(block: Uint8Array): CID {
  let i = 0;
  const read = (): number => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = block[i++]!;
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
    }
  };
  if (block[i++] !== 0x12) throw new Error("the node has no link");
  read(); // the link's length
  if (block[i++] !== 0x0a) throw new Error("the link has no hash");
  const length = read();
  return CID.decode(block.subarray(i, i + length));
}
