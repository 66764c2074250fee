/**
 * Profiles: what a user has installed, as generations of symlinks (Nix's profiles and user environments).
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
 *
 * A generation is never changed once it has its name: every install or uninstall writes a new one completely
 * in a temporary directory, renames it into place, then points `default` at it (a `default.tmp` symlink renamed
 * over `default`). A crash at any point leaves `default` pointing at a complete generation; leftovers (temporary
 * directories, `default.tmp`) are removed by the next operation. Everything here is plain file system work
 * with the store's GC roots injected, so tests use real directories and no daemon.
 */
import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { homedir } from "node:os";
import { quoteValue } from "./files/name";
import { lexists } from "./files/nofollow";
import { PkgError } from "./errors";
import { syncDirectory, writeFileAtomic } from "./files/atomic";
import { defaultDataDir } from "./files/dirs";
import { defaultStoreDir, isStorePath, storeLayout } from "./store/paths";
import { addRoot, listRoots, openIndex, removeRoot } from "./store/store";

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
const MANIFEST_VERSION = 1;
const PATH_HINT_MARKER = ".path-hint-shown";
const TEMP_PREFIX = ".tmp-";

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

export interface GenerationChanges {
  added: string[];
  removed: string[];
  /** Same package, another version or output: `hello: 1.0.0 -> 1.1.0`. */
  changed: { name: string; from: string; to: string }[];
}

export interface GenerationInfo {
  number: number;
  /** Absolute path of the generation directory. */
  path: string;
  created: string;
  current: boolean;
  packages: ProfileEntry[];
  /** Against the previous existing generation (everything added for the first one). */
  changes: GenerationChanges;
}

export interface GenerationResult {
  generation: number;
  previous: number | null;
  path: string;
  packages: ProfileEntry[];
  /** Symlinks made, relative to the generation (`bin/hello`). */
  links: string[];
  /** The same links by the id of the package they point into. */
  provides: Record<string, string[]>;
  changes: GenerationChanges;
  /** False when nothing changed: then no generation was made and `generation` is the current one. */
  created: boolean;
}

export interface SwitchResult {
  from: number | null;
  to: number;
  packages: ProfileEntry[];
}

/* ---------------------------------------------------------------------------------------------- paths */

/**
 * `$PKG_PROFILE_DIR`, else `<dataDir>/profiles` (files/dirs.ts: `$PKG_DATA_DIR` or `$XDG_DATA_HOME/chainpkg`).
 */
