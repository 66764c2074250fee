/**
 * The `src` list of a pkg.toml: relative paths and globs, expanded to the files that are published.
 *
 * Glob rules (a small, predictable subset of gitignore/npm `files`):
 *   `*`   any run of characters within one path segment
 *   `?`   one character within a segment
 *   `**`  a whole segment: zero or more directories
 *   A wildcard never matches a name that starts with `.`; name dotfiles literally
 *   (`.cargo/config.toml`) or start the segment with a dot (`.*`). This keeps `.git` and editor
 *   files out of `**` by construction, as npm always does.
 *   A matched directory contributes every file beneath it (again without dot-entries), so
 *   `src = ["Cargo.toml", "src"]` works as in Cargo's `include`.
 *   `[...]`, `{a,b}` and `\` are not supported and are rejected rather than taken literally.
 *
 * Symlinks are followed, but only when their real path stays inside the package directory: a
 * published package must not depend on files outside it, nor leak them.
 */
import { promises as fs, type Dirent } from "node:fs";
import * as path from "node:path";
import { compareUtf8 } from "./order";

/** Why expansion failed. `index` is the position of the offending pattern in `src`. */
export type SourceProblem =
  | { kind: "not-found"; index: number; pattern: string; path: string }
  | { kind: "no-match"; index: number; pattern: string }
  | { kind: "outside"; index: number; pattern: string; path: string; target: string }
  | { kind: "loop"; index: number; pattern: string; path: string }
  | { kind: "unsupported"; index: number; pattern: string; path: string };

export type SourceExpansion = { kind: "files"; files: string[] } | SourceProblem;

/** Why `pattern` cannot be a `src` entry, or null if it can. Purely textual; no file system access. */
export function checkSourcePattern(pattern: string): { problem: string; hint: string } | null {
  if (pattern === "") return { problem: "is empty", hint: "remove it, or name a file or directory" };
  if (pattern.includes("\\")) return { problem: "contains '\\'", hint: "separate directories with '/'" };
  if (pattern.startsWith("/") || /^[A-Za-z]:/.test(pattern)) {
    return { problem: "is absolute", hint: "paths are relative to the directory of pkg.toml" };
  }
  if ([...pattern].some((c) => c.charCodeAt(0) < 0x20 || c === "\u007f")) return { problem: "contains a control character", hint: "rename the file" };
  if (/[[\]{}]/.test(pattern)) return { problem: "uses [...] or {...}", hint: "only *, ? and ** are supported; list the files" };
  const segments = pattern.split("/");
  if (segments.includes("..")) return { problem: "has a '..' segment", hint: "sources must be inside the package directory" };
  if (segments.includes(".")) return { problem: "has a '.' segment", hint: `write ${segments.filter((s) => s !== ".").join("/") || "a path"}` };
  if (segments.includes("")) {
    return { problem: "has an empty segment (a doubled or trailing '/')", hint: `write ${segments.filter((s) => s !== "").join("/")}` };
  }
  if (segments.some((s) => s.includes("**") && s !== "**")) return { problem: "uses ** inside a segment", hint: "** must be a whole segment: src/**/*.rs" };
  return null;
}

export function isGlob(pattern: string): boolean {
  return /[*?]/.test(pattern);
}

/** A matcher for one non-`**` segment. */
function segmentMatcher(segment: string): (name: string) => boolean {
  if (!isGlob(segment)) return (name) => name === segment;
  const source = segment.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]");
  const re = new RegExp(`^${source}$`, "s");
  const dotOk = segment.startsWith(".");
  return (name) => (dotOk || !name.startsWith(".")) && re.test(name);
}

function toPosix(rel: string): string {
  return rel.split(path.sep).join("/");
}

function isInside(root: string, real: string): boolean {
  const rel = path.relative(root, real);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}


class Found extends Error {
  constructor(readonly problem: SourceProblem) {
    super(problem.kind);
  }
}

interface Walk {
  root: string;
  index: number;
  pattern: string;
  files: Set<string>;
  matched: boolean;
}

/**
 * Why a path (`rel`, '/'-separated) does not resolve: a symlink loop (ELOOP: a link to itself, or links
 * pointing at each other) is named as one, not reported as a missing file.
 */
function unresolvable(w: Walk, rel: string, error: unknown): SourceProblem {
  if ((error as NodeJS.ErrnoException)?.code === "ELOOP") return { kind: "loop", index: w.index, pattern: w.pattern, path: rel };
  return { kind: "not-found", index: w.index, pattern: w.pattern, path: rel };
}

/** Resolves `rel` (which exists, per lstat) to what it is, following a symlink if it stays inside. */
/** The part of fs.Dirent / fs.Stats that the walk looks at. */
interface EntryType {
  isSymbolicLink(): boolean;
  isFile(): boolean;
  isDirectory(): boolean;
}

