import { ethers } from "ethers";
import type { IRegistry, Registry } from "../../typechain-types";

/**
 * A registry read back completely through its views, in the order the views give: repositories in creation
 * order, packages in registration order, versions newest first. Addresses are checksummed, CIDs lowercase hex.
 */
export interface RegistrySnapshot {
  address: string;
  blockNumber: number;
  repositories: RepositorySnapshot[];
}

export interface RepositorySnapshot {
  id: string;
  name: string;
  owner: string;
  pendingOwner: string;
  curated: boolean;
  maintainers: string[];
  versionCount: number;
  packageCount: number;
  /** Newest first. `srcCid` is "0x". */
  versions: VersionSnapshot[];
  packages: PackageSnapshot[];
}

export interface PackageSnapshot {
  id: string;
  repositoryId: string;
  name: string;
  owner: string;
  pendingOwner: string;
  maintainers: string[];
  versionCount: number;
  /** Newest first. */
  versions: VersionSnapshot[];
}

export interface VersionSnapshot {
  version: string;
  metaCid: string;
  srcCid: string;
  yanked: boolean;
}

export interface ReadRegistryOptions {
  /** Block to read at; default: the latest block when the read starts (one consistent state). */
  blockTag?: number;
  /** Ids per getRepositoryIds / getRepositoryPackages call. */
  idPageSize?: number;
  /** Versions per getPackageVersions / getRepositoryVersions call (a version costs a view about 14k gas). */
  versionPageSize?: number;
  /** Package ids per getPackages call, and versions of each it returns (the rest come by cursor): their product
   * bounds the call's gas, which RPC endpoints cap (Hardhat: the block gas limit). */
  packagesPerCall?: number;
  firstVersionsPerPackage?: number;
  /** Calls in flight at once. */
  concurrency?: number;
}

type VersionPage = [IRegistry.VersionViewStructOutput[], string];

/** Reads every repository, package, version, owner, pending owner and maintainer of `registry`. */
export async function readRegistry(registry: Registry, options: ReadRegistryOptions = {}): Promise<RegistrySnapshot> {
  const idPageSize = options.idPageSize ?? 500;
  const versionPageSize = options.versionPageSize ?? 200;
  const packagesPerCall = options.packagesPerCall ?? 20;
  const firstVersionsPerPackage = options.firstVersionsPerPackage ?? 20;
  const concurrency = options.concurrency ?? 8;
  const provider = registry.runner?.provider;
  if (!provider) throw new Error("readRegistry: the registry contract has no provider");
  const blockTag = options.blockTag ?? (await provider.getBlockNumber());
  const at = { blockTag };
  const address = ethers.getAddress(await registry.getAddress());
  if ((await provider.getCode(address, blockTag)) === "0x") {
    throw new Error(`no contract at ${address} (block ${blockTag})`);
  }

  const repositoryCount = Number(await registry.repositoryCount(at));
  const repositoryIds = await readIdPages(
    (offset) => registry.getRepositoryIds(offset, idPageSize, at),
    repositoryCount,
    idPageSize,
    "repository ids",
  );

  const headers = await mapLimit(repositoryIds, concurrency, async (id) => {
    const [view, maintainers] = await Promise.all([registry.getRepository(id, at), registry.getMaintainers(id, at)]);
    if (view.owner === ethers.ZeroAddress) throw new Error(`repository ${id} is listed but has no owner`);
    const packageCount = Number(view.packageCount);
    const versionCount = Number(view.versionCount);
    const [packageIds, versions] = await Promise.all([
      readIdPages(
        (offset) => registry.getRepositoryPackages(id, offset, idPageSize, at),
        packageCount,
        idPageSize,
        `packages of repository ${view.name}`,
      ),
      readVersionPages(
        [],
        ethers.ZeroHash,
        versionCount,
        (cursor) => registry.getRepositoryVersions(id, cursor, versionPageSize, at),
        `versions of repository ${view.name}`,
        true,
      ),
    ]);
    const repository: RepositorySnapshot = {
      id,
      name: view.name,
      owner: ethers.getAddress(view.owner),
      pendingOwner: ethers.getAddress(view.pendingOwner),
      curated: view.curated,
      maintainers: maintainers.map((account) => ethers.getAddress(account)),
      versionCount,
      packageCount,
      versions,
      packages: [],
    };
    return { repository, packageIds };
  });
  const repositories = headers.map(({ repository }) => repository);

  // packages: a few per getPackages call (headers and first versions), then the rest of each by cursor
  const chunks: { repository: RepositorySnapshot; ids: string[] }[] = [];
  for (const { repository, packageIds } of headers) {
    for (let i = 0; i < packageIds.length; i += packagesPerCall) {
      chunks.push({ repository, ids: packageIds.slice(i, i + packagesPerCall) });
    }
  }
  const packageChunks = await mapLimit(chunks, concurrency, async ({ repository, ids }) => {
    const views = await registry.getPackages(ids, firstVersionsPerPackage, at);
    if (views.length !== ids.length) throw new Error(`getPackages returned ${views.length} packages for ${ids.length} ids`);
    return Promise.all(
      views.map(async (view, i): Promise<PackageSnapshot> => {
        const id = ids[i];
        const label = `package ${repository.name}/${view.name}`;
        if (view.packageId !== id) throw new Error(`${label}: getPackages answered for ${view.packageId}, asked ${id}`);
        if (view.owner === ethers.ZeroAddress) throw new Error(`${label} (${id}) is listed but has no owner`);
        const versionCount = Number(view.versionCount);
        const [versions, maintainers, pendingOwner] = await Promise.all([
          readVersionPages(
            view.versions,
            view.nextCursor,
            versionCount,
            (cursor) => registry.getPackageVersions(id, cursor, versionPageSize, at),
            `versions of ${label}`,
            false,
          ),
          registry.getMaintainers(id, at),
          registry.pendingOwner(id, at),
        ]);
        return {
          id,
          repositoryId: view.repositoryId,
          name: view.name,
          owner: ethers.getAddress(view.owner),
          pendingOwner: ethers.getAddress(pendingOwner),
          maintainers: maintainers.map((account) => ethers.getAddress(account)),
          versionCount,
          versions,
        };
      }),
    );
  });
  let next = 0;
  for (const { repository } of chunks) repository.packages.push(...packageChunks[next++]);

  return { address, blockNumber: blockTag, repositories };
}

