/**
 * Finding this machine's host programs, and the host paths sandboxed builds may read besides the system's.
 * Node built-ins only: the sandbox (src/builder/run.ts) loads it where no dependency can be found.
 */
import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import path from "node:path";

/** Runs a host program; resolves with its stdout (or stderr when stdout is empty). */
export function runHost(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: 30_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(" ")}: ${(stderr || error.message).trim().split("\n")[0]}`));
      else resolve(`${stdout}${stdout ? "" : stderr}`);
    });
  });
}

/** A program on the daemon's PATH (and ~/.cargo/bin), symlinks resolved. */
export async function which(name: string): Promise<string | null> {
  const dirs = (process.env.PATH ?? "").split(":").filter((d) => d !== "");
  if (process.env.HOME) dirs.push(path.join(process.env.HOME, ".cargo", "bin"));
  dirs.push("/usr/bin", "/bin");
  for (const dir of dirs) {
    const file = path.join(dir, name);
    try {
      await fs.access(file, fs.constants.X_OK);
      if ((await fs.stat(file)).isFile()) return file;
    } catch {
      // next
    }
  }
  return null;
}

/**
 * The host paths sandboxed builds may read besides the system's (src/builder/sandbox.ts): the install prefixes of
 * this machine's host toolchains that lie outside /usr (rustc's sysroot: the rustup toolchain the
 * `toolchains:rustc` and `toolchains:cargo` packages link to; gcc's and node's prefix when not under /usr), and
 * `$PKG_SANDBOX_PATHS` (`:`-separated absolute paths). They come from this machine and its user, never from a
 * package: a published toolchain package that links elsewhere fails to build instead of widening the sandbox.
 */
export function trustedHostPaths(env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  // Asked once per process and value of $PKG_SANDBOX_PATHS: finding rustc's sysroot runs rustc.
  const key = env.PKG_SANDBOX_PATHS ?? "";
  let found = trustedCache.get(key);
  if (found === undefined) trustedCache.set(key, (found = findTrustedHostPaths(env)));
  return found;
}

const trustedCache = new Map<string, Promise<string[]>>();

async function findTrustedHostPaths(env: NodeJS.ProcessEnv): Promise<string[]> {
  const found: string[] = [];
  const rustc = await which("rustc");
  if (rustc !== null) {
    try {
      found.push(await fs.realpath((await runHost(rustc, ["--print", "sysroot"])).trim()));
    } catch {
      // a rustup proxy without a toolchain: nothing to show
    }
  }
  for (const name of ["gcc", "node"]) {
    const program = await which(name);
    if (program === null) continue;
    const real = await fs.realpath(program).catch(() => null);
    if (real !== null && path.basename(path.dirname(real)) === "bin") found.push(path.dirname(path.dirname(real)));
  }
  for (const entry of (env.PKG_SANDBOX_PATHS ?? "").split(":")) if (path.isAbsolute(entry)) found.push(path.resolve(entry));
  // /usr is the system's already; `/` or another whole tree would undo the sandbox
  return [...new Set(found)].filter((p) => p !== "/" && p !== "/usr" && !p.startsWith("/usr/")).sort();
}
