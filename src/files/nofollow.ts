/**
 * File operations that never go through a symlink: what the store and the builder use on trees a hostile
 * build or a published package wrote. A path's last component may be a symlink planted there; chmod(2)
 * and open(2) would follow it to any file the daemon can reach (a root daemon: any file at all).
 */
import { constants, promises as fs } from "node:fs";

/** Whether `p` exists, without following a symlink at its end. */
export async function lexists(p: string): Promise<boolean> {
  return fs.lstat(p).then(() => true, () => false);
}

/**
 * chmod through a file descriptor opened with O_NOFOLLOW: a symlink at `p` is refused (ELOOP) and left alone,
 * never followed. O_NONBLOCK so that a FIFO does not block the open. A file its owner may not read (mode 000,
 * not root) cannot be opened: then, and only after lstat says it is no symlink, chmod by path (callers run
 * this when nothing else can change the tree any more: the build's processes are gone).
 */
export async function chmodNoFollow(p: string, mode: number): Promise<void> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(p, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "EACCES" && code !== "EPERM") throw error;
    if ((await fs.lstat(p)).isSymbolicLink()) throw Object.assign(new Error(`${p} is a symbolic link`), { code: "ELOOP" });
    await fs.chmod(p, mode);
    return;
  }
  try {
    await handle.chmod(mode);
  } finally {
    await handle.close();
  }
}
