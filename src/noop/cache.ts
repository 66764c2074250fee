/**
 * The no-op `pkg build`'s fingerprint cache (docs/build-layer.md, "No-op builds"): one implementation,
 * read by the daemon's answer to `noop-build` (./answer.ts) and by the no-op wrapper around the build
 * operation (src/build-directory.ts).
 *
 * Loaded by the daemon and by the wrapper: node built-ins only (no TOML, no IPFS, no oclif); types are free.
 */
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { arch, platform } from "node:os";
import path from "node:path";
import type { BuildRecord } from "../buildfile";
import type { BuildDirectoryResult } from "../build-directory";
import type { RealiseAnswer } from "../daemon/protocol";

/**
 * What a package directory's files looked like: size, mtime (ns), inode and mode of pkg.toml, pkg.lock
 * and each source, in that order; and the mtimes of the directories holding a source and their
 * ancestors up to the package directory (a file added where a glob may match it changes one of those).
 * Kept as plain text, not hashed: comparing it is exact, and node:crypto costs the no-op ~2 ms to load.
 */
export interface Fingerprint {
  files: string;
  dirs: string;
}

/** What the fingerprint cache keeps per package directory, build name and system. */
export interface DirCacheEntry {
  /** Absolute directory, build name and system, NUL-separated: the file name is only a hash of it. */
  key: string;
  fingerprint: Fingerprint;
  /** Sources, relative to the directory, as resolveSources listed them. */
  sources: string[];
  drv: string;
  name: string;
  record: BuildRecord;
  /**
   * The variant's args (`pkg build --arg`, appended to pkg.toml's): two variants never answer for each
   * other. Absent in entries written before variants: none.
   */
  extraArgs?: string[];
  /** The derivation's output paths, as the daemon last gave them (a function of drv). */
  outputs: Record<string, string>;
  /** pkg.build.toml as last written or read (null: there was none). */
  buildFile: string | null;
}

/** Where a directory's cache entry lives, and the key it must hold. */
export interface CacheSlot {
  path: string;
  key: string;
}

/** 64 bits of two FNV-1a-style lanes, as hex. Names a file only: a collision costs a cache miss, never a wrong hit. */
function nameHash(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
  }
  return (a >>> 0).toString(16).padStart(8, "0") + (b >>> 0).toString(16).padStart(8, "0");
}

/** `<store>/dirs/<hash>.json`, one per package directory, build name and system. */
export function cacheSlot(storeDir: string, dir: string, name: string, system: string | undefined): CacheSlot {
  const key = `${path.resolve(dir)}\0${name}\0${system ?? `${arch()}-${platform()}`}`;
  return { path: path.join(storeDir, "dirs", `${nameHash(key)}.json`), key };
}

export function fingerprint(dir: string, sources: readonly string[]): Fingerprint | null {
  const dirSet = new Set<string>(["."]);
  for (const f of sources) for (let d = path.dirname(f); d !== "." && d !== "/" && !dirSet.has(d); d = path.dirname(d)) dirSet.add(d);
  // Synchronous on purpose: a few stat calls cost less than starting libuv's thread pool.
  try {
    const files = ["pkg.toml", "pkg.lock", ...sources].map((f) => {
      const st = statSync(path.join(dir, f), { bigint: true });
      return `${st.size} ${st.mtimeNs} ${st.ino} ${st.mode}`;
    });
    // The package directory first (the build operation compares the others alone after writing pkg.build.toml).
    dirSet.delete(".");
    const dirs = [".", ...[...dirSet].sort()].map((d) => String(statSync(path.join(dir, d), { bigint: true }).mtimeNs));
    return { files: files.join(","), dirs: dirs.join(",") };
  } catch {
    return null; // a file is gone: the full path reports it properly
  }
}

export function sameFingerprint(a: Fingerprint | null, b: Fingerprint | null): boolean {
  return a !== null && b !== null && a.files === b.files && a.dirs === b.dirs;
}

function readCache(slot: CacheSlot): DirCacheEntry | null {
  try {
    const entry = JSON.parse(readFileSync(slot.path, "utf8")) as DirCacheEntry;
    return entry.key === slot.key && typeof entry.fingerprint === "object" && typeof entry.outputs === "object" ? entry : null;
  } catch {
    return null;
  }
}

export function writeCache(slot: CacheSlot, entry: Omit<DirCacheEntry, "key">): void {
  // Atomic, never fatal: the cache only ever saves time.
  try {
    mkdirSync(path.dirname(slot.path), { recursive: true });
    const tmp = `${slot.path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ ...entry, key: slot.key }));
    renameSync(tmp, slot.path);
  } catch {
    // ignored
  }
}

/** pkg.build.toml's text, or null if there is none (or it cannot be read: then the full path says why). */
export function readBuildFile(file: string): Buffer | null {
  try {
    return readFileSync(file);
  } catch {
    return null;
  }
}

/** Whether pkg.build.toml holds exactly the bytes the entry remembers. */
export function sameBuildFile(entry: DirCacheEntry, bytes: Buffer | null): boolean {
  return bytes === null ? entry.buildFile === null : entry.buildFile !== null && Buffer.from(entry.buildFile, "utf8").equals(bytes);
}

/** The cache entry for `name` if nothing instantiation reads changed since it was written, else why not. */
export function lookupCache(slot: CacheSlot, dir: string, name: string): { entry: DirCacheEntry } | { miss: string } {
  const cached = readCache(slot);
  if (cached === null || cached.name !== name) return { miss: "no cache entry" };
  if (!sameFingerprint(fingerprint(dir, cached.sources), cached.fingerprint)) return { miss: "fingerprint changed" };
  return { entry: cached };
}

/** The build record after realising a cached derivation, and whether pkg.build.toml needs writing. */
export function cachedRecord(entry: DirCacheEntry, answer: RealiseAnswer, buildFile: Buffer | null): { record: BuildRecord; unchanged: boolean } {
  const record: BuildRecord = { ...entry.record, subderivations: [...answer.subderivations], output: answer.cids.out };
  return { record, unchanged: JSON.stringify(record) === JSON.stringify(entry.record) && sameBuildFile(entry, buildFile) };
}

/** What `pkg build` returns (and prints under --json) for a cache hit. */
export function cachedResult(name: string, entry: DirCacheEntry, answer: RealiseAnswer, buildFile: string, buildFileChanged: boolean): BuildDirectoryResult {
  return {
    name,
    drv: entry.drv,
    outputs: answer.outputs,
    output: answer.cids.out,
    built: answer.built,
    subderivations: answer.subderivations,
    buildFile,
    buildFileChanged,
    cached: true,
    ...(answer.sandbox !== undefined ? { sandbox: answer.sandbox } : {}),
  };
}

