/**
 * One import: upstream packages → entries → an updated index → one repository version on chain.
 *
 * Idempotent: an entry is rewritten only when its bytes change (importers reuse every version whose upstream
 * digest is unchanged, without downloading it), the index reuses every block off a changed path, and a run
 * that changes no entry publishes nothing.
 *
 * Resumable, killed at any point (kill -9 included):
 * - Work goes in batches; after each, the batch's entries are in the content store, the index is updated to a
 *   new (unpublished) root, and a checkpoint (`<state dir>/<repository>.json`, written whole: temp file, rename)
 *   records that root, the snapshot the run started from and how far the queue got. A run that finds a
 *   checkpoint of the same request on top of the same current snapshot carries on from it; otherwise the
 *   checkpoint is stale (another import landed) and the run starts over from the current snapshot, which costs
 *   no download: everything already imported is reused.
 * - The repository version is the commit point. A run killed after it landed finds the checkpoint stale, starts
 *   over on the new snapshot, changes nothing, and publishes nothing: no duplicate. Nothing is skipped: the
 *   queue position only moves past a batch once its entries are in the index the checkpoint names.
 * - One import per repository and data directory at a time (a pid lock, ERR_MIRROR_BUSY).
 */
import { mkdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { CID } from "multiformats/cid";
import { mapLimit } from "../concurrency";
import { PkgError, isPkgError } from "../errors";
import { writeFileAtomic } from "../files/atomic";
import { acquirePidLock } from "../files/pidlock";
import type { ContentStore } from "../content";
import type { RegistryClient, TxReceipt } from "../chain/registry";
import { encodeEntry, readEntry, type PackageEntry } from "./entry";
import { hamtEntries, hamtUpdate, linkSize, type BlockCounter, type HamtLink } from "./hamt";
import { lookupEntry } from "./read";
import { currentSnapshot, encodeSnapshotRecord, nextSnapshotVersion, readSnapshotRecord, SNAPSHOT_FORMAT, SNAPSHOT_RECORD, type SnapshotRecord } from "./snapshot";
import type { ImportContext, MirrorSource } from "./source";
import { ERR_MIRROR_BUSY, ERR_MIRROR_NAME, ERR_MIRROR_NOT_SNAPSHOT } from "./errors";


const CHECKPOINT_FORMAT = 1;
/** Packages imported at once (downloads overlap; the store writes in between). */
const DEFAULT_CONCURRENCY = 8;
/** Packages per batch, per package imported at once: a checkpoint after each batch (a few seconds of work). */
const BATCH_PER_WORKER = 4;

export interface VersionChange {
  package: string;
  version: string;
  change: "added" | "changed" | "yanked" | "unyanked";
}

export interface MirrorProgress {
  /** Packages done / known so far (the total grows while --deps discovers more). */
  packages: number;
  total: number;
  /** Versions stored so far in this run, and how long it has run. */
  versions: number;
  elapsedMs: number;
}

export interface MirrorParams {
  source: MirrorSource;
  repository: string;
  /** Upstream names; empty: every package the source lists (directory indexes, channels). */
  names: readonly string[];
  /** Follow dependencies (each package's importer reports them). */
  deps: boolean;
  dryRun: boolean;
  client: Pick<RegistryClient, "getRepository" | "getRepositoryVersions" | "createRepository" | "publishRepository">;
  content: ContentStore;
  /** Where checkpoints and the lock live (`<data dir>/mirror`). */
  stateDir: string;
  concurrency?: number;
  /** Warnings: a package or version left out, and why. */
  log?: (line: string) => void;
  /** What the run is doing (resuming, creating the repository). */
  step?: (line: string) => void;
  onProgress?: (progress: MirrorProgress) => void;
  /** Block counts of the index updates (benchmarks). */
  stats?: BlockCounter;
}

export interface MirrorResult {
  repository: string;
  kind: MirrorSource["kind"];
  /** The snapshot the run started from, and the one it made (equal when nothing changed). */
  previous: string | null;
  root: string;
  /** The repository version published; null when nothing changed or in a dry run. */
  version: string | null;
  tx: TxReceipt | null;
  packages: { visited: number; changed: number; skipped: number };
  versions: { stored: number; total: number };
  changes: VersionChange[];
  /** Whether the run carried on from a checkpoint of a killed one. */
  resumed: boolean;
  dryRun: boolean;
}

interface Checkpoint {
  format: typeof CHECKPOINT_FORMAT;
  kind: string;
  location: string;
  request: { names: string[]; deps: boolean };
  /** The snapshot the run started from (null: none yet). */
  base: string | null;
  /** The index with every batch so far applied (not published). */
  root: string | null;
  /** The queue (null: the source's full list, re-listed on resume) and how far it got. */
  queue: string[] | null;
  position: number;
  packages: number;
  versions: number;
  changed: number;
}

function busyError(repository: string, file: string): PkgError {
  return new PkgError(ERR_MIRROR_BUSY, `another pkg mirror is importing into ${repository} (lock ${file})`, {
    details: { repository, lock: file },
    hint: "wait for it to finish; a killed one leaves a stale lock that the next run takes over",
  });
}

function sameRequest(a: Checkpoint, kind: string, location: string, names: readonly string[], deps: boolean): boolean {
  return a.format === CHECKPOINT_FORMAT && a.kind === kind && a.location === location && a.request.deps === deps &&
    a.request.names.length === names.length && a.request.names.every((n, i) => n === names[i]);
}

async function readCheckpoint(file: string): Promise<Checkpoint | null> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as Checkpoint;
  } catch {
    return null; // none, or unreadable: start over (a checkpoint is only ever an optimisation of work)
  }
}

