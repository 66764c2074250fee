/**
 * The snapshot index (src/mirror/hamt.ts) at the sizes of a real mirror, in-process on an embedded store in a
 * temp directory (no chain, no CLI: these count blocks, which only the index decides).
 *
 * mirror-lookup: an index of 200,000 packages × 5 versions (1,000,000 versions): one entry file per package
 * (encodeEntry, fake but valid CIDs for meta and src, stored as the raw block putBytes would make), the HAMT built
 * with hamtUpdate. Then hamtGet of 100 random names: the shard blocks each reads (max and mean), plus the entry's
 * own blocks. Goal: at most 4 blocks. Also the bytes those shards weigh against the one node a flat UnixFS
 * directory of the same names would be (what a lookup would have to fetch without sharding).
 *
 * mirror-update: an index of 20,000 packages × 5 versions (100,000 versions), then 1% of its versions changed
 * (1,000: a new version in 750 packages, a version yanked in 250 others) applied with one hamtUpdate: the blocks
 * written (new shards + new entries) against the index's blocks (shards + entries, counted by walking it). Then
 * hamtDiff of the two roots: time, shards read, changes found.
 *
 *   npx hardhat run bench/mirror/lookup.ts
 *
 * BENCH_LOOKUP_PACKAGES / BENCH_UPDATE_PACKAGES change the index sizes (quick checks).
 */
import { createHash } from "node:crypto";
import path from "node:path";
import { murmur3128 } from "@multiformats/murmur3";
import { UnixFS } from "ipfs-unixfs";
import type { CID } from "multiformats/cid";
import { mapLimit } from "../../src/concurrency";
import { openEmbeddedStore, type EmbeddedContentStore } from "../../src/content";
import { encodeEntry, type EntryVersion, type PackageEntry } from "../../src/mirror/entry";
import { hamtDiff, hamtEntries, hamtGet, hamtUpdate, type BlockCounter, type HamtLink } from "../../src/mirror/hamt";
import { seededRandom } from "../../test/helpers/random";
import { bench, note } from "../cli/util";
import { dagBlocks, fakeCid, progress, rawCid, withWorkDir } from "./util";

const VERSIONS = ["2.0.0", "1.2.0", "1.1.0", "1.0.1", "1.0.0"];
const LOOKUPS = 100;
const CHANGED_PACKAGES = 1000;
/** Names are added in this many groups, by the first byte of their hash: each group rewrites only its own part of the tree. */
const GROUPS = 16;

/** Unique, valid package names that look like registry names (a word or two and a short suffix). */
function makeNames(count: number, seed: number): string[] {
  const rand = seededRandom(seed);
  const syllables = ["ka", "lo", "mi", "zu", "re", "ta", "no", "vi", "se", "pa", "do", "gu", "fe", "xi", "ro", "be", "ly", "qu", "wa", "ne"];
  const word = () => Array.from({ length: 2 + Math.floor(rand() * 3) }, () => syllables[Math.floor(rand() * syllables.length)]).join("");
  const names = new Set<string>();
  while (names.size < count) {
    const shape = rand();
    const name = shape < 0.4 ? word() : shape < 0.8 ? `${word()}-${word()}` : `${word()}-${word()}-${Math.floor(rand() * 100)}`;
    if (!names.has(name)) names.add(name);
    else names.add(`${name}-${names.size.toString(36)}`);
  }
  return [...names];
}

function makeVersion(name: string, version: string, yanked = false): EntryVersion {
  return {
    version,
    meta: fakeCid(`meta ${name}@${version}`, "raw").toString(),
    src: fakeCid(`src ${name}@${version}`, "dag-pb").toString(),
    yanked,
    // what a crates entry keeps per version (the index line, the .crate's CID), in small
    origin: { cksum: createHash("sha256").update(`crate ${name}@${version}`).digest("hex"), crate: fakeCid(`crate ${name}@${version}`, "raw").toString() },
  };
}

function makeEntry(name: string, versions: EntryVersion[]): PackageEntry {
  return { format: 1, kind: "crates", name, origin: { name }, versions };
}

