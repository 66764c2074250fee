/**
 * A lock file holding its owner's pid, written once for every "one writer at a time" of the project (`pkg node`
 * per data directory, one writer per profile) and the liveness test of a pid that staging directory names use.
 *
 * - The file is created complete and atomically (a written temporary file hard-linked into place), so a reader
 *   never sees half a lock: no grace period for a lock "being written".
 * - It records the pid, the host and, where there is a /proc, the process's start time, so that a pid reused
 *   by an unrelated process after a crash is not taken for the owner. A lock whose owner is gone is stale and
 *   taken over (moved aside first, and put back if what was moved is not what was judged: a racing takeover).
 * - A lock of another host is never taken over (its owner's liveness cannot be told from here).
 * - Locks held by this process are known (a second acquire in the same process is busy, not stale).
 * - A lock file holding only a pid (`1234\n`, what profiles wrote before) is read as such.
 */
import { randomBytes } from "node:crypto";
import { link, readFile, rename, unlink, writeFile } from "node:fs/promises";
import { hostname } from "node:os";

/** What a lock file says about its owner. */
export interface PidLockHolder {
  pid: number;
  /** Field 22 of /proc/<pid>/stat (clock ticks after boot), where there is a /proc. */
  start?: string;
  /** Unknown for a lock file holding only a pid (then: this host). */
  host?: string;
  since?: string;
}

export interface PidLock {
  file: string;
  /** Removes the lock file, if it is still this one. */
  release(): Promise<void>;
}

export interface PidLockOptions {
  /** How long to wait for a live owner to release it (default 0: busy at once). */
  timeoutMs?: number;
  /** Time between attempts while waiting (default 50 ms). */
  pollMs?: number;
  /** Told when a stale lock (its owner gone) is taken over. */
  onStale?: (holder: PidLockHolder | null) => void;
  /** The error thrown when the lock stays busy: `holder` null when this very process holds it. */
  busy: (holder: PidLockHolder | null) => Error;
}

/** Lock files held by this process. */
const held = new Set<string>();

/** Whether a process with this pid exists on this machine (EPERM: it does, another user's). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** When the process started (clock ticks after boot), where /proc says; undefined elsewhere. */
async function startTimeOf(pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

function parseHolder(text: string): PidLockHolder | null {
  if (/^[1-9][0-9]*\n?$/.test(text)) return { pid: Number(text.trim()) };
  try {
    const value = JSON.parse(text) as PidLockHolder;
    return typeof value?.pid === "number" && Number.isInteger(value.pid) && typeof value.host === "string" ? value : null;
  } catch {
    return null;
  }
}

/** Whether the holder a lock file names is still running (conservative: true when it cannot be told). */
async function holderAlive(holder: PidLockHolder): Promise<boolean> {
  if (holder.host !== undefined && holder.host !== hostname()) return true;
  if (!processAlive(holder.pid)) return false;
  const start = await startTimeOf(holder.pid);
  // a recorded start time that differs: the pid was reused by another process after the owner died
  return holder.start === undefined || start === undefined || start === holder.start;
}

/**
 * Takes the lock file `file` (its directory must exist): at once when it is free or stale, else waiting up to
 * `timeoutMs` for its owner to release it, then throwing `busy(holder)`.
 */
export async function acquirePidLock(file: string, options: PidLockOptions): Promise<PidLock> {
  const deadline = Date.now() + (options.timeoutMs ?? 0);
  const mine: PidLockHolder = { pid: process.pid, start: await startTimeOf(process.pid), host: hostname(), since: new Date().toISOString() };
  const text = `${JSON.stringify(mine)}\n`;
  for (let takeovers = 0; ; ) {
    let holder: PidLockHolder | null = null;
    if (!held.has(file)) {
      const temp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
      await writeFile(temp, text);
      try {
        await link(temp, file);
        held.add(file);
        return {
          file,
          async release() {
            held.delete(file);
            const current = await readFile(file, "utf8").catch(() => null);
            if (current === text) await unlink(file).catch(() => undefined);
          },
        };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      } finally {
        await unlink(temp).catch(() => undefined);
      }
      const existing = await readFile(file, "utf8").catch(() => null);
      if (existing === null) continue; // released meanwhile
      holder = parseHolder(existing);
      // a bounded number of takeovers: another process racing for the same stale lock wins it, or they alternate
      if ((holder === null || !(await holderAlive(holder))) && takeovers++ < 10) {
        await takeOver(file, existing);
        options.onStale?.(holder);
        continue;
      }
    }
    if (Date.now() >= deadline) throw options.busy(holder);
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 50));
  }
}

/** Removes a stale lock file, unless it changed since it was judged (then it is put back). */
async function takeOver(file: string, judged: string): Promise<void> {
  const aside = `${file}.stale-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    await rename(file, aside);
  } catch {
    return;
  }
  const moved = await readFile(aside, "utf8").catch(() => null);
  if (moved !== judged) await link(aside, file).catch(() => undefined);
  await unlink(aside).catch(() => undefined);
}
