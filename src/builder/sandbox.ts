/**
 * The build sandbox: Linux namespaces, through util-linux's `unshare`, `mount`, `pivot_root` and `setpriv`.
 *
 * A sandboxed build runs as
 *
 * ```
 * setpriv --pdeathsig KILL                                  killed when the daemon dies
 * unshare [--user --map-root-user]                          a user namespace when the daemon is not root
 *   --net --mount --pid --fork --kill-child                 new network, mount and PID namespaces
 *   sh -c SETUP …                                            inside them, as PID 1:
 *     mount -t tmpfs tmpfs R                    the new root: an empty tmpfs on a directory of the build's
 *     mount -o bind,ro,F P R/P                  each path the build may read, at its own path, read-only
 *                                               (F = the host mount's own nosuid/nodev/noexec/atime flags)
 *     mount --bind W R/W                        each directory it may write (build dir, outputs' parent)
 *     /etc/passwd, group, hosts; /dev/null…; a fresh /proc; /bin → usr/bin as on the host
 *     pivot_root R; umount the old root        nothing else of the host is left in the namespace
 *     mount -o remount,ro /                    the root itself is read-only
 *     ip link set lo up                        loopback only: no route out
 *     then, as PID 1's child (PID 1 stays, so that the namespace dies with unshare):
 *     setpriv --reuid=65534 …                  (root daemon) the build user: nobody, no groups
 *     unshare --user --map-user=65534 …        (user daemon) a user namespace mapped to nobody
 *       setpriv --no-new-privs --bounding-set -all --inh-caps -all
 *         env -i -C CWD VAR=… BUILDER ARGS…    exactly the build's environment
 * ```
 *
 * What a build sees (its root holds nothing else):
 * - the system's programs and libraries: `/usr` and the `/bin`, `/lib*`, `/sbin` links or directories of
 *   the host; of `/etc` only what the dynamic linker and the tools' alternatives need (`ld.so.cache`,
 *   `ld.so.conf*`, `alternatives/`), and a `passwd`, `group` and `hosts` of its own;
 * - the store paths of its inputs' closure (never the store's other paths, never its index);
 * - the trusted host paths: the install prefixes of this machine's host toolchains (e.g. the rustup
 *   toolchain the `toolchains:rustc` package links to) and `$PKG_SANDBOX_PATHS` (`:`-separated) of the
 *   daemon; a package cannot add to them;
 * - its build directory and its outputs' parent (read-write), its own socket to the store daemon;
 * - `/dev/{null,zero,full,random,urandom,tty}`, its own `/proc`, an empty read-only `/tmp` ($TMPDIR is in
 *   the build directory).
 * Not `/root`, `/home`, `/etc/shadow`, the daemon's main socket, other users' files.
 *
 * It runs as an unprivileged user: a root daemon's builds as uid/gid 65534 (nobody) with no supplementary
 * groups; a user's daemon's builds inside a user namespace where they are nobody, i.e. the daemon's user on
 * the host, with access to nothing of that user's but what the root above holds. No capabilities,
 * no_new_privs (setuid programs do not raise privileges). A fresh PID namespace: when the builder exits, or
 * `unshare` dies (`--kill-child`, `setpriv --pdeathsig KILL`), the kernel kills every process left in it.
 * No network: the network namespace has only `lo`.
 *
 * Not promised: the kernel is shared (a kernel exploit escapes); builds of the root daemon all run as the
 * same uid 65534 (they cannot see each other's files, but a process of uid 65534 outside a sandbox could
 * signal one); CPU, memory and disk are not limited; the system directories are the host's (a build can
 * read any world-readable file under /usr); timing and /proc/cpuinfo tell a build about the machine.
 *
 * How it degrades: {@link detectSandbox} tries the real thing once per process. When it fails (not root and
 * user namespaces disabled, a container without CAP_SYS_ADMIN, not Linux, util-linux missing), mode `auto`
 * runs builds without namespaces (the build result says `sandbox: "none"` and why; the build runs in its own
 * process group, killed as a group, and none of the above holds), `strict` fails with
 * ERR_BUILD_SANDBOX_UNAVAILABLE, and `off` never tries.
 */
import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { PkgError } from "../errors";

export const ERR_BUILD_SANDBOX_UNAVAILABLE = "ERR_BUILD_SANDBOX_UNAVAILABLE";

/** `auto`: namespaces when possible, else none; `strict`: namespaces or an error; `off`: none. */
export type SandboxMode = "auto" | "strict" | "off";

/** The sandbox a build actually ran in. */
export type SandboxKind = "namespaces" | "none";

