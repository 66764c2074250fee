/**
 * Generations of a profile: reading them (each one's manifest.json, checked), what changed between them, making
 * a new one and switching to it, rolling back, deleting old ones.
 *
 * A generation is never changed once it has its name: every install or uninstall writes a new one completely
 * in a temporary directory, renames it into place, then points `default` at it (a `default.tmp` symlink renamed
 * over `default`). A crash at any point leaves `default` pointing at a complete generation; leftovers (temporary
 * directories, `default.tmp`) are removed by the next operation (lock.ts). Everything here is plain file system
 * work with the store's GC roots injected, so tests use real directories and no daemon.
 */
import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { PkgError } from "../errors";
import { syncDirectory } from "../files/atomic";
import { lexists } from "../files/nofollow";
import { orNull, readTextFileOrNull } from "../files/read";
import { checkStorePath, linksOf, planEnvironment } from "./environment";
import {
  corrupt,
  currentGenerationNumber,
  ERR_PROFILE_GENERATION_NOT_FOUND,
  ERR_PROFILE_INVALID,
  ERR_PROFILE_NO_GENERATION,
  ERR_PROFILE_NO_PREVIOUS_GENERATION,
  ERR_PROFILE_PATH_NOT_FOUND,
  generationDir,
  generationLinkName,
  generationNumbers,
  MANIFEST_FILE,
  MANIFEST_VERSION,
  packageKey,
  profileLink,
  profileName,
  removeTree,
  rootName,
  TEMP_PREFIX,
  type ProfileEntry,
  type ProfileManifest,
  type ProfileOptions,
} from "./layout";
import { withLock } from "./lock";

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

/** Reads and checks one generation's manifest. */
export async function readGeneration(options: ProfileOptions, generation: number): Promise<ProfileManifest> {
  const file = path.join(generationDir(options, generation), MANIFEST_FILE);
  const text = await readTextFileOrNull(file);
  if (text === null) {
    if (await lexists(generationDir(options, generation))) throw corrupt(options, `${file} is missing`);
    throw generationNotFound(options, generation, await generationNumbers(options));
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
  const paths = new Set<string>();
  for (const entry of (await orNull(fs.readdir(dir))) ?? []) {
    const match = /^(.+)-([1-9][0-9]*)-link$/.exec(entry);
    if (!match) continue;
    const manifest = await readGeneration({ dir, name: match[1] }, Number(match[2]));
    for (const p of manifest.packages) paths.add(p.path);
  }
  return [...paths].sort();
}

/**
 * Makes generation `max + 1` from `packages` and switches to it. Conflicts and missing paths fail before
 * anything is written; a failure after that removes the new generation and its roots again.
 */
export async function commitGeneration(options: ProfileOptions, packages: ProfileEntry[]): Promise<GenerationResult> {
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
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EISDIR" || code === "ENOTEMPTY") throw corrupt(options, `${link} is a directory, not a symlink`);
    throw error;
  }
  await syncDirectory(path.dirname(link));
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

