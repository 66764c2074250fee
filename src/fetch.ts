/**
 * `pkg fetch`: a published version's sources and pkg.toml into a directory, every block verified against
 * its CID; or, for a lock, every locked dependency into the content store (pinned, so it stays).
 *
 * A published tree is hostile (anyone can publish): its root must be a directory, its pkg.toml, pkg.lock
 * and pkg.build.toml (the files pkg itself later reads or writes there) must be regular files if present,
 * nothing is ever written through a symlink (src/content/read.ts writeTree, and pkg.toml created here
 * with O_CREAT|O_EXCL|O_NOFOLLOW), and every such refusal names the package and its src CID (exit 8).
 */
import { randomBytes } from "node:crypto";
import { constants, type Stats } from "node:fs";
import { lstat, mkdir, open, readdir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import * as semver from "semver";
import { CID } from "multiformats/cid";
import { isPkgError, PkgError } from "./errors";
import { checkPathComponent } from "./files/name";
import { processAlive } from "./files/pidlock";
import { MANIFEST_FILE_NAME, MANIFEST_LIMIT } from "./manifest";
import { collectBytes } from "./files/limits";
import type { Lockfile } from "./lockfile";
import type { ContentStore } from "./content";
import type { RegistryClient, VersionRecord } from "./chain/registry";
import { packageVersionId, type PackageSpec } from "./ids";

export const ERR_FETCH_UNKNOWN_PACKAGE = "ERR_FETCH_UNKNOWN_PACKAGE";
export const ERR_FETCH_UNKNOWN_VERSION = "ERR_FETCH_UNKNOWN_VERSION";
export const ERR_FETCH_DESTINATION_EXISTS = "ERR_FETCH_DESTINATION_EXISTS";
export const ERR_FETCH_META_CONFLICT = "ERR_FETCH_META_CONFLICT";
/** A published source tree that cannot be a package directory (root not a directory, unsafe entries, pkg.toml a symlink…): exit 8. */
export const ERR_FETCH_CORRUPT_TREE = "ERR_FETCH_CORRUPT_TREE";
/** Where the destination should go, a path component is not a directory (`-o a-file/sub`): exit 4. */
export const ERR_FETCH_DESTINATION_DIRECTORY_NOT_FOUND = "ERR_FETCH_DESTINATION_DIRECTORY_NOT_FOUND";
/** The file system refuses the destination (permission, /proc, read-only, full): the OS reason is in the message. */
export const ERR_FETCH_DESTINATION_UNWRITABLE = "ERR_FETCH_DESTINATION_UNWRITABLE";

/** Files pkg reads or writes in a package directory: in a published tree each must be a regular file, if present. */
export const PACKAGE_FILES = [MANIFEST_FILE_NAME, "pkg.lock", "pkg.build.toml"] as const;

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

/**
 * `./NAME-VERSION`, where `pkg fetch ID` writes without `-o`. The version comes from the chain: it passes the
 * one rule of names that become path components (src/files/name.ts) like every other such name.
 */
export function defaultFetchDestination(name: string, version: string, cwd: string = process.cwd()): string {
  return path.resolve(cwd, checkPathComponent(`${name}-${version}`, "fetch destination"));
}

/** A published meta's bytes, refused one chunk past pkg.toml's limit (a hostile one is never read whole). */
async function readMetaBytes(content: Pick<ContentStore, "getBytes">, cid: string, what: string): Promise<Buffer> {
  return collectBytes(content.getBytes(CID.parse(cid)), `${what} (meta ${cid})`, MANIFEST_LIMIT);
}

/** lstat, or null when nothing is there: never follows a symlink at the end of `file`. */
async function lstatOrNull(file: string): Promise<Stats | null> {
  try {
    return await lstat(file);
  } catch {
    return null;
  }
}

function kindOf(stats: Stats): string {
  if (stats.isSymbolicLink()) return "a symlink";
  if (stats.isDirectory()) return "a directory";
  if (stats.isFile()) return "a regular file";
  return "a special file";
}

/** "EACCES: permission denied" out of Node's "EACCES: permission denied, mkdir '/x/.y.partial-1-ab'". */
function osReason(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  return (typeof e?.message === "string" ? e.message.split(", ")[0] : "") || String(e?.code ?? error);
}

function unwritable(destination: string, error: unknown): PkgError {
  if (isPkgError(error)) {
    if (error.code !== "ERR_CONTENT_WRITE") return error;
    return unwritable(destination, { message: String(error.details.reason ?? error.message), code: error.details.code });
  }
  return new PkgError(ERR_FETCH_DESTINATION_UNWRITABLE, `cannot create ${destination}: ${osReason(error)}`, {
    details: { destination, code: (error as NodeJS.ErrnoException)?.code ?? null },
    hint: "pass --output with a directory you can write to",
    cause: error,
  });
}

/**
 * The directory a destination goes into: its nearest ancestor that exists (by lstat), which must be a
 * directory (a symlink to one is fine: the user named that path). The ancestors in between are made later.
 * @throws ERR_FETCH_DESTINATION_DIRECTORY_NOT_FOUND when it is a file (or a dangling link).
 */
async function existingParent(destination: string): Promise<string> {
  let current = path.dirname(destination);
  while ((await lstatOrNull(current)) === null && path.dirname(current) !== current) current = path.dirname(current);
  const stats = await stat(current).catch(() => null);
  if (stats === null || !stats.isDirectory()) {
    throw new PkgError(ERR_FETCH_DESTINATION_DIRECTORY_NOT_FOUND, `cannot create ${destination}: ${current} is not a directory`, {
      details: { destination, parent: current },
      hint: "pass --output with a path whose parent is a directory",
    });
  }
  return current;
}

/** `.NAME.partial-PID-RANDOM`: the staging directory of a fetch into NAME by process PID. */
export function stagingName(name: string): string {
  return `.${name}.partial-${process.pid}-${randomBytes(6).toString("hex")}`;
}

/**
 * Removes what killed fetches into `parent/name` left: staging directories `.NAME.partial-PID-…` whose
 * process is gone. Another fetch's live staging directory is left alone, as is anything else.
 * Best effort: a failure to remove one is not this fetch's problem.
 */
export async function removeStaleStaging(parent: string, name: string): Promise<string[]> {
  const prefix = `.${name}.partial-`;
  const removed: string[] = [];
  const entries = await readdir(parent).catch(() => [] as string[]);
  for (const entry of entries) {
    if (!entry.startsWith(prefix)) continue;
    const match = /^(\d+)-[0-9a-f]{12}$/.exec(entry.slice(prefix.length));
    if (match === null) continue;
    const pid = Number(match[1]);
    if (pid === process.pid || processAlive(pid)) continue;
    const full = path.join(parent, entry);
    if (!(await lstatOrNull(full))?.isDirectory()) continue;
    await rm(full, { recursive: true, force: true }).then(() => removed.push(full), () => undefined);
  }
  return removed;
}

/** What a package tree is written from: who it is (for messages) and its published CIDs. */
export interface PackageTreeSource {
  /** How messages name it: `crates/hello:1.0.0`. */
  id: string;
  meta: string;
  src: string;
}

/**
 * A published version's sources and pkg.toml into `dir` (which must not exist; its parent is the caller's
 * own staging directory): the src tree, which must be a directory, then its published pkg.toml (the meta)
 * unless the tree holds the very same bytes. A tree that cannot be a package directory is refused:
 * ERR_FETCH_CORRUPT_TREE naming the package, the src CID and the entry.
 * @throws PkgError ERR_FETCH_CORRUPT_TREE, ERR_FETCH_META_CONFLICT, ERR_CONTENT_* (integrity, not found, write).
 */
export async function writePackageTree(content: Pick<ContentStore, "getTree" | "getBytes">, source: PackageTreeSource, dir: string): Promise<void> {
  const { id, meta, src } = source;
  const corrupt = (reason: string, entry: string | null, cause?: unknown) =>
    new PkgError(ERR_FETCH_CORRUPT_TREE, `${id}: its published sources (src ${src}) ${reason}`, {
      details: { package: id, src, meta, path: entry },
      hint: "this version cannot be used as published; ask its maintainers to yank it, and use another version",
      cause,
    });
  try {
    await content.getTree(CID.parse(src), dir, { directory: true });
  } catch (error) {
    if (isPkgError(error, "ERR_CONTENT_NOT_DIRECTORY")) throw corrupt(`are ${/^[aeiou]/.test(String(error.details.kind)) ? "an" : "a"} ${error.details.kind}, not a directory`, null, error);
    if (isPkgError(error, "ERR_CONTENT_PATH")) {
      throw corrupt(`hold an entry that cannot be written: ${JSON.stringify(error.details.path)} ${error.details.reason}`, String(error.details.path), error);
    }
    if (isPkgError(error, "ERR_CONTENT_UNSUPPORTED")) throw corrupt(`are not a readable file tree: ${error.message}`, null, error);
    throw error;
  }
  for (const name of PACKAGE_FILES) {
    const stats = await lstatOrNull(path.join(dir, name));
    if (stats !== null && !stats.isFile()) throw corrupt(`hold a ${name} that is ${kindOf(stats)}, not a regular file`, name);
  }
  const bytes = await readMetaBytes(content, meta, id);
  const manifestPath = path.join(dir, MANIFEST_FILE_NAME);
  const existing = await lstatOrNull(manifestPath);
  if (existing !== null) {
    // a regular file (checked above) in a tree this call wrote: read without following anything all the same
    const same = existing.size === bytes.length && (await readNoFollow(manifestPath)).equals(bytes);
    if (!same) {
      throw new PkgError(ERR_FETCH_META_CONFLICT, `${id}: its sources hold a pkg.toml that differs from its published meta`, {
        details: { package: id, meta, src },
      });
    }
    return;
  }
  const handle = await open(manifestPath, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
  try {
    await handle.writeFile(bytes);
  } finally {
    await handle.close();
  }
}

async function readNoFollow(file: string): Promise<Buffer> {
  const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/**
 * A published version's sources and pkg.toml into `destination` (created; it must not exist), or with a null
 * destination into `./NAME-VERSION` ({@link defaultFetchDestination}). Everything is written into a staging
 * directory first and moved into place when complete and verified.
 */
export async function fetchPackage(params: {
  spec: PackageSpec;
  /** The directory to create; null: `NAME-VERSION` in the current directory. */
  destination: string | null;
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
  const destination = params.destination === null ? defaultFetchDestination(spec.name, version.version) : path.resolve(params.destination);
  if ((await lstatOrNull(destination)) !== null) {
    throw new PkgError(ERR_FETCH_DESTINATION_EXISTS, `${destination} exists already`, { hint: "pass --output with a new directory, or remove it" });
  }
  const name = checkPathComponent(path.basename(destination), "fetch destination");
  // everything happens in a staging directory beside the nearest existing ancestor (same file system),
  // moved into place only when complete and verified; the parents of a new destination (-o a/b/c) are
  // created only then, so a failure leaves nothing behind. Its name carries our pid: a later fetch into
  // the same place removes it if we are killed.
  const parent = await existingParent(destination);
  await removeStaleStaging(parent, name);
  const staging = path.join(parent, stagingName(name));
  try {
    await mkdir(staging, { mode: 0o700 });
  } catch (error) {
    throw unwritable(destination, error);
  }
  const label = `${id}:${version.version}`;
  try {
    const tree = path.join(staging, "package");
    try {
      await writePackageTree(content, { id: label, meta: version.meta, src: version.src! }, tree);
    } catch (error) {
      throw unwritable(destination, error);
    }
    try {
      await mkdir(path.dirname(destination), { recursive: true });
      await rename(tree, destination);
    } catch (error) {
      throw unwritable(destination, error);
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return { id: label, version: version.version, meta: version.meta, src: version.src!, yanked: version.yanked, destination };
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

/** Locked versions that are yanked now, as `crates/dep:0.2.1` (the lock still works; users should hear about it). */
export async function yankedInLock(lock: Lockfile, registry: { client: Pick<RegistryClient, "getPackages"> }): Promise<string[]> {
  const entries = Object.entries(lock.dependencies);
  const keys = entries.map(([key]) => ({ repository: key.split(":")[0], name: key.split(":")[1].split("@")[0] }));
  const records = await registry.client.getPackages(keys);
  return entries
    .filter(([, entry], i) => records[i]?.versions.find((v) => v.version === entry.version)?.yanked)
    .map(([, entry], i) => packageVersionId({ ...keys[i], version: entry.version }));
}
