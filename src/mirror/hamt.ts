/**
 * The snapshot index of a mirror: a UnixFS HAMT-sharded directory mapping package name → CID of the package's
 * entry file, written byte for byte as ipfs-unixfs-importer (dir-sharded.ts) and go-unixfs / Kubo write one,
 * so any IPFS gateway resolves `/ipfs/<root>/<name>`. An index holds up to millions of names, so it is never
 * rebuilt: an update reads and rewrites only the shards on the paths of the names that changed, and a diff
 * skips every sub-shard whose CID is the same on both sides.
 *
 * The format (fanout 256, murmur3-x64-128 of the UTF-8 name, first 8 bytes):
 * - a shard at depth d puts a name in the slot given by byte d of its hash (hamt-sharding reverses the
 *   8 bytes and then consumes bits from the end, which gives back the hash's bytes in order);
 * - a shard is a dag-pb node: Data = UnixFS `hamt-sharded-directory` with the occupied slots as a big-endian
 *   bitfield without leading zero bytes (sparse-array's `bitField()` reversed), fanout 256, hashType 0x22;
 *   Links = one per occupied slot in slot order: "0A" for a sub-shard, "0A" + name for an entry;
 * - Tsize of an entry link is the entry's own (the caller's `size`); of a sub-shard link, the sub-shard's
 *   encoded length plus its links' Tsize;
 * - canonical form, the one the importer builds from scratch: a slot holds a sub-shard iff at least two names
 *   share its prefix. So after deletes a sub-shard left with one entry collapses into that entry (up the whole
 *   path), while a sub-shard whose only child is a sub-shard stays (two names still share its prefix). The
 *   root is always a shard, even empty or with one entry. Canonical form is what makes an incrementally
 *   updated index have the same CID as one built from scratch, and equal sub-trees have equal CIDs for diffs.
 *
 * Blocks read are hostile (they come from gateways and peers): every shard is checked to be such a node, its
 * links to agree with its bitfield, and every entry to sit in the slots its hash gives, else
 * ERR_MIRROR_BAD_INDEX.
 */
import { murmur3128 } from "@multiformats/murmur3";
import { UnixFS } from "ipfs-unixfs";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { sha256 } from "multiformats/hashes/sha2";
import { createLimiter, mapLimit } from "../concurrency";
import type { BlockStore } from "../content/types";
import { PkgError } from "../errors";
import { ContentUnsupportedError } from "../errors/content";
import { ERR_MIRROR_BAD_INDEX } from "./errors";


/** A link to an entry: its CID and the Tsize a link to it carries (see {@link linkSize}). */
export interface HamtLink {
  cid: CID;
  size: number;
}

/** Blocks read and written by one call (shards only; entries are never read). */
export interface BlockCounter {
  read: number;
  written: number;
}

export interface HamtChange {
  name: string;
  before: HamtLink | null;
  after: HamtLink | null;
}

const DAG_PB = 0x70;
const FANOUT = 256;
/** The multicodec of murmur3-x64-128, which UnixFS records as the HAMT's hash type. */
const HASH_TYPE = 0x22n;
/**
 * A shard at depth d reads byte d of the 8-byte hash, so depths 0..7 exist. Deeper, hamt-sharding (and
 * go-unixfs) would rehash the name with the depth appended; that needs two names whose 64-bit hashes are equal,
 * about one chance in 2^25 for a million names, so it is refused rather than implemented.
 */
const MAX_DEPTH = 8;
/** Shards of one level worked on at once; reads and writes are bounded separately by BLOCK_CONCURRENCY. */
const BRANCH_CONCURRENCY = 8;
/** Block reads and writes in flight at once (a gateway or the embedded store answers each). */
const BLOCK_CONCURRENCY = 16;

type DagPb = typeof import("@ipld/dag-pb");

interface Leaf {
  kind: "leaf";
  name: string;
  /** The first 8 bytes of the name's murmur3 hash: byte d is its slot at depth d. */
  hash: Uint8Array;
  link: HamtLink;
}

interface SubShard {
  kind: "shard";
  cid: CID;
  /** The Tsize of the link to it. */
  size: number;
}

type Child = Leaf | SubShard;

