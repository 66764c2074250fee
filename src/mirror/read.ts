/**
 * Reading packages of mirror repositories as if they were native: a registry client whose getPackages and
 * getPackage answer, for a package the chain does not hold, from the current snapshot of its repository at the
 * same block. Resolution (`pkg lock`), lock verification, `pkg fetch` and `pkg build` use it unchanged.
 *
 * - A native record wins: a package its owner registered on chain is read from the chain only, whatever the
 *   snapshot says (claiming a mirrored name is how a maintainer takes over).
 * - Every byte is verified: the snapshot root is the version's meta CID on chain; shards and entries are read
 *   by CID through the content store, which checks each block; an entry must carry the name it was looked up
 *   by, so a forged index cannot answer for another package.
 * - Per call: one repository-versions read per repository (a snapshot root per block is cached for the life of
 *   the reader), then the shards on each name's path (≤ 4 blocks in an index of a million versions) and the
 *   entry.
 */
import type { CID } from "multiformats/cid";
import { hashPackageId, hashRepositoryId, type PackageKey } from "../ids";
import type { ContentStore } from "../content";
import type { PackageRecord, ReadOptions, RegistryClient } from "../chain/registry";
import { readEntry, type PackageEntry } from "./entry";
import { hamtGet } from "./hamt";
import { currentSnapshot, type CurrentSnapshot } from "./snapshot";

/** A package record read from a snapshot: `snapshot` is its index root (native records have none). */
export type MirroredPackageRecord = PackageRecord & { snapshot?: string; entry?: PackageEntry };

/** Snapshot roots remembered per (repository, block). */
const MAX_CACHED_ROOTS = 256;

/** The zero address: a mirrored package has no owner on chain until one claims it natively. */
const NO_OWNER = "0x0000000000000000000000000000000000000000";

export function recordFromEntry(key: PackageKey, root: CID, entry: PackageEntry): MirroredPackageRecord {
  return {
    key,
    id: hashPackageId(hashRepositoryId(key.repository), key.name),
    repositoryId: hashRepositoryId(key.repository),
    owner: NO_OWNER,
    versions: entry.versions.map((v) => ({ version: v.version, meta: v.meta, src: v.src, yanked: v.yanked })),
    snapshot: root.toString(),
    entry,
  };
}

/** The entry of `name` in the index at `root`, or null. */
export async function lookupEntry(content: Pick<ContentStore, "getBlock" | "getBytes">, root: CID, repository: string, name: string): Promise<PackageEntry | null> {
  const link = await hamtGet(content, root, name);
  if (link === null) return null;
  return readEntry(content, link.cid, `${repository}:${name} in snapshot ${root}`, name);
}

type PackageReader = Pick<RegistryClient, "getPackages" | "getPackage">;

/**
 * `client` with getPackages/getPackage falling back to mirror snapshots. Everything else is the client's own.
 * Snapshot roots are cached per (repository, block) for the reader's life: one command.
 */
export function withSnapshots<C extends PackageReader & Pick<RegistryClient, "getRepositoryVersions">>(
  client: C,
  content: Pick<ContentStore, "getBlock" | "getBytes">,
): C {
  const roots = new Map<string, Promise<CurrentSnapshot | null>>();
  const snapshotOf = (repository: string, blockTag: number | undefined): Promise<CurrentSnapshot | null> => {
    const key = `${repository}@${blockTag ?? "latest"}`;
    let found = roots.get(key);
    if (found === undefined) {
      found = currentSnapshot(client, content, repository, { blockTag });
      // a long-lived reader (the gateway) reads at every new head: keep the recent blocks only
      if (roots.size >= MAX_CACHED_ROOTS) roots.delete(roots.keys().next().value as string);
      roots.set(key, found);
      found.catch(() => roots.delete(key));
    }
    return found;
  };

  async function getPackages(keys: PackageKey[], options: ReadOptions = {}): Promise<(PackageRecord | null)[]> {
    const records: (PackageRecord | null)[] = await client.getPackages(keys, options);
    await Promise.all(
      keys.map(async (key, i) => {
        if (records[i] !== null) return;
        const snapshot = await snapshotOf(key.repository, options.blockTag);
        if (snapshot === null) return;
        const entry = await lookupEntry(content, snapshot.root, key.repository, key.name);
        if (entry !== null) records[i] = recordFromEntry(key, snapshot.root, entry);
      }),
    );
    return records;
  }

  const reader: PackageReader = {
    getPackages,
    async getPackage(key: PackageKey, options: ReadOptions = {}) {
      return (await getPackages([key], options))[0];
    },
  };
  return new Proxy(client, {
    get(target, property, receiver) {
      if (property === "getPackages" || property === "getPackage") return reader[property];
      return Reflect.get(target, property, receiver);
    },
  });
}

/** A record as the chain holds it: null for one read from a snapshot (publish and yank act on native records only). */
export function nativeRecord<R extends PackageRecord>(record: R | null): R | null {
  return record !== null && (record as MirroredPackageRecord).snapshot !== undefined ? null : record;
}
