/**
 * Atomic file replacement: readers (another `pkg` process, an editor, git) see either the old file
 * or the new one, never half of one, and a crash leaves no partial file behind.
 */
import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import * as path from "node:path";

/**
 * Writes `data` to `file` through a temporary file in the same directory (rename is atomic only
 * within one file system), fsyncs it before the rename so the new name never points at unwritten
 * blocks, then fsyncs the directory so the rename itself survives a crash. The temporary file is
 * removed on any failure. An existing file's mode is kept.
 */
export async function writeFileAtomic(file: string, data: string): Promise<void> {
  const dir = path.dirname(file);
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  let mode = 0o666;
  try {
    mode = (await fs.stat(file)).mode & 0o7777;
  } catch {
    // A new file: default mode, subject to umask.
  }
  const handle = await fs.open(temp, "wx", mode);
  try {
    try {
      await handle.writeFile(data, "utf8");
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temp, file);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  }
  await syncDirectory(dir);
}

/** fsyncs a directory so that renames into it are durable; best effort where the file system cannot. */
export async function syncDirectory(dir: string): Promise<void> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(dir, "r");
    await handle.sync();
  } catch {
    // Some platforms and file systems cannot open or fsync a directory (Windows, some FUSE
    // mounts); the rename has happened, durability of the directory entry is best effort there.
  } finally {
    await handle?.close();
  }
}