/** Stores an entry's bytes as the one raw block putBytes makes of them, returns the link to it. */
async function putEntry(store: EmbeddedContentStore, entry: PackageEntry): Promise<HamtLink> {
  const bytes = encodeEntry(entry);
  const cid = rawCid(bytes);
  await store.putBlock(cid, bytes);
  return { cid, size: bytes.length };
}

/**
 * An index of `names` × VERSIONS, built with hamtUpdate in GROUPS batches of names grouped by their hash's first
 * byte (each batch touches the root and its own sixteenth of the tree only, so every shard is written about once
 * and hamtUpdate holds one batch at a time). The name → link map returned is for the flat-directory comparison.
 */
async function buildIndex(store: EmbeddedContentStore, names: readonly string[], log: (line: string) => void): Promise<{ root: CID; links: Map<string, HamtLink>; entryBytes: number }> {
  const groups: string[][] = Array.from({ length: GROUPS }, () => []);
  for (const name of names) {
    const first = (await murmur3128.encode(new TextEncoder().encode(name)))[0];
    groups[Math.floor((first * GROUPS) / 256)].push(name);
  }
  // putBytes of one entry must give the CID putEntry computes (a raw block): checked once
  const sample = encodeEntry(makeEntry(names[0], VERSIONS.map((v) => makeVersion(names[0], v))));
  const viaStore = await store.putBytes(sample);
  if (!viaStore.equals(rawCid(sample))) throw new Error(`putBytes gives ${viaStore.toString()} for an entry, not its raw CID`);

  let root: CID | null = null;
  let entryBytes = 0;
  let done = 0;
  const links = new Map<string, HamtLink>(); // ~200 bytes a name: 40 MB for 200,000
  for (const group of groups) {
    const changes = new Map<string, HamtLink>();
    await mapLimit(group, 16, async (name) => {
      const link = await putEntry(store, makeEntry(name, VERSIONS.map((v) => makeVersion(name, v))));
      changes.set(name, link);
      entryBytes += link.size;
    });
    root = (await hamtUpdate(store, root, changes)).root;
    for (const [name, link] of changes) links.set(name, link);
    done += group.length;
    log(`index: ${done} / ${names.length} packages`);
  }
  return { root: root!, links, entryBytes };
}

/** Shards and entry blocks of an index, by walking it. */
async function indexBlocks(store: EmbeddedContentStore, root: CID): Promise<{ shards: number; entries: number; entryBlocks: number }> {
  const stats: BlockCounter = { read: 0, written: 0 };
  let entries = 0;
  let entryBlocks = 0;
  for await (const { link } of hamtEntries(store, root, stats)) {
    entries++;
    entryBlocks += await dagBlocks(store, link.cid);
  }
  return { shards: stats.read, entries, entryBlocks };
}

/** A flat (unsharded) UnixFS directory of the same links: its one node's size in bytes. */
async function flatDirectoryBytes(links: Iterable<[string, HamtLink]>): Promise<number> {
  const pb = await import("@ipld/dag-pb");
  const Links = [...links].map(([name, link]) => ({ Name: name, Tsize: link.size, Hash: link.cid }));
  return pb.encode(pb.prepare({ Data: new UnixFS({ type: "directory" }).marshal(), Links })).length;
}