/** What a build runs in, with the reason when it is not sandboxed. */
export type SandboxChoice = { kind: "namespaces" } | { kind: "none"; reason: string };

export interface SandboxSupport {
  available: boolean;
  /** Why not, when not available: one line. */
  reason?: string;
}

/** Host programs the sandbox needs (util-linux and iproute2); found in fixed places, not on PATH. */
const SANDBOX_PATH = "/usr/sbin:/usr/bin:/sbin:/bin";

const NAMESPACE_ARGS = ["--net", "--mount", "--pid", "--fork", "--kill-child"];

/** The uid and gid builds run as when the daemon is root (Nix's build users; here one: nobody). */
export const BUILD_UID = 65534;
export const BUILD_GID = 65534;

function isRoot(): boolean {
  return typeof process.getuid !== "function" || process.getuid() === 0;
}

/**
 * Who owns what a sandboxed build writes (its directories, its socket) when that is not the daemon's user:
 * the build user for a root daemon; null for a user's daemon (whose builds are that user on the host).
 */
export function buildUser(): { uid: number; gid: number } | null {
  return isRoot() ? { uid: BUILD_UID, gid: BUILD_GID } : null;
}

/** unshare's arguments: a user namespace first when this process is not root. */
function unshareArgs(): string[] {
  return isRoot() ? NAMESPACE_ARGS : ["--user", "--map-root-user", ...NAMESPACE_ARGS];
}

/** How the builder becomes the unprivileged build user, in front of its `env -i …`. */
function dropArgs(): string[] {
  const drop = ["setpriv", "--no-new-privs", "--bounding-set", "-all", "--inh-caps", "-all"];
  return isRoot()
    ? ["setpriv", `--reuid=${BUILD_UID}`, `--regid=${BUILD_GID}`, "--clear-groups", "--no-new-privs", "--bounding-set", "-all", "--inh-caps", "-all"]
    : ["unshare", "--user", `--map-user=${BUILD_UID}`, `--map-group=${BUILD_GID}`, ...drop];
}

let detected: Promise<SandboxSupport> | undefined;

/** Whether namespaces work here: tried once per process (the answer is cached). */
export function detectSandbox(): Promise<SandboxSupport> {
  detected ??= probe();
  return detected;
}

function run(file: string, args: string[]): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env: { PATH: SANDBOX_PATH }, timeout: 10_000 }, (error, stdout, stderr) => {
      resolve({ ok: error === null, output: `${stderr}${stdout}`.trim() || (error ? error.message : "") });
    });
  });
}

async function probe(): Promise<SandboxSupport> {
  if (process.platform !== "linux") return { available: false, reason: `namespaces need Linux, this is ${process.platform}` };
  for (const tool of ["unshare", "mount", "pivot_root", "setpriv", "env", "sh"]) {
    if (!(await findTool(tool))) return { available: false, reason: `${tool} (util-linux/coreutils) is not installed` };
  }
  // the whole setup, with nothing to read or write: what a build does, minus the builder
  const rootDir = await fs.mkdtemp(path.join(os.tmpdir(), "chainpkg-probe-"));
  try {
    const command = await sandboxedCommand({ file: "/usr/bin/true", args: [], env: {}, cwd: "/" }, { rootDir, readOnly: [], writable: [] });
    const result = await run(command.file, command.args);
    if (!result.ok) {
      const line = result.output.split("\n").find((l) => l.trim() !== "") ?? "unshare failed";
      return { available: false, reason: `unshare failed: ${line.trim()}` };
    }
    return { available: true };
  } finally {
    await fs.rmdir(rootDir).catch(() => {});
  }
}

async function findTool(name: string): Promise<string | null> {
  for (const dir of SANDBOX_PATH.split(":")) {
    const file = path.join(dir, name);
    try {
      await fs.access(file, fs.constants.X_OK);
      return file;
    } catch {
      // next
    }
  }
  return null;
}

/** Decides what a build runs in for `mode`; throws ERR_BUILD_SANDBOX_UNAVAILABLE for `strict` without support. */
export async function chooseSandbox(mode: SandboxMode): Promise<SandboxChoice> {
  switch (mode) {
    case "off":
      return { kind: "none", reason: "sandbox turned off" };
    case "auto":
    case "strict": {
      const support = await detectSandbox();
      if (support.available) return { kind: "namespaces" };
      const reason = support.reason ?? "namespaces are not available";
      if (mode === "strict") {
        throw new PkgError(ERR_BUILD_SANDBOX_UNAVAILABLE, `the build sandbox is not available: ${reason}`, {
          hint: "on Linux with util-linux, run the store daemon as root or allow unprivileged user namespaces (sysctl user.max_user_namespaces); or use --sandbox auto",
          details: { reason },
        });
      }
      return { kind: "none", reason };
    }
  }
}

