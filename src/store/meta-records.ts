/**
 * The meta packages' records in the store's index (docs/build-layer.md, "Meta packages"): which
 * derivations a tool invocation's key has produced and under which manifest, the files of each stored
 * output, which artifact (an extern crate's bytes) came from which derivation, and what each build's
 * invocations did. The SQL lives here, with the rest of the index's; src/meta/ is given these records
 * by the daemon and never sees the database.
 *
 * Tables (prefix `meta_`): meta_manifests(key, drv, manifest), meta_outputs(drv, files), meta_artifacts
 * (hash → drv, name), meta_invocations(build_id, drv, label, result, ms, at).
 */
import type { Database } from "better-sqlite3";

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS meta_manifests (key TEXT NOT NULL, drv TEXT NOT NULL, manifest TEXT NOT NULL, created INTEGER NOT NULL, PRIMARY KEY (key, drv));
  CREATE TABLE IF NOT EXISTS meta_outputs (drv TEXT PRIMARY KEY, files TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS meta_artifacts (hash TEXT PRIMARY KEY, drv TEXT NOT NULL, name TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS meta_invocations (build_id TEXT, drv TEXT, label TEXT NOT NULL, result TEXT NOT NULL, ms INTEGER, at INTEGER NOT NULL);
`;

/** What an invocation came to: answered from the store, stored after a run, or its tool failed. */
export type InvocationResult = "hit" | "stored" | "failed";

/** One stored invocation, recorded once its output is in the store (a manifest never names an output that is not there). */
export interface StoredInvocationRecord {
  key: string;
  drv: string;
  /** The manifest (JSON text) under which `drv` answers `key`. */
  manifest: string;
  /** The output's files (JSON text). */
  files: string;
  /** [sha256, file name] of the output's files that dependents may name as externs. */
  artifacts: ReadonlyArray<readonly [string, string]>;
  buildId: string | null;
  label: string;
  ms: number;
}

export interface MetaRecords {
  /** Every manifest recorded under `key`, newest first. */
  manifestsUnder(key: string): Array<{ drv: string; manifest: string }>;
  /** The files (JSON text) of a stored invocation's output, or null. */
  outputFiles(drv: string): string | null;
  /** The derivation whose output holds the artifact with this sha256, or null. */
  artifactDrv(hash: string): string | null;
  /** Records a stored invocation: manifest, files, artifacts and the invocation, in one transaction. */
  recordStored(record: StoredInvocationRecord): void;
  /** Records an invocation that was not stored (a hit, or a failed run). */
  recordInvocation(buildId: string | null, drv: string | null, label: string, result: Exclude<InvocationResult, "stored">, ms: number | null): void;
  /** How many invocations of `buildId` had `result` (tests and stats). */
  countInvocations(buildId: string, result: InvocationResult): number;
}

/** The records of the index `db` (the store's db.sqlite), their tables created if missing. */
export function openMetaRecords(db: Database): MetaRecords {
  db.exec(SCHEMA);
  const statements = {
    manifests: db.prepare("SELECT drv, manifest FROM meta_manifests WHERE key = ? ORDER BY created DESC"),
    files: db.prepare("SELECT files FROM meta_outputs WHERE drv = ?"),
    artifact: db.prepare("SELECT drv FROM meta_artifacts WHERE hash = ?"),
    putManifest: db.prepare("INSERT OR REPLACE INTO meta_manifests (key, drv, manifest, created) VALUES (?, ?, ?, ?)"),
    putFiles: db.prepare("INSERT OR REPLACE INTO meta_outputs (drv, files) VALUES (?, ?)"),
    putArtifact: db.prepare("INSERT OR REPLACE INTO meta_artifacts (hash, drv, name) VALUES (?, ?, ?)"),
    putInvocation: db.prepare("INSERT INTO meta_invocations (build_id, drv, label, result, ms, at) VALUES (?, ?, ?, ?, ?, ?)"),
    count: db.prepare("SELECT COUNT(*) AS n FROM meta_invocations WHERE build_id = ? AND result = ?"),
  };
  const putStored = db.transaction((r: StoredInvocationRecord, now: number) => {
    statements.putManifest.run(r.key, r.drv, r.manifest, now);
    statements.putFiles.run(r.drv, r.files);
    for (const [hash, name] of r.artifacts) statements.putArtifact.run(hash, r.drv, name);
    statements.putInvocation.run(r.buildId, r.drv, r.label, "stored", r.ms, now);
  });
  return {
    manifestsUnder: (key) => statements.manifests.all(key) as Array<{ drv: string; manifest: string }>,
    outputFiles: (drv) => (statements.files.get(drv) as { files: string } | undefined)?.files ?? null,
    artifactDrv: (hash) => (statements.artifact.get(hash) as { drv: string } | undefined)?.drv ?? null,
    recordStored: (record) => putStored(record, Date.now()),
    recordInvocation: (buildId, drv, label, result, ms) => void statements.putInvocation.run(buildId, drv, label, result, ms, Date.now()),
    countInvocations: (buildId, result) => (statements.count.get(buildId, result) as { n: number }).n,
  };
}
