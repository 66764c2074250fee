/**
 * One `pkg node` per data directory: a lock file holding the owner's pid (and its start time, so a pid
 * reused by an unrelated process after a crash is not mistaken for a live owner). The file is created
 * complete and atomically (hard link of a written temp file), so a reader never sees half a lock. A lock
 * whose owner is gone is stale and replaced.
 */
import { link, readFile, rename, unlink, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { NodeError, ERR_NODE_LOCKED } from "../errors/node";

export const LOCK_FILE = "node.lock";

interface LockRecord {
  pid: number;
  /** Field 22 of /proc/<pid>/stat (clock ticks after boot), where there is a /proc. */
  start?: string;
  host: string;
  since: string;
}

/** Lock files held by this process (a second startLocalNode in the same process must refuse too). */
const held = new Set<string>();

async function startTimeOf(pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

async function ownerAlive(record: LockRecord): Promise<boolean> {
  if (record.host !== hostname()) return true; // cannot tell; never take over another machine's lock
  if (record.pid === process.pid) return false; // this process, which does not hold it (see `held`): left by a dead one
  try {
    process.kill(record.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false;
  }
  const start = await startTimeOf(record.pid);
  if (record.start !== undefined && start !== undefined && start !== record.start) return false;
  return true;
}

function parse(text: string): LockRecord | null {
  try {
    const value = JSON.parse(text) as LockRecord;
    return typeof value?.pid === "number" && typeof value.host === "string" ? value : null;
  } catch {
    return null;
  }
}

export interface Lock {
  file: string;
  release(): Promise<void>;
}

export async function acquireLock(dir: string, log: (line: string) => void): Promise<Lock> {
  const file = path.join(dir, LOCK_FILE);
  const refuse = (record: LockRecord | null) =>
    new NodeError(ERR_NODE_LOCKED, `another pkg node (pid ${record?.pid ?? process.pid}) is already running on ${dir}`, {
      details: { lockFile: file, pid: record?.pid ?? process.pid, host: record?.host },
      hint: "use the running node (the CLI finds it by itself), stop it first, or pass another data directory",
    });
  if (held.has(file)) throw refuse(null);

  const mine: LockRecord = { pid: process.pid, start: await startTimeOf(process.pid), host: hostname(), since: new Date().toISOString() };
  const text = `${JSON.stringify(mine)}\n`;
  for (let attempt = 0; attempt < 10; attempt++) {
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
    const record = parse(existing);
    if (record && (await ownerAlive(record))) throw refuse(record);

    // Stale: move it aside, and put it back if what we moved is not what we judged (a racing takeover).
    const aside = `${file}.stale-${process.pid}-${randomBytes(4).toString("hex")}`;
    try {
      await rename(file, aside);
    } catch {
      continue;
    }
    const moved = await readFile(aside, "utf8").catch(() => null);
    if (moved !== existing) {
      await link(aside, file).catch(() => undefined);
      await unlink(aside).catch(() => undefined);
      continue;
    }
    await unlink(aside).catch(() => undefined);
    log(`replacing a stale lock of pid ${record?.pid ?? "?"} (that process is gone) in ${dir}`);
  }
  throw refuse(parse((await readFile(file, "utf8").catch(() => "")) ?? ""));
}
