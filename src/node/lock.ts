/**
 * One `pkg node` per data directory: `node.lock`, a pid lock file (src/files/pidlock.ts: the owner's pid, host
 * and start time, created atomically, taken over when its owner is gone).
 */
import path from "node:path";
import { NodeError, ERR_NODE_LOCKED } from "../errors/node";
import { acquirePidLock, type PidLock } from "../files/pidlock";

export const LOCK_FILE = "node.lock";

export type Lock = PidLock;

export async function acquireLock(dir: string, log: (line: string) => void): Promise<Lock> {
  const file = path.join(dir, LOCK_FILE);
  return acquirePidLock(file, {
    busy: (holder) =>
      new NodeError(ERR_NODE_LOCKED, `another pkg node (pid ${holder?.pid ?? process.pid}) is already running on ${dir}`, {
        details: { lockFile: file, pid: holder?.pid ?? process.pid, host: holder?.host },
        hint: "use the running node (the CLI finds it by itself), stop it first, or pass another data directory",
      }),
    onStale: (holder) => log(`replacing a stale lock of pid ${holder?.pid ?? "?"} (that process is gone) in ${dir}`),
  });
}
