/**
 * Realisation (Nix's word): a derivation CID → its outputs as valid store paths, building what is
 * missing. Inputs first, in parallel; builds limited to the core count; one build per derivation
 * however many requests ask for it at once (an in-flight map keyed by the derivation CID, whose
 * entry every later request joins and whose log it follows).
 *
 * - A `none` builder runs nothing: its output `out` is its src, exported from the content store
 *   into a source store path and recorded as the output.
 * - Anything else goes to the injected `runBuild` (the daemon passes src/builder/run.ts's) with the request
 *   of docs/build-layer.md;
 *   each output the build made is moved into the store, put into the content store (its CID is
 *   recorded), scanned for references among the closure, and registered (store.ts).
 * - `rebuild`: builds again into a temporary path and compares the new tree's CID with the
 *   registered one (Nix's `--rebuild`); the registered path is never touched.
 * - The paths a request uses (its inputs' outputs and closure, its src) are temporary gc roots until
 *   the request ends (see {@link Realiser.tempRoots}).
 */
import { randomBytes } from "node:crypto";
import { createWriteStream, type WriteStream } from "node:fs";
import { access, lstat } from "node:fs/promises";
import { availableParallelism } from "node:os";
import path from "node:path";
import { CID } from "multiformats/cid";
import { createLimiter } from "../concurrency";
import { isPkgError, PkgError } from "../errors";
import { readDerivation, DAG_CBOR_CODE, type Derivation } from "../derivation";
import type { ContentStore } from "../content/types";
import {
  ERR_BUILD_FAILED,
  ERR_BUILD_INPUT_FAILED,
  ERR_BUILD_NO_OUTPUT,
  ERR_STORE_BAD_CID,
  ERR_STORE_UNKNOWN_DERIVATION,
  StoreError,
} from "./errors";
import { dropRows, scanReferences, type Store } from "./store";
import { outputPathName, sourcePathName } from "./paths";
import { localSubstituter, type Substituter } from "./substitute";
import type { BuildRequest, BuildResult } from "../builder/types";

/**
 * Runs one builder (src/builder/run.ts's runBuild): injected by whoever wires the store to a builder (the
 * daemon), so that the store knows the request's shape and nothing of how builders run.
 */
export type RunBuild = (request: BuildRequest) => Promise<BuildResult>;

export type { BuildRequest, BuildResult };

export interface RealiseOptions {
  rebuild?: boolean;
  /** Log lines of every build this request starts or joins (its own and its inputs'). */
  onLog?: (drv: string, text: string) => void;
  /** A build this request waits for starts (`build`), ends (`built`) or fails (`failed`); `name` is the derivation's. */
  onProgress?: (drv: string, name: string, phase: BuildPhase) => void;
}

export interface RealiseResult {
  drv: string;
  outputs: Record<string, string>;
  /** Whether this request's derivation was built now (false: it was valid already, or another request built it). */
  built: boolean;
  /** Whether its outputs were substituted now (fetched by CID from a substituter's answer, verified) instead of built. */
  substituted?: boolean;
  subderivations: string[];
  /** With `rebuild`: whether the new output's CID equals the registered one. */
  matched?: boolean;
  /** Output CIDs, by output name. */
  cids: Record<string, string>;
  /** Store paths of every input's output, transitively (what the build of a dependent gets as PKG_CLOSURE). */
  closure: string[];
  /** What runBuild returned (sandbox kind…), when it ran. */
  build?: BuildResult;
}

export interface RealiserOptions {
  store: Store;
  content: ContentStore;
  /**
   * Opens the socket one build's meta tools reach the daemon through (it answers `invoke` for that build only;
   * closed when the build ends). Absent: builds get no socket, and meta tools run their tool directly.
   */
  buildSocket?: (buildId: string, dirs: { buildDir: string; outDir: string }) => Promise<{ path: string; dir: string; close(): Promise<void> }>;
  /** Builds at once; default the machine's parallelism. */
  cores?: number;
  /** Runs a builder (the daemon passes src/builder/run.ts's runBuild). */
  runBuild: RunBuild;
  /** Asked in order before a derivation is built (src/store/substitute.ts); default: the store's local table. */
  substituters?: Substituter[];
}