export function defaultProfilesDir(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string {
  if (env.PKG_PROFILE_DIR) return path.resolve(env.PKG_PROFILE_DIR);
  return path.join(defaultDataDir(env, home), "profiles");
}

function profileName(options: ProfileOptions): string {
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

function generationLinkName(name: string, generation: number): string {
  return `${name}-${generation}-link`;
}

function rootName(options: ProfileOptions, generation: number, storePath: string): string {
  return `${rootPrefix(options)}${generation}-link:${path.basename(storePath)}`;
}

/** GC root names of this profile: `profile:<dir>/<name>-<N>-link:<store path name>`. */
function rootPrefix(options: ProfileOptions): string {
  return `profile:${profileLink(options)}-`;
}

/* ------------------------------------------------------------------------------------------- reading */

function isErrno(error: unknown, code: string): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === code;
}

/** Generation numbers present on disk, ascending. */
async function generationNumbers(options: ProfileOptions): Promise<number[]> {
  const name = profileName(options);
  let entries: string[];
  try {
    entries = await fs.readdir(path.resolve(options.dir));
  } catch (error) {
    if (isErrno(error, "ENOENT")) return [];
    throw error;
  }
  const numbers: number[] = [];
  for (const entry of entries) {
    if (!entry.startsWith(`${name}-`) || !entry.endsWith("-link")) continue;
    const middle = entry.slice(name.length + 1, -"-link".length);
    if (/^[1-9][0-9]*$/.test(middle)) numbers.push(Number(middle));
  }
  return numbers.sort((a, b) => a - b);
}

/** The current generation's number, or null when the profile has none yet. */
export async function currentGenerationNumber(options: ProfileOptions): Promise<number | null> {
  const link = profileLink(options);
  let target: string;
  try {
    target = await fs.readlink(link);
  } catch (error) {
    if (isErrno(error, "ENOENT")) return null;
    if (isErrno(error, "EINVAL")) throw corrupt(options, `${link} is not a symlink`);
    throw error;
  }
  const match = new RegExp(`^${escapeRegExp(profileName(options))}-([1-9][0-9]*)-link$`).exec(path.basename(target));
  if (!match || (path.isAbsolute(target) && path.dirname(target) !== path.resolve(options.dir))) {
    throw corrupt(options, `${link} points at ${target}, not at a generation`);
  }
  return Number(match[1]);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function corrupt(options: ProfileOptions, problem: string): PkgError {
  return new PkgError(ERR_PROFILE_CORRUPT, `profile ${profileName(options)} is damaged: ${problem}`, {
    details: { profile: profileLink(options) },
    hint: `switch to a good generation (pkg profile switch N; see pkg profile history), or move ${path.resolve(options.dir)} away`,
  });
}

/** Reads and checks one generation's manifest. */
export async function readGeneration(options: ProfileOptions, generation: number): Promise<ProfileManifest> {
  const file = path.join(generationDir(options, generation), MANIFEST_FILE);
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (error) {
    if (isErrno(error, "ENOENT")) {
      if (await lexists(generationDir(options, generation))) throw corrupt(options, `${file} is missing`);
      throw generationNotFound(options, generation, await generationNumbers(options));
    }
    throw error;
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw corrupt(options, `${file} is not JSON (${(error as Error).message})`);
  }
  return checkManifest(data, file, options);
}

function checkManifest(data: unknown, file: string, options: ProfileOptions): ProfileManifest {
  const bad = (what: string) => corrupt(options, `${file}: ${what}`);
  if (typeof data !== "object" || data === null) throw bad("not an object");
  const m = data as Record<string, unknown>;
  if (m.version !== MANIFEST_VERSION) throw bad(`unknown version ${JSON.stringify(m.version)}`);
  if (typeof m.generation !== "number" || typeof m.created !== "string" || typeof m.profile !== "string") throw bad("missing generation, created or profile");
  if (!Array.isArray(m.packages)) throw bad("packages is not a list");
  const packages = m.packages.map((p, i): ProfileEntry => {
    const e = p as Record<string, unknown>;
    const str = (k: string) => typeof e?.[k] === "string";
    const strOrNull = (k: string) => str(k) || e?.[k] === null;
    if (!str("name") || !str("version") || !str("id") || !str("path") || !strOrNull("repository") || !strOrNull("drv") || !strOrNull("cid") || typeof e.priority !== "number") {
      throw bad(`packages[${i}] lacks a field`);
    }
    return e as unknown as ProfileEntry;
  });
  return { version: MANIFEST_VERSION, profile: m.profile, generation: m.generation, created: m.created, packages };
}

function generationNotFound(options: ProfileOptions, generation: number, existing: number[]): PkgError {
  return new PkgError(ERR_PROFILE_GENERATION_NOT_FOUND, `profile ${profileName(options)} has no generation ${generation}`, {
    details: { generation, existing },
    hint: existing.length ? `existing generations: ${existing.join(", ")}` : "nothing is installed yet (pkg install)",
  });
}

/** The packages installed in the current generation ([] before the first install). */
export async function installedPackages(options: ProfileOptions): Promise<ProfileEntry[]> {
  const current = await currentGenerationNumber(options);
  return current === null ? [] : (await readGeneration(options, current)).packages;
}

/** Every generation, oldest first, with its packages and what changed from the one before. */
export async function listGenerations(options: ProfileOptions): Promise<GenerationInfo[]> {
  const current = await currentGenerationNumber(options);
  const result: GenerationInfo[] = [];
  let previous: ProfileEntry[] = [];
  for (const number of await generationNumbers(options)) {
    const manifest = await readGeneration(options, number);
    result.push({
      number,
      path: generationDir(options, number),
      created: manifest.created,
      current: number === current,
      packages: manifest.packages,
      changes: diffPackages(previous, manifest.packages),
    });
    previous = manifest.packages;
  }
  return result;
}

/** Identity of a package across generations: repository and name (a new version replaces the old). */
function packageKey(entry: Pick<ProfileEntry, "repository" | "name">): string {
  return entry.repository === null ? entry.name : `${entry.repository}/${entry.name}`;
}

export function diffPackages(before: ProfileEntry[], after: ProfileEntry[]): GenerationChanges {
  const old = new Map(before.map((e) => [packageKey(e), e]));
  const now = new Map(after.map((e) => [packageKey(e), e]));
  const changes: GenerationChanges = { added: [], removed: [], changed: [] };
  for (const [key, e] of now) {
    const was = old.get(key);
    if (!was) changes.added.push(e.id);
    else if (was.path !== e.path) changes.changed.push({ name: key, from: was.version === e.version ? was.path : was.version, to: was.version === e.version ? e.path : e.version });
  }
  for (const [key, e] of old) if (!now.has(key)) changes.removed.push(e.id);
  return changes;
}

/** Every store path any generation of any profile in `dir` refers to (for a garbage collector that scans profiles). */
export async function profileStorePaths(dir: string): Promise<string[]> {
  let entries: string[];
  try {
    entries = await fs.readdir(dir);
  } catch (error) {
    if (isErrno(error, "ENOENT")) return [];
    throw error;
  }
  const paths = new Set<string>();
  for (const entry of entries) {
    const match = /^(.+)-([1-9][0-9]*)-link$/.exec(entry);
    if (!match) continue;
    const manifest = await readGeneration({ dir, name: match[1] }, Number(match[2]));
    for (const p of manifest.packages) paths.add(p.path);
  }
  return [...paths].sort();
}

/* ------------------------------------------------------------------------------------------- locking */

/**
 * One writer per profile: an exclusive lock file holding the writer's pid. A lock whose process is gone (a
 * crash) is taken over; another live writer is waited for, then reported.
 */
async function withLock<T>(options: ProfileOptions, work: () => Promise<T>): Promise<T> {
  const dir = path.resolve(options.dir);
  await fs.mkdir(dir, { recursive: true });
  const lock = `${profileLink(options)}.lock`;
  const deadline = Date.now() + (options.lockTimeoutMs ?? 10_000);
  for (;;) {
    try {
      const handle = await fs.open(lock, "wx");
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      break;
    } catch (error) {
      if (!isErrno(error, "EEXIST")) throw error;
    }
    const holder = Number.parseInt(await fs.readFile(lock, "utf8").catch(() => ""), 10);
    if (!Number.isInteger(holder) || !processAlive(holder)) {
      // Written by a process that died (or caught between open and write: then it is fresh, and
      // removing it lets that process finish unlocked; a window of microseconds, accepted).
      const stat = await fs.stat(lock).catch(() => null);
      if (stat && (Number.isInteger(holder) || Date.now() - stat.mtimeMs > 1_000)) await fs.rm(lock, { force: true });
    } else if (Date.now() > deadline) {
      throw new PkgError(ERR_PROFILE_LOCKED, `profile ${profileName(options)} is being changed by process ${holder}`, {
        details: { lock, pid: holder },
        hint: `wait for it to finish; if no pkg is running, remove ${lock}`,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  try {
    await recover(options);
    return await work();
  } finally {
    await fs.rm(lock, { force: true });
  }
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return isErrno(error, "EPERM");
  }
}

/** Under the lock: removes what a crashed writer left (temporary generations, `default.tmp`, their roots). */
async function recover(options: ProfileOptions): Promise<void> {
  const dir = path.resolve(options.dir);
  const name = profileName(options);
  for (const entry of await fs.readdir(dir)) {
    if (entry.startsWith(`${TEMP_PREFIX}${name}-`)) await removeTree(path.join(dir, entry));
  }
  await fs.rm(`${profileLink(options)}.tmp`, { force: true });
  if (options.roots?.listRoots) {
    const existing = new Set(await generationNumbers(options));
    const prefix = rootPrefix(options);
    for (const root of await options.roots.listRoots()) {
      if (!root.name.startsWith(prefix)) continue;
      // Only names this profile made (`<N>-link:`); a profile whose name extends this one's (`default-2`) shares the prefix.
      const match = /^([1-9][0-9]*)-link:/.exec(root.name.slice(prefix.length));
      if (match && !existing.has(Number(match[1]))) await options.roots.removeRoot(root.name);
    }
  }
}

/** Removes a directory of symlinks (rm never follows them, so the store is untouched). */
async function removeTree(p: string): Promise<void> {
  await fs.rm(p, { recursive: true, force: true });
}

/* ------------------------------------------------------------------------------------ the environment */

interface Provider {
  entry: ProfileEntry;
  /** Absolute path inside the store. */
  source: string;
}

interface EnvironmentPlan {
  /** Real directories to create (relative), parents first. */
  dirs: string[];
  /** Symlinks: relative path in the generation → absolute target in the store, and the package it is from. */
  links: Map<string, { target: string; owner: ProfileEntry }>;
}

/**
 * Plans the user environment like Nix's buildEnv, before anything is written: `bin/` and `share/` are real
 * directories; inside them an entry only one package has becomes a symlink to it, a directory several packages
 * have becomes a real directory merged recursively, and anything else several packages have is a conflict
 * won by the lowest priority (equal priorities: an error naming both, unless both are the very same file).
 */
async function planEnvironment(packages: ProfileEntry[]): Promise<EnvironmentPlan> {
  const plan: EnvironmentPlan = { dirs: [], links: new Map() };
  for (const top of LINKED_DIRECTORIES) {
    const providers: Provider[] = [];
    for (const entry of packages) {
      const source = path.join(entry.path, top);
      if ((await statOrNull(source))?.isDirectory()) providers.push({ entry, source });
    }
    if (providers.length > 0) await mergeDirectory(top, providers, plan);
  }
  return plan;
}

async function statOrNull(p: string) {
  return fs.stat(p).catch(() => null);
}

async function mergeDirectory(rel: string, providers: Provider[], plan: EnvironmentPlan): Promise<void> {
  plan.dirs.push(rel);
  const children = new Map<string, (Provider & { isDir: boolean })[]>();
  for (const provider of providers) {
    for (const child of (await fs.readdir(provider.source)).sort()) {
      const source = path.join(provider.source, child);
      const isDir = (await statOrNull(source))?.isDirectory() ?? false;
      const list = children.get(child) ?? [];
      list.push({ entry: provider.entry, source, isDir });
      children.set(child, list);
    }
  }
  for (const child of [...children.keys()].sort()) {
    const candidates = children.get(child)!;
    const childRel = `${rel}/${child}`;
    if (candidates.length === 1) {
      plan.links.set(childRel, { target: candidates[0].source, owner: candidates[0].entry });
    } else if (candidates.every((c) => c.isDir)) {
      await mergeDirectory(childRel, candidates, plan);
    } else {
      const best = Math.min(...candidates.map((c) => c.entry.priority));
      const winners = candidates.filter((c) => c.entry.priority === best);
      if (winners.length > 1 && !(await sameFile(winners.map((w) => w.source)))) throw conflict(childRel, winners.map((w) => w.entry));
      plan.links.set(childRel, { target: winners[0].source, owner: winners[0].entry });
    }
  }
}

async function sameFile(paths: string[]): Promise<boolean> {
  const real = await Promise.all(paths.map((p) => fs.realpath(p).catch(() => p)));
  return real.every((r) => r === real[0]);
}

function conflict(rel: string, entries: ProfileEntry[]): PkgError {
  const [a, b] = entries;
  return new PkgError(ERR_PROFILE_CONFLICT, `${a.id} and ${b.id} both provide ${rel}`, {
    details: { file: rel, packages: entries.map((e) => ({ id: e.id, path: e.path, priority: e.priority })) },
    hint: `uninstall one of them (pkg uninstall ${b.name}), or install one with --priority N (lower wins; both have ${a.priority})`,
  });
}

/* -------------------------------------------------------------------------------------------- writing */


/**
 * Makes generation `max + 1` from `packages` and switches to it. Conflicts and missing paths fail before
 * anything is written; a failure after that removes the new generation and its roots again.
 */
async function commitGeneration(options: ProfileOptions, packages: ProfileEntry[]): Promise<GenerationResult> {
  const dir = path.resolve(options.dir);
  const name = profileName(options);
  for (const entry of packages) await checkStorePath(options, entry);
  const plan = await planEnvironment(packages);
  const previous = await currentGenerationNumber(options);
  const before = previous === null ? [] : (await readGeneration(options, previous)).packages;
  if (previous !== null && samePackages(before, packages)) {
    // Like Nix: a gratuitous reinstall does not pile up generations; the current one already is the result.
    return { generation: previous, previous, path: generationDir(options, previous), packages: before, ...linksOf(plan), changes: diffPackages(before, before), created: false };
  }
  const numbers = await generationNumbers(options);
  const generation = (numbers.at(-1) ?? 0) + 1;
  const manifest: ProfileManifest = {
    version: MANIFEST_VERSION,
    profile: name,
    generation,
    created: (options.now?.() ?? new Date()).toISOString(),
    packages,
  };

  const temp = path.join(dir, `${TEMP_PREFIX}${name}-${generation}-${randomBytes(6).toString("hex")}`);
  const final = generationDir(options, generation);
  const rooted: string[] = [];
  let renamed = false;
  try {
    await fs.mkdir(temp);
    for (const rel of plan.dirs) await fs.mkdir(path.join(temp, rel));
    for (const [rel, { target }] of plan.links) await fs.symlink(target, path.join(temp, rel));
    const handle = await fs.open(path.join(temp, MANIFEST_FILE), "wx", 0o444);
    try {
      await handle.writeFile(`${JSON.stringify(manifest, null, 2)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    for (const rel of [...plan.dirs].reverse()) await syncDirectory(path.join(temp, rel));
    await syncDirectory(temp);
    await options.afterStep?.("written", generation);

    // Roots before the generation is visible: a GC running now must not take what it is about to use.
    for (const p of new Set(packages.map((e) => e.path))) {
      const root = rootName(options, generation, p);
      await options.roots?.addRoot(root, p);
      rooted.push(root);
    }
    await options.afterStep?.("rooted", generation);

    await fs.rename(temp, final);
    renamed = true;
    await syncDirectory(dir);
    await options.afterStep?.("renamed", generation);

    await pointAt(options, generation);
    await options.afterStep?.("switched", generation);
  } catch (error) {
    // Only if the switch did not happen: then nothing refers to the new generation yet.
    if ((await currentGenerationNumber(options).catch(() => null)) !== generation) {
      await removeTree(renamed ? final : temp);
      for (const root of rooted) await options.roots?.removeRoot(root);
    }
    throw error;
  }
  return { generation, previous, path: final, packages, ...linksOf(plan), changes: diffPackages(before, packages), created: true };
}

function linksOf(plan: EnvironmentPlan): Pick<GenerationResult, "links" | "provides"> {
  const provides: Record<string, string[]> = {};
  for (const [rel, { owner }] of plan.links) (provides[owner.id] ??= []).push(rel);
  return { links: [...plan.links.keys()], provides };
}

/** The same packages (order aside): same outputs, same priorities, same names. */
function samePackages(a: ProfileEntry[], b: ProfileEntry[]): boolean {
  const canonical = (list: ProfileEntry[]) =>
    JSON.stringify([...list].sort((x, y) => (packageKey(x) < packageKey(y) ? -1 : 1)).map((e) => [e.name, e.repository, e.version, e.id, e.drv, e.path, e.cid, e.priority]));
  return canonical(a) === canonical(b);
}

/** Points `<name>` at generation N: a fresh `<name>.tmp` symlink renamed over it (atomic for readers). */
async function pointAt(options: ProfileOptions, generation: number): Promise<void> {
  const link = profileLink(options);
  const temp = `${link}.tmp`;
  await fs.rm(temp, { force: true });
  await fs.symlink(generationLinkName(profileName(options), generation), temp);
  try {
    await fs.rename(temp, link);
  } catch (error) {
    await fs.rm(temp, { force: true });
    if (isErrno(error, "EISDIR") || isErrno(error, "ENOTEMPTY")) throw corrupt(options, `${link} is a directory, not a symlink`);
    throw error;
  }
  await syncDirectory(path.dirname(link));
}

async function checkStorePath(options: ProfileOptions, entry: ProfileEntry): Promise<void> {
  if (!path.isAbsolute(entry.path)) {
    throw new PkgError(ERR_PROFILE_NOT_STORE_PATH, `${entry.id}: ${entry.path} is not an absolute path`, { hint: "give the output's absolute store path" });
  }
  if (options.storeRoot !== undefined) {
    const paths = path.join(path.resolve(options.storeRoot), "paths");
    if (path.dirname(entry.path) !== paths) {
      throw new PkgError(ERR_PROFILE_NOT_STORE_PATH, `${entry.id}: ${entry.path} is not a store path (not directly in ${paths})`, {
        details: { path: entry.path, store: options.storeRoot },
        hint: "profiles link only to store outputs; build or add it to the store first (pkg build)",
      });
    }
  }
  const stat = await statOrNull(entry.path);
  if (!stat) {
    throw new PkgError(ERR_PROFILE_PATH_NOT_FOUND, `${entry.id}: its output ${entry.path} does not exist`, {
      details: { path: entry.path },
      hint: "build it again (pkg build) or install another version",
    });
  }
}

/* -------------------------------------------------------------------------------------------- operations */

/** Adds (or replaces, by repository and name) packages in a new generation, and switches to it. */
export async function installPackages(options: ProfileOptions, inputs: ProfileEntryInput[]): Promise<GenerationResult> {
  const entries = inputs.map((input): ProfileEntry => ({ ...input, priority: input.priority ?? DEFAULT_PRIORITY }));
  const keys = new Set<string>();
  for (const e of entries) {
    if (!Number.isInteger(e.priority)) {
      throw new PkgError(ERR_PROFILE_INVALID, `${e.id}: priority ${e.priority} is not an integer`, { hint: "use a whole number; lower wins, default 5" });
    }
    if (keys.has(packageKey(e))) throw new PkgError(ERR_PROFILE_INVALID, `${packageKey(e)} is given twice`, { hint: "install one version of a package at a time" });
    keys.add(packageKey(e));
  }
  return withLock(options, async () => {
    const current = await installedPackages(options);
    const kept = current.filter((e) => !keys.has(packageKey(e)));
    return commitGeneration(options, [...kept, ...entries]);
  });
}

/** Removes packages (by name, `repo/name` or id) in a new generation, and switches to it. */
export async function uninstallPackages(options: ProfileOptions, names: string[]): Promise<GenerationResult> {
  return withLock(options, async () => {
    const current = await installedPackages(options);
    const removed = new Set<ProfileEntry>();
    for (const name of names) removed.add(findInstalled(options, current, name));
    return commitGeneration(
      options,
      current.filter((e) => !removed.has(e)),
    );
  });
}

/** The installed package a user means by `name`: its name, `repo/name`, `repo:name` or its full id. */
export function findInstalled(options: ProfileOptions, installed: ProfileEntry[], name: string): ProfileEntry {
  const matches = installed.filter(
    (e) => e.id === name || packageKey(e) === name || (e.repository !== null && `${e.repository}:${e.name}` === name) || e.name === name,
  );
  const exact = matches.filter((e) => e.name !== name || e.id === name || packageKey(e) === name);
  const chosen = exact.length === 1 ? exact : matches;
  if (chosen.length === 1) return chosen[0];
  if (chosen.length > 1) {
    throw new PkgError(ERR_PROFILE_AMBIGUOUS_NAME, `${name} names ${chosen.length} installed packages: ${chosen.map(packageKey).join(", ")}`, {
      details: { name, matches: chosen.map((e) => e.id) },
      hint: `say which one: ${chosen.map(packageKey).join(" or ")}`,
    });
  }
  throw new PkgError(ERR_PROFILE_PACKAGE_NOT_FOUND, `${name} is not installed in profile ${profileName(options)}`, {
    details: { name, installed: installed.map((e) => e.id) },
    hint: installed.length ? `installed: ${installed.map(packageKey).join(", ")}` : "nothing is installed",
  });
}

/** Switches to generation N (which must exist and still have its store paths). */
export async function switchGeneration(options: ProfileOptions, generation: number): Promise<SwitchResult> {
  return withLock(options, () => switchUnlocked(options, generation));
}

async function switchUnlocked(options: ProfileOptions, generation: number): Promise<SwitchResult> {
  const from = await currentGenerationNumber(options);
  const manifest = await readGeneration(options, generation);
  for (const entry of manifest.packages) {
    if (!(await lexists(entry.path))) {
      throw new PkgError(ERR_PROFILE_PATH_NOT_FOUND, `generation ${generation} needs ${entry.path} (${entry.id}), which is gone from the store`, {
        details: { generation, path: entry.path },
        hint: "switch to another generation, or install the package again",
      });
    }
  }
  await pointAt(options, generation);
  return { from, to: generation, packages: manifest.packages };
}

/** Switches to the newest generation older than the current one (Nix's rollback). */
export async function rollback(options: ProfileOptions): Promise<SwitchResult> {
  return withLock(options, async () => {
    const current = await currentGenerationNumber(options);
    if (current === null) {
      throw new PkgError(ERR_PROFILE_NO_GENERATION, `profile ${profileName(options)} has no generations`, { hint: "install something first (pkg install)" });
    }
    const older = (await generationNumbers(options)).filter((n) => n < current);
    if (older.length === 0) {
      throw new PkgError(ERR_PROFILE_NO_PREVIOUS_GENERATION, `generation ${current} is the oldest of profile ${profileName(options)}; nothing to roll back to`, {
        details: { current },
        hint: "see pkg profile history; pkg profile switch N goes to a newer one",
      });
    }
    return switchUnlocked(options, older.at(-1)!);
  });
}

export interface DeleteGenerationsParams {
  /** Only generations made more than this many milliseconds ago (default: every non-current one). */
  olderThanMs?: number;
}

/** Deletes old generations (never the current one) and drops their GC roots. */
export async function deleteGenerations(options: ProfileOptions, params: DeleteGenerationsParams = {}): Promise<{ deleted: number[]; kept: number[] }> {
  return withLock(options, async () => {
    const current = await currentGenerationNumber(options);
    const now = (options.now?.() ?? new Date()).getTime();
    const deleted: number[] = [];
    const kept: number[] = [];
    for (const number of await generationNumbers(options)) {
      const manifest = await readGeneration(options, number);
      const age = now - Date.parse(manifest.created);
      if (number === current || (params.olderThanMs !== undefined && !(age > params.olderThanMs))) {
        kept.push(number);
        continue;
      }
      // Out of sight first (one rename), then removed: a crash in between leaves a temporary directory for recover().
      const temp = path.join(path.resolve(options.dir), `${TEMP_PREFIX}${profileName(options)}-deleted-${number}-${randomBytes(6).toString("hex")}`);
      await fs.rename(generationDir(options, number), temp);
      await removeTree(temp);
      // Roots after the generation is gone: a crash in between leaks a root (kept alive), never the reverse.
      for (const p of new Set(manifest.packages.map((e) => e.path))) await options.roots?.removeRoot(rootName(options, number, p));
      deleted.push(number);
    }
    await syncDirectory(path.resolve(options.dir));
    return { deleted, kept };
  });
}

/** `30d`, `12h`, `90m`, `45s` → milliseconds. */
export function parseAge(text: string): number {
  const match = /^([0-9]+)([dhms])$/.exec(text.trim());
  if (!match) {
    throw new PkgError(ERR_PROFILE_INVALID, `invalid age ${JSON.stringify(text)}`, { details: { age: text }, hint: "use a number and a unit: 30d, 12h, 90m or 45s" });
  }
  const unit = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000 }[match[2] as "d" | "h" | "m" | "s"];
  return Number(match[1]) * unit;
}

/**
 * The line that puts the profile on PATH, the first time only (a marker file remembers it was shown); null
 * afterwards, or when PATH has it already.
 */
export async function takePathHint(options: ProfileOptions, env: NodeJS.ProcessEnv = process.env): Promise<string | null> {
  const marker = path.join(path.resolve(options.dir), PATH_HINT_MARKER);
  if (await lexists(marker)) return null;
  await fs.mkdir(path.resolve(options.dir), { recursive: true });
  await writeFileAtomic(marker, `${new Date().toISOString()}\n`);
  const bin = profileBinDir(options);
  if ((env.PATH ?? "").split(path.delimiter).includes(bin)) return null;
  return `export PATH="${bin}:$PATH"`;
}

/** Nix's parseDrvName: `hello-1.0.0` → hello, 1.0.0 (the version starts at the first `-` before a non-letter). */
export function parseStorePathName(storePath: string): { name: string; version: string } {
  const base = path.basename(storePath).replace(/^[0-9a-z]{32}-/, "");
  const match = /-(?=[^A-Za-z-])/.exec(base);
  return match ? { name: base.slice(0, match.index), version: base.slice(match.index + 1) } : { name: base, version: "" };
}

/* ------------------------------------------------------------------------------------ wiring to the store */

/** The store's `roots` table as GcRoots (each call opens the index: works with or without a daemon). */
export function storeGcRoots(storeDir: string): GcRoots {
  return {
    addRoot: (name, p) => addRoot(name, p, storeDir),
    removeRoot: (name) => removeRoot(name, storeDir),
    listRoots: () => listRoots(storeDir),
  };
}

/** What the CLI uses: the default profile in `$PKG_PROFILE_DIR` (or the data dir), rooted in the default store. */
export function defaultProfileOptions(env: NodeJS.ProcessEnv = process.env, name: string = DEFAULT_PROFILE): ProfileOptions & { dir: string; storeRoot: string } {
  const storeRoot = defaultStoreDir(env);
  return { dir: defaultProfilesDir(env), name, storeRoot, roots: storeGcRoots(storeRoot) };
}

/** What the store's index knows of an output path: the derivation that built it and its content CID. */
export interface StorePathInfo {
  path: string;
  drv: string | null;
  cid: string;
}

/**
 * Looks `storePath` up in the store's index (the `paths` and `outputs` tables of docs/build-layer.md).
 * @throws ERR_PROFILE_NOT_STORE_PATH when it is not a registered path of that store.
 */
export function describeStorePath(storeDir: string, storePath: string): StorePathInfo {
  const layout = storeLayout(storeDir);
  const resolved = path.resolve(storePath);
  const notInStore = (why: string) =>
    new PkgError(ERR_PROFILE_NOT_STORE_PATH, `${storePath} is not ${why} of the store at ${layout.root}`, {
      details: { path: resolved, store: layout.root },
      hint: "install what pkg build made (its output path), or set PKG_STORE_DIR to the store it is in",
    });
  if (!isStorePath(layout, resolved)) throw notInStore("a path");
  const db = openIndex(layout);
  try {
    const row = db.prepare("SELECT cid FROM paths WHERE path = ?").get(resolved) as { cid: string } | undefined;
    if (row === undefined) throw notInStore("a valid (registered) path");
    const output = db.prepare("SELECT drv FROM outputs WHERE path = ? LIMIT 1").get(resolved) as { drv: string } | undefined;
    return { path: resolved, drv: output?.drv ?? null, cid: row.cid };
  } finally {
    db.close();
  }
}
