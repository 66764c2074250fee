/**
 * Types of the meta packages' protocol (docs/build-layer.md, "Meta packages") between the native
 * shim (examples/toolchains/meta-rustc/meta-rustc.rs: a thin program that a tool's caller runs
 * instead of the tool, e.g. cargo's RUSTC_WRAPPER) and the daemon's `invoke` handler, which plans
 * (ToolPlan), keys, stores and restores. The Rust shim mirrors the requests and answers below.
 */
import type { ContentStore } from "../content/types";
import type { MetaRecords } from "../store/meta-records";
import type { Store } from "../store/store";

/** Placeholders that stand for the absolute roots of one invocation (see {@link ToolPlan.roots}). */
export type RootToken = "@@PKG_TARGET@@" | "@@PKG_CWD@@" | "@@PKG_HOME@@" | "@@PKG_TMP@@";

/**
 * What the daemon's tool module (plan/rustc.ts) understood of one cacheable invocation,
 * tool-independent from here on: hashing, keying, storing and answering do not know rustc from gcc.
 */
export interface ToolPlan {
  /** Tool module name: "rustc". */
  tool: string;
  /** Absolute path of the real tool (argv[1] of the shim, resolved against PATH). */
  program: string;
  /** Arguments that make the tool print its version (`-vV`): part of the key, cached by the daemon. */
  versionArgs: string[];
  cwd: string;
  /** Arguments the tool runs with on a miss (rustc: `-C incremental` removed). */
  runArgs: string[];
  /** `runArgs` with the absolute roots replaced by their tokens: part of the key and the derivation. */
  normArgs: string[];
  /** `[absolute root, token]`, longest root first: replaced in args, env, dep-info and messages. */
  roots: Array<[string, RootToken]>;
  /** Names of environment variables the tool reads whatever the source says (CARGO_*, OUT_DIR…). */
  envNames: string[];
  /** Files whose content is part of the primary key (the crate root), absolute. */
  keyFiles: string[];
  /** Binary inputs by content: `[name, absolute path]` (extern crates, native libraries). */
  externs: Array<[string, string]>;
  /** Where the tool writes its outputs. */
  outDir: string;
  /** A file of outDir is an output of this invocation when its name is a stem or starts with `stem.`. */
  outputStems: string[];
  /** Absolute path of the dep-info (Makefile syntax) file the tool writes. */
  depInfo: string;
  /**
   * Whether the dep-info is one of the outputs (rustc: cargo reads it, so it is stored and restored);
   * false: the shim's own (gcc's `-MD -MF`, added to runArgs only), read when storing and then removed.
   */
  depInfoIsOutput?: boolean;
  /** Sources whose bytes match `pattern` make the invocation uncacheable (gcc: `__DATE__`/`__TIME__` without SOURCE_DATE_EPOCH). */
  refuseSources?: { pattern: RegExp; reason: string };
  /** For derivation names: `rustc-<label>-<labelHash>`. */
  label: string;
  labelHash: string;
}

/** An output file of a stored invocation, as the shim copies it back. */
export interface StoredFile {
  /** File name inside the out-dir. */
  name: string;
  /** Absolute path of the stored copy (read-only, inside a store path). */
  path: string;
  executable: boolean;
  /** The file holds root tokens to replace with the invocation's roots (dep-info). */
  rewrite: boolean;
  /** sha256 (hex) of the stored bytes (absent for rewritten files and entries of older versions). */
  sha256?: string;
}

/** The invocation as the shim sends it with `lookup` and `store` (the daemon plans from it). */
export interface InvocationFields {
  /** The tool (as cargo passed it: resolved against the env's PATH), then its arguments. */
  argv: string[];
  /** Absolute working directory. */
  cwd: string;
  /** The shim's whole environment: a manifest's `env!` reads may name any variable. */
  env: Record<string, string>;
}