/** A shard's children by slot (length 256, undefined where a slot is empty). */
type Shard = Array<Child | undefined>;

/** What one call works with: the codec, the store, the counters and its bound on blocks in flight. */
interface Context<Blocks extends Pick<BlockStore, "getBlock"> = Pick<BlockStore, "getBlock">> {
  pb: DagPb;
  blocks: Blocks;
  stats?: BlockCounter;
  limit: <T>(task: () => Promise<T>) => Promise<T>;
}

type WriteContext = Context<Pick<BlockStore, "getBlock" | "hasBlock" | "putBlock">>;

async function context<Blocks extends Pick<BlockStore, "getBlock">>(blocks: Blocks, stats?: BlockCounter): Promise<Context<Blocks>> {
  // @ipld/dag-pb ships only an "import" export condition, so it is loaded with import().
  const pb = await import("@ipld/dag-pb");
  return { pb, blocks, stats, limit: createLimiter(BLOCK_CONCURRENCY) };
}

/**
 * Applies `changes` (name → new link, or null to delete; deleting an absent name is no change) to the index at
 * `root` (null: the empty index) and returns the new root and the Tsize of a link to it. Only the shards on the
 * paths of the changed names are read (each once) and rewritten (each once); blocks the store already holds are
 * not written again nor counted in `stats.written`.
 */
export async function hamtUpdate(
  blocks: Pick<BlockStore, "getBlock" | "hasBlock" | "putBlock">,
  root: CID | null,
  changes: ReadonlyMap<string, HamtLink | null>,
  stats?: BlockCounter,
): Promise<{ root: CID; size: number }> {
  const ctx = await context(blocks, stats);
  const pending: Pending[] = [];
  for (const [name, link] of changes) {
    checkName(name);
    if (link !== null) checkLink(name, link);
    pending.push({ name, hash: await hashName(name), link });
  }
  const shard = root === null ? emptyShard() : await readShard(ctx, root, []);
  await applyChanges(ctx, shard, [], pending);
  const written = await writeShard(ctx, shard);
  return { root: written.cid, size: written.size };
}

/** The link stored under `name`, or null; reads only the shards on the name's path. */
export async function hamtGet(blocks: Pick<BlockStore, "getBlock">, root: CID, name: string, stats?: BlockCounter): Promise<HamtLink | null> {
  const ctx = await context(blocks, stats);
  const hash = await hashName(name);
  const path: number[] = [];
  let cid = root;
  for (;;) {
    const child = (await readShard(ctx, cid, path))[hash[path.length]];
    if (child === undefined) return null;
    if (child.kind === "leaf") return child.name === name ? child.link : null;
    path.push(hash[path.length]);
    cid = child.cid;
  }
}

/** Every entry of the index, ordered by hash (the order of a depth-first walk in slot order). */
export async function* hamtEntries(blocks: Pick<BlockStore, "getBlock">, root: CID, stats?: BlockCounter): AsyncGenerator<{ name: string; link: HamtLink }> {
  const ctx = await context(blocks, stats);
  for await (const leaf of leavesOf(ctx, { kind: "shard", cid: root, size: 0 }, [])) yield { name: leaf.name, link: leaf.link };
}

/**
 * What differs from `before` (null: the empty index) to `after`, ordered by hash: added names (`before` null),
 * removed ones (`after` null) and changed links. A sub-shard with the same CID on both sides is skipped unread,
 * so the blocks read grow with the change, not with the index.
 */
export async function* hamtDiff(blocks: Pick<BlockStore, "getBlock">, before: CID | null, after: CID, stats?: BlockCounter): AsyncGenerator<HamtChange> {
  if (before !== null && before.equals(after)) return;
  const ctx = await context(blocks, stats);
  const [a, b] = await Promise.all([before === null ? emptyShard() : readShard(ctx, before, []), readShard(ctx, after, [])]);
  yield* diffShards(ctx, a, b, []);
}

/**
 * The Tsize of a link to the UnixFS DAG at `cid`, as the importer records it: a raw block's length; a dag-pb
 * node's encoded length plus its links' Tsize. Reads only that one block.
 */
