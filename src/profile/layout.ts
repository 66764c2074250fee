/**
 * A profiles directory on disk: the names of a profile's files (the link to the current generation, each
 * generation's directory, the GC roots that keep their store paths), which generations exist and which one is
 * current. The error codes and the types every profile module shares are here too.
 *
 * Layout of a profiles directory (`$PKG_PROFILE_DIR`, else `<dataDir>/profiles`), for the profile `default`:
 *
 *   default            -> default-3-link         the current generation (a relative symlink, switched atomically)
 *   default-1-link/    a generation ("user environment"): a real directory holding
 *     bin/hello        -> <store>/paths/<hash>-hello-1.0.0/bin/hello
 *     share/…          symlinks into the store, merged like Nix's buildEnv
 *     manifest.json    the installed packages (name, repository, version, id, drv, path, cid, priority)
 *   default.lock       held while a generation is made or switched (one writer at a time)
 *   .path-hint-shown   the PATH hint was printed once
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { homedir } from "node:os";
import { PkgError } from "../errors";
import { defaultDataDir } from "../files/dirs";
import { quoteValue } from "../files/name";
import { orNull } from "../files/read";

export const ERR_PROFILE_CONFLICT = "ERR_PROFILE_CONFLICT";
export const ERR_PROFILE_PACKAGE_NOT_FOUND = "ERR_PROFILE_PACKAGE_NOT_FOUND";
export const ERR_PROFILE_AMBIGUOUS_NAME = "ERR_PROFILE_AMBIGUOUS_NAME";
export const ERR_PROFILE_GENERATION_NOT_FOUND = "ERR_PROFILE_GENERATION_NOT_FOUND";
export const ERR_PROFILE_NO_PREVIOUS_GENERATION = "ERR_PROFILE_NO_PREVIOUS_GENERATION";
export const ERR_PROFILE_NO_GENERATION = "ERR_PROFILE_NO_GENERATION";
export const ERR_PROFILE_PATH_NOT_FOUND = "ERR_PROFILE_PATH_NOT_FOUND";
export const ERR_PROFILE_NOT_STORE_PATH = "ERR_PROFILE_NOT_STORE_PATH";
export const ERR_PROFILE_CORRUPT = "ERR_PROFILE_CORRUPT";
export const ERR_PROFILE_LOCKED = "ERR_PROFILE_LOCKED";
export const ERR_PROFILE_INVALID = "ERR_PROFILE_INVALID";

export type ProfileErrorCode =
  | typeof ERR_PROFILE_CONFLICT
  | typeof ERR_PROFILE_PACKAGE_NOT_FOUND
  | typeof ERR_PROFILE_AMBIGUOUS_NAME
  | typeof ERR_PROFILE_GENERATION_NOT_FOUND
  | typeof ERR_PROFILE_NO_PREVIOUS_GENERATION
  | typeof ERR_PROFILE_NO_GENERATION
  | typeof ERR_PROFILE_PATH_NOT_FOUND
  | typeof ERR_PROFILE_NOT_STORE_PATH
  | typeof ERR_PROFILE_CORRUPT
  | typeof ERR_PROFILE_LOCKED
  | typeof ERR_PROFILE_INVALID;

/** Name of the profile the CLI uses. */
export const DEFAULT_PROFILE = "default";
/** Nix's default priority: lower numbers win conflicts; equal priorities conflict. */
export const DEFAULT_PRIORITY = 5;
/** The directories of an output that are linked into the user environment. */
export const LINKED_DIRECTORIES = ["bin", "share"] as const;
/** File name of the package list inside a generation. */
export const MANIFEST_FILE = "manifest.json";
export const MANIFEST_VERSION = 1;
export const PATH_HINT_MARKER = ".path-hint-shown";
/** Prefix of the temporary directories a writer makes (and the next writer removes, after a crash). */
export const TEMP_PREFIX = ".tmp-";

/** One installed package, as recorded in a generation's manifest. */
export interface ProfileEntry {
  name: string;
  /** Registry repository (`crates`), or null for a package installed from a bare store path. */
  repository: string | null;
  version: string;
  /** How the user named it: `crates/hello:1.0.0`. */
  id: string;
  /** CID of the derivation that built it, when known. */
  drv: string | null;
  /** The output's store path (what the symlinks point into). */
  path: string;
  /** CID of the output's content, when known. */
  cid: string | null;
  /** Conflict resolution: lower wins (Nix's meta.priority); default DEFAULT_PRIORITY. */
  priority: number;
}

export type ProfileEntryInput = Omit<ProfileEntry, "priority"> & { priority?: number };

/** The manifest.json of a generation. */
export interface ProfileManifest {
  version: typeof MANIFEST_VERSION;
  profile: string;
  generation: number;
  /** ISO date the generation was made. */
  created: string;
  packages: ProfileEntry[];
}

