/**
 * Snapshots: a mirror repository's versions on chain whose meta CID is the root of an index (hamt.ts) instead
 * of a repo.lock. The index maps each package name to its entry (entry.ts) and `.snapshot` — a name no package
 * can have (names start with a letter or digit) — to this record: what was mirrored from where, the counts, and
 * the snapshot it was made from. One repository version per import is the only thing written on chain.
 *
 * Which snapshot is current: the repository version `repo lock` would pick (the highest non-yanked one), read at
 * the caller's block, so a lock pinned at a block resolves through the snapshot that was current then. Yanking a
 * snapshot version goes back to the one before.
 */
import { CID } from "multiformats/cid";
import { UnixFS } from "ipfs-unixfs";
import { PkgError } from "../errors";
import { collectBytes, type SizeLimit } from "../files/limits";
import { pickRepositoryVersion } from "../repository/names";
import type { ContentStore } from "../content";
import type { RegistryClient } from "../chain/registry";
import { canonicalJson, MIRROR_KINDS, type JsonValue, type MirrorKind } from "./entry";
import { hamtGet, type BlockCounter } from "./hamt";
import { ERR_MIRROR_NOT_SNAPSHOT } from "./errors";

const DAG_PB = 0x70;

/** The index name of the snapshot record. */
export const SNAPSHOT_RECORD = ".snapshot";
export const SNAPSHOT_FORMAT = "chainpkg-mirror-snapshot/1";


export interface SnapshotRecord {
  format: typeof SNAPSHOT_FORMAT;
  kind: MirrorKind;
  /** The repository it is published in. */
  repository: string;
  /** Where the last import read from (a registry URL, an index, a channel file's name). */
  source: string;
  packages: number;
  versions: number;
  /** The snapshot this one was made from (null for the first). */
  previous: string | null;
}

const RECORD_LIMIT: SizeLimit = {
  max: 64 * 1024,
  code: ERR_MIRROR_NOT_SNAPSHOT,
  what: "a snapshot record",
  hint: "that CID is not a snapshot chainpkg wrote",
};

export function encodeSnapshotRecord(record: SnapshotRecord): Uint8Array {
  return new TextEncoder().encode(canonicalJson(record as unknown as JsonValue));
}

function notSnapshot(root: string, problem: string): PkgError {
  return new PkgError(ERR_MIRROR_NOT_SNAPSHOT, `${root} is not a mirror snapshot: ${problem}`, {
    details: { root },
    hint: "pass the meta CID of a mirror repository's version (`repo fetch NAME:VERSION` shows a repository's versions)",
  });
}

/**
 * Whether a repository version's meta is an index root, told from its root block alone: a HAMT-sharded UnixFS
 * directory. A repo.lock is a file (a raw block, or a dag-pb file node when large).
 */
export async function isSnapshotRoot(blocks: Pick<ContentStore, "getBlock">, root: CID): Promise<boolean> {
  if (root.code !== DAG_PB) return false;
  // @ipld/dag-pb ships only an "import" export condition, so it is loaded with import()
  const { decode } = await import("@ipld/dag-pb");
  const node = decode(await blocks.getBlock(root));
  if (node.Data === undefined) return false;
  try {
    return UnixFS.unmarshal(node.Data).type === "hamt-sharded-directory";
  } catch {
    return false;
  }
}

/** The `.snapshot` record of an index root, checked. @throws PkgError ERR_MIRROR_NOT_SNAPSHOT */
export async function readSnapshotRecord(content: Pick<ContentStore, "getBlock" | "getBytes">, root: CID, stats?: BlockCounter): Promise<SnapshotRecord> {
  const text = root.toString();
  if (!(await isSnapshotRoot(content, root))) throw notSnapshot(text, "its root is not a HAMT-sharded directory");
  const link = await hamtGet(content, root, SNAPSHOT_RECORD, stats);
  if (link === null) throw notSnapshot(text, `it has no ${SNAPSHOT_RECORD} record`);
  const bytes = await collectBytes(content.getBytes(link.cid), `${text}/${SNAPSHOT_RECORD}`, RECORD_LIMIT);
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw notSnapshot(text, `its ${SNAPSHOT_RECORD} is not JSON`);
  }
  const r = value as Partial<SnapshotRecord> | null;
  if (
    r === null || typeof r !== "object" || r.format !== SNAPSHOT_FORMAT || !MIRROR_KINDS.includes(r.kind as MirrorKind) ||
    typeof r.repository !== "string" || typeof r.source !== "string" || !Number.isSafeInteger(r.packages) || !Number.isSafeInteger(r.versions) ||
    (r.previous !== null && typeof r.previous !== "string")
  ) {
    throw notSnapshot(text, `its ${SNAPSHOT_RECORD} is not of format ${SNAPSHOT_FORMAT}`);
  }
  return r as SnapshotRecord;
}

export interface CurrentSnapshot {
  /** The repository version it was published as. */
  version: string;
  root: CID;
}

/**
 * The repository's current snapshot at `blockTag` (latest when absent): the version `repo lock` would pick, if
 * its meta is an index root; null when the repository does not exist, has no version, or its current version
 * is a repo.lock.
 */
export async function currentSnapshot(
  client: Pick<RegistryClient, "getRepositoryVersions">,
  content: Pick<ContentStore, "getBlock">,
  repository: string,
  options: { blockTag?: number } = {},
): Promise<CurrentSnapshot | null> {
  let versions;
  try {
    versions = await client.getRepositoryVersions(repository, { blockTag: options.blockTag });
  } catch (error) {
    // a repository that does not exist has no versions; anything else (chain down, unknown block) is the caller's
    if (error instanceof PkgError && (error.code === "ERR_CHAIN_UNKNOWN_REPOSITORY" || error.code === "ERR_CHAIN_UNKNOWN_PACKAGE")) return null;
    throw error;
  }
  const picked = pickRepositoryVersion(versions, null);
  if (picked === null) return null;
  const root = CID.parse(picked.meta);
  return (await isSnapshotRoot(content, root)) ? { version: picked.version, root } : null;
}

/** The name of the next snapshot version: `YYYYMMDD.N` (a release name: ordered numerically, N counting that day's imports). */
export function nextSnapshotVersion(existing: readonly string[], now: Date = new Date()): string {
  const day = now.toISOString().slice(0, 10).replace(/-/g, "");
  let n = 0;
  for (const version of existing) {
    const m = /^([0-9]{8})\.([0-9]+)$/.exec(version);
    if (m !== null && m[1] === day) n = Math.max(n, Number(m[2]));
  }
  return `${day}.${n + 1}`;
}
