/** Installing and uninstalling packages in a profile: each change is a new generation, switched to at once. */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { PkgError } from "../errors";
import { writeFileAtomic } from "../files/atomic";
import { lexists } from "../files/nofollow";
import { commitGeneration, installedPackages, type GenerationResult } from "./generations";
import {
  DEFAULT_PRIORITY,
  ERR_PROFILE_AMBIGUOUS_NAME,
  ERR_PROFILE_INVALID,
  ERR_PROFILE_PACKAGE_NOT_FOUND,
  packageKey,
  PATH_HINT_MARKER,
  profileBinDir,
  profileName,
  type ProfileEntry,
  type ProfileEntryInput,
  type ProfileOptions,
} from "./layout";
import { withLock } from "./lock";

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
