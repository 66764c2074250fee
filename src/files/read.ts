/**
 * Reading a file that may not be there, written once: "not there" (ENOENT) is null, every other error of the
 * file system is the caller's. Callers say what a missing file means (a NOT_FOUND error naming the command
 * that makes it, or a default).
 */
import { promises as fs } from "node:fs";
import { readTextFile, type SizeLimit } from "./limits";

/** Whether a file system error says that nothing is at the path (ENOENT). */
export function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
}

/** What `operation` gives, or null when it fails with ENOENT (readdir, readlink, stat, open…). */
export async function orNull<T>(operation: Promise<T>): Promise<T | null> {
  try {
    return await operation;
  } catch (error) {
    if (isNotFound(error)) return null;
    throw error;
  }
}

/** A file's bytes, or null when it does not exist. */
export async function readFileOrNull(file: string): Promise<Buffer | null> {
  return orNull(fs.readFile(file));
}

/**
 * A file's text (UTF-8), or null when it does not exist. With a limit, a larger file is refused from its size
 * before it is read ({@link readTextFile}).
 */
export async function readTextFileOrNull(file: string, limit?: SizeLimit): Promise<string | null> {
  return orNull(limit === undefined ? fs.readFile(file, "utf8") : readTextFile(file, limit));
}
