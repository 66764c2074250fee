/**
 * The mirror snapshot index (src/mirror/hamt.ts) against the reference writer: every root is compared with
 * ipfs-unixfs-importer's for the same entries (fanout 256, sharded from the first entry), and every lookup with
 * ipfs-unixfs-exporter's path resolution (what Kubo and gateways do), so a format slip fails here. The costs
 * (blocks read and written) are asserted, since proportional updates are the point of the module.
 */
import { murmur3128 } from "@multiformats/murmur3";
import { expect } from "chai";
import fc from "fast-check";
import { UnixFS } from "ipfs-unixfs";
import { exporter } from "ipfs-unixfs-exporter";
import { importer } from "ipfs-unixfs-importer";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { readableStorage } from "../../../src/content/dag";
import type { BlockStore } from "../../../src/content/types";
import { isPkgError } from "../../../src/errors";
import { hamtDiff, hamtEntries, hamtGet, hamtUpdate, linkSize, type BlockCounter, type HamtChange, type HamtLink } from "../../../src/mirror/hamt";

const DAG_PB = 0x70;

/** Blocks in memory, each checked against its CID on the way in and out (sha2-256 only, as the importer writes). */
class MemoryBlocks implements BlockStore {
  readonly map = new Map<string, Uint8Array>();

  async getBlock(cid: CID): Promise<Uint8Array> {
    const bytes = this.map.get(cid.toString());
    if (bytes === undefined) throw new Error(`no block ${cid.toString()}`);
    await verify(cid, bytes);
    return bytes;
  }

  async hasBlock(cid: CID): Promise<boolean> {
    return this.map.has(cid.toString());
  }

  async putBlock(cid: CID, bytes: Uint8Array): Promise<void> {
    await verify(cid, bytes);
    this.map.set(cid.toString(), bytes);
  }

  /** The importer's blockstore interface. */
  async put(cid: CID, bytes: Uint8Array): Promise<CID> {
    await this.putBlock(cid, bytes);
    return cid;
  }
}

async function verify(cid: CID, bytes: Uint8Array): Promise<void> {
  if (cid.multihash.code !== sha256.code) throw new Error(`${cid.toString()}: not sha2-256`);
  if (!(await sha256.digest(bytes)).digest.every((byte, i) => byte === cid.multihash.digest[i])) throw new Error(`${cid.toString()}: bytes do not match`);
}

const counter = (): BlockCounter => ({ read: 0, written: 0 });

const IMPORTER_OPTIONS = { cidVersion: 1, rawLeaves: true, shardSplitThresholdBytes: 0, shardFanoutBits: 8, wrapWithDirectory: true } as const;

function entryBytes(name: string, version: number): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ name, version }));
}

/** The importer's directory of these files: its root and the link (CID, size) it made for each. */
async function importerIndex(blocks: MemoryBlocks, files: ReadonlyMap<string, Uint8Array>): Promise<{ root: CID; links: Map<string, HamtLink> }> {
  const links = new Map<string, HamtLink>();
  let root: CID | undefined;
  const source = [...files].map(([name, content]) => ({ path: name, content }));
  for await (const result of importer(source, blocks, IMPORTER_OPTIONS)) {
    if (result.path === "" || result.path === undefined) root = result.cid;
    else links.set(result.path, { cid: result.cid, size: Number(result.size) });
  }
  if (root === undefined) throw new Error("the importer made no root");
  return { root, links };
}

/** The 8 hash bytes that place a name, computed here independently of the module. */
async function hashOf(name: string): Promise<Uint8Array> {
  return (await murmur3128.encode(new TextEncoder().encode(name))).subarray(0, 8);
}

/** A name the importer and a gateway path can both carry. */
function validName(name: string): boolean {
  return name !== "" && name !== "." && name !== ".." && !name.includes("/") && new TextDecoder().decode(new TextEncoder().encode(name)) === name;
}

/** The number of shard levels (the root is level 1) and the number of shards, by decoding every shard. */
async function shape(blocks: MemoryBlocks, root: CID): Promise<{ levels: number; shards: number }> {
  const { decode } = await import("@ipld/dag-pb");
  let levels = 0;
  let shards = 0;
  const walk = async (cid: CID, level: number): Promise<void> => {
    shards++;
    levels = Math.max(levels, level);
    for (const link of decode(await blocks.getBlock(cid)).Links) if (link.Name?.length === 2) await walk(link.Hash, level + 1);
  };
  await walk(root, 1);
  return { levels, shards };
}

