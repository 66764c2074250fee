/**
 * The build sandbox: Linux namespaces, through util-linux's `unshare`, `mount` and `setpriv`.
 *
 * A sandboxed build runs as
 *
 * ```
 * setpriv --pdeathsig KILL                                       killed when the daemon dies
 * unshare [--user --map-root-user]                               a user namespace when not root
 *   --net --mount --pid --fork --kill-child --mount-proc          new network, mount and PID namespaces
 *   sh -c SETUP …                                                 inside them, as PID 1:
 *     mount --bind W W            for each writable directory (the build dir, each output's parent)
 *     mount -o remount,bind,ro,F M  for every other mount point of the host (so `/` is read-only),
 *                                 F = the mount's own nosuid/nodev/noexec/atime flags
 *     ip link set lo up           loopback only: no route out
 *     exec setpriv --bounding-set -all --inh-caps -all   no capabilities: the build cannot remount
 *       env -i -C CWD VAR=… BUILDER ARGS…                 exactly the build's environment
 * ```
 *
 * What that gives:
 * - No network: the new network namespace has only `lo`. Unix sockets on the file system still work
 *   (connect(2) to a socket file is allowed on a read-only mount), which is how meta packages reach
 *   the store daemon.
 * - The file system is the host's, read-only, except the build directory and the directory each
 *   output is created in (the store should give every build its own directory under `tmp/`, so that
 *   nothing else is writable). `/dev/null` and other devices still work; `/proc` is the new PID
 *   namespace's own.
 * - A fresh PID namespace: the builder is PID 1; when it exits, or when `unshare` dies (killed on a
 *   timeout or an abort: `--kill-child` sends SIGKILL to the namespace's PID 1), the kernel kills every
 *   process left in the namespace. A build leaves no process behind, even when the daemon itself is
 *   killed (`setpriv --pdeathsig KILL` in front of `unshare`).
 * - The builder runs as root without capabilities (empty bounding set): it cannot undo the mounts.
 *   This is hygiene (Nix's sandbox), not a wall against hostile code running as root.
 * - Not root (a daemon run by a user): the same, inside a user namespace first (`--user
 *   --map-root-user`, where the kernel allows unprivileged user namespaces): the builder is root of
 *   that namespace only, i.e. the daemon's user on the host; its capabilities there are dropped too.
 *   A user namespace cannot clear a mount's nosuid/nodev/noexec/atime flags (the kernel locks them),
 *   so the read-only remount repeats the mount's own flags.
 *
 * How it degrades: {@link detectSandbox} tries the real thing once per process (`unshare … true`). When
 * it fails (not root and user namespaces disabled, a container without CAP_SYS_ADMIN, not Linux, util-linux
 * missing), mode `auto` runs builds without namespaces (the build result says `sandbox: "none"` and
 * why; the build runs in its own process group, killed as a group), `strict` fails with
 * ERR_BUILD_SANDBOX_UNAVAILABLE, and `off` never tries.
 */
import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
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

const NAMESPACE_ARGS = ["--net", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc"];

/** unshare's arguments: a user namespace first when this process is not root. */
function unshareArgs(): string[] {
  const root = typeof process.getuid !== "function" || process.getuid() === 0;
  return root ? NAMESPACE_ARGS : ["--user", "--map-root-user", ...NAMESPACE_ARGS];
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
  for (const tool of ["unshare", "mount", "setpriv", "env", "sh"]) {
    if (!(await findTool(tool))) return { available: false, reason: `${tool} (util-linux/coreutils) is not installed` };
  }
  // the whole setup, on nothing writable: what a build does, minus the builder
  const root = (await hostMounts()).find((m) => m.point === "/");
  const result = await run("setpriv", ["--pdeathsig", "KILL", "unshare", ...unshareArgs(), "sh", "-c", SETUP, "sh", "0", "1", "/", root?.flags ?? "", "--", "/usr/bin/env", "-i", "true"]);
  if (!result.ok) {
    const line = result.output.split("\n").find((l) => l.trim() !== "") ?? "unshare failed";
    return { available: false, reason: `unshare failed: ${line.trim()}` };
  }
  return { available: true };
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
 * The setup run as PID 1 of the new namespaces. Arguments: N writable dirs, then M pairs (a mount point
 * to make read-only, its flags to keep: `,nosuid,nodev` or empty), then `--`, then the command. Failing
 * to bind a writable dir is fatal; failing to remount one host mount read-only is not (some mounts
 * refuse; they are reported in the log).
 */
const SETUP = [
  "set -e",
  'n=$1; shift; while [ "$n" -gt 0 ]; do mount --bind "$1" "$1"; shift; n=$((n-1)); done',
  'n=$1; shift; while [ "$n" -gt 0 ]; do mount -o "remount,bind,ro$2" "$1" 2>/dev/null || echo "sandbox: could not make $1 read-only" >&2; shift 2; n=$((n-1)); done',
  '[ "$1" = "--" ]; shift',
  "ip link set lo up 2>/dev/null || true",
  'exec setpriv --bounding-set -all --inh-caps -all "$@"',
].join("\n");

/** Decodes a mountinfo path (`\040` for a space, …). */
function unescapeMount(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** Per-mount flags a user namespace may not clear (the kernel locks them): kept when remounting read-only. */
const LOCKED_FLAGS = new Set(["nosuid", "nodev", "noexec", "noatime", "nodiratime", "relatime", "strictatime"]);

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

/**
 * The command that runs `file args` with exactly `env` in `cwd`, inside new namespaces where only
 * `writable` directories (which must exist) can be written.
 */
export async function sandboxedCommand(
  command: { file: string; args: string[]; env: Record<string, string>; cwd: string },
  writable: string[],
): Promise<SandboxCommand> {
  const dirs = [...new Set(writable.map((d) => path.resolve(d)))];
  const readOnly = (await hostMounts()).filter((m) => !within(m.point, "/proc") && !dirs.includes(m.point));
  const envArgs = Object.entries(command.env).map(([k, v]) => `${k}=${v}`);
  return {
    // --pdeathsig: if the daemon dies (even by SIGKILL), unshare is killed, and with it the namespace
    file: "setpriv",
    args: [
      "--pdeathsig", "KILL", "unshare",
      ...unshareArgs(),
      "sh", "-c", SETUP, "sh",
      String(dirs.length), ...dirs,
      String(readOnly.length), ...readOnly.flatMap((m) => [m.point, m.flags]),
      "--",
      "/usr/bin/env", "-i", "-C", command.cwd, ...envArgs, command.file, ...command.args,
    ],
    env: { PATH: SANDBOX_PATH },
    cwd: "/",
  };
}
