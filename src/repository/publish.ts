/**
 * `repo publish`: a repository version whose meta is the repo lock. Everything that can be checked is checked
 * before the first transaction, as `pkg publish` does; the lock goes into the content store (pinned) before
 * the version that names it goes on chain. A published version is immutable.
 */
import { PkgError } from "../errors";
import { compareUtf8 } from "../files/order";
import { packageVersionId } from "../ids";
import { checkRepositoryLockChain, REPOLOCK_FILE_NAME, serializeRepositoryLock, type RepositoryLock } from "../repolock";
import type { ContentStore } from "../content";
import type { RegistryClient, TxReceipt } from "../chain/registry";
import { ERR_REPO_LOCK_MISMATCH, ERR_REPO_VERSION_EXISTS } from "./errors";
import { lockRepository, type LockRepositoryParams } from "./lock";
import { checkedRepositoryVersion } from "./names";
import { requireRepository } from "./read";

export interface PublishRepositoryParams {
  client: LockRepositoryParams["client"] & Pick<RegistryClient, "getRepositoryVersions" | "publishRepository">;
  content: Pick<ContentStore, "putBytes">;
  name: string;
  version: string;
  /** The lock to publish (e.g. read from a file); default: {@link lockRepository} at the latest block. */
  lock?: RepositoryLock;
  /** Where `lock` came from, for messages. */
  lockFile?: string;
  /** Check and put the lock in the content store, send no transaction. */
  dryRun?: boolean;
  onStep?: (step: string) => void;
}

export interface PublishRepositoryResult {
  name: string;
  version: string;
  /** CID of the published repo.lock. */
  meta: string;
  /** The block the lock was resolved at. */
  block: number;
  packages: number;
  lock: RepositoryLock;
  warnings: string[];
  /** Null on a dry run. */
  tx: TxReceipt | null;
}

/** Every pin of a given lock must be a published version of this registry with exactly these CIDs. */
async function checkPins(client: Pick<RegistryClient, "getPackages">, lock: RepositoryLock, file: string): Promise<string[]> {
  const names = Object.keys(lock.packages).sort(compareUtf8);
  const records = await client.getPackages(names.map((pkg) => ({ repository: lock.name, name: pkg })));
  const warnings: string[] = [];
  names.forEach((pkg, i) => {
    const pinned = lock.packages[pkg];
    const id = packageVersionId({ repository: lock.name, name: pkg, version: pinned.version });
    const found = records[i]?.versions.find((v) => v.version === pinned.version);
    if (!found) {
      throw new PkgError(ERR_REPO_LOCK_MISMATCH, `${file}: [packages.${pkg}]: ${id} is not published`, {
        details: { file, package: id },
        hint: "a repository version can only pin published package versions; regenerate the lock with `repo lock`",
      });
    }
    if (found.meta !== pinned.meta || found.src !== pinned.src) {
      throw new PkgError(ERR_REPO_LOCK_MISMATCH, `${file}: [packages.${pkg}]: ${id} is published with other CIDs (meta ${found.meta}, src ${found.src})`, {
        details: { file, package: id, meta: found.meta, src: found.src, lockMeta: pinned.meta, lockSrc: pinned.src },
        hint: "published versions never change; regenerate the lock with `repo lock`",
      });
    }
    if (found.yanked) warnings.push(`${id} is yanked; the repository version pins it anyway`);
  });
  return warnings;
}

/**
 * Publishes a repository version whose meta is the repo lock: checks the repository exists and the version
 * is new, checks a given lock against the chain (or locks the repository at the latest block), puts the lock
 * in the content store (pinned), then sends the transaction.
 */
export async function publishRepository(params: PublishRepositoryParams): Promise<PublishRepositoryResult> {
  const { client, content, name } = params;
  const step = params.onStep ?? (() => {});
  const version = checkedRepositoryVersion(name, params.version);

  step(`checking repository ${name} and ${name}:${version} on chain`);
  await requireRepository(client, name);
  const published = (await client.getRepositoryVersions(name)).find((v) => v.version === version);
  if (published) {
    throw new PkgError(ERR_REPO_VERSION_EXISTS, `${name}:${version} is already published (meta ${published.meta}); published versions never change`, {
      details: { repository: name, version, meta: published.meta },
      hint: "publish a new version number",
    });
  }

  let lock: RepositoryLock;
  let warnings: string[];
  if (params.lock) {
    const file = params.lockFile ?? REPOLOCK_FILE_NAME;
    lock = params.lock;
    if (lock.name !== name) {
      throw new PkgError(ERR_REPO_LOCK_MISMATCH, `${file}: [repository].name: the lock is for repository ${lock.name}, not ${name}`, {
        details: { file, repository: name, lockName: lock.name },
        hint: `lock ${name} with \`repo lock ${name} -o ${file}\``,
      });
    }
    checkRepositoryLockChain(lock, { chainId: Number(await client.chainId()), registry: client.address }, file);
    step(`checking the ${Object.keys(lock.packages).length} package versions of ${file} on chain`);
    warnings = await checkPins(client, lock, file);
  } else {
    step(`locking every package of ${name} at the latest block`);
    ({ lock, warnings } = await lockRepository({ client, name }));
  }
  if (Object.keys(lock.packages).length === 0) warnings.push(`${name}:${version} pins no packages`);

  step("adding the repository lock to the content store");
  const meta = (await content.putBytes(serializeRepositoryLock(lock), { pin: true })).toString();
  const result = { name, version, meta, block: lock.block, packages: Object.keys(lock.packages).length, lock, warnings };
  if (params.dryRun) return { ...result, tx: null };

  step(`publishing ${name}:${version}`);
  const tx = await client.publishRepository(name, version, meta);
  return { ...result, tx: { hash: tx.hash, block: tx.blockNumber } };
}