/**
 * The setup run as PID 1 of the new namespaces (see the top of this file). Arguments: the root's mount point;
 * N pairs (a path to show read-only, the flags its host mount locks: `,nosuid,nodev` or empty); N directories
 * to show read-write; N pairs (a symlink to create, its target); N pairs (a file to create, its text); `--`;
 * the command. Any failure is fatal: a sandbox that is not what it says must not run the build.
 */
const SETUP = [
  "set -eu",
  'R=$1; shift',
  'mount -t tmpfs -o mode=0755,nosuid,nodev,size=16m tmpfs "$R"',
  // a path that does not exist (a socket a test names but never opens) is simply not there
  'n=$1; shift; while [ "$n" -gt 0 ]; do',
  '  if [ -d "$1" ]; then mkdir -p "$R$1"; elif [ -e "$1" ]; then mkdir -p "$R${1%/*}"; : > "$R$1"; fi',
  '  if [ -e "$1" ]; then mount -o "bind,ro$2" "$1" "$R$1"; fi; shift 2; n=$((n-1))',
  'done',
  'n=$1; shift; while [ "$n" -gt 0 ]; do mkdir -p "$R$1"; mount --bind "$1" "$R$1"; shift; n=$((n-1)); done',
  'n=$1; shift; while [ "$n" -gt 0 ]; do mkdir -p "$R${1%/*}"; ln -s "$2" "$R$1"; shift 2; n=$((n-1)); done',
  'n=$1; shift; while [ "$n" -gt 0 ]; do mkdir -p "$R${1%/*}"; printf %s "$2" > "$R$1"; shift 2; n=$((n-1)); done',
  'mkdir -p "$R/dev" "$R/proc" "$R/tmp"',
  'for d in null zero full random urandom tty; do : > "$R/dev/$d"; mount --bind "/dev/$d" "$R/dev/$d"; done',
  'ln -s /proc/self/fd "$R/dev/fd"; ln -s /proc/self/fd/0 "$R/dev/stdin"; ln -s /proc/self/fd/1 "$R/dev/stdout"; ln -s /proc/self/fd/2 "$R/dev/stderr"',
  'mount -t proc -o nosuid,nodev,noexec proc "$R/proc"',
  'cd "$R"; mkdir .old; pivot_root . .old; cd /; umount -l /.old; rmdir /.old',
  "mount -o remount,bind,ro,nosuid,nodev /",
  "ip link set lo up 2>/dev/null || true",
  '[ "$1" = "--" ]; shift',
  // Not exec: becoming the build user clears the parent-death signal that kills this PID 1 (and with it the
  // namespace) when unshare dies; so PID 1 stays this shell, the build its child.
  '"$@" &',
  'wait $!',
].join("\n");

