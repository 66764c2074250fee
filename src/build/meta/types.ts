/**
 * Types shared by the meta packages' two sides: the shim (a small self-contained script that a tool's
 * caller runs instead of the tool, e.g. cargo's RUSTC_WRAPPER) and the daemon's `invoke` handler
 * (docs/build-layer.md, "Meta packages"). The shim imports these as types only, so it stays free of
 * node_modules.
 */
import type { ContentStore } from "../../content/types";
import type { Store } from "../../store/store";

/** Placeholders that stand for the absolute roots of one invocation (see {@link ToolPlan.roots}). */
export type RootToken = "@@PKG_TARGET@@" | "@@PKG_CWD@@" | "@@PKG_HOME@@" | "@@PKG_TMP@@";

/**
 * What the shim understood of one cacheable invocation, tool-independent from here on: the daemon
 * hashes, keys, stores and answers without knowing rustc from gcc.
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

export type InvokeRequest =
  | {
      op: "invoke";
      tool: string;
      buildId: string | null;
      phase: "lookup";
      plan: ToolPlan;
      env: Record<string, string>;
      /** The shim's uid: the daemon writes a hit's outputs into outDir itself when it runs as the same user. */
      uid?: number;
    }
  | {
      op: "invoke";
      tool: string;
      buildId: string | null;
      phase: "store";
      key: string;
      plan: ToolPlan;
      env: Record<string, string>;
      /** Absolute paths of the files the tool wrote into outDir. */
      outputs: string[];
      /** What the tool wrote on stderr (diagnostics and artifact notifications), raw. */
      stderr: string;
      /** Milliseconds the tool ran. */
      ms: number;
    }
  | { op: "invoke"; tool: string; buildId: string | null; phase: "stats" }
  /** Move every staged output into the store now; answers when done. */
  | { op: "invoke"; tool: string; buildId: string | null; phase: "settle" };

export type LookupResult =
  /** `restored`: the daemon already wrote the outputs into outDir; else the shim copies `files`. */
  | { hit: true; key: string; drv: string; path: string; files: StoredFile[]; stderr: string; restored: boolean }
  | { hit: false; key: string; reason: string };

export interface StoreResult {
  drv: string;
  /** The output's store path (it may still be moving in when the answer arrives). */
  path: string;
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

/**
 * What the daemon hands the `invoke` handler (src/store/daemon.ts builds it): the Store (only the
 * members below are used; the handler keeps its own index in tables prefixed `meta_` of `store.db`),
 * the content store, and the build-id → subderivations registry.
 */
export interface InvokeContext {
  store: Pick<Store, "db" | "layout" | "addOutput" | "queryOutput" | "makeTempDir">;
  content: ContentStore;
  /** Record `cid` as a subderivation of the running build `buildId` (false: no such build running). */
  recordSubderivation(buildId: string, cid: string): boolean | void;
}

/** Daemon events; the handler sends `log` lines for misses and stores. */
export type InvokeEmit = (event: { event: "log"; drv: string; text: string }) => void;
