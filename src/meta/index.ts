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
 * 2. store (after a miss, once the tool ran): dep-info gives the sources; outputs (dep-info
 *    normalised) and sources are copied into staging directories and the answer sent. When the daemon
 *    is idle (or somebody needs it sooner) the invocation is settled: the sources (a UnixFS tree) and
 *    unknown externs go into the content store, the invocation becomes a Derivation (src/derivation.ts)
 *    written to the content store, the staged outputs and stderr are added to the Store as that
 *    derivation's `out`, and the manifest is recorded under the key.
 *
 * Every invocation that is answered or stored is recorded as a subderivation of `$PKG_BUILD_ID`.
 * Tables (prefix `meta_`): meta_manifests(key, drv, manifest), meta_outputs(drv, files), meta_artifacts
 * (hash → drv, for extern crates that are outputs of earlier invocations: they become inputDrvs),
 * meta_invocations (what each build's invocations did).
 */
import { spawn } from "node:child_process";
import { constants as fsConstants, promises as fs } from "node:fs";
import path from "node:path";
import { CID } from "multiformats/cid";
import { currentSystem, sourceOnlyDerivation, writeDerivation, type Derivation, type DerivationInput } from "../derivation";
import { PkgError } from "../errors";
import { checkName } from "../ids";
import { isConfined, planOutside, type InvokeConfinement } from "./confine";
import { parseDepInfo } from "./depinfo";
import { createHashCache, hashBytes, hashStream } from "./hash";
import { denormalise, normalise, resolveProgram, type PlanOutcome, type ToolModule } from "./plan/core";
import { ccTool } from "./plan/cc";
import { rustcTool } from "./plan/rustc";
import type { ContentStore } from "../content/types";
import type { MetaRecords } from "../store/meta-records";
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
const TOOLS: ReadonlyMap<string, ToolModule> = new Map([
  ["rustc", rustcTool],
  ["cc", ccTool],
]);

interface Manifest {
  files: Array<[string, string]>;
  env: Array<[string, string | null]>;
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

// ---- the primary key ----

interface Keyed {
  key: string;
  version: string;
  env: Record<string, string>;
  externs: Array<[string, string, string]>; // name, absolute path, hash
}
const MAX_KEYED = 10_000;

/** A hit's files, linked (copied where a link cannot be made) into a fresh directory under `hitsDir`. */
async function shareHit(hitsDir: string, files: StoredFile[]): Promise<StoredFile[]> {
  const dir = await fs.mkdtemp(path.join(hitsDir, "h-"));
  await fs.chmod(dir, 0o755); // mkdtemp's 0700: the build user reads it
  return Promise.all(
    files.map(async (file) => {
      const shared = path.join(dir, file.name);
      await fs.link(file.path, shared).catch(() => fs.copyFile(file.path, shared));
      return { ...file, path: shared };
    }),
  );
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

interface Staged {
  stage: string;
  files: Array<Omit<StoredFile, "path">>;
  artifacts: Array<[string, string]>;
}

interface StagedSources {
  stage: string;
  /** Sorted by normalised path; `copy` is the staged copy the hash is of. */
  files: Array<{ norm: string; hash: string; copy: string }>;
  /** Why the invocation must not be stored (a source matched the plan's refuseSources), else null. */
  refused: string | null;
}

// ---- invocations settled when the daemon is idle ----
//
// Turning a stored invocation into a derivation means importing its sources into the content store
// (every block a file) and writing the derivation; moving its output in (Store.addOutput) imports
// the output too. For a cold cargo build that is most of the daemon's work, and done at once it
// competes with rustc for the cores (it cost the cold build ~15 % on two cores). So `store` answers
// once the outputs and sources are copied into staging directories (complete, and never changed
// again), and the rest is settled when the daemon is idle — no `invoke` request for IDLE_MS and no
// tool run outstanding (a lookup missed and its store has not come yet, for at most RUNNING_MAX_MS:
// a failed compile never sends one) — or at once when somebody needs it: a lookup of the same key,
// a `pkg build` collecting its subderivations, the `settle` and `stats` phases.
//
// Invocations settle one at a time in the order they were stored, so a crate's dependencies (stored
// before it: cargo compiles them first) have their derivations, and their artifacts' rows, before
// it is turned into one; settling one settles every one before it. A daemon that stops first loses
// only what was staged (recovery empties tmp/): those invocations miss again next time.

const IDLE_MS = 300;
const RUNNING_MAX_MS = 120_000;

interface StoredInvocation {
  buildId: string | null;
  key: string;
  plan: ToolPlan;
  keyed: Keyed;
  manifest: Manifest;
  output: Staged;
  sources: StagedSources;
  ms: number;
}

interface Deferred {
  key: string;
  run(): Promise<string | null>;
  /** The derivation, or null when it could not be stored after all. */
  done?: Promise<string | null>;
}

/** The files of outDir that the tool run wrote (by stem, and no older than the run, with slack for coarse mtimes). */
async function collectOutputs(plan: ToolPlan, startedMs: number): Promise<string[]> {
  const names = await fs.readdir(plan.outDir).catch(() => [] as string[]);
  const found: string[] = [];
  await Promise.all(
    names.map(async (name) => {
      if (!plan.outputStems.some((stem) => name === stem || name.startsWith(`${stem}.`))) return;
      const full = path.join(plan.outDir, name);
      // lstat: an output that is a symlink (to a host file) is not an output; copying it would follow it
      const stat = await fs.lstat(full).catch(() => null);
      if (stat === null || !stat.isFile() || stat.mtimeMs < startedMs - 2000) return;
      found.push(full);
    }),
  );
  return found.sort();
}


/** What the daemon gives the meta handler: the store (the members it uses), its records in the index, the content store, and where a build's subderivations are reported. */
export interface MetaDeps {
  store: InvokeContext["store"];
  records: MetaRecords;
  content: ContentStore;
  recordSubderivation: InvokeContext["recordSubderivation"];
}

/** What a request came through: a build's own socket (confined) or the daemon's main socket (neither set). */
export type InvokeScope = Pick<InvokeContext, "confine" | "hitsDir">;

export interface MetaHandler {
  /**
   * The daemon's `invoke` op. `request` is the parsed NDJSON request (`id` and `op` included); the
   * result is the `result` of the answer. Errors are PkgErrors (ERR_META_*); the shim then runs the tool
   * directly, so an error here never fails a build.
   */
  handleInvoke(scope: InvokeScope, request: Record<string, unknown>, emit: InvokeEmit): Promise<InvokeResult>;
  /** Settle stored invocations now (all of them, or those of one key and every one before them) and wait for it. */
  settleStores(key?: string): Promise<number>;
  /** How many stored invocations are not settled yet (the daemon is not idle while there are). */
  pendingStores(): number;
}

/**
 * The meta packages' handler of one daemon. Everything it remembers (tool versions, hashes, keys computed by
 * lookups, invocations waiting to be settled, counts) lives in this closure: two daemons in one process
 * (tests) share nothing.
 */
export function createMetaHandler(deps: MetaDeps): MetaHandler {
  const hashes = createHashCache();
  const { hashFile, rememberHash } = hashes;

  const counts = new Map<string, { hit: number; miss: number; stored: number }>();
  function count(buildId: string | null, what: "hit" | "miss" | "stored"): void {
    const k = buildId ?? "";
    const c = counts.get(k) ?? { hit: 0, miss: 0, stored: 0 };
    c[what]++;
    counts.set(k, c);
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

  async function manifestMatches(manifest: Manifest, plan: ToolPlan, env: Record<string, string>, confine: InvokeConfinement | undefined): Promise<boolean> {
    for (const [name, value] of manifest.env) {
      const current = env[name];
      if ((current === undefined ? null : normalise(current, plan.roots)) !== value) return false;
    }
    if (confine !== undefined) {
      // the build's roots put the manifest's files somewhere it may not make the daemon read: no hit
      const readable = [...confine.read, ...confine.exec];
      for (const [file] of manifest.files) if (!(await isConfined(denormalise(file, plan.roots), readable))) return false;
    }
    const hashes = await Promise.all(manifest.files.map(([file]) => hashFile(denormalise(file, plan.roots))));
    return manifest.files.every(([, hash], i) => hashes[i] === hash);
  }

  // ---- lookup ----

  /** Keys computed by lookups, reused by the store that follows a miss (its inputs were hashed already). */
  const keyedByKey = new Map<string, Keyed>();

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
    const keyed = await primaryKey(plan, env);
    const { key } = keyed;
    const restoreHere = uid !== null && typeof process.getuid === "function" && process.getuid() === uid;
    // An invocation of this key stored but not settled yet (its manifest is not in the index): settle it
    // first (rare: cargo does not compile the same thing twice in one build).
    await settleStores(key);
    const rows = ctx.records.manifestsUnder(key);
    for (const row of rows) {
      if (!(await manifestMatches(JSON.parse(row.manifest) as Manifest, plan, env, ctx.confine))) continue;
      const out = ctx.store.queryOutput(row.drv, "out")?.path ?? null;
      const filesText = ctx.records.outputFiles(row.drv);
      if (out === null || filesText === null) continue;
      let files = (JSON.parse(filesText) as Array<Omit<StoredFile, "path">>).map((f) => ({ ...f, path: path.join(out, "files", f.name) }));
      if (ctx.hitsDir !== undefined) files = await shareHit(ctx.hitsDir, files);
      const stderr = await fs.readFile(path.join(out, "stderr"), "utf8").catch(() => "");
      let restored = false;
      if (restoreHere) {
        await restoreOutputs(plan, files);
        restored = true;
      }
      if (buildId !== null) ctx.recordSubderivation(buildId, row.drv);
      count(buildId, "hit");
      ctx.records.recordInvocation(buildId, row.drv, plan.label, "hit", null);
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

  async function store(
    ctx: InvokeContext,
    buildId: string | null,
    key: string,
    plan: ToolPlan,
    env: Record<string, string>,
    startedMs: number,
    stderr: string,
    ms: number,
  ): Promise<StoreResult> {
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
    const depInfoIsOutput = plan.depInfoIsOutput !== false;
    if (depInfoIsOutput && !outputs.includes(plan.depInfo)) throw new PkgError(ERR_META_OUTPUT, `${plan.label}: no dep-info at ${plan.depInfo}`, { hint: "not stored" });
    const depInfoText = await fs.readFile(plan.depInfo, "utf8").catch(() => null);
    if (depInfoText === null) throw new PkgError(ERR_META_OUTPUT, `${plan.label}: no dep-info at ${plan.depInfo}`, { hint: "not stored" });
    const depInfo = parseDepInfo(depInfoText);
    const outputSet = new Set(outputs);
    const sourceFiles = [...new Set(depInfo.files.map((file) => path.resolve(plan.cwd, file)))].filter((abs) => !outputSet.has(abs));
    // Outputs and sources are copied into two staging directories of the store before answering, so
    // that the shim may exit and cargo go on (or `rm -rf target`, or edit a source); the manifest is
    // the hashes of exactly those copies. Everything else (the source tree and the derivation in the
    // content store, the index, moving the output in) waits until the daemon is idle: see {@link deferInvocation}.
    const staging = stageOutputs(ctx, plan, outputs, stderr);
    staging.catch(() => undefined); // a failure is thrown where it is awaited, not as an unhandled rejection meanwhile
    const copying = stageSources(ctx, plan, sourceFiles);
    copying.catch(() => undefined);
    let staged: Staged;
    let sources: StagedSources;
    const discard = async () => {
      for (const stage of [staging, copying]) await stage.then((st) => fs.rm(st.stage, { recursive: true, force: true }), () => undefined).catch(() => undefined);
    };
    try {
      [staged, sources] = await Promise.all([staging, copying]);
    } catch (error) {
      await discard();
      throw error;
    }
    lap("stage");
    if (sources.refused !== null) {
      await discard();
      count(buildId, "miss");
      return { drv: null, path: null, timings, uncacheable: sources.refused };
    }
    // env-dep values are normalised too (`env!("OUT_DIR")` is an absolute path under the target dir).
    const manifest: Manifest = {
      files: sources.files.map((s) => [s.norm, s.hash]),
      env: depInfo.env.map(([name, value]) => [name, value === null ? null : normalise(value, plan.roots)]),
    };
    const task = deferInvocation(ctx, { buildId, key, plan, keyed, manifest, output: staged, sources, ms });
    if (buildId !== null) ctx.recordSubderivation(buildId, () => settle(task));
    count(buildId, "stored");
    return { drv: null, path: null, pending: true, timings };
  }

  /** Copy a run's outputs (dep-info normalised) and its stderr into a new staging directory of the store. */
  async function stageOutputs(ctx: InvokeContext, plan: ToolPlan, outputs: string[], stderr: string): Promise<Staged> {
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

  /** Copy the sources dep-info names into a staging directory (at their tree paths), hashing each copy's bytes. */
  async function stageSources(ctx: InvokeContext, plan: ToolPlan, files: string[]): Promise<StagedSources> {
    const stage = await ctx.store.makeTempDir("meta-src");
    let refused: string | null = null;
    try {
      const staged = await Promise.all(
        files.map(async (abs) => {
          if (ctx.confine !== undefined && !(await isConfined(abs, [...ctx.confine.read, ...ctx.confine.exec]))) {
            throw new PkgError(ERR_META_INPUT_MISSING, `${plan.label}: source ${abs} (from dep-info) is outside what the build may read`, { hint: "not stored" });
          }
          const bytes = await fs.readFile(abs).catch(() => null);
          if (bytes === null) throw new PkgError(ERR_META_INPUT_MISSING, `${plan.label}: source ${abs} (from dep-info) cannot be read`, { hint: "not stored" });
          if (plan.refuseSources !== undefined && plan.refuseSources.pattern.test(bytes.toString("latin1"))) refused = `${plan.refuseSources.reason} (${abs})`;
          const norm = normalise(abs, plan.roots);
          const copy = path.join(stage, treePath(norm));
          await fs.mkdir(path.dirname(copy), { recursive: true });
          await fs.writeFile(copy, bytes);
          return { norm, hash: hashBytes(bytes), copy };
        }),
      );
      staged.sort((a, b) => (a.norm < b.norm ? -1 : a.norm > b.norm ? 1 : 0));
      return { stage, files: staged, refused };
    } catch (error) {
      await fs.rm(stage, { recursive: true, force: true }).catch(() => undefined);
      throw error;
    }
  }

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

  /** Not yet started, in the order stored. */
  const deferred: Deferred[] = [];
  /** Started or not, until done. */
  const unsettled = new Set<Deferred>();
  /** The last started task: each starts when the one before it has finished. */
  let chain: Promise<unknown> = Promise.resolve();
  let activeRequests = 0;
  let lastRequestAt = 0;
  let idleTimer: NodeJS.Timeout | null = null;
  let draining = false;

  function deferInvocation(ctx: InvokeContext, inv: StoredInvocation): Deferred {
    const task: Deferred = {
      key: inv.key,
      run: async () => {
        try {
          return await settleInvocation(ctx, inv);
        } catch {
          // Not stored after all (a source tree that cannot be imported, an extern gone, the store
          // closed): the next build records it again.
          await fs.rm(inv.output.stage, { recursive: true, force: true }).catch(() => undefined);
          return null;
        } finally {
          await fs.rm(inv.sources.stage, { recursive: true, force: true }).catch(() => undefined);
        }
      },
    };
    deferred.push(task);
    unsettled.add(task);
    scheduleDrain();
    return task;
  }

  /** The derivation of a stored invocation, written with its source tree; its output moved into the Store; the index rows. */
  async function settleInvocation(ctx: InvokeContext, inv: StoredInvocation): Promise<string> {
    const { plan, keyed } = inv;
    const src = await ctx.content.putTree(
      inv.sources.files.map((s) => ({ path: treePath(s.norm), source: s.copy })),
      { pin: true },
    );
    const inputSrcs = new Map<string, CID>([[src.toString(), src]]);
    const inputDrvs: Record<string, DerivationInput> = {};
    inputDrvs[plan.tool] = { drv: await hostToolDrv(ctx, plan.tool, keyed.version), kinds: ["native-input"], output: "out" };
    for (const [name, file, hash] of keyed.externs) {
      const known = ctx.records.artifactDrv(hash);
      if (known !== null) {
        inputDrvs[inputName(name)] = { drv: CID.parse(known), kinds: ["input"], output: "out" };
      } else {
        // Not an output of a recorded invocation: by content, as the key had it (read now, so checked again).
        const bytes = await fs.readFile(file);
        if (hashBytes(bytes) !== hash) throw new PkgError(ERR_META_INPUT_MISSING, `extern ${name} (${file}) changed since the tool ran`, { hint: "not stored" });
        const cid = await ctx.content.putBytes(bytes, { pin: true });
        inputSrcs.set(cid.toString(), cid);
      }
    }
    const drvEnv: Record<string, string> = {};
    for (const [name, value] of Object.entries(keyed.env)) {
      if (!ENV_NAME.test(name) || name.startsWith("PKG_") || ["HOME", "PATH", "TMPDIR", "out"].includes(name) || name in inputDrvs) continue;
      drvEnv[name] = value;
    }
    const drvName = sanitiseName(`${plan.tool}-${plan.label}-${plan.labelHash || inv.key.slice(0, 16)}`);
    const derivation: Derivation = {
      format: 1,
      name: drvName,
      system: currentSystem(),
      builder: { kind: "input", input: plan.tool, path: `bin/${plan.tool}` },
      args: plan.normArgs,
      env: drvEnv,
      src,
      inputSrcs: [...inputSrcs.values()],
      inputDrvs,
      outputs: { out: { kind: "input-addressed" } },
      package: null,
    };
    const drv = (await writeDerivation(ctx.content, derivation)).cid.toString();

    let files = inv.output.files;
    let artifacts = inv.output.artifacts;
    const existing = ctx.store.queryOutput(drv, "out")?.path ?? null;
    if (existing !== null) {
      // Stored already (another checkout built the same derivation): the copy is not needed.
      await fs.rm(inv.output.stage, { recursive: true, force: true }).catch(() => undefined);
      artifacts = [];
      files = (JSON.parse(await fs.readFile(path.join(existing, "meta.json"), "utf8")) as { files: Array<Omit<StoredFile, "path">> }).files;
    } else {
      await ctx.store.addOutput({ drv, output: "out", drvName, from: inv.output.stage, buildMs: inv.ms });
    }
    // Indexed once the output is in: a manifest never names an output that is not there.
    ctx.records.recordStored({ key: inv.key, drv, manifest: JSON.stringify(inv.manifest), files: JSON.stringify(files), artifacts, buildId: inv.buildId, label: plan.label, ms: inv.ms });
    return drv;
  }

  /** Starts `task` after every task stored before it (started now if they were not); resolves with its derivation. */
  function settle(task: Deferred): Promise<string | null> {
    if (task.done === undefined) {
      for (const earlier of deferred.splice(0, deferred.indexOf(task) + 1)) {
        earlier.done = chain.then(() => earlier.run()).finally(() => unsettled.delete(earlier));
        chain = earlier.done.catch(() => undefined);
      }
    }
    return task.done ?? Promise.resolve(null);
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
        await settle(deferred[0]);
      }
    } finally {
      draining = false;
      scheduleDrain();
    }
  }

  /** How many stored invocations are not settled yet (the daemon is not idle while there are). */
  function pendingStores(): number {
    return unsettled.size;
  }

  /** Settle stored invocations now (all of them, or those of one key and every one before them) and wait for it. */
  async function settleStores(key?: string): Promise<number> {
    if (unsettled.size === 0) return 0; // every lookup asks: nothing to filter
    const tasks = [...unsettled].filter((t) => key === undefined || t.key === key);
    await Promise.all(tasks.map(settle));
    return tasks.length;
  }

  /**
   * The daemon's `invoke` op. `request` is the parsed NDJSON request (`id` and `op` included); the
   * result is the `result` of the answer. Errors are PkgErrors (ERR_META_*); the shim then runs the tool
   * directly, so an error here never fails a build.
   */
  // `_emit`: events to the requesting shim (the protocol allows them; no phase sends any now).
  async function handleInvoke(ctx: InvokeContext, request: Record<string, unknown>, _emit: InvokeEmit): Promise<InvokeResult> {
    activeRequests++;
    lastRequestAt = Date.now();
    try {
      return await dispatch(ctx, request);
    } finally {
      activeRequests--;
      lastRequestAt = Date.now();
      scheduleDrain();
    }
  }

  async function dispatch(ctx: InvokeContext, request: Record<string, unknown>): Promise<InvokeResult> {
    const tool = typeof request.tool === "string" ? TOOLS.get(request.tool) : undefined;
    if (tool === undefined) bad(`unknown tool ${JSON.stringify(request.tool)} (known: ${[...TOOLS.keys()].join(", ")})`);
    const buildId = typeof request.buildId === "string" && request.buildId !== "" ? request.buildId : null;
    switch (request.phase) {
      case "lookup": {
        const inv = checkInvocation(request);
        const outcome = planOf(tool, inv);
        if (outcome.kind === "pass") return { action: "pass", reason: outcome.reason };
        if (ctx.confine !== undefined) {
          const outside = await planOutside(outcome.plan, ctx.confine);
          if (outside !== null) return { action: "pass", reason: `not cached: ${outside}` };
        }
        // A build's shim copies a hit's files itself, inside its sandbox: the daemon writes nothing a build names.
        const uid = ctx.confine === undefined && typeof request.uid === "number" ? request.uid : null;
        return lookup(ctx, buildId, outcome.plan, inv.env, uid);
      }
      case "store": {
        const inv = checkInvocation(request);
        const { key, status, started, stderr, ms } = request;
        if (typeof key !== "string" || typeof status !== "number" || typeof started !== "number" || typeof stderr !== "string") bad("store needs key, status, started, stderr");
        const outcome = planOf(tool, inv);
        if (outcome.kind === "pass") bad(`store of an invocation that is not cacheable (${outcome.reason})`);
        const { plan } = outcome;
        if (ctx.confine !== undefined) {
          const outside = await planOutside(plan, ctx.confine);
          if (outside !== null) bad(`store of an invocation that is not cacheable (${outside})`);
        }
        try {
          if (status !== 0) return failed(ctx, buildId, key, plan, typeof ms === "number" ? ms : 0);
          return await store(ctx, buildId, key, plan, inv.env, started, stderr, typeof ms === "number" ? ms : 0);
        } finally {
          // The shim's own dep-info (not an output of the build's): gone once stored, or not.
          if (plan.depInfoIsOutput === false) await fs.rm(plan.depInfo, { force: true });
        }
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
    ctx.records.recordInvocation(buildId, null, plan.label, "failed", ms);
    return { drv: null, path: null, timings: {} };
  }

  return {
    handleInvoke: (scope, request, emit) => handleInvoke({ ...deps, ...scope }, request, emit),
    settleStores,
    pendingStores,
  };
}