export async function linkSize(blocks: Pick<BlockStore, "getBlock">, cid: CID): Promise<number> {
  const bytes = await blocks.getBlock(cid);
  if (cid.code === raw.code) return bytes.length;
  if (cid.code !== DAG_PB) {
    throw new ContentUnsupportedError(`${cid.toString()} is neither raw nor dag-pb, so it is not UnixFS`, { details: { cid: cid.toString(), codec: cid.code } });
  }
  const { decode } = await import("@ipld/dag-pb");
  let node;
  try {
    node = decode(bytes);
  } catch (error) {
    throw new ContentUnsupportedError(`${cid.toString()} is not a dag-pb node`, { details: { cid: cid.toString() }, cause: error });
  }
  return node.Links.reduce((total, link) => total + (link.Tsize ?? 0), bytes.length);
}

// --- names and hashes

/** A name must be one path segment a gateway can resolve, and survive UTF-8 (its bytes are what is hashed). */
function isEntryName(name: string): boolean {
  return name !== "" && name !== "." && name !== ".." && !name.includes("/") && new TextDecoder().decode(new TextEncoder().encode(name)) === name;
}

function checkName(name: string): void {
  if (!isEntryName(name)) throw new RangeError(`${JSON.stringify(name)} cannot be a name in a UnixFS directory`);
}

function checkLink(name: string, link: HamtLink): void {
  if (CID.asCID(link.cid) === null || !Number.isSafeInteger(link.size) || link.size < 0) {
    throw new TypeError(`the link for ${JSON.stringify(name)} needs a CID and a size that is an integer ≥ 0`);
  }
}

/** The first 8 bytes of murmur3-x64-128 of the UTF-8 name; byte d is its slot at depth d. */
async function hashName(name: string): Promise<Uint8Array> {
  return (await murmur3128.encode(new TextEncoder().encode(name))).subarray(0, MAX_DEPTH);
}