/** Decodes a mountinfo path (`\040` for a space, …). */
function unescapeMount(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** Per-mount flags a user namespace may not clear (the kernel locks them): kept when remounting read-only. */
const LOCKED_FLAGS: ReadonlySet<string> = new Set(["nosuid", "nodev", "noexec", "noatime", "nodiratime", "relatime", "strictatime"]);

/** A mount point of this process's mount namespace and its lockable flags (`,nosuid,nodev` or ""). */
export interface HostMount {
  point: string;
  flags: string;
}

/** Mount points of this process's mount namespace, parents first (the last mount of a point wins). */
export async function hostMounts(): Promise<HostMount[]> {
  const text = await fs.readFile("/proc/self/mountinfo", "utf8");
  const mounts = new Map<string, string>();
  for (const line of text.split("\n")) {
    const fields = line.split(" ");
    if (fields.length < 6) continue;
    const point = unescapeMount(fields[4]!);
    // field 6: per-mount options (rw,nosuid,nodev,relatime)
    const flags = fields[5]!.split(",").filter((o) => LOCKED_FLAGS.has(o));
    mounts.delete(point);
    mounts.set(point, flags.map((f) => `,${f}`).join(""));
  }
  return [...mounts].map(([point, flags]) => ({ point, flags }));
}

function within(child: string, parent: string): boolean {
  return child === parent || child.startsWith(parent === "/" ? "/" : `${parent}/`);
}

/** What to run: a program, its arguments, the environment and the directory it starts in. */
export interface SandboxCommand {
  file: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
}

/** What a sandboxed build may see beyond the system's programs (see the top of this file). */
export interface SandboxView {
  /** An empty directory of the daemon's to mount the build's root on (its contents are never seen). */
  rootDir: string;
  /** Files and directories shown read-only at their own paths: inputs, the base, trusted host paths, the build's socket. */
  readOnly: string[];
  /** Directories shown read-write at their own paths (they must exist): the build directory, the outputs' parent. */
  writable: string[];
}

/** Top-level entries of the host's `/` a build gets as they are (links stay links; directories are shown read-only). */
const SYSTEM_ROOT_ENTRIES = ["usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"];
/** What of the host's /etc a build gets: the dynamic linker's cache and config, and the alternatives links (awk → mawk). */
const SYSTEM_ETC_ENTRIES = ["ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives"];

const BUILD_ETC: Record<string, string> = {
  "/etc/passwd": `root:x:0:0:root:/:/bin/sh\nnobody:x:${BUILD_UID}:${BUILD_GID}:build user:/:/bin/sh\n`,
  "/etc/group": `root:x:0:\nnogroup:x:${BUILD_GID}:\n`,
  "/etc/hosts": "127.0.0.1 localhost\n::1 localhost\n",
};

/** The system part of a build's root: paths to show read-only and links to recreate. */
async function systemView(): Promise<{ readOnly: string[]; links: Array<[string, string]> }> {
  const readOnly: string[] = [];
  const links: Array<[string, string]> = [];
  for (const name of SYSTEM_ROOT_ENTRIES) {
    const p = `/${name}`;
    const st = await fs.lstat(p).catch(() => null);
    if (st?.isSymbolicLink()) links.push([p, await fs.readlink(p)]);
    else if (st?.isDirectory()) readOnly.push(p);
  }
  for (const name of SYSTEM_ETC_ENTRIES) {
    const p = `/etc/${name}`;
    const st = await fs.lstat(p).catch(() => null);
    if (st !== null) readOnly.push(p);
  }
  return { readOnly, links };
}

/** The host's system program directories a build sees (`/usr`, and `/bin`, `/lib`… where they are directories, not links into it). */
export async function systemProgramDirs(): Promise<string[]> {
  return (await systemView()).readOnly.filter((p) => !p.startsWith("/etc/"));
}

/** The lockable flags of the host mount `p` lives on (a user namespace cannot clear them on a bind of it). */
function flagsOf(p: string, mounts: HostMount[]): string {
  let best: HostMount | undefined;
  for (const m of mounts) if (within(p, m.point) && (best === undefined || m.point.length > best.point.length)) best = m;
  return best?.flags ?? "";
}

/** Sorted, absolute, without duplicates and without paths inside another one of the list (already shown). */
function outermost(paths: string[]): string[] {
  const sorted = [...new Set(paths.map((p) => path.resolve(p)))].sort();
  const kept: string[] = [];
  for (const p of sorted) if (!kept.some((k) => within(p, k))) kept.push(p);
  return kept;
}

/**
 * The command that runs `file args` with exactly `env` in `cwd`, as the build user, in a root of its own that
 * holds only the system's programs and what `view` names (see the top of this file).
 */
export async function sandboxedCommand(command: { file: string; args: string[]; env: Record<string, string>; cwd: string }, view: SandboxView): Promise<SandboxCommand> {
  const mounts = await hostMounts();
  const system = await systemView();
  const writable = [...new Set(view.writable.map((d) => path.resolve(d)))];
  const readOnly = outermost([...system.readOnly, ...view.readOnly]).filter((p) => !writable.some((w) => within(p, w)));
  const envArgs = Object.entries(command.env).map(([k, v]) => `${k}=${v}`);
  return {
    // --pdeathsig: if the daemon dies (even by SIGKILL), unshare is killed, and with it the namespace
    file: "setpriv",
    args: [
      "--pdeathsig", "KILL", "unshare",
      ...unshareArgs(),
      "sh", "-c", SETUP, "sh",
      path.resolve(view.rootDir),
      String(readOnly.length), ...readOnly.flatMap((p) => [p, flagsOf(p, mounts)]),
      String(writable.length), ...writable,
      String(system.links.length), ...system.links.flat(),
      String(Object.keys(BUILD_ETC).length), ...Object.entries(BUILD_ETC).flat(),
      "--",
      ...dropArgs(),
      "/usr/bin/env", "-i", "-C", command.cwd, ...envArgs, command.file, ...command.args,
    ],
    env: { PATH: SANDBOX_PATH },
    cwd: "/",
  };
}