/** What changed between two entries of one package, version by version. */
export function entryChanges(before: PackageEntry | null, after: PackageEntry): VersionChange[] {
  const old = new Map((before?.versions ?? []).map((v) => [v.version, v]));
  const out: VersionChange[] = [];
  for (const v of after.versions) {
    const was = old.get(v.version);
    if (!was) out.push({ package: after.name, version: v.version, change: "added" });
    else if (was.yanked !== v.yanked) out.push({ package: after.name, version: v.version, change: v.yanked ? "yanked" : "unyanked" });
    else if (was.meta !== v.meta || was.src !== v.src) out.push({ package: after.name, version: v.version, change: "changed" });
  }
  return out;
}

export async function runMirror(params: MirrorParams): Promise<MirrorResult> {
  const { source, repository, client, content, dryRun } = params;
  const log = params.log ?? (() => {});
  const step = params.step ?? (() => {});
  const started = Date.now();
  await mkdir(params.stateDir, { recursive: true });
  const lockFile = path.join(params.stateDir, `${repository}.lock`);
  const lock = await acquirePidLock(lockFile, { busy: () => busyError(repository, lockFile) });
  try {
    const current = await currentSnapshot(client, content, repository);
    const base = current?.root.toString() ?? null;
    let baseRecord: SnapshotRecord | null = null;
    if (current) {
      baseRecord = await readSnapshotRecord(content, current.root);
      if (baseRecord.kind !== source.kind) {
        throw new PkgError(ERR_MIRROR_NOT_SNAPSHOT, `${repository}'s current snapshot ${base} is a ${baseRecord.kind} mirror, not ${source.kind}`, {
          details: { repository, kind: baseRecord.kind, root: base },
          hint: `mirror ${source.kind} into another repository (--repository NAME)`,
        });
      }
    }

    const checkpointFile = path.join(params.stateDir, `${repository}.json`);
    const names = [...params.names];
    const saved = dryRun ? null : await readCheckpoint(checkpointFile);
    const resumed = saved !== null && saved.base === base && sameRequest(saved, source.kind, source.location, names, params.deps);
    if (saved !== null && !resumed) step(`a checkpoint of an earlier run does not apply any more (${base === saved.base ? "another request" : "the snapshot moved"}): starting over`);

    let queue: string[];
    let position: number;
    let root: CID | null;
    let counts = { packages: baseRecord?.packages ?? 0, versions: baseRecord?.versions ?? 0 };
    let changedPackages = 0;
    // a full listing also visits what the current snapshot has and upstream no longer lists, so its importer
    // can yank it (a version is never dropped): the listing's names plus those, in a fixed order
    const fullQueue = async () => {
      const listed = await listAll(source);
      return current === null ? listed : [...listed, ...(await vanished(source, content, current.root, repository, listed))].sort();
    };
    if (resumed) {
      queue = saved.queue ?? (await fullQueue());
      position = saved.position;
      root = saved.root === null ? null : CID.parse(saved.root);
      counts = { packages: saved.packages, versions: saved.versions };
      changedPackages = saved.changed;
      step(`resuming an interrupted import at package ${position + 1} of ${queue.length}`);
    } else {
      queue = names.length > 0 ? [...new Set(names)] : await fullQueue();
      position = 0;
      root = current?.root ?? null;
    }
    const seen = new Set(queue);
    // a package the user named fails the run when upstream fails it; one found through --deps or a full listing is
    // skipped with a line in the log (one broken package must not stop a mirror of thousands)
    const requested = new Set(names);
    const fullList = names.length === 0 && !params.deps;

    let storedVersions = 0;
    let visited = 0;
    let skipped = 0;
    const changes: VersionChange[] = [];
    const context: ImportContext = {
      content,
      repository,
      dryRun,
      log,
      onVersion: () => {
        storedVersions++;
      },
    };
    const report = () => params.onProgress?.({ packages: position, total: queue.length, versions: storedVersions, elapsedMs: Date.now() - started });

    while (position < queue.length) {
      const batch = queue.slice(position, position + BATCH_PER_WORKER * (params.concurrency ?? DEFAULT_CONCURRENCY));
      const pending = new Map<string, HamtLink | null>();
      const results = await mapLimit(batch, params.concurrency ?? DEFAULT_CONCURRENCY, async (upstream) => {
        const named = source.packageName(upstream);
        if ("problem" in named) {
          if (requested.has(upstream)) {
            throw new PkgError(ERR_MIRROR_NAME, `${source.kind} package ${named.problem}`, {
              details: { name: upstream },
              hint: "package names are [a-z0-9][a-z0-9._-] (npm's @scope/name and upper case are escaped), at most 64 characters",
            });
          }
          log(`skipping ${upstream}: ${named.problem}`);
          return null;
        }
        const previous = root === null ? null : await lookupEntry(content, root, repository, named.name);
        let imported;
        try {
          imported = await source.importPackage(upstream, previous, context);
        } catch (error) {
          // a package gone or damaged upstream is left out (and said); a transient failure (ERR_MIRROR_UPSTREAM), the
          // chain or the store stop the run, which the next one resumes: skipping those would leave a gap
          if (isPkgError(error) && /^ERR_MIRROR_(UNKNOWN_PACKAGE|INTEGRITY|BAD_ARCHIVE|BAD_SOURCE)$/.test(error.code) && !requested.has(upstream)) {
            log(`skipping ${upstream}: ${error.message}`);
            return null;
          }
          throw error;
        }
        return { upstream, name: named.name, previous, imported };
      });
      for (const result of results) {
        visited++;
        if (result === null) {
          skipped++;
          continue;
        }
        const { name, previous, imported } = result;
        if (params.deps) {
          for (const dep of imported.dependencies) {
            if (!seen.has(dep)) {
              seen.add(dep);
              queue.push(dep);
            }
          }
        }
        const entry = imported.entry;
        if (entry === null) continue;
        const entryChanges_ = entryChanges(previous, entry);
        changes.push(...entryChanges_);
        if (dryRun) {
          if (entryChanges_.length > 0) changedPackages++;
          continue;
        }
        const bytes = encodeEntry(entry);
        const previousBytes = previous === null ? null : encodeEntry(previous);
        if (previousBytes !== null && Buffer.from(bytes).equals(previousBytes)) continue;
        const cid = await content.putBytes(bytes);
        pending.set(name, { cid, size: await linkSize(content, cid) });
        changedPackages++;
        counts.packages += previous === null ? 1 : 0;
        counts.versions += entry.versions.length - (previous?.versions.length ?? 0);
      }
      position += batch.length;
      if (!dryRun) {
        if (pending.size > 0) root = (await hamtUpdate(content, root, pending, params.stats)).root;
        const checkpoint: Checkpoint = {
          format: CHECKPOINT_FORMAT,
          kind: source.kind,
          location: source.location,
          request: { names, deps: params.deps },
          base,
          root: root?.toString() ?? null,
          queue: fullList ? null : queue,
          position,
          packages: counts.packages,
          versions: counts.versions,
          changed: changedPackages,
        };
        await writeFileAtomic(checkpointFile, `${JSON.stringify(checkpoint)}\n`);
      }
      report();
    }

    const result: MirrorResult = {
      repository,
      kind: source.kind,
      previous: base,
      root: base ?? "",
      version: null,
      tx: null,
      packages: { visited, changed: changedPackages, skipped },
      versions: { stored: storedVersions, total: counts.versions },
      changes,
      resumed,
      dryRun,
    };
    if (dryRun || changedPackages === 0 || root === null) {
      await rm(checkpointFile, { force: true });
      return result;
    }
    // the record names the snapshot this one was made from, so it changes only when some entry did
    const record: SnapshotRecord = {
      format: SNAPSHOT_FORMAT,
      kind: source.kind,
      repository,
      source: source.location,
      packages: counts.packages,
      versions: counts.versions,
      previous: base,
    };
    const recordCid = await content.putBytes(encodeSnapshotRecord(record));
    const snapshot = (await hamtUpdate(content, root, new Map([[SNAPSHOT_RECORD, { cid: recordCid, size: await linkSize(content, recordCid) }]]), params.stats)).root;
    result.root = snapshot.toString();
    if (base === result.root) {
      await rm(checkpointFile, { force: true });
      return result;
    }
    await content.pin(snapshot);
    if ((await client.getRepository(repository)) === null) {
      step(`creating repository ${repository}`);
      await client.createRepository(repository, false);
    }
    const versions = (await client.getRepositoryVersions(repository)).map((v) => v.version);
    result.version = nextSnapshotVersion(versions);
    const tx = await client.publishRepository(repository, result.version, result.root);
    result.tx = { hash: tx.hash, block: tx.blockNumber };
    await rm(checkpointFile, { force: true });
    return result;
  } finally {
    await source.close?.();
    await lock.release();
  }
}