async function classify(w: Walk, rel: string, entry: EntryType): Promise<{ kind: "file" | "dir"; real: string }> {
  const abs = path.join(w.root, rel);
  let real = abs;
  let stats: { isFile(): boolean; isDirectory(): boolean } = entry;
  if (entry.isSymbolicLink()) {
    try {
      real = await fs.realpath(abs);
    } catch (error) {
      throw new Found(unresolvable(w, toPosix(rel), error));
    }
    if (!isInside(w.root, real)) {
      throw new Found({ kind: "outside", index: w.index, pattern: w.pattern, path: toPosix(rel), target: real });
    }
    stats = await fs.stat(real);
  }
  if (stats.isFile()) return { kind: "file", real };
  if (stats.isDirectory()) return { kind: "dir", real };
  throw new Found({ kind: "unsupported", index: w.index, pattern: w.pattern, path: toPosix(rel) });
}

async function readDir(abs: string): Promise<Dirent[]> {
  const entries = await fs.readdir(abs, { withFileTypes: true });
  return entries.sort((a, b) => compareUtf8(a.name, b.name));
}

/** Adds every file beneath directory `rel` (skipping dot-entries), following inside symlinks. */
async function addTree(w: Walk, rel: string, real: string, ancestors: readonly string[]): Promise<void> {
  if (ancestors.includes(real)) throw new Found({ kind: "loop", index: w.index, pattern: w.pattern, path: toPosix(rel) });
  for (const entry of await readDir(path.join(w.root, rel))) {
    if (entry.name.startsWith(".")) continue;
    const child = path.join(rel, entry.name);
    const kind = await classify(w, child, entry);
    if (kind.kind === "file") w.files.add(toPosix(child));
    else await addTree(w, child, kind.real, [...ancestors, real]);
  }
}

async function addMatch(w: Walk, rel: string, entry: EntryType, ancestors: readonly string[]): Promise<void> {
  w.matched = true;
  const kind = await classify(w, rel, entry);
  if (kind.kind === "file") w.files.add(toPosix(rel));
  else await addTree(w, rel, kind.real, ancestors);
}

/** Matches `segments[i..]` below directory `rel` (whose real path is `real`). */
async function walk(w: Walk, segments: readonly string[], i: number, rel: string, real: string, ancestors: readonly string[]): Promise<void> {
  if (ancestors.includes(real)) throw new Found({ kind: "loop", index: w.index, pattern: w.pattern, path: toPosix(rel) });
  const here = [...ancestors, real];
  const segment = segments[i];
  const last = i === segments.length - 1;
  if (segment === "**") {
    // Zero directories: this one. A trailing `**` means "everything here".
    if (last) {
      w.matched = true;
      await addTree(w, rel, real, ancestors);
      return;
    }
    await walk(w, segments, i + 1, rel, real, ancestors);
    for (const entry of await readDir(path.join(w.root, rel))) {
      if (entry.name.startsWith(".")) continue;
      const child = path.join(rel, entry.name);
      if (!entry.isDirectory() && !entry.isSymbolicLink()) continue;
      const kind = await classify(w, child, entry);
      if (kind.kind === "dir") await walk(w, segments, i, child, kind.real, here);
    }
    return;
  }
  const matches = segmentMatcher(segment);
  for (const entry of await readDir(path.join(w.root, rel))) {
    if (!matches(entry.name)) continue;
    const child = path.join(rel, entry.name);
    if (last) {
      await addMatch(w, child, entry, here);
    } else if (entry.isDirectory() || entry.isSymbolicLink()) {
      const kind = await classify(w, child, entry);
      if (kind.kind === "dir") await walk(w, segments, i + 1, child, kind.real, here);
    }
  }
}

async function expandLiteral(w: Walk): Promise<void> {
  const rel = w.pattern.split("/").join(path.sep);
  const abs = path.join(w.root, rel);
  let real: string;
  try {
    real = await fs.realpath(abs);
  } catch (error) {
    throw new Found(unresolvable(w, w.pattern, error));
  }
  // Checks symlinks anywhere along the path, not only in the last segment.
  if (!isInside(w.root, real)) throw new Found({ kind: "outside", index: w.index, pattern: w.pattern, path: w.pattern, target: real });
  const stats = await fs.stat(real);
  w.matched = true;
  if (stats.isFile()) w.files.add(w.pattern);
  else if (stats.isDirectory()) await addTree(w, rel, real, real === w.root ? [] : [w.root]);
  else throw new Found({ kind: "unsupported", index: w.index, pattern: w.pattern, path: w.pattern });
}

/**
 * Expands `patterns` (already checked by {@link checkSourcePattern}) under `dir`.
 * @returns the files as sorted, de-duplicated '/'-separated paths relative to `dir`, or the first
 *   problem. A literal path that does not exist and a glob that matches nothing are both problems:
 *   a published version is immutable, so a silently missing file cannot be fixed later.
 */
export async function expandSourcePatterns(dir: string, patterns: readonly string[]): Promise<SourceExpansion> {
  const root = await fs.realpath(dir);
  const files = new Set<string>();
  try {
    for (const [index, pattern] of patterns.entries()) {
      const w: Walk = { root, index, pattern, files, matched: false };
      if (isGlob(pattern)) {
        await walk(w, pattern.split("/"), 0, "", root, []);
        if (!w.matched) return { kind: "no-match", index, pattern };
      } else {
        await expandLiteral(w);
      }
    }
  } catch (error) {
    if (error instanceof Found) return error.problem;
    throw error;
  }
  return { kind: "files", files: [...files].sort(compareUtf8) };
}
