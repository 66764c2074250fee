/**
 * runBuild: runs one derivation's builder, as docs/build-layer.md ("Running a builder") says.
 *
 * ```
 * buildDir/
 *   src/    a writable copy of the derivation's src (the build's working directory)
 *   home/   $HOME
 *   tmp/    $TMPDIR
 * ```
 *
 * The environment is exactly (later lines win over earlier ones):
 * 1. `LANG=C.UTF-8`, `TZ=UTC`, `SOURCE_DATE_EPOCH=1`, `NIX_BUILD_CORES`;
 * 2. the derivation's `env`;
 * 3. one variable per input, named like the input, and for names that are not shell identifiers an
 *    alias with `-` and `.` replaced by `_` (`meta-rustc` and `meta_rustc`);
 * 4. one variable per output (`out`, …);
 * 5. `HOME`, `TMPDIR`, `PATH` (inputs' `bin/` in input-name order, then the base), `PKG_INPUTS`
 *    (`name=path` lines, sorted), `PKG_CLOSURE` (store paths, sorted), `PKG_BUILD_CORES`,
 *    `PKG_STORE_SOCKET`, `PKG_BUILD_ID`, `PKG_SYSTEM`.
 *
 * `args` elements that are exactly `$name` / `${name}` of an output or an input, or start with `$name/`
 * (`${name}/`), are replaced by the path; nothing else is expanded and no shell is involved.
 *
 * Errors (PkgError): ERR_BUILD_FAILED (non-zero exit; details.log holds the last lines),
 * ERR_BUILD_NO_OUTPUT (exit 0 but an output is missing), ERR_BUILD_TIMEOUT, ERR_BUILD_ABORTED,
 * ERR_BUILD_NO_BUILDER (a source-only derivation has nothing to run), ERR_BUILD_BUILDER_NOT_FOUND,
 * ERR_BUILD_INPUT_MISSING (the builder or an `args` reference names an input the request lacks),
 * ERR_BUILD_ENV_CONFLICT (an input and an output share a name), ERR_BUILD_DIR_NOT_EMPTY,
 * ERR_BUILD_SANDBOX_UNAVAILABLE (strict mode).
 */
import { spawn } from "node:child_process";
import { promises as fs } from "node:fs";
import path from "node:path";
import { PkgError } from "../errors";
import { chmodNoFollow, lexists } from "../files/nofollow";
import { ensureBase } from "./base";
import { trustedHostPaths } from "./host-paths";
import { buildUser, chooseSandbox, sandboxedCommand } from "./sandbox";
import type { BuildRequest, BuildResult, SandboxKind } from "./types";

export { ERR_BUILD_SANDBOX_UNAVAILABLE, type SandboxMode, type SandboxKind } from "./sandbox";

export const ERR_BUILD_FAILED = "ERR_BUILD_FAILED";
export const ERR_BUILD_NO_OUTPUT = "ERR_BUILD_NO_OUTPUT";
export const ERR_BUILD_TIMEOUT = "ERR_BUILD_TIMEOUT";
export const ERR_BUILD_ABORTED = "ERR_BUILD_ABORTED";
export const ERR_BUILD_NO_BUILDER = "ERR_BUILD_NO_BUILDER";
export const ERR_BUILD_BUILDER_NOT_FOUND = "ERR_BUILD_BUILDER_NOT_FOUND";
export const ERR_BUILD_INPUT_MISSING = "ERR_BUILD_INPUT_MISSING";
export const ERR_BUILD_ENV_CONFLICT = "ERR_BUILD_ENV_CONFLICT";
export const ERR_BUILD_DIR_NOT_EMPTY = "ERR_BUILD_DIR_NOT_EMPTY";

/** How many of the last log lines an ERR_BUILD_FAILED carries in `details.log`. */
export const FAILURE_LOG_LINES = 20;
/** Longer log lines are passed on in pieces of this many characters. */
const MAX_LINE = 65_536;

export type { BuildInput, BuildRequest, BuildResult } from "./types";

const SHELL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `meta-rustc` → `meta_rustc`; null when the name is a shell identifier already. */
export function envAlias(name: string): string | null {
  if (SHELL_NAME.test(name)) return null;
  const alias = name.replace(/[-.]/g, "_");
  return SHELL_NAME.test(alias) ? alias : null;
}

/**
 * Expands one `args` element: exactly `$name` / `${name}`, or `$name/…` / `${name}/…`, where `name` is
 * in `vars`. Anything else is returned unchanged.
 */
