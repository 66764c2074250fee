/**
 * Reading a repository: its record on chain, and a published version, whose repo.lock is read from the content
 * store (every byte checked against the version's meta CID) and parsed.
 *
 * A published lock is not checked against the current chain when read: migrated registries keep their
 * repository versions, whose locks name the chain they were made on. Its CIDs are valid anywhere.
 */
import { CID } from "multiformats/cid";
import { PkgError } from "../errors";
import { collectBytes } from "../files/limits";
import { parseRepositoryLock, REPOLOCK_LIMIT, type RepositoryLock } from "../repolock";
import type { ContentStore } from "../content";
import type { RegistryClient, RepositoryRecord, VersionRecord } from "../chain/registry";
import { isSnapshotRoot } from "../mirror/snapshot";
import { ERR_REPO_IS_SNAPSHOT, ERR_REPO_META_MISMATCH, ERR_REPO_UNKNOWN, ERR_REPO_UNKNOWN_VERSION } from "./errors";
import { checkedRepositoryVersion, compareRepositoryVersions } from "./names";

/**
 * The repository's record (at `blockTag` when given).
 * @throws PkgError ERR_REPO_UNKNOWN, with a hint to create it.
 */
export async function requireRepository(
  client: Pick<RegistryClient, "getRepository">,
  name: string,
  options: { blockTag?: number } = {},
): Promise<RepositoryRecord> {
  const record = await client.getRepository(name, { blockTag: options.blockTag });
  if (record !== null) return record;
  const at = options.blockTag === undefined ? "" : ` at block ${options.blockTag}`;
  throw new PkgError(ERR_REPO_UNKNOWN, `repository ${name} does not exist${at}`, {
    details: { repository: name, block: options.blockTag ?? null },
    hint: options.blockTag === undefined
      ? `create it with \`repo create ${name}\` (add --curated to let only its maintainers register packages)`
      : `check the name, or pass a later --block (or create it with \`repo create ${name}\`)`,
  });
}

export interface RepositoryVersion {
  name: string;
  version: string;
  /** CID of the version's repo.lock. */
  meta: string;
  yanked: boolean;
  lock: RepositoryLock;
  /** The repo.lock exactly as published (its bytes hash to `meta`). */
  text: string;
}

/** The repo.lock of a version record, read (verified) and parsed; it must be this repository's. */
export async function readVersionRecord(content: Pick<ContentStore, "getBytes" | "getBlock">, name: string, record: VersionRecord): Promise<RepositoryVersion> {
  // a published meta may be hostile: reading stops past the size limit, before anything is parsed
  const file = `${name}:${record.version} (meta ${record.meta})`;
  if (await isSnapshotRoot(content, CID.parse(record.meta))) {
    throw new PkgError(ERR_REPO_IS_SNAPSHOT, `${name}:${record.version} is a mirror snapshot (index ${record.meta}), not a repo.lock`, {
      details: { repository: name, version: record.version, meta: record.meta },
      hint: `its packages are used by name (\`pkg lock\`, \`pkg fetch ${name}/NAME\`); \`pkg mirror diff\` compares two snapshots`,
    });
  }
  const text = (await collectBytes(content.getBytes(CID.parse(record.meta)), file, REPOLOCK_LIMIT)).toString("utf8");
  const lock = parseRepositoryLock(text, file);
  if (lock.name !== name) {
    throw new PkgError(ERR_REPO_META_MISMATCH, `${name}:${record.version}: its published lock (meta ${record.meta}) is for repository ${lock.name}`, {
      details: { repository: name, version: record.version, meta: record.meta, lockName: lock.name },
      hint: `the version was published with a wrong lock; its maintainers should yank it (\`repo yank ${name}:${record.version}\`) and publish another`,
    });
  }
  return { name, version: record.version, meta: record.meta, yanked: record.yanked, lock, text };
}

/** ERR_REPO_UNKNOWN_VERSION naming the versions there are. */
export function unknownVersion(name: string, version: string, versions: readonly VersionRecord[]): PkgError {
  const available = versions.map((v) => v.version).sort((a, b) => compareRepositoryVersions(b, a));
  return new PkgError(ERR_REPO_UNKNOWN_VERSION, `${name}:${version} is not published (available: ${available.join(", ") || "none"})`, {
    details: { repository: name, version, available },
    hint: available.length === 0 ? `${name} is a rolling release; leave the version out (\`repo fetch ${name}\`)` : `name one of the available versions`,
  });
}

/** A published repository version: its repo.lock read from the content store (verified against its CID) and parsed. */
export async function readRepositoryVersion(params: {
  client: Pick<RegistryClient, "getRepository" | "getRepositoryVersions">;
  content: Pick<ContentStore, "getBytes" | "getBlock">;
  name: string;
  version: string;
}): Promise<RepositoryVersion> {
  const { client, name } = params;
  const version = checkedRepositoryVersion(name, params.version);
  await requireRepository(client, name);
  const versions = await client.getRepositoryVersions(name);
  const record = versions.find((v) => v.version === version);
  if (!record) throw unknownVersion(name, version, versions);
  return readVersionRecord(params.content, name, record);
}
