/**
 * `pkg fetch`: a published version's sources and pkg.toml into a directory, every block verified against
 * its CID; or, for a lock, every locked dependency into the content store (pinned, so it stays).
 */
import { randomBytes } from "node:crypto";
import { access, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import * as semver from "semver";
import { CID } from "multiformats/cid";
import { PkgError } from "./errors";
import { MANIFEST_FILE_NAME } from "./manifest";
import type { Lockfile } from "./lockfile";
import type { ContentStore } from "./content";
import type { RegistryClient, VersionRecord } from "./chain/registry";
import type { PackageSpec } from "./ids";

export const ERR_FETCH_UNKNOWN_PACKAGE = "ERR_FETCH_UNKNOWN_PACKAGE";
export const ERR_FETCH_UNKNOWN_VERSION = "ERR_FETCH_UNKNOWN_VERSION";
export const ERR_FETCH_DESTINATION_EXISTS = "ERR_FETCH_DESTINATION_EXISTS";
export const ERR_FETCH_META_CONFLICT = "ERR_FETCH_META_CONFLICT";

export interface FetchedPackage {
  id: string;
  version: string;
  meta: string;
  src: string;
  yanked: boolean;
  destination: string;
}

/** The version a spec names: the exact one, or the highest non-yanked release (pre-releases only if nothing else). */
export function pickVersion(versions: VersionRecord[], wanted: string | null): VersionRecord | null {
  if (wanted !== null) return versions.find((v) => v.version === wanted) ?? null;
  const live = versions.filter((v) => !v.yanked).sort((a, b) => semver.rcompare(a.version, b.version));
  return live.find((v) => semver.prerelease(v.version) === null) ?? live[0] ?? null;
}

async function readAll(content: Pick<ContentStore, "getBytes">, cid: string): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of content.getBytes(CID.parse(cid))) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

/** `dir` if it exists, else its nearest existing ancestor. */
async function nearestExisting(dir: string): Promise<string> {
  let current = dir;
  while (!(await exists(current)) && path.dirname(current) !== current) current = path.dirname(current);
  return current;
}

export async function fetchPackage(params: {
  spec: PackageSpec;
  destination: string;
  client: Pick<RegistryClient, "getPackage">;
  content: Pick<ContentStore, "getTree" | "getBytes">;
  blockTag?: number;
}): Promise<FetchedPackage> {
  const { spec, content } = params;
  const key = { repository: spec.repository.name, name: spec.name };
  const id = `${key.repository}/${key.name}`;
  const record = await params.client.getPackage(key, { blockTag: params.blockTag });
  if (!record) {
    throw new PkgError(ERR_FETCH_UNKNOWN_PACKAGE, `${id} is not in the registry`, { details: { package: id }, hint: "check the id (repo/name[:version])" });
  }
  const version = pickVersion(record.versions, spec.version);
  if (!version) {
    const available = record.versions.map((v) => v.version).sort(semver.rcompare);
    throw new PkgError(ERR_FETCH_UNKNOWN_VERSION, `${id} has no version ${spec.version ?? "that is not yanked"} (available: ${available.join(", ") || "none"})`, {
      details: { package: id, version: spec.version, available },
    });
  }
  const destination = path.resolve(params.destination);
  if (await exists(destination)) {
    throw new PkgError(ERR_FETCH_DESTINATION_EXISTS, `${destination} exists already`, { hint: "pass --output with a new directory, or remove it" });
  }
  // everything happens in a temp directory beside the nearest existing ancestor (same file system), moved
  // into place only when complete and verified; the parents of a new destination (-o a/b/c) are created
  // only then, so a failure leaves nothing behind
  const ancestor = await nearestExisting(path.dirname(destination));
  const staging = path.join(ancestor, `.${path.basename(destination)}.partial-${randomBytes(6).toString("hex")}`);
  try {
    await content.getTree(CID.parse(version.src!), staging);
    const meta = await readAll(content, version.meta);
    const manifestPath = path.join(staging, MANIFEST_FILE_NAME);
    if (await exists(manifestPath)) {
      if (!(await readFile(manifestPath)).equals(meta)) {
        throw new PkgError(ERR_FETCH_META_CONFLICT, `${id}@${version.version}: its sources hold a pkg.toml that differs from its published meta`, {
          details: { meta: version.meta, src: version.src },
        });
      }
    } else {
      await writeFile(manifestPath, meta);
    }
    await mkdir(path.dirname(destination), { recursive: true });
    await rename(staging, destination);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
  return { id: `${id}:${version.version}`, version: version.version, meta: version.meta, src: version.src!, yanked: version.yanked, destination };
}

/** Pins every locked dependency's meta and sources in the content store (fetching what is missing). */
export async function fetchLocked(params: {
  lock: Lockfile;
  content: Pick<ContentStore, "pin">;
  onProgress?: (done: number, total: number, key: string) => void;
}): Promise<{ pinned: number }> {
  const entries = Object.entries(params.lock.dependencies).sort(([a], [b]) => a.localeCompare(b));
  let done = 0;
  for (const [key, entry] of entries) {
    await params.content.pin(CID.parse(entry.meta));
    await params.content.pin(CID.parse(entry.src));
    params.onProgress?.(++done, entries.length, key);
  }
  return { pinned: entries.length };
}

/** Locked versions that are yanked now (the lock still works; users should hear about it). */
export async function yankedInLock(lock: Lockfile, client: Pick<RegistryClient, "getPackages">): Promise<string[]> {
  const entries = Object.entries(lock.dependencies);
  const keys = entries.map(([key]) => ({ repository: key.split(":")[0], name: key.split(":")[1].split("@")[0] }));
  const records = await client.getPackages(keys);
  return entries
    .filter(([, entry], i) => records[i]?.versions.find((v) => v.version === entry.version)?.yanked)
    .map(([key, entry]) => `${key.split("@")[0]}@${entry.version}`);
}