export interface Realiser {
  realise(drv: string, options?: RealiseOptions): Promise<RealiseResult>;
  /** Derivations whose builder runs now (not those only waiting for inputs). */
  building(): string[];
  /** Whether any realise request is in progress (its client may have gone: builds go on). */
  busy(): boolean;
  /** Paths in use by requests in progress: gc keeps them. */
  tempRoots(): Set<string>;
  /** Builds started / failed since the daemon started. */
  stats(): { started: number; failed: number; joined: number };
  /** Aborts every running build (daemon shutdown). */
  abort(): void;
  /** Resolves when no request is in progress (after abort: when the aborted builds have cleaned up). */
  settled(): Promise<void>;
  /**
   * Records that the running build `buildId` made the derivation `cid` (a tool invocation recorded by a meta
   * package), or will once `cid()` settles it (the meta handler derives stored invocations when the daemon
   * is idle). Called by the `invoke` handler; false when no such build is running (a stray or late report).
   */
  recordSubderivation(buildId: string, cid: string | (() => Promise<string | null>)): boolean;
}

export type BuildPhase = "build" | "built" | "failed";

/** Log lines (no phase) and progress (a phase; `text` is then the derivation's name). */
/**
 * `seen`: the listeners an event has reached already. A derivation reached by two paths of one request's graph
 * (a diamond: gcc is an input of hello and of meta-rustc) is followed by both parents, whose events meet again
 * at the request's own listener: each listener hears each event once.
 */
type Listener = (drv: string, text: string, phase?: BuildPhase, seen?: Set<Listener>) => void;

interface InFlight {
  promise: Promise<RealiseResult>;
  listeners: Set<Listener>;
}

/** Subderivations reported (by meta packages, through `invoke`) for one running build: CIDs, or how to settle one. */
type SubderivationRecord = Set<string | (() => Promise<string | null>)>;

/** The subderivations of a build whose builder has finished, each unsettled one settled now (those that could not be stored are left out). */
async function settledSubderivations(recorded: SubderivationRecord | undefined): Promise<string[]> {
  const cids = await Promise.all([...(recorded ?? [])].map((entry) => (typeof entry === "string" ? entry : entry())));
  return [...new Set(cids.filter((cid): cid is string => cid !== null))].sort();
}

function parseDrvCid(drv: string): CID {
  let cid: CID;
  try {
    cid = CID.parse(drv);
  } catch {
    throw new StoreError(ERR_STORE_BAD_CID, `"${drv}" is not a CID`, { details: { drv }, hint: "pass a derivation CID (bafyrei…), as `pkg instantiate` prints" });
  }
  if (cid.version !== 1 || cid.code !== DAG_CBOR_CODE) {
    throw new StoreError(ERR_STORE_BAD_CID, `${drv} is not a derivation CID (CIDv1, DAG-CBOR)`, { details: { drv }, hint: "derivation CIDs start with bafyrei; `pkg instantiate` prints them" });
  }
  return cid;
}

/** Last lines of a log, kept for the failure message. */
class Tail {
  private lines: string[] = [];
  private partial = "";
  constructor(private readonly max: number) {}
  push(text: string): void {
    const parts = (this.partial + text).split("\n");
    this.partial = parts.pop() ?? "";
    for (const line of parts) if (line.trim() !== "") this.lines.push(line);
    if (this.lines.length > this.max) this.lines.splice(0, this.lines.length - this.max);
  }
  get(): string[] {
    return this.partial.trim() !== "" ? [...this.lines, this.partial].slice(-this.max) : [...this.lines];
  }
}