async function benchLookup(dir: string, log: (line: string) => void): Promise<void> {
  const packages = Number(process.env.BENCH_LOOKUP_PACKAGES ?? 200_000);
  const store = await openEmbeddedStore({ directory: path.join(dir, "lookup") });
  try {
    const t = performance.now();
    const names = makeNames(packages, 13);
    const { root, links, entryBytes } = await buildIndex(store, names, log);
    const buildSeconds = (performance.now() - t) / 1000;
    log(`index of ${packages} packages built in ${buildSeconds.toFixed(1)} s`);

    // the blocks each lookup reads, and their bytes
    let bytes = 0;
    const counted = { getBlock: async (cid: CID) => {
      const block = await store.getBlock(cid);
      bytes += block.length;
      return block;
    } };
    const rand = seededRandom(1313);
    const reads: number[] = [];
    const pathBytes: number[] = [];
    const entryBlocks: number[] = [];
    for (let i = 0; i < LOOKUPS; i++) {
      const name = names[Math.floor(rand() * names.length)];
      const stats: BlockCounter = { read: 0, written: 0 };
      bytes = 0;
      const link = await hamtGet(counted, root, name, stats);
      if (link === null) throw new Error(`${name} is not in the index`);
      reads.push(stats.read);
      pathBytes.push(bytes);
      entryBlocks.push(await dagBlocks(store, link.cid));
    }
    const missStats: BlockCounter = { read: 0, written: 0 };
    if ((await hamtGet(store, root, "no-such-package-here", missStats)) !== null) throw new Error("a name never added was found");

    const flat = await flatDirectoryBytes(links);
    const levels = await shardLevels(store, root);

    const max = Math.max(...reads);
    const mean = reads.reduce((a, b) => a + b, 0) / reads.length;
    const meanBytes = pathBytes.reduce((a, b) => a + b, 0) / pathBytes.length;
    // the distribution over every name of the index (a walk), not only the sample: levels.names[d] names need d+1 shards
    const all = levels.names.reduce((a, b) => a + b, 0);
    let seen = 0;
    let p99 = 0;
    for (const [d, n] of levels.names.entries()) {
      seen += n;
      if (seen >= 0.99 * all) {
        p99 = d + 1;
        break;
      }
    }
    // p99 over all names; the worst names (a handful, where hashes share their first bytes) are in the note below
    bench("mirror-lookup", p99, "blocks", "goal", 4);
    note(
      `${packages.toLocaleString("en")} packages × ${VERSIONS.length} versions = ${(packages * VERSIONS.length).toLocaleString("en")} versions; ` +
        `${LOOKUPS} random lookups (hamtGet): shard blocks read max ${max}, mean ${mean.toFixed(2)}, min ${Math.min(...reads)}; a name not there: ${missStats.read}`,
    );
    note(
      `plus the entry itself: ${Math.max(...entryBlocks)} block (raw, ${Math.round(entryBytes / packages)} bytes mean), ` +
        `so ${max + Math.max(...entryBlocks)} blocks at most from the root to a sampled package's versions (the root is the repository version's meta CID on chain)`,
    );
    note(
      `bytes on a lookup's path: mean ${Math.round(meanBytes).toLocaleString("en")}, max ${Math.max(...pathBytes).toLocaleString("en")} ` +
        `vs a flat UnixFS directory of the same links: one node of ${flat.toLocaleString("en")} bytes (${(flat / meanBytes).toFixed(0)}× more, and over the 1 MiB a block may have on the IPFS network, 2 MiB with bitswap)`,
    );
    const worst = levels.names.length;
    note(
      `over all ${packages.toLocaleString("en")} names (a walk of the index): ` +
        levels.names.map((n, d) => `${n.toLocaleString("en")} need ${d + 1}`).filter((_, d) => levels.names[d] > 0).join(", ") +
        ` shard blocks: p99 ${p99}, the worst name ${worst} (+1 entry block; over the goal of 4 for ${levels.names.slice(4).reduce((a, b) => a + b, 0)} names); ${LOOKUPS} random names rarely meet the few deepest`,
    );
    note(`shards by depth: ${levels.shards.join(" / ")}; index built in ${buildSeconds.toFixed(0)} s (${GROUPS} hamtUpdate calls, names grouped by their hash's first byte)`);
  } finally {
    await store.close();
  }
}

/**
 * How many shards sit at each depth, and how many names sit in a shard of each depth (a walk of the whole index):
 * a name in a shard of depth d costs hamtGet d + 1 shard reads.
 */
async function shardLevels(store: EmbeddedContentStore, root: CID): Promise<{ shards: number[]; names: number[] }> {
  const pb = await import("@ipld/dag-pb");
  const shards: number[] = [];
  const names: number[] = [];
  let frontier: CID[] = [root];
  while (frontier.length > 0) {
    shards.push(frontier.length);
    names.push(0);
    const next: CID[] = [];
    await mapLimit(frontier, 16, async (cid) => {
      const node = pb.decode(await store.getBlock(cid));
      for (const link of node.Links) {
        if (link.Name?.length === 2) next.push(link.Hash);
        else names[names.length - 1]++;
      }
    });
    frontier = next;
  }
  return { shards, names };
}

