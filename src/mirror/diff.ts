/**
 * `pkg mirror diff ROOT_A ROOT_B`: what changed between two snapshots, package by package and version by version.
 * The index walk skips every shard whose CID is the same in both (hamtDiff), so the work grows with the change,
 * not with the index; only the entries of changed packages are read.
 */
import { CID } from "multiformats/cid";
import { parseCid } from "../chain/cid";
import type { ContentStore } from "../content";
import { readEntry, type PackageEntry } from "./entry";
import { hamtDiff, type BlockCounter } from "./hamt";
import { entryChanges, type VersionChange } from "./import";
import { readSnapshotRecord, SNAPSHOT_RECORD, type SnapshotRecord } from "./snapshot";

export interface SnapshotDiff {
  before: { root: string; record: SnapshotRecord };
  after: { root: string; record: SnapshotRecord };
  /** Packages only in `after` / only in `before` / in both with another entry. */
  packages: { added: string[]; removed: string[]; changed: string[] };
  versions: VersionChange[];
  /** Index blocks read (shards and entries' roots): what the walk cost. */
  blocksRead: number;
}

export async function diffSnapshots(params: { content: Pick<ContentStore, "getBlock" | "getBytes">; before: string; after: string }): Promise<SnapshotDiff> {
  const { content } = params;
  const stats: BlockCounter = { read: 0, written: 0 };
  const beforeRoot = parseCid(params.before, "ROOT_A");
  const afterRoot = parseCid(params.after, "ROOT_B");
  const [beforeRecord, afterRecord] = await Promise.all([readSnapshotRecord(content, beforeRoot), readSnapshotRecord(content, afterRoot)]);
  const diff: SnapshotDiff = {
    before: { root: beforeRoot.toString(), record: beforeRecord },
    after: { root: afterRoot.toString(), record: afterRecord },
    packages: { added: [], removed: [], changed: [] },
    versions: [],
    blocksRead: 0,
  };
  const read = (cid: CID, root: CID, name: string): Promise<PackageEntry> => readEntry(content, cid, `${afterRecord.repository}:${name} in ${root}`, name);
  for await (const change of hamtDiff(content, beforeRoot, afterRoot, stats)) {
    if (change.name === SNAPSHOT_RECORD) continue;
    const before = change.before === null ? null : await read(change.before.cid, beforeRoot, change.name);
    const after = change.after === null ? null : await read(change.after.cid, afterRoot, change.name);
    if (after === null) {
      diff.packages.removed.push(change.name);
      continue;
    }
    (before === null ? diff.packages.added : diff.packages.changed).push(change.name);
    diff.versions.push(...entryChanges(before, after));
  }
  for (const list of Object.values(diff.packages)) list.sort();
  diff.blocksRead = stats.read;
  return diff;
}
