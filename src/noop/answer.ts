/**
 * The store daemon's answer to `noop-build` (docs/build-layer.md, "No-op builds"): a plain no-op
 * `pkg build` answered for a thin client from the fingerprint cache (./cache.ts), without the CLI.
 *
 * Why a fast path: the no-op build is benchmarked against a no-op `cargo build` (goal: at most 2x).
 * Node itself starts in ~0.06 s here, about 1.5x cargo's whole no-op, and oclif with the command
 * tree costs ~0.12 s more. So a plain `pkg build [-C DIR] [--name N] [--json] [-q]` is first sent to
 * the store daemon (warm: its checks cost a few ms) by a thin client: the native one of bin/pkg
 * (native/pkg-noop.c, no node at all) or, run as `node bin/pkg.js`, src/noop/client.ts before
 * oclif loads. When the daemon declines, or cannot be reached, the full command runs as before.
 *
 * Loaded by the daemon: node built-ins and light project modules only (no TOML, no IPFS, no oclif).
 */
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { format } from "node:util";
import type { RealiseAnswer } from "../daemon/protocol";
import { defaultStoreDir } from "../files/dirs";
import { cacheSlot, cachedRecord, cachedResult, lookupCache, readBuildFile, sameBuildFile } from "./cache";
import { isNoopEnvName } from "./env";

/** The flags the fast path understands, as cli/pkg/build.ts and cli/base.ts define them. */
interface NoopArgs {
  dir: string;
  name: string;
  json: boolean;
  quiet: boolean;
}

/**
 * `build`'s argv (after the command name) if it holds only flags the fast path handles, each at most
 * once, with values that cannot be mistaken for flags; null for anything else (arguments, `--`,
 * other flags, repeated ones), which oclif then parses as it always did.
 */
export function parseNoopArgs(argv: readonly string[]): NoopArgs | null {
  const seen = new Set<string>();
  const out: NoopArgs = { dir: ".", name: "default", json: false, quiet: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const key = flag === "-C" ? "--dir" : flag === "-q" ? "--quiet" : flag;
    if (seen.has(key)) return null;
    seen.add(key);
    if (key === "--dir" || key === "--name") {
      const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined || value === "" || value.startsWith("-")) return null;
      if (key === "--dir") out.dir = value;
      else out.name = value;
    } else if (eq < 0 && key === "--json") out.json = true;
    else if (eq < 0 && key === "--quiet") out.quiet = true;
    else return null;
  }
  return out;
}

/**
 * Why oclif could print something else than the command's result here, or null: its debug output,
 * JSON forced by the environment, user plugins (which may add hooks), a theme colouring the JSON.
 * These mirror @oclif/core's Config (scopedEnvVar for the `pkg` bin, dir() with dirname chainpkg).
 * `env` is the client's, with its directories absolute (see {@link clientEnv}).
 */
function oclifDifference(args: NoopArgs, env: NodeJS.ProcessEnv): string | null {
  if (env.DEBUG || env.PKG_DEBUG || env.CLI_FLAGS_DEBUG) return "debug output";
  if (env.PKG_CONTENT_TYPE) return "PKG_CONTENT_TYPE";
  const home = env.HOME || homedir();
  const dataDir = env.PKG_DATA_DIR || path.join(env.XDG_DATA_HOME || path.join(home, ".local/share"), "chainpkg");
  if (existsSync(path.join(dataDir, "package.json"))) return "oclif user plugins";
  if (args.json && !(env.PKG_DISABLE_THEME === "1" || env.PKG_DISABLE_THEME === "true")) {
    const configDir = env.PKG_CONFIG_DIR || path.join(env.XDG_CONFIG_HOME || path.join(home, ".config"), "chainpkg");
    if (existsSync(path.join(configDir, "theme.json"))) return "oclif theme";
  }
  return null;
}

/** The client's environment with its relative directories made absolute against its working directory (the daemon's differs). */
function clientEnv(env: Record<string, string>, cwd: string): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(env)) {
    if (!isNoopEnvName(name) || typeof value !== "string") continue;
    out[name] = value !== "" && /(_DIR|_HOME)$/.test(name) && !path.isAbsolute(value) ? path.resolve(cwd, value) : value;
  }
  return out;
}