/** All ids of an offset/limit view, checked against the count the contract reports. */
async function readIdPages(
  read: (offset: number) => Promise<string[]>,
  count: number,
  pageSize: number,
  what: string,
): Promise<string[]> {
  const ids: string[] = [];
  while (ids.length < count) {
    const page = await read(ids.length);
    if (page.length === 0) break;
    ids.push(...page);
    if (page.length < pageSize) break;
  }
  if (ids.length !== count) throw new Error(`${what}: read ${ids.length}, the registry counts ${count}`);
  return ids;
}

/**
 * All versions of a cursor-paged view, newest first, starting from a first page already read (`first`,
 * `cursor`); checked against the count the contract reports.
 */
async function readVersionPages(
  first: IRegistry.VersionViewStructOutput[],
  cursor: string,
  count: number,
  read: (cursor: string) => Promise<VersionPage>,
  what: string,
  fromStart: boolean,
): Promise<VersionSnapshot[]> {
  const versions = first.map(toVersion);
  let next = cursor;
  if (fromStart && count > 0) {
    const [page, nextCursor] = await read(ethers.ZeroHash);
    versions.push(...page.map(toVersion));
    next = nextCursor;
  }
  while (next !== ethers.ZeroHash) {
    const [page, nextCursor] = await read(next);
    if (page.length === 0) throw new Error(`${what}: empty page at cursor ${next}`);
    versions.push(...page.map(toVersion));
    if (versions.length > count) break;
    next = nextCursor;
  }
  if (versions.length !== count) throw new Error(`${what}: read ${versions.length}, the registry counts ${count}`);
  return versions;
}

function toVersion(view: IRegistry.VersionViewStructOutput): VersionSnapshot {
  return {
    version: view.version,
    metaCid: view.metaCid.toLowerCase(),
    srcCid: view.srcCid.toLowerCase(),
    yanked: view.yanked,
  };
}

/** `fn` over `items` with at most `limit` calls running; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index], index);
    }
  });
  await Promise.all(workers);
  return results;
}

// ---------------------------------------------------------------- comparing

/** A registry differs from what it should be; `differences` names each field, e.g. `crates/hello 1.0.0: yanked`. */
export class RegistryMismatchError extends Error {
  constructor(
    readonly context: string,
    readonly differences: string[],
  ) {
    const shown = differences.slice(0, 40);
    const more = differences.length > shown.length ? `\n  … and ${differences.length - shown.length} more` : "";
    super(`${context}: ${differences.length} difference(s)\n  ${shown.join("\n  ")}${more}`);
    this.name = "RegistryMismatchError";
  }
}