export function createRealiser(options: RealiserOptions): Realiser {
  const { store, content } = options;
  const cores = Math.max(1, options.cores ?? availableParallelism());
  // Builds wait for a slot here, never the walk over inputs (a parent holding a slot while waiting for its inputs could deadlock).
  const limit = createLimiter(cores);
  const inFlight = new Map<string, InFlight>(); // key: drv, or drv + "!rebuild"
  const held = new Map<string, number>(); // temp roots: path → requests holding it
  const controller = new AbortController();
  const counters = { started: 0, failed: 0, joined: 0 };
  const runBuild = options.runBuild;
  /** Per running build id (docs/build-layer.md, meta packages): what its tools' invocations derived. */
  const subderivationsByBuild = new Map<string, SubderivationRecord>();
  const substituters = options.substituters ?? [localSubstituter(store)];
  const requests = new Set<Promise<void>>();
  const activeBuilds = new Set<string>(); // derivations whose builder runs now

  const hold = (paths: Iterable<string>, into: Set<string>) => {
    for (const p of paths) {
      if (into.has(p)) continue;
      into.add(p);
      held.set(p, (held.get(p) ?? 0) + 1);
    }
  };
  const release = (paths: Set<string>) => {
    for (const p of paths) {
      const n = (held.get(p) ?? 1) - 1;
      if (n <= 0) held.delete(p);
      else held.set(p, n);
    }
  };

  async function loadDerivation(cid: CID): Promise<Derivation> {
    try {
      return await readDerivation(content, cid, { offline: false });
    } catch (error) {
      if (isPkgError(error) && /NOT_FOUND/.test(error.code)) {
        throw new StoreError(ERR_STORE_UNKNOWN_DERIVATION, `derivation ${cid.toString()} is not in the content store`, {
          details: { drv: cid.toString() },
          hint: "instantiate it first (`pkg instantiate`), or fetch the package that makes it",
          cause: error,
        });
      }
      throw error;
    }
  }

  /** One derivation (inputs first); `fanout` forwards log lines to whoever follows the parent. */
  function realiseOne(drv: string, rebuild: boolean, listener: Listener, holding: Set<string>): Promise<RealiseResult> {
    const key = rebuild ? `${drv}!rebuild` : drv;
    const running = inFlight.get(key);
    if (running !== undefined) {
      counters.joined++;
      running.listeners.add(listener);
      return running.promise.then((result) => {
        hold([...Object.values(result.outputs), ...result.closure], holding);
        return { ...result, built: false, substituted: false };
      });
    }
    const listeners = new Set<Listener>([listener]);
    const fanout: Listener = (d, text, phase, seen = new Set<Listener>()) => {
      for (const l of listeners) {
        if (seen.has(l)) continue;
        seen.add(l);
        l(d, text, phase, seen);
      }
    };
    const own = new Set<string>();
    const promise = (async () => {
      try {
        return await realiseNew(drv, rebuild, fanout, own);
      } finally {
        release(own);
      }
    })();
    inFlight.set(key, { promise, listeners });
    return promise
      .finally(() => inFlight.delete(key))
      .then((result) => {
        hold([...Object.values(result.outputs), ...result.closure], holding);
        return result;
      });
  }

  async function realiseNew(drv: string, rebuild: boolean, fanout: Listener, holding: Set<string>): Promise<RealiseResult> {
    const cid = parseDrvCid(drv);
    const derivation = await loadDerivation(cid);

    // Substitution before the inputs (Nix substitutes closures top-down): a substituted output needs
    // only the inputs it references at run time, not everything its build would have needed.
    if (derivation.builder.kind !== "none" && !rebuild && substituters.length > 0) {
      const existing = store.queryOutputs(drv);
      if (existing === null || !Object.keys(derivation.outputs).every((o) => existing[o] !== undefined)) {
        const substituted = await trySubstitute(drv, derivation, fanout, holding);
        if (substituted !== null) return substituted;
      }
    }

    // Inputs: all at once (the semaphore limits builds); every failure is waited for, the first reported.
    const names = Object.keys(derivation.inputDrvs).sort();
    const settled = await Promise.allSettled(names.map((name) => realiseOne(derivation.inputDrvs[name].drv.toString(), false, fanout, holding)));
    const inputs: Record<string, { path: string; drv: string }> = {};
    const closure = new Set<string>();
    for (let i = 0; i < names.length; i++) {
      const s = settled[i];
      const input = derivation.inputDrvs[names[i]];
      if (s.status === "rejected") {
        const cause = s.reason as Error;
        const code = isPkgError(cause) ? cause.code : "ERR_INTERNAL";
        throw new StoreError(ERR_BUILD_INPUT_FAILED, `${derivation.name}: input ${names[i]} failed: ${cause.message}`, {
          details: { drv, input: names[i], inputDrv: input.drv.toString(), inputCode: code, ...(isPkgError(cause) ? { inputDetails: cause.details } : {}) },
          hint: isPkgError(cause) ? cause.hint : undefined,
          cause,
        });
      }
      const out = s.value.outputs[input.output];
      if (out === undefined) {
        throw new StoreError(ERR_BUILD_INPUT_FAILED, `${derivation.name}: input ${names[i]} has no output "${input.output}"`, {
          details: { drv, input: names[i], output: input.output },
          hint: "the input's derivation does not declare that output",
        });
      }
      inputs[names[i]] = { path: out, drv: input.drv.toString() };
      for (const p of Object.values(s.value.outputs)) closure.add(p);
      for (const p of s.value.closure) closure.add(p);
    }
    const closureList = [...closure].sort();
    hold(closureList, holding);

    const outputNames = Object.keys(derivation.outputs).sort();
    const existing = store.queryOutputs(drv);
    let valid = existing !== null && outputNames.every((o) => existing[o] !== undefined);
    // Held in the same synchronous step as the query: a gc (whose decision is one synchronous
    // transaction reading the temp roots) either ran before the query or sees them held.
    if (valid) hold(outputNames.map((o) => existing![o]), holding);
    if (valid && !(await Promise.all(outputNames.map((o) => access(existing![o]).then(() => true, () => false)))).every(Boolean)) {
      // Registered but gone from disk (deleted by hand): forget it and realise it again, as if never built.
      dropRows(store.db, outputNames.map((o) => existing![o]));
      valid = false;
    }
    const known = () => {
      const outputs: Record<string, string> = {};
      const cids: Record<string, string> = {};
      for (const o of outputNames) {
        const row = store.queryOutput(drv, o)!;
        outputs[o] = row.path;
        cids[o] = row.cid;
      }
      hold(Object.values(outputs), holding);
      return { outputs, cids };
    };

    if (derivation.builder.kind === "none") {
      if (valid) return { drv, ...known(), built: false, subderivations: [], closure: closureList, ...(rebuild ? { matched: true } : {}) };
      const src = derivation.src!.toString();
      hold([path.join(store.layout.paths, sourcePathName(src, derivation.name))], holding); // before it exists: no window after
      const p = await store.ensureContent(src, derivation.name);
      hold([p], holding);
      store.recordOutput(drv, "out", p, src);
      return { drv, outputs: { out: p }, cids: { out: src }, built: true, subderivations: [], closure: closureList };
    }

    if (valid && !rebuild) {
      return { drv, ...known(), built: false, subderivations: store.buildSubderivations(drv) ?? [], closure: closureList };
    }

    if (derivation.src !== null) hold([path.join(store.layout.paths, sourcePathName(derivation.src.toString(), derivation.name))], holding);
    const src = derivation.src === null ? null : await store.ensureContent(derivation.src, derivation.name);
    if (src !== null) hold([src], holding);
    return limit(() => build(drv, cid, derivation, { src, inputs, closure: closureList, fanout, rebuild: valid && rebuild, holding }));
  }

  /**
   * Paths the output of `derivation` may reference: every input derivation's outputs, transitively,
   * and the srcs (a none builder's output is its src). Their store paths are computable without
   * realising anything, so a substituted output is scanned against them, and only what it really
   * references is realised.
   */
  async function referenceCandidates(derivation: Derivation): Promise<Map<string, { drv: string } | { src: string; name: string }>> {
    const found = new Map<string, { drv: string } | { src: string; name: string }>();
    const seen = new Set<string>();
    const visit = async (d: Derivation) => {
      if (d.src !== null) found.set(path.join(store.layout.paths, sourcePathName(d.src.toString(), d.name)), { src: d.src.toString(), name: d.name });
      for (const input of Object.values(d.inputDrvs)) {
        const inputDrv = input.drv.toString();
        if (seen.has(inputDrv)) continue;
        seen.add(inputDrv);
        const inputDerivation = await loadDerivation(input.drv);
        if (inputDerivation.builder.kind === "none") {
          // Its output is its src's source path, not an output path (see realiseNew).
          found.set(path.join(store.layout.paths, sourcePathName(inputDerivation.src!.toString(), inputDerivation.name)), { drv: inputDrv });
        } else {
          for (const o of Object.keys(inputDerivation.outputs)) found.set(path.join(store.layout.paths, outputPathName(inputDrv, o, inputDerivation.name)), { drv: inputDrv });
        }
        await visit(inputDerivation);
      }
    };
    await visit(derivation);
    return found;
  }

  /** The runtime closure of `paths` (their references, transitively, from the index), `paths` excluded unless referenced. */
  function refClosure(paths: Iterable<string>): string[] {
    const refsOf = store.db.prepare("SELECT ref FROM refs WHERE path = ?").pluck();
    const out = new Set<string>();
    const queue = [...paths];
    while (queue.length > 0) {
      const p = queue.pop()!;
      if (out.has(p)) continue;
      out.add(p);
      for (const r of refsOf.all(p) as string[]) queue.push(r);
    }
    return [...out].sort();
  }

  /**
   * Tries the substituters for every output of `drv`; null (after a warning in the log) when one has
   * no answer, or its DAG cannot be fetched, or the fetched tree's CID is not the one answered: the
   * caller then builds. Never registers anything that was not verified.
   */
  async function trySubstitute(drv: string, derivation: Derivation, fanout: Listener, holding: Set<string>): Promise<RealiseResult | null> {
    const outputNames = Object.keys(derivation.outputs).sort();
    const answers: Record<string, { cid: string; source: string }> = {};
    for (const o of outputNames) {
      for (const s of substituters) {
        let cid: string | null = null;
        try {
          cid = await s.query(drv, o);
        } catch (error) {
          fanout(drv, `warning: substituter ${s.name} failed for ${derivation.name} (${o}): ${(error as Error).message.split("\n")[0]}`);
        }
        if (cid !== null) {
          answers[o] = { cid, source: s.name };
          break;
        }
      }
      // Every output or none: a derivation is either substituted or built, never half of each.
      if (answers[o] === undefined) return null;
    }
    const tmp = await store.makeTempDir("subst");
    try {
      for (const o of outputNames) {
        const { cid, source } = answers[o];
        const dest = path.join(tmp, o);
        // Not offline: the embedded store asks its gateways, kubo the network, for what is missing.
        await content.getTree(CID.parse(cid), dest, { signal: controller.signal });
        // Recomputed as built outputs are added (putDirectory with preserveMode): getTree verifies
        // blocks, not that the answer is this derivation's output tree in our canonical form.
        const actual = await store.contentCid(dest, "output");
        if (actual !== cid) {
          throw new StoreError(ERR_STORE_BAD_CID, `substitute ${cid} of ${derivation.name} (${o}, from ${source}) recomputes to ${actual}`, {
            details: { drv, output: o, cid, actual, source },
            hint: "the substituter's answer is wrong; building instead",
          });
        }
      }
      const candidates = await referenceCandidates(derivation);
      const refs: Record<string, string[]> = {};
      for (const o of outputNames) refs[o] = await scanReferences(path.join(tmp, o), [...candidates.keys()]);
      const needed = new Set(Object.values(refs).flat());
      hold(needed, holding);
      // What the output references must be valid before it is: realised (substituted or built) now.
      for (const p of needed) {
        if (store.queryPath(p) !== null) continue;
        const how = candidates.get(p)!;
        if ("drv" in how) await realiseOne(how.drv, false, fanout, holding);
        else await store.ensureContent(how.src, how.name);
      }
      const closure = refClosure(needed);
      hold(closure, holding);
      hold(outputNames.map((o) => path.join(store.layout.paths, outputPathName(drv, o, derivation.name))), holding);
      const outputs: Record<string, string> = {};
      const cids: Record<string, string> = {};
      for (const o of outputNames) {
        const added = await store.addOutput({ drv, output: o, drvName: derivation.name, from: path.join(tmp, o), refCandidates: refs[o], buildMs: 0 });
        outputs[o] = added.path;
        cids[o] = added.cid;
      }
      fanout(drv, `substituted ${derivation.name} from ${[...new Set(Object.values(answers).map((a) => a.source))].join(", ")}`);
      return { drv, outputs, cids, built: false, substituted: true, subderivations: [], closure };
    } catch (error) {
      fanout(drv, `warning: cannot substitute ${derivation.name}, building it: ${(error as Error).message.split("\n")[0]}`);
      return null;
    } finally {
      await store.removeTree(tmp).catch(() => {});
    }
  }

  async function build(
    drv: string,
    cid: CID,
    derivation: Derivation,
    b: { src: string | null; inputs: Record<string, { path: string; drv: string }>; closure: string[]; fanout: Listener; rebuild: boolean; holding: Set<string> },
  ): Promise<RealiseResult> {
    counters.started++;
    activeBuilds.add(drv);
    b.fanout(drv, derivation.name, "build");
    let ok = false;
    const buildId = randomBytes(12).toString("hex");
    subderivationsByBuild.set(buildId, new Set());
    const buildDir = await store.makeTempDir("build");
    const outDir = await store.makeTempDir("out");
    const outputs = Object.fromEntries(Object.keys(derivation.outputs).sort().map((o) => [o, path.join(outDir, o)]));
    const logFile = path.join(store.layout.logs, `${drv}.log`);
    const tail = new Tail(12);
    let logStream: WriteStream | null = createWriteStream(logFile);
    logStream.on("error", () => {
      logStream = null; // a log that cannot be written does not fail the build
    });
    const log = (line: string) => {
      tail.push(`${line}\n`);
      logStream?.write(`${line}\n`);
      b.fanout(drv, line);
    };
    const started = Date.now();
    let socket: { path: string; dir: string; close(): Promise<void> } | null = null;
    try {
      let outcome: BuildResult;
      try {
        socket = options.buildSocket ? await options.buildSocket(buildId, { buildDir, outDir }) : null;
        outcome = await runBuild({
          drv: derivation, drvCid: drv, src: b.src, inputs: b.inputs, closure: b.closure, outputs, buildDir,
          storeSocket: socket?.path, shared: socket === null ? [] : [socket.dir], buildId, cores, log, signal: controller.signal, baseDir: path.join(store.layout.root, "base"),
        });
      } catch (error) {
        counters.failed++;
        const lines = tail.get();
        const last = lines.slice(-3).join(" | ");
        const reason = (error as Error).message.split("\n")[0];
        // The builder's own ERR_BUILD_* code (TIMEOUT, BUILDER_NOT_FOUND…) is kept; the message gains the log's last lines.
        const code = isPkgError(error) && error.code.startsWith("ERR_BUILD_") ? error.code : ERR_BUILD_FAILED;
        throw new StoreError(code, `${reason}${last && !reason.includes(lines[lines.length - 1]) ? `; last log lines: ${last}` : ""}`, {
          details: { drv, log: lines, logFile, ...(isPkgError(error) ? { buildCode: error.code, buildDetails: error.details } : {}) },
          hint: `full log: ${logFile}`,
          cause: error,
        });
      }
      for (const [name, p] of Object.entries(outputs)) {
        if ((await lstat(p).catch(() => null))?.isSymbolicLink()) {
          // Following it would store (and publish) whatever it points at on the host.
          counters.failed++;
          throw new StoreError(ERR_BUILD_NO_OUTPUT, `build of ${derivation.name}: its output ${name} ($${name}) is a symbolic link`, {
            details: { drv, output: name, logFile },
            hint: `the builder must write $${name} as a file or a directory; links may be inside it`,
          });
        }
        if (!(await lstat(p).then(() => true, () => false))) {
          counters.failed++;
          throw new StoreError(ERR_BUILD_NO_OUTPUT, `build of ${derivation.name} succeeded but did not create its output ${name} ($${name})`, {
            details: { drv, output: name, log: tail.get(), logFile },
            hint: `the builder must write $${name}; full log: ${logFile}`,
          });
        }
      }
      const subderivations = await settledSubderivations(subderivationsByBuild.get(buildId));
      const ms = Date.now() - started;
      if (b.rebuild) {
        const cids: Record<string, string> = {};
        let matched = true;
        const registered: Record<string, string> = {};
        for (const [name, p] of Object.entries(outputs)) {
          cids[name] = await store.contentCid(p, "output");
          const row = store.queryOutput(drv, name)!;
          registered[name] = row.path;
          if (row.cid !== cids[name]) matched = false;
        }
        hold(Object.values(registered), b.holding);
        ok = true;
        return { drv, outputs: registered, cids, built: true, subderivations, matched, closure: b.closure, build: outcome };
      }
      const result: Record<string, string> = {};
      const cids: Record<string, string> = {};
      const candidates = b.src === null ? b.closure : [...b.closure, b.src];
      hold(Object.keys(outputs).map((name) => path.join(store.layout.paths, outputPathName(drv, name, derivation.name))), b.holding);
      for (const [name, p] of Object.entries(outputs)) {
        const added = await store.addOutput({ drv, output: name, drvName: derivation.name, from: p, refCandidates: candidates, buildMs: ms });
        result[name] = added.path;
        cids[name] = added.cid;
      }
      hold(Object.values(result), b.holding);
      store.recordBuild(drv, subderivations);
      ok = true;
      return { drv, outputs: result, cids, built: true, subderivations, closure: b.closure, build: outcome };
    } finally {
      activeBuilds.delete(drv);
      b.fanout(drv, derivation.name, ok ? "built" : "failed");
      subderivationsByBuild.delete(buildId);
      await socket?.close().catch(() => {});
      await new Promise<void>((resolve) => (logStream ? logStream.end(resolve) : resolve()));
      await store.removeTree(buildDir).catch(() => {});
      await store.removeTree(outDir).catch(() => {});
    }
  }

  return {
    realise(drv, opts = {}) {
      const holding = new Set<string>();
      const listener: Listener = (d, text, phase) => (phase === undefined ? opts.onLog?.(d, text) : opts.onProgress?.(d, text, phase));
      const request = realiseOne(drv, opts.rebuild === true, listener, holding).finally(() => release(holding));
      const tracked = request.then(() => {}, () => {});
      requests.add(tracked);
      void tracked.finally(() => requests.delete(tracked));
      return request;
    },
    async settled() {
      while (requests.size > 0) await Promise.all(requests);
    },
    building() {
      return [...activeBuilds].sort();
    },
    busy() {
      return requests.size > 0;
    },
    tempRoots() {
      return new Set(held.keys());
    },
    stats() {
      return { ...counters };
    },
    abort() {
      controller.abort(new PkgError(ERR_BUILD_FAILED, "the store daemon is shutting down"));
    },
    recordSubderivation(buildId, cid) {
      const set = subderivationsByBuild.get(buildId);
      if (set === undefined) return false;
      set.add(cid);
      return true;
    },
  };
}