async function all<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

async function expectBadIndex(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await promise;
  } catch (error) {
    expect(isPkgError(error, "ERR_MIRROR_BAD_INDEX"), `expected ERR_MIRROR_BAD_INDEX, got ${String(error)}`).to.equal(true);
    expect((error as Error).message, (error as Error).message).to.match(pattern);
    return;
  }
  throw new Error("expected ERR_MIRROR_BAD_INDEX, but it succeeded");
}

/** hamtUpdate from the empty index with links to small raw entries (no importer: for the big indexes). */
async function buildIndex(blocks: MemoryBlocks, names: readonly string[], version = 0): Promise<{ root: CID; links: Map<string, HamtLink> }> {
  const links = new Map<string, HamtLink>();
  for (const name of names) {
    const bytes = entryBytes(name, version);
    const cid = CID.createV1(0x55, await sha256.digest(bytes));
    await blocks.putBlock(cid, bytes);
    links.set(name, { cid, size: bytes.length });
  }
  const { root } = await hamtUpdate(blocks, null, links);
  return { root, links };
}

describe("mirror/hamt: the snapshot index as a UnixFS HAMT", function () {
  /** Names sharing the first 1, 2 or 3 bytes of their hash: sub-shards one to three levels down. */
  let sharing: { byte1: string[]; byte2: string[]; byte3: string[] };

  before(async function () {
    const groups = [new Map<string, string[]>(), new Map<string, string[]>(), new Map<string, string[]>()];
    for (let i = 0; i < 40_000; i++) {
      const name = `c${i}`;
      const hash = await hashOf(name);
      for (let bytes = 1; bytes <= 3; bytes++) {
        const key = Buffer.from(hash.subarray(0, bytes)).toString("hex");
        const group = groups[bytes - 1].get(key);
        if (group === undefined) groups[bytes - 1].set(key, [name]);
        else group.push(name);
      }
    }
    const pick = (map: Map<string, string[]>, count: number): string[] => [...map.values()].filter((group) => group.length >= 2).slice(0, count).flatMap((group) => group.slice(0, 3));
    sharing = { byte1: pick(groups[0], 4), byte2: pick(groups[1], 6), byte3: pick(groups[2], 6) };
    expect(sharing.byte3.length, "40,000 names have pairs sharing 24 bits of hash").to.be.at.least(8);
  });

  describe("is byte for byte what ipfs-unixfs-importer writes", function () {
    it("for random sets of names (unicode, shared hash prefixes, one name)", async function () {
      const name = fc.oneof(
        fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 }),
        fc.string({ unit: "binary", minLength: 1, maxLength: 6 }),
        fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,30}$/),
        fc.constantFrom(...sharing.byte1, ...sharing.byte2, ...sharing.byte3),
      ).filter(validName);
      await fc.assert(
        fc.asyncProperty(fc.uniqueArray(name, { minLength: 1, maxLength: 80 }), async (names) => {
          const blocks = new MemoryBlocks();
          const expected = await importerIndex(blocks, new Map(names.map((n, i) => [n, entryBytes(n, i)])));
          const { root } = await hamtUpdate(blocks, null, expected.links);
          expect(root.toString(), JSON.stringify(names)).to.equal(expected.root.toString());
        }),
        { numRuns: 40 },
      );
    });

    it("for 3,000 names, sub-shards three levels deep and a multi-block entry; its size is the importer's Tsize", async function () {
      const blocks = new MemoryBlocks();
      const files = new Map<string, Uint8Array>();
      for (let i = 0; i < 3000; i++) files.set(`package-${i}`, entryBytes(`package-${i}`, i));
      for (const name of [...sharing.byte2, ...sharing.byte3]) files.set(name, entryBytes(name, 1));
      // Larger than one 256 KiB chunk: its link's Tsize is a dag-pb file node's (node + chunks), not a byte count.
      files.set("big", new Uint8Array(600_000).fill(7));
      const expected = await importerIndex(blocks, files);
      const stats = counter();
      const { root, size } = await hamtUpdate(blocks, null, expected.links, stats);
      expect(root.toString()).to.equal(expected.root.toString());
      const { levels, shards } = await shape(blocks, root);
      expect(levels, "root, depth-1 and deeper sub-shards").to.be.at.least(4);
      expect(stats, "built from nothing: nothing read, each shard written (the importer wrote them all already)").to.deep.equal({ read: 0, written: 0 });
      expect(shards).to.be.above(256);
      // The root's Tsize is what a parent directory made by the importer would record for it.
      expect(size).to.equal(await linkSize(blocks, root));
      for (const [name, link] of expected.links) expect(await linkSize(blocks, link.cid), name).to.equal(link.size);
      expect(expected.links.get("big")!.cid.code, "the big entry is a dag-pb file").to.equal(DAG_PB);
    });

    it("writes every shard it builds into a store that lacks them, and counts them", async function () {
      const blocks = new MemoryBlocks();
      const { links } = await buildIndex(blocks, Array.from({ length: 500 }, (_, i) => `n${i}`));
      const empty = new MemoryBlocks();
      const stats = counter();
      const { root } = await hamtUpdate(empty, null, links, stats);
      expect(stats.read).to.equal(0);
      expect(stats.written).to.equal((await shape(empty, root)).shards);
      expect(stats.written).to.equal(empty.map.size);
    });

    it("for no names: an empty shard (the importer writes a flat directory there), read as an empty directory", async function () {
      const blocks = new MemoryBlocks();
      const { root, size } = await hamtUpdate(blocks, null, new Map());
      const entry = await exporter(root, readableStorage(blocks));
      expect(entry.type).to.equal("directory");
      expect(entry.type === "directory" && entry.unixfs.type).to.equal("hamt-sharded-directory");
      expect(entry.type === "directory" && (await all(entry.entries()))).to.deep.equal([]);
      expect(await all(hamtEntries(blocks, root))).to.deep.equal([]);
      expect(size).to.equal((await blocks.getBlock(root)).length);
      // Deleting the last entry of an index gives the same empty shard back.
      const one = await buildIndex(blocks, ["only"]);
      expect((await hamtUpdate(blocks, one.root, new Map([["only", null]]))).root.toString()).to.equal(root.toString());
    });
  });

  it("updated batch by batch (inserts, replacements, deletes) equals the index built from scratch and the importer's", async function () {
    this.timeout(60_000);
    // Mostly names that share hash prefixes, few enough that deletes often hit present names: sub-shards are
    // created, split and collapsed (a chain of three when a pair sharing 24 bits loses one of its names).
    const pool = [...sharing.byte1, ...sharing.byte2, ...sharing.byte3, ...Array.from({ length: 8 }, (_, i) => `p${i}`), "ünïcødé", "日本語", "🦀"];
    const op = fc.record({ index: fc.nat(pool.length - 1), remove: fc.boolean() });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(op, { minLength: 1, maxLength: 30 }), { minLength: 1, maxLength: 8 }), async (batches) => {
        const blocks = new MemoryBlocks();
        const current = new Map<string, Uint8Array>();
        let root: CID | null = null;
        let version = 0;
        for (const batch of batches) {
          // The link of each new version comes from a one-file import (a raw leaf: CID and size of its bytes).
          const changes = new Map<string, HamtLink | null>();
          for (const { index, remove } of batch) {
            const name = pool[index];
            if (remove) {
              current.delete(name);
              changes.set(name, null);
            } else {
              const bytes = entryBytes(name, ++version);
              current.set(name, bytes);
              const cid = CID.createV1(0x55, await sha256.digest(bytes));
              await blocks.putBlock(cid, bytes);
              changes.set(name, { cid, size: bytes.length });
            }
          }
          const before: CID | null = root;
          const beforeEntries = new Map(before === null ? [] : (await all(hamtEntries(blocks, before))).map((e) => [e.name, e.link] as const));
          root = (await hamtUpdate(blocks, root, changes)).root;
          const scratch = await hamtUpdate(blocks, null, new Map((await all(hamtEntries(blocks, root))).map((e) => [e.name, e.link])));
          expect(root.toString(), "incremental = from scratch").to.equal(scratch.root.toString());
          if (current.size > 0) expect(root.toString(), "incremental = importer").to.equal((await importerIndex(blocks, current)).root.toString());
          else expect(root.toString()).to.equal((await hamtUpdate(blocks, null, new Map())).root.toString());
          const entries = await all(hamtEntries(blocks, root));
          expect(entries.map((e) => e.name).sort()).to.deep.equal([...current.keys()].sort());
          // The diff is exactly the effective changes (deleting an absent name is none).
          const expected: HamtChange[] = [];
          for (const [name, link] of changes) {
            const old = beforeEntries.get(name) ?? null;
            if (old === null && link === null) continue;
            expected.push({ name, before: old, after: link });
          }
          const diff = await all(hamtDiff(blocks, before, root));
          const key = (c: HamtChange) => `${c.name} ${c.before?.cid.toString()} ${c.after?.cid.toString()}`;
          expect(diff.map(key).sort()).to.deep.equal(expected.map(key).sort());
        }
      }),
      { numRuns: 30 },
    );
  });

  it("collapses a chain of sub-shards when one of two names sharing 24 bits of hash is deleted, and keeps it for two", async function () {
    const blocks = new MemoryBlocks();
    const [a, b] = sharing.byte3;
    const others = ["x", "y", "z"];
    const { root, links } = await buildIndex(blocks, [a, b, ...others]);
    expect((await shape(blocks, root)).levels, "root, then sub-shards at depths 1, 2 and 3").to.equal(4);
    const stats = counter();
    const after = await hamtUpdate(blocks, root, new Map([[b, null]]), stats);
    expect(stats, "the root and the three sub-shards are read; only the root is written, the sub-shards are gone").to.deep.equal({ read: 4, written: 1 });
    expect((await shape(blocks, after.root)).levels).to.equal(1);
    expect(after.root.toString()).to.equal((await buildIndex(blocks, [a, ...others])).root.toString());
    const files = new Map([a, ...others].map((name) => [name, entryBytes(name, 0)]));
    expect(after.root.toString(), "the importer's").to.equal((await importerIndex(blocks, files)).root.toString());
    // Put back, the chain is rebuilt exactly.
    expect((await hamtUpdate(blocks, after.root, new Map([[b, links.get(b)!]]))).root.toString()).to.equal(root.toString());
  });

  describe("an index of 3,000 names", function () {
    let blocks: MemoryBlocks;
    let root: CID;
    let links: Map<string, HamtLink>;
    let levels: number;

    before(async function () {
      blocks = new MemoryBlocks();
      const names = [...Array.from({ length: 3000 }, (_, i) => `pkg-${i}`), ...sharing.byte3, "ünïcødé", "🦀"];
      ({ root, links } = await buildIndex(blocks, names));
      ({ levels } = await shape(blocks, root));
    });

    it("hamtGet finds every name reading at most one shard per level, and null for names it lacks", async function () {
      for (const [name, link] of links) {
        const stats = counter();
        const found = await hamtGet(blocks, root, name, stats);
        expect(found?.cid.toString(), name).to.equal(link.cid.toString());
        expect(found?.size).to.equal(link.size);
        expect(stats.read).to.be.at.most(levels);
        expect(stats.written).to.equal(0);
      }
      for (const name of ["pkg-3000", "absent", "pkg-1 ", "PKG-1", sharing.byte2[0]]) expect(await hamtGet(blocks, root, name), name).to.equal(null);
    });

    it("is resolved by ipfs-unixfs-exporter, as Kubo and gateways resolve /ipfs/<root>/<name>", async function () {
      const storage = readableStorage(blocks);
      // Every 7th name and every name that is not pkg-N (the exporter reads slowly: 10 s for all of them).
      for (const [name, link] of [...links].filter(([name], i) => i % 7 === 0 || !name.startsWith("pkg-"))) {
        const entry = await exporter(`${root.toString()}/${name}`, storage);
        expect(entry.cid.toString(), name).to.equal(link.cid.toString());
      }
    });

    it("hamtEntries lists every name once, in hash order", async function () {
      const entries = await all(hamtEntries(blocks, root));
      expect(entries.map((e) => e.name).sort()).to.deep.equal([...links.keys()].sort());
      const hashes = await Promise.all(entries.map((e) => hashOf(e.name)));
      for (let i = 1; i < hashes.length; i++) expect(Buffer.compare(hashes[i - 1], hashes[i]), entries[i].name).to.equal(-1);
    });
  });

  describe("an index of 20,000 names", function () {
    let blocks: MemoryBlocks;
    let root: CID;
    let links: Map<string, HamtLink>;
    let levels: number;
    let newLink: HamtLink;

    before(async function () {
      blocks = new MemoryBlocks();
      ({ root, links } = await buildIndex(blocks, Array.from({ length: 20_000 }, (_, i) => `name-${i}`)));
      ({ levels } = await shape(blocks, root));
      expect(levels, "20,000 names: the root, 256 sub-shards and two levels below them").to.equal(4);
      const bytes = entryBytes("changed", 1);
      newLink = { cid: CID.createV1(0x55, await sha256.digest(bytes)), size: bytes.length };
    });

    for (const [what, name, link] of [
      ["replaced", "name-777", () => newLink],
      ["added", "name-20000", () => newLink],
      ["deleted", "name-4242", () => null],
    ] as const) {
      it(`with one entry ${what}: writes at most one shard per level, and the diff reads a handful of blocks`, async function () {
        const update = counter();
        const changed = await hamtUpdate(blocks, root, new Map([[name, link()]]), update);
        expect(update.read, "the shards on the name's path").to.be.at.most(levels);
        // One new shard per level of the path (depth + 1), counting a level the change may have added.
        expect(update.written).to.be.at.least(1).and.at.most((await shape(blocks, changed.root)).levels);
        const diffStats = counter();
        const diff = await all(hamtDiff(blocks, root, changed.root, diffStats));
        const before = links.get(name) ?? null;
        expect(diff).to.have.length(1);
        expect(diff[0].name).to.equal(name);
        expect(diff[0].before?.cid.toString()).to.equal(before?.cid.toString());
        expect(diff[0].after?.cid.toString()).to.equal(link()?.cid.toString());
        expect(diffStats.read, `the two paths (${levels} levels)`).to.be.at.most(2 * levels);
        expect(await hamtGet(blocks, changed.root, name)).to.deep.equal(link());
        // Undoing the change gives the original root back: the index is canonical.
        expect((await hamtUpdate(blocks, changed.root, new Map([[name, before]]))).root.toString()).to.equal(root.toString());
      });
    }

    it("a diff against the empty index lists every entry", async function () {
      const diff = await all(hamtDiff(blocks, null, root));
      expect(diff).to.have.length(20_000);
      expect(diff.every((change) => change.before === null && change.after !== null)).to.equal(true);
    });
  });

  describe("refuses hostile shards with ERR_MIRROR_BAD_INDEX", function () {
    let blocks: MemoryBlocks;
    let pb: typeof import("@ipld/dag-pb");
    let good: { root: CID; links: Map<string, HamtLink> };

    before(async function () {
      pb = await import("@ipld/dag-pb");
      blocks = new MemoryBlocks();
      good = await buildIndex(blocks, ["alpha", "beta", "gamma", "delta"]);
    });

    /** The good root, decoded and changed by `edit`, stored under its new CID. */
    async function forged(edit: (node: { Data: Uint8Array; Links: Array<{ Name: string; Hash: CID; Tsize: number }> }, unixfs: UnixFS) => void): Promise<CID> {
      const node = pb.decode(await blocks.getBlock(good.root));
      const unixfs = UnixFS.unmarshal(node.Data!);
      unixfs.hashType = 0x22n; // ipfs-unixfs's unmarshal drops it
      const copy = { Data: node.Data!, Links: node.Links.map((l) => ({ Name: l.Name!, Hash: l.Hash, Tsize: l.Tsize! })) };
      edit(copy, unixfs);
      const bytes = pb.encode(pb.prepare(copy));
      const cid = CID.createV1(DAG_PB, await sha256.digest(bytes));
      await blocks.putBlock(cid, bytes);
      return cid;
    }

    const operations: Array<[string, (root: CID) => Promise<unknown>]> = [
      ["hamtGet", (root) => hamtGet(blocks, root, "alpha")],
      ["hamtEntries", (root) => all(hamtEntries(blocks, root))],
      ["hamtUpdate", (root) => hamtUpdate(blocks, root, new Map([["epsilon", null]]))],
      ["hamtDiff", (root) => all(hamtDiff(blocks, good.root, root))],
    ];

    it("a shard of fanout 16", async function () {
      const root = await forged((node, unixfs) => {
        unixfs.fanout = 16n;
        node.Data = unixfs.marshal();
      });
      for (const [what, run] of operations) await expectBadIndex(run(root), /fanout 16/).catch((e: Error) => Promise.reject(new Error(`${what}: ${e.message}`)));
    });

    it("another hash type", async function () {
      const root = await forged((node, unixfs) => {
        unixfs.hashType = 0x23n;
        node.Data = unixfs.marshal();
      });
      await expectBadIndex(hamtGet(blocks, root, "alpha"), /hash type/);
    });

    it("an entry in a slot its hash does not give (bitfield moved with it)", async function () {
      const root = await forged((node, unixfs) => {
        const link = node.Links[0];
        const slot = parseInt(link.Name.slice(0, 2), 16);
        const other = [...Array(256).keys()].find((s) => s !== slot && !node.Links.some((l) => parseInt(l.Name.slice(0, 2), 16) === s))!;
        link.Name = other.toString(16).toUpperCase().padStart(2, "0") + link.Name.slice(2);
        const bits = new Uint8Array(32);
        for (const l of node.Links) {
          const s = parseInt(l.Name.slice(0, 2), 16);
          bits[31 - (s >> 3)] |= 1 << (s & 7);
        }
        unixfs.data = bits;
        node.Data = unixfs.marshal();
      });
      for (const [what, run] of operations) await expectBadIndex(run(root), /hash does not give/).catch((e: Error) => Promise.reject(new Error(`${what}: ${e.message}`)));
    });

    it("a bitfield that disagrees with the links", async function () {
      const root = await forged((node, unixfs) => {
        const data = Uint8Array.from(unixfs.data!);
        const slot = parseInt(node.Links[0].Name.slice(0, 2), 16);
        data[data.length - 1 - (slot >> 3)] ^= 1 << (slot & 7);
        unixfs.data = data;
        node.Data = unixfs.marshal();
      });
      await expectBadIndex(hamtGet(blocks, root, "alpha"), /bitfield/);
      const extra = await forged((node, unixfs) => {
        const used = node.Links.map((l) => parseInt(l.Name.slice(0, 2), 16));
        const free = [...Array(256).keys()].find((slot) => !used.includes(slot))!;
        unixfs.data = bitfieldOf([...used, free]);
        node.Data = unixfs.marshal();
      });
      await expectBadIndex(hamtGet(blocks, extra, "alpha"), /bitfield/);
    });

    it("a link whose name does not start with its slot in upper-case hex", async function () {
      const root = await forged((node) => {
        const link = node.Links.find((l) => /[A-F]/.test(l.Name.slice(0, 2)))!;
        link.Name = link.Name.slice(0, 2).toLowerCase() + link.Name.slice(2);
      });
      await expectBadIndex(hamtGet(blocks, root, "alpha"), /upper-case hex/);
    });

    it("a node that is not a HAMT shard: a plain directory, a file, a raw block, not UnixFS", async function () {
      const plain = await forged((node) => {
        node.Data = new UnixFS({ type: "directory" }).marshal();
        for (const link of node.Links) link.Name = link.Name.slice(2);
      });
      await expectBadIndex(hamtGet(blocks, plain, "alpha"), /not a hamt-sharded-directory/);
      const notUnixfs = await forged((node) => {
        node.Data = Uint8Array.from([0xff, 0xff, 0xff]);
      });
      await expectBadIndex(hamtGet(blocks, notUnixfs, "alpha"), /not a UnixFS node/);
      await expectBadIndex(hamtGet(blocks, good.links.get("alpha")!.cid, "alpha"), /not dag-pb/);
    });

    it("a sub-shard holding a single entry (a HAMT collapses it into its parent)", async function () {
      const [name, link] = [...good.links][0];
      const hash = await hashOf(name);
      const subBytes = pb.encode(
        pb.prepare({
          Data: new UnixFS({ type: "hamt-sharded-directory", data: bitfieldOf([hash[1]]), fanout: 256n, hashType: 0x22n }).marshal(),
          Links: [{ Name: hash[1].toString(16).toUpperCase().padStart(2, "0") + name, Hash: link.cid, Tsize: link.size }],
        }),
      );
      const sub = CID.createV1(DAG_PB, await sha256.digest(subBytes));
      await blocks.putBlock(sub, subBytes);
      const root = await forged((node, unixfs) => {
        const label = hash[0].toString(16).toUpperCase().padStart(2, "0");
        node.Links = node.Links.filter((l) => !l.Name.startsWith(label)).concat([{ Name: label, Hash: sub, Tsize: subBytes.length + link.size }]);
        unixfs.data = bitfieldOf(node.Links.map((l) => parseInt(l.Name.slice(0, 2), 16)));
        node.Data = unixfs.marshal();
      });
      await expectBadIndex(hamtGet(blocks, root, name), /fewer than two entries/);
    });
  });
});

function bitfieldOf(slots: readonly number[]): Uint8Array<ArrayBuffer> {
  const bits = new Uint8Array(32);
  for (const s of slots) bits[31 - (s >> 3)] |= 1 << (s & 7);
  const first = bits.findIndex((b) => b !== 0);
  return first < 0 ? new Uint8Array(0) : bits.slice(first);
}
