/**
 * One writer per profile: `<name>.lock`, a pid lock file (src/files/pidlock.ts) held while a generation is made
 * or switched. A lock whose process is gone (a crash) is taken over, and what that writer left is cleaned up
 * first; another live writer is waited for, then reported.
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { PkgError } from "../errors";
import { acquirePidLock } from "../files/pidlock";
import { ERR_PROFILE_LOCKED, generationNumbers, profileLink, profileName, removeTree, rootPrefix, TEMP_PREFIX, type ProfileOptions } from "./layout";

/** Runs `work` holding the profile's lock (waiting up to `lockTimeoutMs`, default 10 s, for another writer). */
export async function withLock<T>(options: ProfileOptions, work: () => Promise<T>): Promise<T> {
  const dir = path.resolve(options.dir);
  await fs.mkdir(dir, { recursive: true });
  const file = `${profileLink(options)}.lock`;
  const lock = await acquirePidLock(file, {
    timeoutMs: options.lockTimeoutMs ?? 10_000,
    busy: (holder) =>
      new PkgError(ERR_PROFILE_LOCKED, `profile ${profileName(options)} is being changed by process ${holder?.pid ?? process.pid}`, {
        details: { lock: file, pid: holder?.pid ?? process.pid },
        hint: `wait for it to finish; if no pkg is running, remove ${file}`,
      }),
  });
  try {
    await recover(options);
    return await work();
  } finally {
    await lock.release();
  }
}

/** Under the lock: removes what a crashed writer left (temporary generations, `default.tmp`, their roots). */
async function recover(options: ProfileOptions): Promise<void> {
  const dir = path.resolve(options.dir);
  const name = profileName(options);
  for (const entry of await fs.readdir(dir)) {
    if (entry.startsWith(`${TEMP_PREFIX}${name}-`)) await removeTree(path.join(dir, entry));
  }
  await fs.rm(`${profileLink(options)}.tmp`, { force: true });
  if (options.roots?.listRoots) {
    const existing = new Set(await generationNumbers(options));
    const prefix = rootPrefix(options);
    for (const root of await options.roots.listRoots()) {
      if (!root.name.startsWith(prefix)) continue;
      // Only names this profile made (`<N>-link:`); a profile whose name extends this one's (`default-2`) shares the prefix.
      const match = /^([1-9][0-9]*)-link:/.exec(root.name.slice(prefix.length));
      if (match && !existing.has(Number(match[1]))) await options.roots.removeRoot(root.name);
    }
  }
}