function compareLeaves(a: Leaf, b: Leaf): number {
  for (let i = 0; i < MAX_DEPTH; i++) if (a.hash[i] !== b.hash[i]) return a.hash[i] - b.hash[i];
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function sameLink(a: HamtLink, b: HamtLink): boolean {
  return a.cid.equals(b.cid) && a.size === b.size;
}

function slotLabel(slot: number): string {
  return slot.toString(16).toUpperCase().padStart(2, "0");
}

// --- updates

interface Pending {
  name: string;
  hash: Uint8Array;
  link: HamtLink | null;
}

function emptyShard(): Shard {
  return new Array<Child | undefined>(FANOUT).fill(undefined);
}

/** Items grouped by their slot at `depth`, in slot order. */
function bySlot<T extends { hash: Uint8Array }>(items: readonly T[], depth: number): Array<[number, T[]]> {
  const groups = new Map<number, T[]>();
  for (const item of items) {
    const slot = item.hash[depth];
    const group = groups.get(slot);
    if (group === undefined) groups.set(slot, [item]);
    else group.push(item);
  }
  return [...groups].sort(([a], [b]) => a - b);
}

/** Applies the changes under `shard` (at depth path.length) in place, writing the sub-shards they change. */
async function applyChanges(ctx: WriteContext, shard: Shard, path: readonly number[], changes: readonly Pending[]): Promise<void> {
  await mapLimit(bySlot(changes, path.length), BRANCH_CONCURRENCY, async ([slot, group]) => {
    const existing = shard[slot];
    const childPath = [...path, slot];
    if (existing?.kind === "shard") {
      const sub = await readShard(ctx, existing.cid, childPath);
      await applyChanges(ctx, sub, childPath, group);
      shard[slot] = await settle(ctx, sub);
      return;
    }
    // An empty slot or a single entry: what the slot holds afterwards is built anew from its few entries.
    const entries = new Map<string, Leaf>();
    if (existing !== undefined) entries.set(existing.name, existing);
    for (const change of group) {
      if (change.link === null) entries.delete(change.name);
      else entries.set(change.name, { kind: "leaf", name: change.name, hash: change.hash, link: change.link });
    }
    shard[slot] = await buildChild(ctx, [...entries.values()], childPath);
  });
}

/** What a slot holds for these entries, from scratch: nothing, the one entry, or a sub-shard (written). */
async function buildChild(ctx: WriteContext, leaves: readonly Leaf[], path: readonly number[]): Promise<Child | undefined> {
  if (leaves.length <= 1) return leaves[0];
  const depth = path.length;
  if (depth >= MAX_DEPTH) {
    throw new ContentUnsupportedError(`the names ${leaves.map((leaf) => JSON.stringify(leaf.name)).join(", ")} have the same 64-bit hash, so they cannot share a HAMT here`, {
      details: { names: leaves.map((leaf) => leaf.name) },
    });
  }
  const shard = emptyShard();
  await mapLimit(bySlot(leaves, depth), BRANCH_CONCURRENCY, async ([slot, group]) => {
    shard[slot] = await buildChild(ctx, group, [...path, slot]);
  });
  return writeShard(ctx, shard);
}

/** A changed sub-shard in canonical form: gone when empty, its entry when that is all it holds, else written. */
async function settle(ctx: WriteContext, shard: Shard): Promise<Child | undefined> {
  const children = shard.filter((child) => child !== undefined);
  if (children.length === 0) return undefined;
  if (children.length === 1 && children[0].kind === "leaf") return children[0];
  return writeShard(ctx, shard);
}

async function writeShard(ctx: WriteContext, shard: Shard): Promise<SubShard> {
  const { bytes, size } = encodeShard(ctx.pb, shard);
  const cid = CID.createV1(DAG_PB, await sha256.digest(bytes));
  await ctx.limit(async () => {
    if (await ctx.blocks.hasBlock(cid)) return;
    await ctx.blocks.putBlock(cid, bytes);
    if (ctx.stats !== undefined) ctx.stats.written++;
  });
  return { kind: "shard", cid, size };
}

/** The shard's dag-pb bytes exactly as dir-sharded.ts encodes them, and the Tsize of a link to it. */
function encodeShard(pb: DagPb, shard: Shard): { bytes: Uint8Array; size: number } {
  const links: Array<{ Name: string; Tsize: number; Hash: CID }> = [];
  let childrenSize = 0;
  // sparse-array's bitField() is little-endian without trailing zero bytes and dir-sharded.ts reverses it:
  // big-endian without leading zero bytes, empty when no slot is occupied (as go-bitfield's Bytes()).
  const bitfield = new Uint8Array(FANOUT / 8);
  let highest = -1;
  shard.forEach((child, slot) => {
    if (child === undefined) return;
    bitfield[bitfield.length - 1 - (slot >> 3)] |= 1 << (slot & 7);
    highest = slot;
    if (child.kind === "leaf") links.push({ Name: slotLabel(slot) + child.name, Tsize: child.link.size, Hash: child.link.cid });
    else links.push({ Name: slotLabel(slot), Tsize: child.size, Hash: child.cid });
    childrenSize += links[links.length - 1].Tsize;
  });
  const data = bitfield.slice(bitfield.length - (highest < 0 ? 0 : (highest >> 3) + 1));
  const unixfs = new UnixFS({ type: "hamt-sharded-directory", data, fanout: BigInt(FANOUT), hashType: HASH_TYPE });
  const bytes = pb.encode(pb.prepare({ Data: unixfs.marshal(), Links: links }));
  return { bytes, size: bytes.length + childrenSize };
}

// --- reading

function bad(cid: CID, path: readonly number[], problem: string): PkgError {
  return new PkgError(ERR_MIRROR_BAD_INDEX, `mirror index shard ${cid.toString()}: ${problem}`, {
    details: { cid: cid.toString(), depth: path.length, path: path.map(slotLabel).join("/") },
    hint: "the snapshot index is not one chainpkg or Kubo wrote; do not use it",
  });
}

/** Reads and checks the shard at `cid`, reached through the slots `path` (its depth is path.length). */
async function readShard(ctx: Context, cid: CID, path: readonly number[]): Promise<Shard> {
  if (cid.code !== DAG_PB) throw bad(cid, path, `has codec 0x${cid.code.toString(16)}, not dag-pb`);
  const bytes = await ctx.limit(() => ctx.blocks.getBlock(cid));
  if (ctx.stats !== undefined) ctx.stats.read++;
  return decodeShard(ctx.pb, cid, bytes, path);
}

/** A shard's children, checked as hostile input (see the module's comment for what a shard must be). */
async function decodeShard(pb: DagPb, cid: CID, bytes: Uint8Array, path: readonly number[]): Promise<Shard> {
  const depth = path.length;
  let node: ReturnType<DagPb["decode"]>;
  let unixfs: UnixFS;
  try {
    node = pb.decode(bytes);
    if (node.Data === undefined) throw new Error("the node has no Data");
    unixfs = UnixFS.unmarshal(node.Data);
  } catch (error) {
    throw bad(cid, path, `is not a UnixFS node (${error instanceof Error ? error.message : String(error)})`);
  }
  if (unixfs.type !== "hamt-sharded-directory") throw bad(cid, path, `is a UnixFS ${unixfs.type}, not a hamt-sharded-directory`);
  if (unixfs.fanout !== BigInt(FANOUT)) throw bad(cid, path, `has fanout ${String(unixfs.fanout)}, not ${FANOUT}`);
  // ipfs-unixfs 13's unmarshal drops hashType (field 5), so it is read from the message itself.
  const hashType = hashTypeOf(node.Data);
  if (hashType !== HASH_TYPE) throw bad(cid, path, `has hash type ${hashType === undefined ? "none" : `0x${hashType.toString(16)}`}, not murmur3-x64-128 (0x22)`);
  const bitfield = unixfs.data ?? new Uint8Array(0);
  if (bitfield.length > FANOUT / 8) throw bad(cid, path, `has a bitfield of ${bitfield.length} bytes, more than ${FANOUT} slots`);
  let occupied = 0;
  for (const byte of bitfield) for (let bits = byte; bits !== 0; bits &= bits - 1) occupied++;
  if (occupied !== node.Links.length) throw bad(cid, path, `has ${node.Links.length} links but ${occupied} slots set in its bitfield`);

  const shard = emptyShard();
  let previous = -1;
  for (const link of node.Links) {
    const label = link.Name ?? "";
    const where = `link ${JSON.stringify(label.slice(0, 80))}`;
    if (!/^[0-9A-F]{2}/.test(label)) throw bad(cid, path, `${where} does not start with its slot in upper-case hex`);
    const slot = parseInt(label.slice(0, 2), 16);
    if (slot <= previous) throw bad(cid, path, `${where} is not after the link before it in slot order`);
    previous = slot;
    const byte = bitfield.length - 1 - (slot >> 3);
    if (byte < 0 || (bitfield[byte] & (1 << (slot & 7))) === 0) throw bad(cid, path, `${where} is in slot ${slot}, which its bitfield says is empty`);
    if (link.Tsize === undefined || !Number.isSafeInteger(link.Tsize) || link.Tsize < 0) throw bad(cid, path, `${where} has no valid Tsize`);
    if (label.length === 2) {
      if (link.Hash.code !== DAG_PB) throw bad(cid, path, `${where} is a sub-shard but links to a non-dag-pb block`);
      if (depth + 1 >= MAX_DEPTH) {
        throw new ContentUnsupportedError(`mirror index shard ${cid.toString()} has a sub-shard at depth ${depth + 1}, past the 64 bits of the hash this reader uses`, {
          details: { cid: cid.toString() },
        });
      }
      shard[slot] = { kind: "shard", cid: link.Hash, size: link.Tsize };
    } else {
      const name = label.slice(2);
      if (!isEntryName(name)) throw bad(cid, path, `${where} names an entry no path can reach`);
      const hash = await hashName(name);
      // The entry must be where its hash puts it at every depth, or a lookup of its name would not find it
      // (and a forged index could show a name that resolution by path never reaches).
      for (let d = 0; d <= depth; d++) {
        if (hash[d] !== (d < depth ? path[d] : slot)) throw bad(cid, path, `${where} is in a slot its name's hash does not give`);
      }
      shard[slot] = { kind: "leaf", name, hash, link: { cid: link.Hash, size: link.Tsize } };
    }
  }
  // Below the root only canonical shards: one holding a single entry (or none) would have been collapsed.
  if (depth > 0 && (node.Links.length === 0 || (node.Links.length === 1 && shard[previous]?.kind === "leaf"))) {
    throw bad(cid, path, "is a sub-shard with fewer than two entries under it, which a HAMT never holds");
  }
  return shard;
}

/**
 * Field 5 (hashType) of a UnixFS Data message, the last occurrence as protobuf has it, or undefined. The message
 * has already been parsed by UnixFS.unmarshal, so a malformed one only needs to end the scan.
 */
function hashTypeOf(message: Uint8Array): bigint | undefined {
  let at = 0;
  const varint = (): bigint => {
    let value = 0n;
    for (let shift = 0n; at < message.length && shift < 70n; shift += 7n) {
      const byte = message[at++];
      value |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return value;
    }
    throw new Error("truncated varint");
  };
  let hashType: bigint | undefined;
  try {
    while (at < message.length) {
      const key = varint();
      const field = key >> 3n;
      switch (Number(key & 7n)) {
        case 0: {
          const value = varint();
          if (field === 5n) hashType = value;
          break;
        }
        case 1:
          at += 8;
          break;
        case 2: {
          const length = Number(varint()); // not `at += varint()`: that adds to `at` as it was before the read
          at += length;
          break;
        }
        case 5:
          at += 4;
          break;
        default:
          return hashType;
      }
    }
  } catch {
    return hashType;
  }
  return hashType;
}

/** Every entry under a child, in hash order. */
async function* leavesOf(ctx: Context, child: Child | undefined, path: readonly number[]): AsyncGenerator<Leaf> {
  if (child === undefined) return;
  if (child.kind === "leaf") {
    yield child;
    return;
  }
  const shard = await readShard(ctx, child.cid, path);
  for (let slot = 0; slot < FANOUT; slot++) yield* leavesOf(ctx, shard[slot], [...path, slot]);
}

async function collect(ctx: Context, child: Child | undefined, path: readonly number[]): Promise<Leaf[]> {
  const out: Leaf[] = [];
  for await (const leaf of leavesOf(ctx, child, path)) out.push(leaf);
  return out;
}

/** The changes between two shards at the same place (`path`) of two indexes. */
async function* diffShards(ctx: Context, a: Shard, b: Shard, path: readonly number[]): AsyncGenerator<HamtChange> {
  for (let slot = 0; slot < FANOUT; slot++) {
    const x = a[slot];
    const y = b[slot];
    if (x === undefined && y === undefined) continue;
    const childPath = [...path, slot];
    if (x?.kind === "shard" && y?.kind === "shard") {
      if (x.cid.equals(y.cid)) continue;
      const [subA, subB] = await Promise.all([readShard(ctx, x.cid, childPath), readShard(ctx, y.cid, childPath)]);
      yield* diffShards(ctx, subA, subB, childPath);
      continue;
    }
    if (x?.kind === "leaf" && y?.kind === "leaf" && x.name === y.name) {
      if (!sameLink(x.link, y.link)) yield { name: x.name, before: x.link, after: y.link };
      continue;
    }
    if (x === undefined || y === undefined) {
      // A whole slot appeared or went (everything, when `before` is the empty index): streamed, not collected.
      for await (const leaf of leavesOf(ctx, x ?? y, childPath)) yield { name: leaf.name, before: x === undefined ? null : leaf.link, after: x === undefined ? leaf.link : null };
      continue;
    }
    // An entry on one side, a sub-shard on the other (the slot split or collapsed): the few names under it, merged.
    const [before, after] = await Promise.all([collect(ctx, x, childPath), collect(ctx, y, childPath)]);
    let i = 0;
    let j = 0;
    while (i < before.length || j < after.length) {
      const order = i === before.length ? 1 : j === after.length ? -1 : compareLeaves(before[i], after[j]);
      if (order < 0) {
        yield { name: before[i].name, before: before[i].link, after: null };
        i++;
      } else if (order > 0) {
        yield { name: after[j].name, before: null, after: after[j].link };
        j++;
      } else {
        if (!sameLink(before[i].link, after[j].link)) yield { name: before[i].name, before: before[i].link, after: after[j].link };
        i++;
        j++;
      }
    }
  }
}
