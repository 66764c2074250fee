/**
 * The daemon's side of meta packages: `invoke` requests from a native thin shim (docs/build-layer.md,
 * "Meta packages"; the shim is examples/toolchains/meta-rustc/meta-rustc.rs). The shim sends only its
 * argv, cwd and environment; planning (plan/rustc.ts: is the invocation cacheable, its roots, outputs
 * and externs), hashing, lookup and restoring a hit's outputs all happen here, in a warm process,
 * because a process started per rustc invocation must be as cheap as possible. ccache's "direct
 * mode", with derivations:
 *
 * 1. lookup: a primary key = hash of (tool version, normalised args, the environment the tool reads,
 *    the crate root's content, every extern crate's content). Under one key the index holds manifests
 *    recorded from earlier dep-info: (source file → hash) lists and (variable → value) reads. The first
 *    manifest that still matches names the invocation's derivation, whose stored output is answered.
 * 2. store (after a miss, once the tool ran): dep-info gives the sources; the sources (a UnixFS tree)
 *    and unknown externs go into the content store; the invocation becomes a Derivation (src/derivation.ts)
 *    written to the content store; the outputs (dep-info normalised) and stderr are added to the Store
 *    as that derivation's `out`; the manifest is recorded under the key.
 *
 * Every invocation that is answered or stored is recorded as a subderivation of `$PKG_BUILD_ID`.
 * Tables (prefix `meta_`): meta_manifests(key, drv, manifest), meta_outputs(drv, files), meta_artifacts
 * (hash → drv, for extern crates that are outputs of earlier invocations: they become inputDrvs),
 * meta_invocations (what each build's invocations did).
 */
import { spawn } from "node:child_process";
import { constants as fsConstants, promises as fs } from "node:fs";
import path from "node:path";
import type { Database } from "better-sqlite3";
import { CID } from "multiformats/cid";
import { currentSystem, sourceOnlyDerivation, writeDerivation, type Derivation, type DerivationInput } from "../../derivation";
import { PkgError } from "../../errors";
import { checkName } from "../../ids";
import { outputPathName } from "../../store/paths";
import { parseDepInfo } from "./depinfo";
import { hashBytes, hashFile, hashStream, rememberHash } from "./hash";
import { denormalise, normalise, resolveProgram, type PlanOutcome, type ToolModule } from "./plan/core";
import { rustcTool } from "./plan/rustc";
import type {
  InvokeContext,
  InvokeEmit,
  InvokeResult,
  LookupResult,
  StatsResult,
  StoredFile,
  StoreResult,
  ToolPlan,
} from "./types";

export type * from "./types";

export const ERR_META_BAD_REQUEST = "ERR_META_BAD_REQUEST";
export const ERR_META_TOOL_VERSION = "ERR_META_TOOL_VERSION";
export const ERR_META_INPUT_MISSING = "ERR_META_INPUT_MISSING";
export const ERR_META_OUTPUT = "ERR_META_OUTPUT";

/** Bump when the key's recipe changes: old entries then simply stop matching. */
const KEY_VERSION = 1;
/** Tool modules by name: the planner of each meta package's invocations. */
const TOOLS = new Map<string, ToolModule>([["rustc", rustcTool]]);

interface Manifest {
  files: Array<[string, string]>;
  env: Array<[string, string | null]>;
}

const initialised = new WeakSet<Database>();

function initTables(db: Database): void {
  if (initialised.has(db)) return;
  db.exec(`
    CREATE TABLE IF NOT EXISTS meta_manifests (key TEXT NOT NULL, drv TEXT NOT NULL, manifest TEXT NOT NULL, created INTEGER NOT NULL, PRIMARY KEY (key, drv));
    CREATE TABLE IF NOT EXISTS meta_outputs (drv TEXT PRIMARY KEY, files TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS meta_artifacts (hash TEXT PRIMARY KEY, drv TEXT NOT NULL, name TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS meta_invocations (build_id TEXT, drv TEXT, label TEXT NOT NULL, result TEXT NOT NULL, ms INTEGER, at INTEGER NOT NULL);
  `);
  initialised.add(db);
}

