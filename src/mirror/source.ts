/**
 * What an importer (npm, crates, nixpkgs) gives the import engine (import.ts), and what the engine gives it.
 *
 * The engine owns everything the three share: the previous snapshot, which packages to visit (names given,
 * `--deps` followed, or every package of a directory index), the checkpoint that makes a run killed at any
 * point resume with no duplicate and no gap, the progress bar, the index (HAMT) update and the one repository
 * version published per import. An importer only turns one upstream package into one {@link PackageEntry}.
 *
 * An importer reuses every version of `previous` whose upstream digest is unchanged (npm `dist.integrity`,
 * crates `cksum`, nixpkgs the derivation's outputs) without downloading it again: a second run imports only
 * what changed. Upstream versions that disappeared stay in the entry, yanked: a published version never
 * changes and locks that name it keep working.
 */
import type { ContentStore } from "../content";
import type { MirrorKind, PackageEntry } from "./entry";

export interface ImportContext {
  content: ContentStore;
  /** The repository the snapshot is published in (what generated pkg.toml files name as `repository`). */
  repository: string;
  /**
   * Dry run: decide what would change without downloading or storing anything. Versions that would be added
   * are returned with `meta` and `src` set to "" (the engine reports them, and never writes such an entry).
   */
  dryRun: boolean;
  /** A line for the user (warnings: a version skipped and why). */
  log(line: string): void;
  /** Called once per version newly stored (the progress bar's count and rate). */
  onVersion(): void;
  signal?: AbortSignal;
}

export interface PackageImport {
  /** The package's entry; null when upstream has nothing to mirror (unknown, unpublished, every version skipped). */
  entry: PackageEntry | null;
  /** Upstream names of the packages this one depends on, followed with `--deps`. */
  dependencies: string[];
}

export interface MirrorSource {
  readonly kind: MirrorKind;
  /** Where from, for the snapshot's record and messages: a registry URL, an index directory, a file. */
  readonly location: string;
  /**
   * The package's name in the mirror repository, or a reason it cannot be mirrored (the name would break the
   * one name rule). Injective: two upstream names never share a package name.
   */
  packageName(upstreamName: string): { name: string } | { problem: string };
  /** Every package upstream has, for runs that name none (a directory index, a nixpkgs channel); absent: names are required. */
  listAll?(): AsyncIterable<string>;
  /** One package's entry, reusing what `previous` holds. */
  importPackage(upstreamName: string, previous: PackageEntry | null, context: ImportContext): Promise<PackageImport>;
  /** Release connections, caches. */
  close?(): Promise<void>;
}