export type InvokeRequest =
  | ({
      op: "invoke";
      tool: string;
      buildId: string | null;
      phase: "lookup";
      /** The shim's uid: the daemon writes a hit's outputs into outDir itself when it runs as the same user. */
      uid?: number | null;
    } & InvocationFields)
  | ({
      op: "invoke";
      tool: string;
      buildId: string | null;
      phase: "store";
      key: string;
      /** The tool's exit status (sent on failure too: the daemon stops waiting for the run). */
      status: number;
      /** When the tool started (ms since the epoch): outputs are the out-dir's files of its stems no older than that. */
      started: number;
      /** What the tool wrote on stderr (diagnostics and artifact notifications), raw. */
      stderr: string;
      /** Milliseconds the tool ran. */
      ms: number;
    } & InvocationFields)
  | { op: "invoke"; tool: string; buildId: string | null; phase: "stats" }
  /** Move every staged output into the store now; answers when done. */
  | { op: "invoke"; tool: string; buildId: string | null; phase: "settle" };

export type LookupResult =
  /** Not cacheable (cargo's probes never get here: the shim execs rustc for those): run the tool unchanged. */
  | { action: "pass"; reason: string }
  /**
   * `restored`: the daemon already wrote the outputs into outDir; else the shim copies `files` (the
   * `rewrite` ones with the tokens of `roots` replaced). `stderr` has this invocation's paths back:
   * the shim writes it verbatim.
   */
  | { action: "hit"; label: string; key: string; drv: string; path: string; stderr: string; restored: boolean; outDir: string; roots: Array<[string, RootToken]>; files: StoredFile[] }
  /** Run the tool with `args` (rustc: `-C incremental` removed), then send `store`. */
  | { action: "miss"; label: string; key: string; reason: string; args: string[] };

export interface StoreResult {
  /** Ran, but not stored, and why (not an error: the shim says nothing). */
  uncacheable?: string;
  /**
   * null: the tool failed and nothing is stored, or (`pending`) the invocation is staged and its
   * derivation is written when the daemon is idle (src/meta/index.ts, "settled when idle").
   */
  drv: string | null;
  /** The output's store path, once known (null while pending). */
  path: string | null;
  /** Staged: derivation and store path come when it is settled. */
  pending?: boolean;
  /** Milliseconds of each step of storing (for benchmarks and the log). */
  timings: Record<string, number>;
}

export interface StatsResult {
  /** Per build id (or "" for none): counts of what the invocations of that build did. */
  builds: Record<string, { hit: number; miss: number; stored: number }>;
}

export interface SettleResult {
  /** How many staged outputs were moved in. */
  settled: number;
}

export type InvokeResult = LookupResult | StoreResult | StatsResult | SettleResult;

import type { InvokeConfinement } from "./confine";

/**
 * What the daemon hands the `invoke` handler (src/daemon/daemon.ts builds it): the Store (only the
 * members below are used), the meta packages' records in its index, the content store, and where a
 * build's subderivations are reported.
 */
export interface InvokeContext {
  store: Pick<Store, "layout" | "addOutput" | "queryOutput" | "makeTempDir">;
  /** The meta packages' records in the store's index (src/store/meta-records.ts). */
  records: MetaRecords;
  content: ContentStore;
  /**
   * Record a subderivation of the running build `buildId` (false: no such build running): its CID, or
   * for an invocation not settled yet a function that settles it (the build calls it before it
   * finishes; null: it could not be stored after all).
   */
  recordSubderivation(buildId: string, cid: string | (() => Promise<string | null>)): boolean | void;
  /** Set for requests from a build's own socket: what they may make the daemon run, read and write (confine.ts). */
  confine?: InvokeConfinement;
  /**
   * With `confine`: a directory of the daemon's that the build sees read-only. A hit's stored files are linked
   * there for the build's shim to copy: the store's other paths are not in the build's root, and the daemon
   * writes nothing into a directory the build can change.
   */
  hitsDir?: string;
}

/** Daemon events; the handler sends `log` lines for misses and stores. */
export type InvokeEmit = (event: { event: "log"; drv: string; text: string }) => void;