/** Store-side GC roots: every store path of every generation stays alive while the generation exists. */
export interface GcRoots {
  addRoot(name: string, path: string): void | Promise<void>;
  removeRoot(name: string): void | Promise<void>;
  /** When given, leftover roots of generations that no longer exist (a crash) are removed. */
  listRoots?(): Iterable<{ name: string; path: string }> | Promise<Iterable<{ name: string; path: string }>>;
}

/** Crash points, for tests: a hook may throw or kill the process to simulate a failure at that step. */
export type ProfileStep = "written" | "rooted" | "renamed" | "switched";

export interface ProfileOptions {
  /** The profiles directory. */
  dir: string;
  /** Profile name (default "default"). */
  name?: string;
  roots?: GcRoots;
  /** When set, installed paths must be store paths `<storeRoot>/paths/<name>`. */
  storeRoot?: string;
  now?: () => Date;
  /** How long to wait for another process's lock (default 10 s). */
  lockTimeoutMs?: number;
  afterStep?: (step: ProfileStep, generation: number) => void | Promise<void>;
}

/**
 * `$PKG_PROFILE_DIR`, else `<dataDir>/profiles` (files/dirs.ts: `$PKG_DATA_DIR` or `$XDG_DATA_HOME/chainpkg`).
 */
export function defaultProfilesDir(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string {
  if (env.PKG_PROFILE_DIR) return path.resolve(env.PKG_PROFILE_DIR);
  return path.join(defaultDataDir(env, home), "profiles");
}

export function profileName(options: ProfileOptions): string {
  const name = options.name ?? DEFAULT_PROFILE;
  // The name becomes file names (`NAME-N-link`, within NAME_MAX) and a regular expression; keep it to what
  // cannot escape the directory: stricter than the one rule of src/files/name.ts.
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}$/.test(name)) {
    throw new PkgError(ERR_PROFILE_INVALID, `invalid profile name ${quoteValue(name)}`, { hint: "use at most 200 letters, digits, '_', '-' and '.'" });
  }
  return name;
}

/** `<dir>/<name>`: the symlink to the current generation. */
export function profileLink(options: ProfileOptions): string {
  return path.join(path.resolve(options.dir), profileName(options));
}

/** The PATH entry of a profile: `<dir>/<name>/bin`. */
export function profileBinDir(options: ProfileOptions): string {
  return path.join(profileLink(options), "bin");
}

export function generationDir(options: ProfileOptions, generation: number): string {
  return path.join(path.resolve(options.dir), generationLinkName(profileName(options), generation));
}

export function generationLinkName(name: string, generation: number): string {
  return `${name}-${generation}-link`;
}

export function rootName(options: ProfileOptions, generation: number, storePath: string): string {
  return `${rootPrefix(options)}${generation}-link:${path.basename(storePath)}`;
}

/** GC root names of this profile: `profile:<dir>/<name>-<N>-link:<store path name>`. */
export function rootPrefix(options: ProfileOptions): string {
  return `profile:${profileLink(options)}-`;
}

/** Generation numbers present on disk, ascending. */
export async function generationNumbers(options: ProfileOptions): Promise<number[]> {
  const name = profileName(options);
  const numbers: number[] = [];
  for (const entry of (await orNull(fs.readdir(path.resolve(options.dir)))) ?? []) {
    if (!entry.startsWith(`${name}-`) || !entry.endsWith("-link")) continue;
    const middle = entry.slice(name.length + 1, -"-link".length);
    if (/^[1-9][0-9]*$/.test(middle)) numbers.push(Number(middle));
  }
  return numbers.sort((a, b) => a - b);
}

/** The current generation's number, or null when the profile has none yet. */
export async function currentGenerationNumber(options: ProfileOptions): Promise<number | null> {
  const link = profileLink(options);
  let target: string | null;
  try {
    target = await orNull(fs.readlink(link));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EINVAL") throw corrupt(options, `${link} is not a symlink`);
    throw error;
  }
  if (target === null) return null;
  const match = new RegExp(`^${escapeRegExp(profileName(options))}-([1-9][0-9]*)-link$`).exec(path.basename(target));
  if (!match || (path.isAbsolute(target) && path.dirname(target) !== path.resolve(options.dir))) {
    throw corrupt(options, `${link} points at ${target}, not at a generation`);
  }
  return Number(match[1]);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export function corrupt(options: ProfileOptions, problem: string): PkgError {
  return new PkgError(ERR_PROFILE_CORRUPT, `profile ${profileName(options)} is damaged: ${problem}`, {
    details: { profile: profileLink(options) },
    hint: `switch to a good generation (pkg profile switch N; see pkg profile history), or move ${path.resolve(options.dir)} away`,
  });
}

/** Identity of a package across generations: repository and name (a new version replaces the old). */
export function packageKey(entry: Pick<ProfileEntry, "repository" | "name">): string {
  return entry.repository === null ? entry.name : `${entry.repository}/${entry.name}`;
}

/** Removes a directory of symlinks (rm never follows them, so the store is untouched). */
export async function removeTree(p: string): Promise<void> {
  await fs.rm(p, { recursive: true, force: true });
}