async function benchUpdate(dir: string, log: (line: string) => void): Promise<void> {
  const packages = Number(process.env.BENCH_UPDATE_PACKAGES ?? 20_000);
  const store = await openEmbeddedStore({ directory: path.join(dir, "update") });
  try {
    const names = makeNames(packages, 20);
    const { root: before, links } = await buildIndex(store, names, log);
    const blocks = await indexBlocks(store, before);
    log(`index of ${packages} packages: ${blocks.shards} shards, ${blocks.entries} entries`);

    // 1% of the versions: a new version in 750 packages, one version yanked in 250 others
    const rand = seededRandom(2020);
    const picked = new Set<string>();
    while (picked.size < Math.min(CHANGED_PACKAGES, names.length)) picked.add(names[Math.floor(rand() * names.length)]);
    const changes = new Map<string, HamtLink>();
    let added = 0;
    let yanked = 0;
    let entriesWritten = 0;
    for (const name of picked) {
      const versions = VERSIONS.map((v) => makeVersion(name, v));
      if (added < (CHANGED_PACKAGES * 3) / 4) {
        versions.unshift(makeVersion(name, "2.1.0"));
        added++;
      } else {
        const i = Math.floor(rand() * versions.length);
        versions[i] = { ...versions[i], yanked: true };
        yanked++;
      }
      const bytes = encodeEntry(makeEntry(name, versions));
      const cid = rawCid(bytes);
      if (!(await store.hasBlock(cid))) entriesWritten++;
      await store.putBlock(cid, bytes);
      if (links.get(name)?.cid.equals(cid)) throw new Error(`${name}: the changed entry is the same as before`);
      changes.set(name, { cid, size: bytes.length });
    }
    const stats: BlockCounter = { read: 0, written: 0 };
    const t = performance.now();
    const { root: after } = await hamtUpdate(store, before, changes, stats);
    const updateMs = performance.now() - t;

    const diffStats: BlockCounter = { read: 0, written: 0 };
    const d = performance.now();
    let found = 0;
    for await (const change of hamtDiff(store, before, after, diffStats)) {
      if (!picked.has(change.name) || change.before === null || change.after === null) throw new Error(`hamtDiff reports ${change.name}, which did not change that way`);
      found++;
    }
    const diffMs = performance.now() - d;
    if (found !== picked.size) throw new Error(`hamtDiff found ${found} changes, not ${picked.size}`);

    const indexTotal = blocks.shards + blocks.entryBlocks;
    const written = stats.written + entriesWritten;
    bench("mirror-update", written, "blocks", "index-blocks", indexTotal);
    note(
      `${packages.toLocaleString("en")} packages × ${VERSIONS.length} versions; ${added + yanked} versions changed (${added} added, ${yanked} yanked) in ${picked.size} packages, ` +
        `one hamtUpdate of ${changes.size} names in ${updateMs.toFixed(0)} ms`,
    );
    note(
      `written: ${stats.written} shards + ${entriesWritten} entries = ${written} blocks (${((written / indexTotal) * 100).toFixed(1)}% of the index); shards read ${stats.read}; ` +
        `the index: ${blocks.shards} shards + ${blocks.entryBlocks} entry blocks = ${indexTotal}`,
    );
    note(`hamtDiff of the two roots: ${found} changed entries in ${diffMs.toFixed(0)} ms, ${diffStats.read} shards read (of ${2 * blocks.shards} in both indexes)`);
  } finally {
    await store.close();
  }
}

export async function benchMirrorLookup(): Promise<void> {
  const log = progress(performance.now());
  await withWorkDir("chainpkg-bench-mirror-index-", async (dir) => {
    await benchLookup(dir, log);
    await benchUpdate(dir, log);
  });
}

if (require.main === module) {
  benchMirrorLookup().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