export function expandArg(arg: string, vars: Record<string, string>): string {
  const match = /^\$(?:\{([^}]+)\}|([A-Za-z0-9_.+-]+?))(\/.*)?$/.exec(arg);
  if (!match) return arg;
  const name = (match[1] ?? match[2])!;
  const rest = match[3] ?? "";
  const value = vars[name];
  if (value === undefined) return arg;
  return value + rest;
}

function sortedKeys(record: Record<string, unknown>): string[] {
  return Object.keys(record).sort();
}

/** The build's environment (see the top of this file). Exported for tests and for `pkg build --dry-run`. */
export function buildEnvironment(request: BuildRequest, dirs: { home: string; tmp: string; base: string }): Record<string, string> {
  const env: Record<string, string> = {
    LANG: "C.UTF-8",
    TZ: "UTC",
    SOURCE_DATE_EPOCH: "1",
    NIX_BUILD_CORES: String(request.cores),
  };
  Object.assign(env, request.drv.env);
  for (const name of sortedKeys(request.inputs)) {
    if (Object.prototype.hasOwnProperty.call(request.outputs, name)) {
      throw new PkgError(ERR_BUILD_ENV_CONFLICT, `build of ${request.drv.name}: input ${name} has the name of an output`, {
        hint: "rename the output or the input: both become $" + name,
        details: { drv: request.drvCid, name },
      });
    }
    env[name] = request.inputs[name]!.path;
    const alias = envAlias(name);
    if (alias !== null && !Object.prototype.hasOwnProperty.call(request.inputs, alias)) env[alias] = request.inputs[name]!.path;
  }
  for (const name of sortedKeys(request.outputs)) env[name] = request.outputs[name]!;
  env.HOME = dirs.home;
  env.TMPDIR = dirs.tmp;
  env.PATH = [...sortedKeys(request.inputs).map((name) => path.join(request.inputs[name]!.path, "bin")), dirs.base].join(":");
  env.PKG_INPUTS = sortedKeys(request.inputs).map((name) => `${name}=${request.inputs[name]!.path}`).join("\n");
  env.PKG_CLOSURE = [...new Set(request.closure)].sort().join("\n");
  env.PKG_BUILD_CORES = String(request.cores);
  if (request.storeSocket !== undefined && request.storeSocket !== "") env.PKG_STORE_SOCKET = request.storeSocket;
  env.PKG_BUILD_ID = request.buildId;
  env.PKG_SYSTEM = request.drv.system;
  return env;
}

async function isDir(file: string): Promise<boolean> {
  try {
    return (await fs.stat(file)).isDirectory();
  } catch {
    return false;
  }
}

/** Copies a store tree into the build directory, owner-writable (store paths are read-only). Symlinks are copied as
 * symlinks and never followed (a published tree's links may point anywhere on the host). */
async function copyWritable(from: string, to: string): Promise<void> {
  await fs.cp(from, to, { recursive: true, verbatimSymlinks: true, preserveTimestamps: false });
  const fix = async (p: string): Promise<void> => {
    const st = await fs.lstat(p);
    if (st.isSymbolicLink()) return;
    await chmodNoFollow(p, (st.mode & 0o7777) | 0o200 | (st.isDirectory() ? 0o700 : 0));
    if (st.isDirectory()) for (const name of await fs.readdir(p)) await fix(path.join(p, name));
  };
  await fix(to);
}

/** Gives a tree the daemon made (nothing else writes it yet) to the build user; lchown never follows a link. */
async function chownTree(p: string, uid: number, gid: number): Promise<void> {
  await fs.lchown(p, uid, gid);
  const st = await fs.lstat(p);
  if (st.isDirectory()) for (const name of await fs.readdir(p)) await chownTree(path.join(p, name), uid, gid);
}

function noBuilder(request: BuildRequest): PkgError {
  return new PkgError(ERR_BUILD_NO_BUILDER, `build of ${request.drv.name}: the derivation has no builder (its output is its source)`, {
    hint: "realise source-only derivations without running a build",
    details: { drv: request.drvCid },
  });
}

function inputMissing(request: BuildRequest, name: string, where: string): PkgError {
  return new PkgError(ERR_BUILD_INPUT_MISSING, `build of ${request.drv.name}: ${where} names input ${name}, which the build was not given`, {
    hint: "realise the derivation's inputs first and pass every one of them",
    details: { drv: request.drvCid, input: name },
  });
}

