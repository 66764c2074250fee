/**
 * Size limits of the package, lock and build files and of their fields (README, "Security" → "Limits").
 *
 * A pkg.toml is published as it is (its bytes are the version's meta), and anyone can publish anything with
 * any client, so every reader of a published meta must refuse a hostile one before processing it: a file over
 * its limit is refused before it is parsed, a field over its limit before it is checked (an SPDX parse of a
 * 5 MB license, or a 5 MB version printed back in an error, is the attack). The limits are far above anything
 * a real package needs; pkg.lock, pkg.build.toml and repo.lock grow with the dependency graph or the number of
 * builds, so theirs only refuse absurd sizes.
 */
import { promises as fs } from "node:fs";
import type { ErrorCode } from "../errors/codes";
import { FileFormatError } from "../errors/files";
import { quoteValue } from "./name";

/** pkg.toml, as written and as published (the meta): a real one is a few hundred bytes. */
export const MAX_MANIFEST_BYTES = 64 * 1024;
/** pkg.lock: about 300 bytes per locked package version, so this holds ~50,000 of them. */
export const MAX_LOCKFILE_BYTES = 16 * 1024 * 1024;
/** pkg.build.toml: builds and the derivations meta packages recorded (~70 bytes each). */
export const MAX_BUILDFILE_BYTES = 16 * 1024 * 1024;
/** repo.lock (a published repository version's meta): ~200 bytes per package of the repository. */
export const MAX_REPOLOCK_BYTES = 64 * 1024 * 1024;

/** `[package].license`: an SPDX expression; the longest in crates.io's index are a few hundred bytes. */
export const MAX_LICENSE_BYTES = 1024;
/** A version range of an input (`"crates:dep" = ">=1.2, <2"`). */
export const MAX_RANGE_BYTES = 1024;
/** A `src` pattern or the `builder` path: Linux's PATH_MAX. */
export const MAX_PATH_BYTES = 4096;
/** One builder argument, and any other string field without a tighter limit of its own. */
export const MAX_STRING_BYTES = 4096;

/** The UTF-8 size of `value`, without encoding it. */
export function utf8Length(value: string): number {
  return Buffer.byteLength(value, "utf8");
}

function mib(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${bytes / (1024 * 1024)} MiB` : `${bytes / 1024} KiB`;
}

/** How one file format is limited: its error code, its name in messages and the hint of a refusal. */
export interface SizeLimit {
  max: number;
  code: ErrorCode;
  /** `a pkg.toml`, `a lock file`. */
  what: string;
  hint: string;
}

/**
 * The error for a whole file over its limit: names the file, its size (at least `bytes`: a stream is not read
 * to its end) and the limit, never its content.
 */
export function fileTooLarge(file: string, bytes: number, limit: SizeLimit): FileFormatError {
  return new FileFormatError(limit.code, `${file}: ${limit.what} of ${bytes} bytes or more is over the limit of ${mib(limit.max)}`,
    { file, bytes, limit: limit.max }, limit.hint);
}

/** Throws {@link fileTooLarge} when `text` is over the limit in bytes of UTF-8. */
export function checkTextSize(text: string, file: string, limit: SizeLimit): void {
  const bytes = utf8Length(text);
  if (bytes > limit.max) throw fileTooLarge(file, bytes, limit);
}

/**
 * Why `value` is too long for a field limited to `max` bytes, or null: `is 5242880 bytes long (at most 1024):
 * "MIT OR MIT OR …"… (5242880 characters)`, the value quoted short and on one line.
 */
export function lengthProblem(value: string, max: number): string | null {
  if (value.length <= max / 3) return null; // at most 3 bytes of UTF-8 per UTF-16 unit: cannot be over
  const bytes = utf8Length(value);
  return bytes <= max ? null : `is ${bytes} bytes long (at most ${max}): ${quoteValue(value)}`;
}

/**
 * Reads a file of at most `max` bytes as UTF-8: a larger one is refused from its size before it is read.
 * ENOENT and other errors of the file system are the caller's (they are rethrown as they are).
 */
export async function readTextFile(file: string, limit: SizeLimit): Promise<string> {
  const { max } = limit;
  const handle = await fs.open(file, "r");
  try {
    const { size } = await handle.stat();
    if (size > max) throw fileTooLarge(file, size, limit);
    // read through the handle: the file may have grown since the stat, so at most max + 1 bytes are taken
    const buffer = Buffer.alloc(Math.min(size, max) + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length === buffer.length) break;
    }
    if (length > max) throw fileTooLarge(file, length, limit);
    return buffer.subarray(0, length).toString("utf8");
  } finally {
    await handle.close();
  }
}

/**
 * Collects a stream of bytes (a published meta read from the content store) of at most `max` bytes; stops
 * reading, and throws {@link fileTooLarge} naming `file` (e.g. `crates/hello:1.0.0 (meta bafk…)`), as soon as
 * more arrive.
 */
export async function collectBytes(chunks: AsyncIterable<Uint8Array>, file: string, limit: SizeLimit): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of chunks) {
    length += chunk.length;
    if (length > limit.max) throw fileTooLarge(file, length, limit);
    parts.push(chunk);
  }
  return Buffer.concat(parts, length);
}