/** Every difference between two snapshots (the addresses and blocks they were read from aside). */
export function diffSnapshots(expected: RegistrySnapshot, actual: RegistrySnapshot): string[] {
  const out: string[] = [];
  const field = (where: string, name: string, want: unknown, got: unknown) => {
    if (!sameValue(want, got)) out.push(`${where}: ${name}: expected ${show(want)}, got ${show(got)}`);
  };

  const wantRepositories = expected.repositories.map((r) => r.name);
  const gotRepositories = actual.repositories.map((r) => r.name);
  field("registry", "repositories (in creation order)", wantRepositories, gotRepositories);
  const actualRepositories = new Map(actual.repositories.map((r) => [r.id, r]));
  for (const want of expected.repositories) {
    const where = `repository ${want.name}`;
    const got = actualRepositories.get(want.id);
    if (got === undefined) continue; // reported in the list above
    field(where, "name", want.name, got.name);
    field(where, "owner", want.owner, got.owner);
    field(where, "pendingOwner", want.pendingOwner, got.pendingOwner);
    field(where, "curated", want.curated, got.curated);
    field(where, "maintainers", want.maintainers, got.maintainers);
    field(where, "versionCount", want.versionCount, got.versionCount);
    field(where, "packageCount", want.packageCount, got.packageCount);
    diffVersions(`repository ${want.name}`, want.versions, got.versions, field);
    field(where, "packages (in registration order)", want.packages.map((p) => p.name), got.packages.map((p) => p.name));
    const actualPackages = new Map(got.packages.map((p) => [p.id, p]));
    for (const wantPackage of want.packages) {
      const gotPackage = actualPackages.get(wantPackage.id);
      if (gotPackage === undefined) continue;
      const at = `${want.name}/${wantPackage.name}`;
      field(at, "id", wantPackage.id, gotPackage.id);
      field(at, "repositoryId", wantPackage.repositoryId, gotPackage.repositoryId);
      field(at, "name", wantPackage.name, gotPackage.name);
      field(at, "owner", wantPackage.owner, gotPackage.owner);
      field(at, "pendingOwner", wantPackage.pendingOwner, gotPackage.pendingOwner);
      field(at, "maintainers", wantPackage.maintainers, gotPackage.maintainers);
      field(at, "versionCount", wantPackage.versionCount, gotPackage.versionCount);
      diffVersions(at, wantPackage.versions, gotPackage.versions, field);
    }
  }
  return out;
}

function diffVersions(
  where: string,
  want: VersionSnapshot[],
  got: VersionSnapshot[],
  field: (where: string, name: string, want: unknown, got: unknown) => void,
): void {
  field(where, "versions (newest first)", want.map((v) => v.version), got.map((v) => v.version));
  const byVersion = new Map(got.map((v) => [v.version, v]));
  for (const version of want) {
    const other = byVersion.get(version.version);
    if (other === undefined) continue;
    const at = `${where} ${version.version}`;
    field(at, "metaCid", version.metaCid, other.metaCid);
    field(at, "srcCid", version.srcCid, other.srcCid);
    field(at, "yanked", version.yanked, other.yanked);
  }
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function show(value: unknown): string {
  const text = JSON.stringify(value);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

/** Throws a {@link RegistryMismatchError} unless the snapshots are equal. */
export function assertSnapshotsEqual(expected: RegistrySnapshot, actual: RegistrySnapshot, context: string): void {
  const differences = diffSnapshots(expected, actual);
  if (differences.length > 0) throw new RegistryMismatchError(context, differences);
}

/**
 * Reads two registries completely and throws a {@link RegistryMismatchError} naming every difference.
 * Each is read at its own latest block unless a block is given.
 */
export async function assertRegistriesEqual(
  expected: Registry,
  actual: Registry,
  options: { expectedBlock?: number; actualBlock?: number } & Omit<ReadRegistryOptions, "blockTag"> = {},
): Promise<{ expected: RegistrySnapshot; actual: RegistrySnapshot }> {
  const [a, b] = await Promise.all([
    readRegistry(expected, { ...options, blockTag: options.expectedBlock }),
    readRegistry(actual, { ...options, blockTag: options.actualBlock }),
  ]);
  assertSnapshotsEqual(a, b, `registry ${b.address} differs from ${a.address}`);
  return { expected: a, actual: b };
}