/** Runs the derivation's builder; resolves when every output exists. */
export async function runBuild(request: BuildRequest): Promise<BuildResult> {
  const started = Date.now();
  const { drv } = request;
  if (request.signal?.aborted) {
    throw new PkgError(ERR_BUILD_ABORTED, `build of ${drv.name} (${request.drvCid}) was stopped before it started`, {
      details: { drv: request.drvCid },
      cause: request.signal.reason,
    });
  }
  if (drv.builder.kind === "none") throw noBuilder(request);

  const buildDir = path.resolve(request.buildDir);
  await fs.mkdir(buildDir, { recursive: true });
  if ((await fs.readdir(buildDir)).length > 0) {
    throw new PkgError(ERR_BUILD_DIR_NOT_EMPTY, `build of ${drv.name}: the build directory ${buildDir} is not empty`, {
      hint: "give every build a fresh directory",
      details: { drv: request.drvCid, buildDir },
    });
  }
  const srcDir = path.join(buildDir, "src");
  const home = path.join(buildDir, "home");
  const tmp = path.join(buildDir, "tmp");
  if (request.src !== null) {
    if (await isDir(request.src)) await copyWritable(request.src, srcDir);
    else {
      // a single-file source: the working directory holds it under its own name
      await fs.mkdir(srcDir);
      await copyWritable(request.src, path.join(srcDir, path.basename(request.src)));
    }
  } else await fs.mkdir(srcDir);
  await fs.mkdir(home);
  await fs.mkdir(tmp);

  // the builder
  let builder: string;
  switch (drv.builder.kind) {
    case "input": {
      const input = request.inputs[drv.builder.input];
      if (!input) throw inputMissing(request, drv.builder.input, "the builder");
      builder = drv.builder.path === "" ? input.path : path.join(input.path, drv.builder.path);
      break;
    }
    case "source": {
      builder = path.join(srcDir, drv.builder.path);
      if (!path.resolve(builder).startsWith(srcDir + path.sep)) {
        throw new PkgError(ERR_BUILD_BUILDER_NOT_FOUND, `build of ${drv.name}: builder ./${drv.builder.path} is outside the source`, {
          details: { drv: request.drvCid, builder: drv.builder.path },
        });
      }
      // The script must be a file of the source itself: a symlink (to a host program, or anywhere) is refused,
      // and the +x goes through a descriptor, never through a link to the host.
      const st = await fs.lstat(builder).catch(() => null);
      const real = st === null ? null : await fs.realpath(builder).catch(() => null);
      if (st !== null && real !== path.join(await fs.realpath(srcDir), drv.builder.path)) {
        throw new PkgError(ERR_BUILD_BUILDER_NOT_FOUND, `build of ${drv.name}: builder ./${drv.builder.path} is (or is under) a symbolic link`, {
          hint: "ship the build script itself in the package's src, not a link to it",
          details: { drv: request.drvCid, builder: drv.builder.path },
        });
      }
      if (st?.isFile()) await chmodNoFollow(builder, (st.mode & 0o7777) | 0o111);
      break;
    }
  }
  try {
    const st = await fs.stat(builder);
    if (!st.isFile()) throw new Error("not a file");
  } catch {
    throw new PkgError(ERR_BUILD_BUILDER_NOT_FOUND, `build of ${drv.name}: builder ${builder} does not exist`, {
      hint: drv.builder.kind === "source" ? "ship the build script in the package's src" : "check the builder's path inside its input",
      details: { drv: request.drvCid, builder },
    });
  }

  const base = await ensureBase(request.baseDir);
  const env = buildEnvironment(request, { home, tmp, base: base.dir });

  // args: only `$name`, `${name}`, `$name/…` of outputs and inputs
  const vars: Record<string, string> = {};
  for (const [name, input] of Object.entries(request.inputs)) vars[name] = input.path;
  Object.assign(vars, request.outputs);
  const args = drv.args.map((arg) => expandArg(arg, vars));

  // outputs: absent, their parents present (and writable in the sandbox)
  const outputParents = new Set<string>();
  for (const out of Object.values(request.outputs)) {
    const resolved = path.resolve(out);
    await fs.rm(resolved, { recursive: true, force: true });
    await fs.mkdir(path.dirname(resolved), { recursive: true });
    outputParents.add(path.dirname(resolved));
  }

  const choice = await chooseSandbox(request.sandbox ?? "auto");
  if (choice.kind === "none") {
    await spawnBuild(request, { file: builder, args, env, cwd: srcDir }, builder, choice.kind);
  } else {
    // The build's root is mounted on an empty directory beside the build directory, gone when the build is.
    const rootDir = `${buildDir}.root`;
    await fs.mkdir(rootDir);
    try {
      const user = buildUser();
      if (user !== null) for (const dir of [buildDir, ...outputParents]) await chownTree(dir, user.uid, user.gid);
      const readOnly = [
        ...Object.values(request.inputs).map((input) => input.path),
        ...request.closure,
        base.dir,
        ...(await trustedHostPaths()),
        ...(request.storeSocket ? [request.storeSocket] : []),
        ...(request.shared ?? []),
      ];
      const command = await sandboxedCommand({ file: builder, args, env, cwd: srcDir }, { rootDir, readOnly, writable: [buildDir, ...outputParents] });
      await spawnBuild(request, command, builder, choice.kind);
    } finally {
      await fs.rmdir(rootDir).catch(() => {});
    }
  }

  for (const [name, out] of Object.entries(request.outputs)) {
    if (!(await lexists(out))) {
      throw new PkgError(ERR_BUILD_NO_OUTPUT, `build of ${drv.name} succeeded but did not create output ${name} (${out})`, {
        hint: `the builder must create $${name}`,
        details: { drv: request.drvCid, output: name, path: out },
      });
    }
  }
  return {
    outputs: { ...request.outputs },
    sandbox: choice.kind,
    ...(choice.kind === "none" ? { sandboxReason: choice.reason } : {}),
    durationMs: Date.now() - started,
    builder,
    args,
  };
}