/** A `noop-build` request: `pkg build`'s argv after `build`, the client's working directory and environment (only {@link isNoopEnvName} variables). */
export interface NoopRequest {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
}

/** The answer: what to print on stdout (the whole no-op), or why the full command must run. */
export type NoopAnswer = { answered: true; stdout: string } | { answered: false; why: string };

/** What {@link answerNoopBuild} needs of the daemon. */
export interface NoopDaemon {
  /** The store root the daemon serves. */
  root: string;
  /** The outputs the index has for a derivation, null for none. */
  queryOutputs(drv: string): Record<string, string> | null;
  /** The daemon's `realise` answer for a derivation. */
  realise(drv: string): Promise<RealiseAnswer>;
}

/**
 * The no-op `pkg build`, answered by the daemon for a thin client (bin/pkg.js before oclif loads, or
 * the native client of bin/pkg: native/pkg-noop.c). It answers only when it is sure the full command
 * would do nothing but print: the cache entry's fingerprint still matches, pkg.build.toml is the one
 * last written, the outputs are valid in the store and realise answers them without building, with
 * the same record. Anything else (no cache, a changed file, another flag, an environment that changes
 * what oclif prints, another store, any error) declines, and the full command runs as before.
 * Nothing is written either way.
 */
export async function answerNoopBuild(request: NoopRequest, daemon: NoopDaemon): Promise<NoopAnswer> {
  const decline = (why: string): NoopAnswer => ({ answered: false, why });
  if (!Array.isArray(request.argv) || !request.argv.every((a) => typeof a === "string")) return decline("bad request");
  if (typeof request.cwd !== "string" || !path.isAbsolute(request.cwd)) return decline("bad request");
  if (typeof request.env !== "object" || request.env === null) return decline("bad request");
  const args = parseNoopArgs(request.argv);
  if (args === null) return decline("arguments");
  const env = clientEnv(request.env, request.cwd);
  const different = oclifDifference(args, env);
  if (different !== null) return decline(different);

  // As cli/pkg/build.ts → buildDirectory and connectStore resolve them (--system defaults to $PKG_SYSTEM when set).
  const storeDir = defaultStoreDir(env);
  if (path.resolve(storeDir) !== path.resolve(daemon.root)) return decline("another store");
  const system = env.PKG_SYSTEM || undefined;
  const dir = path.resolve(request.cwd, args.dir);
  const slot = cacheSlot(storeDir, dir, args.name, system);
  const found = lookupCache(slot, dir, args.name);
  if ("miss" in found) return decline(found.miss);
  const { entry } = found;
  const buildFileBytes = readBuildFile(path.join(dir, "pkg.build.toml"));
  if (!sameBuildFile(entry, buildFileBytes)) return decline("pkg.build.toml changed");

  // A collected (or deleted) output would be built again: that is no no-op, and the full path shows it.
  const valid = daemon.queryOutputs(entry.drv);
  const outputs = Object.entries(entry.outputs);
  if (valid === null || outputs.length === 0 || !outputs.every(([name, p]) => valid[name] === p && existsSync(p))) return decline("output gone");
  try {
    const answer = await daemon.realise(entry.drv);
    // Collected between the check and realise (gc runs in this process too): built again, reported by the full path.
    if (answer.built) return decline("output gone");
    if (!cachedRecord(entry, answer, buildFileBytes).unchanged) return decline("build record changed");
    if (typeof answer.outputs.out !== "string") return decline("no out output");
    // What oclif prints: this.log(path) without --json, logJson(result) (JSON.stringify(_, null, 2), no theme) with it.
    // The build file's path as the full command names it: relative to -C as given.
    const buildFile = path.join(args.dir, "pkg.build.toml");
    const text = args.json ? JSON.stringify(cachedResult(args.name, entry, answer, buildFile, false), null, 2) : answer.outputs.out;
    return { answered: true, stdout: `${format(text)}\n` };
  } catch (error) {
    return decline(`error: ${(error as Error).message}`);
  }
}
