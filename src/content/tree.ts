/**
 * File trees going in: paths are checked (relative, normalised, no `..`, no duplicates, no file
 * that is also a directory), directories on disk are walked into TreeEntry lists, and entries
 * become importer candidates whose file bytes are streamed, never buffered whole.
 */
import { createReadStream } from "node:fs";
import { lstat, readdir, readlink } from "node:fs/promises";
import { join } from "node:path";
import { ContentPathError, ContentUnsupportedError } from "../errors/content";
import { nameProblem } from "../files/name";
import { CHUNK_SIZE } from "./profile";
import type { Content, TreeEntry, TreeSource } from "./types";

/** One name inside a directory: what UnixFS directories may hold and what is safe to write. */
export function checkName(name: string, path: string = name): void {
  const problem = nameProblem(name);
  if (problem !== null) throw new ContentPathError(path, problem);
}

/** The segments of a relative, normalised, `/`-separated path. */
export function splitTreePath(path: string): string[] {
  if (path.startsWith("/")) throw new ContentPathError(path, "must be relative");
  const segments = path.split("/");
  for (const segment of segments) checkName(segment, path);
  return segments;
}

/** Tracks the paths of one tree so that conflicts are reported by name, not as a wrong CID. */
export function createPathChecker(): (path: string, isDirectory: boolean) => void {
  const kinds = new Map<string, "directory" | "leaf">();
  return (path, isDirectory) => {
    const segments = splitTreePath(path);
    for (let i = 1; i < segments.length; i++) {
      const prefix = segments.slice(0, i).join("/");
      if (kinds.get(prefix) === "leaf") throw new ContentPathError(path, `"${prefix}" is a file, not a directory`);
      kinds.set(prefix, "directory");
    }
    const existing = kinds.get(path);
    if (existing === "leaf" || (existing === "directory" && !isDirectory)) {
      throw new ContentPathError(path, "appears twice in the tree");
    }
    kinds.set(path, isDirectory ? "directory" : "leaf");
  };
}

/** A file on disk as a lazy stream: opened only when the importer starts reading it, read in
 * chunk-sized pieces so the chunker rarely has to copy. */
export async function* fileStream(path: string): AsyncGenerator<Uint8Array> {
  yield* createReadStream(path, { highWaterMark: CHUNK_SIZE });
}

export function contentStream(content: Content): Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array> {
  return typeof content === "string" ? new TextEncoder().encode(content) : content;
}

/** The importer's (and kubo-rpc-client's) candidate shape. */
export type Candidate =
  | { path: string; content: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>; mode?: number }
  | { path: string }
  | { path: string; link: string };

/**
 * Checked entries as candidates, in the order given. With `sources`, each file taken from disk is
 * also recorded there (candidate path to file path), so that an importer can read it itself
 * instead of through the candidate's stream (which then stays unopened).
 */
export async function* treeCandidates(entries: TreeSource, sources?: Map<string, string>): AsyncGenerator<Candidate> {
  const check = createPathChecker();
  for await (const entry of entries) {
    if ("content" in entry) {
      check(entry.path, false);
      yield { path: entry.path, content: contentStream(entry.content), ...modeOf(entry) };
    } else if ("source" in entry) {
      check(entry.path, false);
      // A file with a mode goes through the importer's own reading: its leaves' bytes are needed
      // when it fits one block (the metadata then wraps them), which the block workers do not return.
      if (entry.mode === undefined) sources?.set(entry.path, entry.source);
      yield { path: entry.path, content: fileStream(entry.source), ...modeOf(entry) };
    } else if ("directory" in entry) {
      check(entry.path, true);
      yield { path: entry.path };
    } else {
      check(entry.path, false);
      yield { path: entry.path, link: entry.symlink };
    }
  }
}

function modeOf(entry: { mode?: number }): { mode?: number } {
  if (entry.mode === undefined) return {};
  if (!Number.isInteger(entry.mode) || entry.mode < 0 || entry.mode > 0o7777) {
    throw new ContentUnsupportedError(`invalid file mode ${String(entry.mode)}`, { details: { mode: entry.mode } });
  }
  return { mode: entry.mode };
}

/** What putDirectory records of a file's permissions with `preserveMode`: the executable bit. */
export function executableMode(mode: number): number {
  return (mode & 0o111) !== 0 ? 0o755 : 0o644;
}

/**
 * The entries of a directory on disk, depth first, names in byte order. Includes hidden files
 * (`ipfs add -r --hidden`): a package's `.cargo_vcs_info.json` or `.npmignore` is content too.
 * Symlinks are recorded as links, never followed; sockets, FIFOs and devices are refused.
 */
export async function* directoryEntries(root: string, options: { preserveMode?: boolean } = {}): AsyncGenerator<TreeEntry> {
  const rootStat = await lstat(root);
  if (!rootStat.isDirectory()) {
    throw new ContentUnsupportedError(`${root} is not a directory`, { details: { path: root } });
  }
  const pending: string[] = [""];
  while (pending.length > 0) {
    const relative = pending.pop() as string;
    const dirents = await readdir(join(root, relative), { withFileTypes: true });
    dirents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const subdirectories: string[] = [];
    for (const dirent of dirents) {
      const path = relative === "" ? dirent.name : `${relative}/${dirent.name}`;
      const absolute = join(root, path);
      if (dirent.isFile()) {
        if (options.preserveMode) yield { path, source: absolute, mode: executableMode((await lstat(absolute)).mode) };
        else yield { path, source: absolute };
      } else if (dirent.isDirectory()) {
        yield { path, directory: true };
        subdirectories.push(path);
      } else if (dirent.isSymbolicLink()) {
        yield { path, symlink: await readlink(absolute) };
      } else {
        throw new ContentUnsupportedError(`${absolute} is not a regular file, directory or symlink`, {
          details: { path: absolute },
        });
      }
    }
    for (let i = subdirectories.length - 1; i >= 0; i--) pending.push(subdirectories[i]);
  }
}