function spawnBuild(
  request: BuildRequest,
  command: { file: string; args: string[]; env: Record<string, string>; cwd: string },
  builder: string,
  sandbox: SandboxKind,
): Promise<void> {
  const { drv } = request;
  return new Promise<void>((resolve, reject) => {
    const tail: string[] = [];
    let partial = "";
    const emit = (line: string): void => {
      tail.push(line);
      if (tail.length > FAILURE_LOG_LINES) tail.shift();
      try {
        request.log(line);
      } catch {
        // a failing log sink must not break the build
      }
    };
    const onData = (chunk: Buffer): void => {
      partial += chunk.toString("utf8");
      let nl: number;
      while ((nl = partial.indexOf("\n")) >= 0) {
        emit(partial.slice(0, nl));
        partial = partial.slice(nl + 1);
      }
      // output without newlines (a progress bar, binary junk) is cut into pieces, never hoarded
      while (partial.length > MAX_LINE) {
        emit(partial.slice(0, MAX_LINE));
        partial = partial.slice(MAX_LINE);
      }
    };

    let child;
    try {
      child = spawn(command.file, command.args, {
        cwd: command.cwd,
        env: command.env,
        stdio: ["ignore", "pipe", "pipe"],
        detached: true, // its own process group: killed as a group
      });
    } catch (error) {
      reject(error);
      return;
    }
    let stopped: "timeout" | "abort" | null = null;
    const kill = (): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        try {
          child.kill("SIGKILL");
        } catch {
          // gone already
        }
      }
    };
    const onAbort = (): void => {
      stopped ??= "abort";
      kill();
    };
    const timer =
      request.timeoutMs !== undefined
        ? setTimeout(() => {
            stopped ??= "timeout";
            kill();
          }, request.timeoutMs)
        : undefined;
    request.signal?.addEventListener("abort", onAbort, { once: true });
    if (request.signal?.aborted) onAbort();

    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    let spawnError: Error | undefined;
    child.on("error", (error) => {
      spawnError = error;
    });
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      request.signal?.removeEventListener("abort", onAbort);
      if (partial !== "") emit(partial);
      // without a PID namespace the group may still hold processes (the builder's background jobs)
      if (sandbox === "none") kill();
      const details = { drv: request.drvCid, name: drv.name, builder, log: [...tail] };
      if (stopped === "timeout") {
        reject(
          new PkgError(ERR_BUILD_TIMEOUT, `build of ${drv.name} (${request.drvCid}) timed out after ${request.timeoutMs} ms`, {
            hint: "raise the build timeout, or look at the log for where it hangs",
            details: { ...details, timeoutMs: request.timeoutMs },
          }),
        );
      } else if (stopped === "abort") {
        reject(
          new PkgError(ERR_BUILD_ABORTED, `build of ${drv.name} (${request.drvCid}) was stopped`, {
            details,
            cause: request.signal?.reason,
          }),
        );
      } else if (spawnError) {
        reject(
          new PkgError(ERR_BUILD_FAILED, `build of ${drv.name} (${request.drvCid}) could not start: ${spawnError.message}`, {
            hint: "check that the builder is an executable for this system",
            details,
            cause: spawnError,
          }),
        );
      } else if (code !== 0) {
        const status = code === null ? `signal ${signal}` : `status ${code}`;
        reject(
          new PkgError(ERR_BUILD_FAILED, `build of ${drv.name} (${request.drvCid}) failed with exit ${status}`, {
            hint: "see the last lines of the build log (details.log)",
            details: { ...details, exitCode: code, signal },
          }),
        );
      } else resolve();
    });
  });
}
