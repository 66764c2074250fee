/**
 * What running one builder takes and gives (docs/build-layer.md, "Running a builder"): the contract between
 * whoever asks for a build (the store's realise, given a RunBuild by the daemon) and src/builder/run.ts.
 * Types only: importing them loads nothing.
 */
import type { Derivation } from "../derivation";
import type { SandboxKind, SandboxMode } from "./sandbox";

export type { SandboxKind, SandboxMode };

/** One input as the build sees it under `$name`. */
export interface BuildInput {
  /** Store path of the output the build uses. */
  path: string;
  /** CID (string) of the input's derivation. */
  drv: string;
}

export interface BuildRequest {
  drv: Derivation;
  /** The derivation's CID, as a string. */
  drvCid: string;
  /** Store path of the source tree, or null. */
  src: string | null;
  /** Input name → the output it uses. */
  inputs: Record<string, BuildInput>;
  /** Store paths of every input's output, transitively. */
  closure: string[];
  /** Output name → absolute path the build must create (its parent is created and made writable). */
  outputs: Record<string, string>;
  /** Fresh, empty (or missing) directory. */
  buildDir: string;
  /** The build's own socket to the store daemon (its meta tools' `invoke`); absent: `PKG_STORE_SOCKET` is not set. */
  storeSocket?: string;
  /** More daemon directories the build sees read-only (the directory of its socket, where meta hits are shared). */
  shared?: string[];
  buildId: string;
  cores: number;
  /** Receives the build's stdout and stderr, one line per call (no trailing newline). */
  log: (line: string) => void;
  signal?: AbortSignal;
  /** Kill the build after this many milliseconds (ERR_BUILD_TIMEOUT). */
  timeoutMs?: number;
  /** Default `auto`. */
  sandbox?: SandboxMode;
  /** Where the base lives (created on first use); default: see base.ts. The store passes `<root>/base`. */
  baseDir?: string;
}

export interface BuildResult {
  /** Output name → path (as requested; each exists). */
  outputs: Record<string, string>;
  /** What the build ran in; `sandboxReason` says why when it is `none`. */
  sandbox: SandboxKind;
  sandboxReason?: string;
  durationMs: number;
  /** The program run and its expanded arguments. */
  builder: string;
  args: string[];
}

