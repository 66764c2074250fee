/**
 * The user environment of a generation, planned like Nix's buildEnv before anything is written: which real
 * directories and which symlinks into the store it has, and which package wins a file several provide.
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { PkgError } from "../errors";
import { ERR_PROFILE_CONFLICT, ERR_PROFILE_NOT_STORE_PATH, ERR_PROFILE_PATH_NOT_FOUND, LINKED_DIRECTORIES, type ProfileEntry, type ProfileOptions } from "./layout";

interface Provider {
  entry: ProfileEntry;
  /** Absolute path inside the store. */
  source: string;
}

export interface EnvironmentPlan {
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
export async function planEnvironment(packages: ProfileEntry[]): Promise<EnvironmentPlan> {
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

/** The symlinks a plan makes (relative to the generation), and the same by the id of the package each points into. */
export function linksOf(plan: EnvironmentPlan): { links: string[]; provides: Record<string, string[]> } {
  const provides: Record<string, string[]> = {};
  for (const [rel, { owner }] of plan.links) (provides[owner.id] ??= []).push(rel);
  return { links: [...plan.links.keys()], provides };
}

/** An entry must be an existing store path (directly in `<storeRoot>/paths/` when the options name the store). */
export async function checkStorePath(options: ProfileOptions, entry: ProfileEntry): Promise<void> {
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