async function listAll(source: MirrorSource): Promise<string[]> {
  if (!source.listAll) {
    throw new PkgError("ERR_USAGE", `a ${source.kind} mirror from ${source.location} needs package names`, {
      hint: "name the packages to mirror (and --deps to follow their dependencies)",
    });
  }
  const out: string[] = [];
  for await (const name of source.listAll()) out.push(name);
  // a fixed order, so a resumed run's position means the same package
  return [...new Set(out)].sort();
}

/**
 * Upstream names of the packages of the snapshot at `root` that `listed` does not name (their entries keep the
 * upstream name in `origin.name`, or `origin.attr` for nixpkgs). Only those entries are read.
 */
async function vanished(source: MirrorSource, content: ContentStore, root: CID, repository: string, listed: readonly string[]): Promise<string[]> {
  const names = new Set<string>();
  for (const upstream of listed) {
    const named = source.packageName(upstream);
    if ("name" in named) names.add(named.name);
  }
  const out: string[] = [];
  for await (const { name, link } of hamtEntries(content, root)) {
    if (name === SNAPSHOT_RECORD || names.has(name)) continue;
    const entry = await readEntry(content, link.cid, `${repository}:${name} in snapshot ${root}`, name);
    const upstream = entry.origin.name ?? entry.origin.attr;
    if (typeof upstream === "string") out.push(upstream);
  }
  return out;
}