const counts = new Map<string, { hit: number; miss: number; stored: number }>();
function count(buildId: string | null, what: "hit" | "miss" | "stored"): void {
  const k = buildId ?? "";
  const c = counts.get(k) ?? { hit: 0, miss: 0, stored: 0 };
  c[what]++;
  counts.set(k, c);
}

function bad(message: string): never {
  throw new PkgError(ERR_META_BAD_REQUEST, `invoke: ${message}`, { hint: "the meta package and the daemon disagree on the protocol; use matching versions" });
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === "string");
}

/** An invocation as the shim sends it: `argv` (the tool, then its arguments), `cwd`, the environment. */
interface Invocation {
  program: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
}

function checkInvocation(request: Record<string, unknown>): Invocation {
  const argv = request.argv;
  if (!isStringArray(argv) || argv.length === 0) bad("argv is not a non-empty list of strings");
  if (typeof request.cwd !== "string" || !path.isAbsolute(request.cwd)) bad("cwd is not an absolute path");
  const env = checkEnv(request.env);
  return { program: resolveProgram(argv[0], env, request.cwd), args: argv.slice(1), cwd: request.cwd, env };
}

/** The tool module's plan of an invocation; a module that throws has not understood it (pass). */
function planOf(tool: ToolModule, inv: Invocation): PlanOutcome {
  try {
    return tool.plan(inv.program, inv.args, inv.cwd, inv.env);
  } catch (error) {
    return { kind: "pass", reason: `arguments not understood: ${(error as Error).message}` };
  }
}

function checkEnv(value: unknown): Record<string, string> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) bad("env is not a map");
  for (const v of Object.values(value as Record<string, unknown>)) if (typeof v !== "string") bad("env has a value that is not a string");
  return value as Record<string, string>;
}

// ---- tool version (cached per program, its stat and the rustup toolchain it resolves to) ----

const versions = new Map<string, Promise<string>>();

