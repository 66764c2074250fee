/**
 * The base: what every build finds on its PATH after its inputs' `bin/` directories. Nix's bootstrap
 * tools, not the host PATH: a directory of symlinks to a fixed, documented list of host programs
 * (a POSIX shell and bash, coreutils, sed, grep, awk, find, xargs, tar and compressors, diff, patch,
 * make). A program that is not installed is simply absent; the list of what is present is written
 * next to the links (`base.json`) so a failed build can be told why `foo: not found`.
 *
 * Decisions, and why:
 * - Only fixed system directories are searched ({@link BASE_SEARCH_DIRS}), never `$PATH`: what a
 *   build sees must not depend on the shell the daemon was started from.
 * - The links point at the host paths as found (`/usr/bin/awk`, itself an alternatives link), so
 *   argv[0] stays the tool's name (multi-call binaries keep working).
 * - The directory is created once, complete in a temporary sibling and renamed into place, and is
 *   versioned ({@link BASE_VERSION} is part of its name): changing the list makes a new directory
 *   instead of mutating one that running builds use.
 */
import { promises as fs } from "node:fs";
import { constants as fsConstants } from "node:fs";
import os from "node:os";
import path from "node:path";

/** Bumped whenever {@link BASE_TOOLS} changes; part of the base directory's name. */
export const BASE_VERSION = 1;

/** Where host tools are looked up, in this order. */
export const BASE_SEARCH_DIRS: readonly string[] = ["/usr/bin", "/bin", "/usr/sbin", "/sbin"];

/** Every program a build may find in the base, by name. */
export const BASE_TOOLS: readonly string[] = [
  // shells and the environment
  "sh", "bash", "env",
  // coreutils
  "[", "basename", "cat", "chmod", "cksum", "comm", "cp", "csplit", "cut", "date", "dd", "df", "dirname",
  "du", "echo", "expand", "expr", "false", "fmt", "fold", "head", "id", "install", "join", "link", "ln",
  "ls", "md5sum", "mkdir", "mkfifo", "mktemp", "mv", "nl", "nproc", "numfmt", "od", "paste", "pathchk",
  "printenv", "printf", "pwd", "readlink", "realpath", "rm", "rmdir", "seq", "sha1sum", "sha256sum",
  "sha512sum", "shuf", "sleep", "sort", "split", "stat", "stdbuf", "sum", "sync", "tac", "tail", "tee",
  "test", "timeout", "touch", "tr", "true", "truncate", "tsort", "uname", "unexpand", "uniq", "unlink",
  "wc", "whoami", "yes",
  // text and files
  "sed", "grep", "egrep", "fgrep", "awk", "find", "xargs", "diff", "cmp", "diff3", "sdiff", "patch", "make",
  // archives and compressors
  "tar", "gzip", "gunzip", "zcat", "bzip2", "bunzip2", "xz", "unxz", "xzcat",
];

/** What {@link ensureBase} made: the directory (a PATH entry) and which tools it holds. */
export interface Base {
  dir: string;
  /** Tool name → host path its link points at. */
  tools: Record<string, string>;
  /** Tools of {@link BASE_TOOLS} not found on this host. */
  missing: string[];
}

/** The default place of the base when the caller (the store) names none: per user, in the temp dir. */
export function defaultBaseDir(): string {
  const uid = typeof process.getuid === "function" ? process.getuid() : 0;
  return path.join(os.tmpdir(), `chainpkg-${uid}`, `base-v${BASE_VERSION}`);
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    const st = await fs.stat(file);
    if (!st.isFile()) return false;
    await fs.access(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Finds each tool of {@link BASE_TOOLS} in {@link BASE_SEARCH_DIRS}. */
export async function findBaseTools(): Promise<{ tools: Record<string, string>; missing: string[] }> {
  const tools: Record<string, string> = {};
  const missing: string[] = [];
  for (const name of BASE_TOOLS) {
    let found: string | undefined;
    for (const dir of BASE_SEARCH_DIRS) {
      const candidate = path.join(dir, name);
      if (await isExecutable(candidate)) {
        found = candidate;
        break;
      }
    }
    if (found) tools[name] = found;
    else missing.push(name);
  }
  return { tools, missing };
}

const inProgress = new Map<string, Promise<Base>>();

/**
 * The base directory at `dir` (default {@link defaultBaseDir}), created on first use. Safe to call
 * concurrently, from several processes too (the loser of the rename race uses the winner's copy).
 */
export function ensureBase(dir: string = defaultBaseDir()): Promise<Base> {
  const resolved = path.resolve(dir);
  let pending = inProgress.get(resolved);
  if (!pending) {
    pending = createBase(resolved).finally(() => inProgress.delete(resolved));
    inProgress.set(resolved, pending);
  }
  return pending;
}

async function readBase(dir: string): Promise<Base | null> {
  try {
    const json = JSON.parse(await fs.readFile(path.join(dir, "base.json"), "utf8")) as {
      version: number;
      tools: Record<string, string>;
      missing: string[];
    };
    if (json.version !== BASE_VERSION) return null;
    return { dir, tools: json.tools, missing: json.missing };
  } catch {
    return null;
  }
}

async function createBase(dir: string): Promise<Base> {
  const existing = await readBase(dir);
  if (existing) return existing;
  await fs.mkdir(path.dirname(dir), { recursive: true, mode: 0o700 });
  const { tools, missing } = await findBaseTools();
  const tmp = await fs.mkdtemp(`${dir}.tmp-`);
  try {
    for (const [name, target] of Object.entries(tools)) await fs.symlink(target, path.join(tmp, name));
    await fs.writeFile(path.join(tmp, "base.json"), JSON.stringify({ version: BASE_VERSION, tools, missing }, null, 2) + "\n");
    await fs.chmod(tmp, 0o755);
    try {
      await fs.rename(tmp, dir);
    } catch {
      // another process won (ENOTEMPTY/EEXIST), or a stale incomplete directory is in the way
      const other = await readBase(dir);
      if (other) return other;
      await fs.rm(dir, { recursive: true, force: true });
      await fs.rename(tmp, dir);
    }
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
  return { dir, tools, missing };
}