async function toolVersion(plan: ToolPlan, env: Record<string, string>): Promise<string> {
  const stat = await fs.stat(plan.program).catch(() => null);
  if (stat === null) throw new PkgError(ERR_META_TOOL_VERSION, `${plan.program} does not exist`, { hint: "check the tool path cargo passes to the wrapper" });
  const cacheKey = JSON.stringify([plan.program, plan.versionArgs, stat.size, stat.mtimeMs, env.RUSTUP_TOOLCHAIN ?? "", env.RUSTUP_HOME ?? ""]);
  let pending = versions.get(cacheKey);
  if (!pending) {
    pending = new Promise<string>((resolve, reject) => {
      const child = spawn(plan.program, plan.versionArgs, { cwd: plan.cwd, env, stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      child.stdout.on("data", (c: Buffer) => (out += c.toString("utf8")));
      child.on("error", (e) => reject(new PkgError(ERR_META_TOOL_VERSION, `${plan.program} ${plan.versionArgs.join(" ")}: ${e.message}`, { hint: "is the tool installed?" })));
      child.on("close", (code) =>
        code === 0 && out.trim() !== ""
          ? resolve(out.trim())
          : reject(new PkgError(ERR_META_TOOL_VERSION, `${plan.program} ${plan.versionArgs.join(" ")} exited with ${code}`, { hint: "is the tool installed?" })),
      );
    });
    versions.set(cacheKey, pending);
    pending.catch(() => versions.delete(cacheKey));
  }
  return pending;
}

// ---- the primary key ----

interface Keyed {
  key: string;
  version: string;
  env: Record<string, string>;
  externs: Array<[string, string, string]>; // name, absolute path, hash
}

async function primaryKey(plan: ToolPlan, env: Record<string, string>): Promise<Keyed> {
  const version = await toolVersion(plan, env);
  const normEnv: Record<string, string> = {};
  for (const name of plan.envNames) if (env[name] !== undefined) normEnv[name] = normalise(env[name], plan.roots);
  const files = await Promise.all(
    plan.keyFiles.map(async (file): Promise<[string, string]> => {
      const hash = await hashFile(file);
      if (hash === null) throw new PkgError(ERR_META_INPUT_MISSING, `${file} cannot be read`, { hint: "the tool will report it" });
      return [normalise(file, plan.roots), hash];
    }),
  );
  const externs = await Promise.all(
    plan.externs.map(async ([name, file]): Promise<[string, string, string]> => {
      const hash = await hashFile(file);
      if (hash === null) throw new PkgError(ERR_META_INPUT_MISSING, `extern ${name} (${file}) cannot be read`, { hint: "the tool will report it" });
      return [name, file, hash];
    }),
  );
  const key = hashBytes(
    JSON.stringify({
      v: KEY_VERSION,
      tool: plan.tool,
      version,
      args: plan.normArgs,
      env: Object.entries(normEnv).sort(),
      files,
      externs: externs.map(([name, , hash]) => [name, hash]),
      stems: plan.outputStems,
    }),
  );
  return { key, version, env: normEnv, externs };
}

async function manifestMatches(manifest: Manifest, plan: ToolPlan, env: Record<string, string>): Promise<boolean> {
  for (const [name, value] of manifest.env) {
    const current = env[name];
    if ((current === undefined ? null : normalise(current, plan.roots)) !== value) return false;
  }
  const hashes = await Promise.all(manifest.files.map(([file]) => hashFile(denormalise(file, plan.roots))));
  return manifest.files.every(([, hash], i) => hashes[i] === hash);
}

// ---- lookup ----

/** Keys computed by lookups, reused by the store that follows a miss (its inputs were hashed already). */
const keyedByKey = new Map<string, Keyed>();
const MAX_KEYED = 10_000;

/** Write a hit's outputs into outDir (each beside its destination, then renamed), remembering their hashes. */
async function restoreOutputs(plan: ToolPlan, files: StoredFile[]): Promise<void> {
  await fs.mkdir(plan.outDir, { recursive: true });
  await Promise.all(
    files.map(async (file) => {
      const destination = path.join(plan.outDir, file.name);
      const temporary = `${destination}.meta-${process.pid}-${Math.random().toString(36).slice(2)}.tmp`;
      try {
        if (file.rewrite) await fs.writeFile(temporary, denormalise(await fs.readFile(file.path, "utf8"), plan.roots));
        else await fs.copyFile(file.path, temporary, fsConstants.COPYFILE_FICLONE);
        await fs.chmod(temporary, file.executable ? 0o755 : 0o644);
        await fs.rename(temporary, destination);
      } catch (error) {
        await fs.rm(temporary, { force: true }).catch(() => undefined);
        throw error;
      }
      if (file.sha256 !== undefined) await rememberHash(destination, file.sha256);
    }),
  );
}

async function lookup(ctx: InvokeContext, buildId: string | null, plan: ToolPlan, env: Record<string, string>, uid: number | null): Promise<LookupResult> {
  const db = ctx.store.db;
  const keyed = await primaryKey(plan, env);
  const { key } = keyed;
  const restoreHere = uid !== null && typeof process.getuid === "function" && process.getuid() === uid;
  // A shim that copies the files itself reads them after this answer: they must be in the store by then.
  if (!restoreHere) await settleStores(key);
  const rows = db.prepare("SELECT drv, manifest FROM meta_manifests WHERE key = ? ORDER BY created DESC").all(key) as Array<{ drv: string; manifest: string }>;
  for (const row of rows) {
    if (!(await manifestMatches(JSON.parse(row.manifest) as Manifest, plan, env))) continue;
    // Stored, or still staged in tmp/ (moved in once the daemon is idle: see {@link deferOutput}).
    const out = ctx.store.queryOutput(row.drv, "out")?.path ?? stagedByDrv.get(row.drv)?.stage ?? null;
    const filesRow = db.prepare("SELECT files FROM meta_outputs WHERE drv = ?").get(row.drv) as { files: string } | undefined;
    if (out === null || filesRow === undefined) continue;
    const files = (JSON.parse(filesRow.files) as Array<Omit<StoredFile, "path">>).map((f) => ({ ...f, path: path.join(out, "files", f.name) }));
    const stderr = await fs.readFile(path.join(out, "stderr"), "utf8").catch(() => "");
    let restored = false;
    if (restoreHere) {
      await restoreOutputs(plan, files);
      restored = true;
    }
    if (buildId !== null) ctx.recordSubderivation(buildId, row.drv);
    count(buildId, "hit");
    db.prepare("INSERT INTO meta_invocations (build_id, drv, label, result, ms, at) VALUES (?, ?, ?, 'hit', NULL, ?)").run(buildId, row.drv, plan.label, Date.now());
    // Replayed verbatim by the shim: cargo's JSON messages name this build's paths.
    const answer: LookupResult = { action: "hit", label: plan.label, key, drv: row.drv, path: out, stderr: denormalise(stderr, plan.roots), restored, outDir: plan.outDir, roots: plan.roots, files: restored ? [] : files };
    return answer;
  }
  if (keyedByKey.size >= MAX_KEYED) keyedByKey.clear();
  keyedByKey.set(key, keyed);
  runningTools.set(key, Date.now());
  count(buildId, "miss");
  return { action: "miss", label: plan.label, key, reason: rows.length === 0 ? "new key" : `${rows.length} manifest(s) under the key, none matches`, args: plan.runArgs };
}

// ---- store ----

const hostDrvs = new Map<string, Promise<CID>>();

/** The tool as an input derivation: a source-only derivation of its version text (host bootstrap). */
function hostToolDrv(ctx: InvokeContext, tool: string, version: string): Promise<CID> {
  const cacheKey = `${tool}\n${version}`;
  let pending = hostDrvs.get(cacheKey);
  if (!pending) {
    pending = (async () => {
      const release = /^release:\s*(\S+)/m.exec(version)?.[1] ?? /(\d+\.\d+\.\d+)/.exec(version)?.[1] ?? "unknown";
      const src = await ctx.content.putTree([{ path: "version", content: `${version}\n` }], { pin: true });
      return (await writeDerivation(ctx.content, sourceOnlyDerivation(sanitiseName(`host-${tool}-${release}`), src))).cid;
    })();
    hostDrvs.set(cacheKey, pending);
    pending.catch(() => hostDrvs.delete(cacheKey));
  }
  return pending;
}

function sanitiseName(name: string): string {
  return name.replace(/[^A-Za-z0-9+\-._?=]/g, "_").replace(/^\./, "_").slice(0, 211);
}

function inputName(name: string): string {
  const candidate = `extern-${name.toLowerCase().replace(/[^a-z0-9_.-]/g, "-")}`;
  return checkName(candidate) === null ? candidate : `extern-${hashBytes(name).slice(0, 12)}`;
}

/** Where a source file goes in the invocation's source tree: `@@PKG_CWD@@/src/lib.rs`, `usr/share/…`. */
function treePath(normalised: string): string {
  return normalised.replace(/^\/+/, "");
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

async function store(
  ctx: InvokeContext,
  buildId: string | null,
  key: string,
  plan: ToolPlan,
  env: Record<string, string>,
  startedMs: number,
  stderr: string,
  ms: number,
  emit: InvokeEmit,
): Promise<StoreResult> {
  const db = ctx.store.db;
  const timings: Record<string, number> = {};
  let mark = Date.now();
  const lap = (name: string): void => {
    const now = Date.now();
    timings[name] = now - mark;
    mark = now;
  };
  // The lookup before the run hashed the inputs already (a store without one hashes them now).
  runningTools.delete(key);
  const keyed = keyedByKey.get(key) ?? (await primaryKey(plan, env));
  keyedByKey.delete(key);
  lap("key");
  if (keyed.key !== key) throw new PkgError(ERR_META_INPUT_MISSING, `${plan.label}: inputs changed while the tool ran`, { hint: "not stored; the next build records it" });
  const outputs = await collectOutputs(plan, startedMs);

  for (const file of outputs) {
    const name = path.basename(file);
    if (path.dirname(file) !== plan.outDir || !plan.outputStems.some((s) => name === s || name.startsWith(`${s}.`))) {
      bad(`output ${file} is not an output of ${plan.label}`);
    }
  }
  if (!outputs.includes(plan.depInfo)) throw new PkgError(ERR_META_OUTPUT, `${plan.label}: no dep-info at ${plan.depInfo}`, { hint: "not stored" });

  const depInfo = parseDepInfo(await fs.readFile(plan.depInfo, "utf8"));
  const outputSet = new Set(outputs);
  const sources: Array<{ abs: string; norm: string; hash: string }> = [];
  for (const file of depInfo.files) {
    const abs = path.resolve(plan.cwd, file);
    if (outputSet.has(abs)) continue;
    const hash = await hashFile(abs);
    if (hash === null) throw new PkgError(ERR_META_INPUT_MISSING, `${plan.label}: source ${abs} (from dep-info) cannot be read`, { hint: "not stored" });
    sources.push({ abs, norm: normalise(abs, plan.roots), hash });
  }
  sources.sort((a, b) => (a.norm < b.norm ? -1 : a.norm > b.norm ? 1 : 0));
  // env-dep values are normalised too (`env!("OUT_DIR")` is an absolute path under the target dir).
  const manifest: Manifest = {
    files: sources.map((s) => [s.norm, s.hash]),
    env: depInfo.env.map(([name, value]) => [name, value === null ? null : normalise(value, plan.roots)]),
  };

  lap("sources");
  // Outputs: copied (dep-info normalised) into a staging directory of the store before answering, so
  // that the shim may exit and cargo go on (or `rm -rf target`); moving them in (Store.addOutput, which
  // also adds them to the content store) finishes after the answer. The copy runs beside the source
  // tree's import and the derivation (both on cargo's critical path: the shim waits for this answer).
  const staging = stageOutputs(ctx, plan, outputs, stderr);
  staging.catch(() => undefined); // a failure is thrown where it is awaited, not as an unhandled rejection meanwhile
  let drv: string;
  let drvName: string;
  try {
    // The derivation: tool + normalised args + env + sources + externs.
    const src = await ctx.content.putTree(
      sources.map((s) => ({ path: treePath(s.norm), source: s.abs })),
      { pin: true },
    );
    lap("srcTree");
    const inputSrcs = new Map<string, CID>([[src.toString(), src]]);
    const inputDrvs: Record<string, DerivationInput> = {};
    inputDrvs.rustc = { drv: await hostToolDrv(ctx, plan.tool, keyed.version), kinds: ["native-input"], output: "out" };
    const artifact = db.prepare("SELECT drv FROM meta_artifacts WHERE hash = ?");
    for (const [name, file, hash] of keyed.externs) {
      const known = artifact.get(hash) as { drv: string } | undefined;
      if (known !== undefined) {
        inputDrvs[inputName(name)] = { drv: CID.parse(known.drv), kinds: ["input"], output: "out" };
      } else {
        const cid = await ctx.content.putBytes(await fs.readFile(file), { pin: true });
        inputSrcs.set(cid.toString(), cid);
      }
    }
    const drvEnv: Record<string, string> = {};
    for (const [name, value] of Object.entries(keyed.env)) {
      if (!ENV_NAME.test(name) || name.startsWith("PKG_") || ["HOME", "PATH", "TMPDIR", "out"].includes(name) || name in inputDrvs) continue;
      drvEnv[name] = value;
    }
    drvName = sanitiseName(`${plan.tool}-${plan.label}-${plan.labelHash || key.slice(0, 16)}`);
    const derivation: Derivation = {
      format: 1,
      name: drvName,
      system: currentSystem(),
      builder: { kind: "input", input: "rustc", path: plan.tool === "rustc" ? "bin/rustc" : `bin/${plan.tool}` },
      args: plan.normArgs,
      env: drvEnv,
      src,
      inputSrcs: [...inputSrcs.values()],
      inputDrvs,
      outputs: { out: { kind: "input-addressed" } },
      package: null,
    };
    drv = (await writeDerivation(ctx.content, derivation)).cid.toString();
  } catch (error) {
    await staging.then((st) => fs.rm(st.stage, { recursive: true, force: true }), () => undefined).catch(() => undefined);
    throw error;
  }
  lap("derivation");

  const staged = await staging;
  const existing = ctx.store.queryOutput(drv, "out")?.path ?? stagedByDrv.get(drv)?.stage ?? null;
  let files = staged.files;
  let artifacts = staged.artifacts;
  let stage: string | null = staged.stage;
  if (existing !== null) {
    // Stored already (another checkout built the same derivation): the copy is not needed.
    await fs.rm(staged.stage, { recursive: true, force: true }).catch(() => undefined);
    stage = null;
    artifacts = [];
    files = (JSON.parse(await fs.readFile(path.join(existing, "meta.json"), "utf8")) as { files: Array<Omit<StoredFile, "path">> }).files;
  }
  lap("stage");

  const now = Date.now();
  db.transaction(() => {
    db.prepare("INSERT OR REPLACE INTO meta_manifests (key, drv, manifest, created) VALUES (?, ?, ?, ?)").run(key, drv, JSON.stringify(manifest), now);
    db.prepare("INSERT OR REPLACE INTO meta_outputs (drv, files) VALUES (?, ?)").run(drv, JSON.stringify(files));
    const insertArtifact = db.prepare("INSERT OR REPLACE INTO meta_artifacts (hash, drv, name) VALUES (?, ?, ?)");
    for (const [hash, name] of artifacts) insertArtifact.run(hash, drv, name);
    db.prepare("INSERT INTO meta_invocations (build_id, drv, label, result, ms, at) VALUES (?, ?, ?, 'stored', ?, ?)").run(buildId, drv, plan.label, ms, now);
  })();
  if (buildId !== null) ctx.recordSubderivation(buildId, drv);
  count(buildId, "stored");
  lap("index");

  const finalPath = existing ?? path.join(ctx.store.layout.paths, outputPathName(drv, "out", drvName));
  if (stage !== null) deferOutput(ctx, key, drv, drvName, stage, ms);
  emit({ event: "log", drv, text: `meta-${plan.tool}: stored ${plan.label} (${ms} ms)` });
  return { drv, path: finalPath, timings };
}

/** Copy a run's outputs (dep-info normalised) and its stderr into a new staging directory of the store. */
async function stageOutputs(
  ctx: InvokeContext,
  plan: ToolPlan,
  outputs: string[],
  stderr: string,
): Promise<{ stage: string; files: Array<Omit<StoredFile, "path">>; artifacts: Array<[string, string]> }> {
  const stage = await ctx.store.makeTempDir("meta");
  try {
    await fs.mkdir(path.join(stage, "files"));
    const files = await Promise.all(
      outputs.map(async (file): Promise<Omit<StoredFile, "path">> => {
        const name = path.basename(file);
        const target = path.join(stage, "files", name);
        const stat = await fs.stat(file);
        const rewrite = file === plan.depInfo;
        const executable = (stat.mode & 0o111) !== 0;
        if (rewrite) {
          await fs.writeFile(target, normalise(await fs.readFile(file, "utf8"), plan.roots), { mode: 0o644 });
          return { name, executable, rewrite };
        }
        await fs.copyFile(file, target, fsConstants.COPYFILE_FICLONE);
        await fs.chmod(target, executable ? 0o755 : 0o644);
        const sha256 = await hashStream(target);
        await rememberHash(file, sha256); // dependents name it as an extern: not read again
        return { name, executable, rewrite, sha256 };
      }),
    );
    const artifacts = files.filter((f) => f.sha256 !== undefined).map((f): [string, string] => [f.sha256!, f.name]);
    await fs.writeFile(path.join(stage, "stderr"), normalise(stderr, plan.roots));
    await fs.writeFile(path.join(stage, "meta.json"), `${JSON.stringify({ tool: plan.tool, label: plan.label, files }, null, 1)}\n`);
    return { stage, files, artifacts };
  } catch (error) {
    await fs.rm(stage, { recursive: true, force: true }).catch(() => undefined);
    throw error;
  }
}

// ---- outputs moved into the store when the daemon is idle ----
//
// Store.addOutput also imports the output into the content store (every block a file): for a cold
// cargo build that is most of the daemon's work, and done at once it competes with rustc for the
// cores. So a stored invocation's output stays staged in the store's tmp/ (complete, and never
// changed again) and is served from there, and it is moved in when the daemon is idle — no `invoke`
// request for IDLE_MS and no tool run outstanding (a lookup missed and its store has not come yet,
// for at most RUNNING_MAX_MS: a failed compile never sends one) — one at a time, or at once by
// settleStores() (`stats` and `settle` phases). A daemon
// that stops first loses only the staged outputs (recovery empties tmp/): their manifests then find
// no output and miss.

const IDLE_MS = 300;
const RUNNING_MAX_MS = 120_000;

/** Keys whose lookup missed and whose tool is running (no store yet), with when the lookup answered. */
const runningTools = new Map<string, number>();

function toolsRunning(): boolean {
  const now = Date.now();
  for (const [key, since] of runningTools) {
    if (now - since > RUNNING_MAX_MS) runningTools.delete(key);
    else return true;
  }
  return false;
}

interface Deferred {
  key: string;
  drv: string;
  stage: string;
  run(): Promise<void>;
  done?: Promise<void>;
}

const deferred: Deferred[] = [];
const stagedByDrv = new Map<string, Deferred>();
let activeRequests = 0;
let lastRequestAt = 0;
let idleTimer: NodeJS.Timeout | null = null;
let draining = false;

function deferOutput(ctx: InvokeContext, key: string, drv: string, drvName: string, stage: string, ms: number): void {
  const task: Deferred = {
    key,
    drv,
    stage,
    run: async () => {
      try {
        await ctx.store.addOutput({ drv, output: "out", drvName, from: stage, buildMs: ms });
      } catch {
        // Not stored after all: forget the manifest (the next build records it again).
        try {
          ctx.store.db.prepare("DELETE FROM meta_manifests WHERE key = ? AND drv = ?").run(key, drv);
        } catch {
          // the store is closed: its recovery drops the staged directory anyway
        }
        await fs.rm(stage, { recursive: true, force: true }).catch(() => undefined);
      }
    },
  };
  deferred.push(task);
  stagedByDrv.set(drv, task);
  scheduleDrain();
}

function start(task: Deferred): Promise<void> {
  if (task.done === undefined) {
    const i = deferred.indexOf(task);
    if (i >= 0) deferred.splice(i, 1);
    task.done = task.run().finally(() => {
      if (stagedByDrv.get(task.drv) === task) stagedByDrv.delete(task.drv);
    });
  }
  return task.done;
}

function scheduleDrain(): void {
  if (idleTimer !== null || deferred.length === 0) return;
  idleTimer = setTimeout(() => {
    idleTimer = null;
    void drain();
  }, IDLE_MS);
  idleTimer.unref();
}

async function drain(): Promise<void> {
  if (draining) return;
  draining = true;
  try {
    while (deferred.length > 0) {
      if (activeRequests > 0 || Date.now() - lastRequestAt < IDLE_MS || toolsRunning()) break;
      await start(deferred[0]);
    }
  } finally {
    draining = false;
    scheduleDrain();
  }
}

/** Move staged outputs into the store now (all of them, or those of one key) and wait for it. */
export async function settleStores(key?: string): Promise<number> {
  const tasks = [...stagedByDrv.values()].filter((t) => key === undefined || t.key === key);
  await Promise.all(tasks.map(start));
  return tasks.length;
}

/**
 * The daemon's `invoke` op. `request` is the parsed NDJSON request (`id` and `op` included); the
 * result is the `result` of the answer. Errors are PkgErrors (ERR_META_*); the shim then runs the tool
 * directly, so an error here never fails a build.
 */
export async function handleInvoke(ctx: InvokeContext, request: Record<string, unknown>, emit: InvokeEmit): Promise<InvokeResult> {
  activeRequests++;
  lastRequestAt = Date.now();
  try {
    return await dispatch(ctx, request, emit);
  } finally {
    activeRequests--;
    lastRequestAt = Date.now();
    scheduleDrain();
  }
}

async function dispatch(ctx: InvokeContext, request: Record<string, unknown>, emit: InvokeEmit): Promise<InvokeResult> {
  initTables(ctx.store.db);
  const tool = typeof request.tool === "string" ? TOOLS.get(request.tool) : undefined;
  if (tool === undefined) bad(`unknown tool ${JSON.stringify(request.tool)} (known: ${[...TOOLS.keys()].join(", ")})`);
  const buildId = typeof request.buildId === "string" && request.buildId !== "" ? request.buildId : null;
  switch (request.phase) {
    case "lookup": {
      const inv = checkInvocation(request);
      const outcome = planOf(tool, inv);
      if (outcome.kind === "pass") return { action: "pass", reason: outcome.reason };
      return lookup(ctx, buildId, outcome.plan, inv.env, typeof request.uid === "number" ? request.uid : null);
    }
    case "store": {
      const inv = checkInvocation(request);
      const { key, status, started, stderr, ms } = request;
      if (typeof key !== "string" || typeof status !== "number" || typeof started !== "number" || typeof stderr !== "string") bad("store needs key, status, started, stderr");
      const outcome = planOf(tool, inv);
      if (outcome.kind === "pass") bad(`store of an invocation that is not cacheable (${outcome.reason})`);
      if (status !== 0) return failed(ctx, buildId, key, outcome.plan, typeof ms === "number" ? ms : 0);
      return store(ctx, buildId, key, outcome.plan, inv.env, started, stderr, typeof ms === "number" ? ms : 0, emit);
    }
    case "settle":
      return { settled: await settleStores() };
    case "stats": {
      await settleStores();
      const result: StatsResult = { builds: Object.fromEntries(counts) };
      return result;
    }
    default:
      bad(`unknown phase ${JSON.stringify(request.phase)}`);
  }
}

/** A miss whose tool failed: nothing to store, but no tool run is outstanding any more (see toolsRunning). */
function failed(ctx: InvokeContext, buildId: string | null, key: string, plan: ToolPlan, ms: number): StoreResult {
  runningTools.delete(key);
  keyedByKey.delete(key);
  ctx.store.db.prepare("INSERT INTO meta_invocations (build_id, drv, label, result, ms, at) VALUES (?, NULL, ?, 'failed', ?, ?)").run(buildId, plan.label, ms, Date.now());
  return { drv: null, path: null, timings: {} };
}

/** The files of outDir that the tool run wrote (by stem, and no older than the run, with slack for coarse mtimes). */
async function collectOutputs(plan: ToolPlan, startedMs: number): Promise<string[]> {
  const names = await fs.readdir(plan.outDir).catch(() => [] as string[]);
  const found: string[] = [];
  await Promise.all(
    names.map(async (name) => {
      if (!plan.outputStems.some((stem) => name === stem || name.startsWith(`${stem}.`))) return;
      const full = path.join(plan.outDir, name);
      const stat = await fs.stat(full).catch(() => null);
      if (stat === null || !stat.isFile() || stat.mtimeMs < startedMs - 2000) return;
      found.push(full);
    }),
  );
  return found.sort();
}
