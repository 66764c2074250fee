/**
 * Instantiation (Nix's word): a package and its lock → derivations, one per package version of the
 * graph, made bottom up, each stored as a DAG-CBOR block in the content store. Nothing is built.
 *
 * - Every locked dependency's derivation comes from its published pkg.toml, read from the content store by
 *   the lock's meta CID (verified there), parsed, and checked against the lock: it must be the package and
 *   version the lock says, and the lock's edges must be exactly its declared inputs, each locked at a
 *   version inside its range. A lock that does not fit is an error, never a silently different build.
 * - A derivation depends only on what it names: the package (meta), its sources (src), its builder and
 *   args, the system, and its inputs' derivation CIDs by name. The same package version with the same
 *   inputs gives the same CID in every lock and every repository; a changed source changes its own
 *   derivation and every dependent's, and nothing else.
 * - `$name` in a builder is the input with that package name among the package's inputs of all kinds; two
 *   inputs with one name (`crates:dep` and `npm:dep`, or two versions of `util`) are an error naming both,
 *   since a build could not tell them apart. So is an input called like an output (`out`).
 * - Pins: a recursive pin of a derivation keeps its closure (input derivations, sources, pkg.toml files),
 *   so only the roots are pinned: the package's derivation, or for a repository every derivation no other
 *   one of it depends on. Pinning each derivation would walk the same closure again for every one
 *   (quadratic) for no extra protection. Pinning fetches what is missing, so after instantiate the
 *   sources of the whole graph are local (as after `pkg fetch`); pass `pin: false` to only store blocks.
 *
 * `repo instantiate` (src/repository/instantiate.ts) uses the same graph, made from a repo.lock.
 */
import path from "node:path";
import * as semver from "semver";
import { CID } from "multiformats/cid";
import { isPkgError, PkgError } from "./errors";
import { currentSystem, DERIVATION_FORMAT, encodeDerivation, dagCborCid, type Derivation, type DerivationBuilder, type DerivationInput } from "./derivation";
import { LOCKFILE_FILE_NAME, parseLockKey, readLockfile, type LockEdges, type Lockfile } from "./lockfile";
import { FileFormatError } from "./errors/files";
import { INPUT_TABLES, MANIFEST_FILE_NAME, readManifestFile, readPublishedManifest, resolveSources, type InputKind, type Manifest } from "./manifest";
import { compareUtf8 } from "./files/order";
import type { ContentStore } from "./content/types";
import { packageVersionId } from "./ids";
import { mapLimit } from "./concurrency";

export const ERR_INSTANTIATE_NAME_CONFLICT = "ERR_INSTANTIATE_NAME_CONFLICT";
export const ERR_INSTANTIATE_BAD_META = "ERR_INSTANTIATE_BAD_META";
export const ERR_INSTANTIATE_META_MISMATCH = "ERR_INSTANTIATE_META_MISMATCH";
export const ERR_INSTANTIATE_LOCK_MISMATCH = "ERR_INSTANTIATE_LOCK_MISMATCH";
export const ERR_INSTANTIATE_STALE_LOCK = "ERR_INSTANTIATE_STALE_LOCK";
export const ERR_INSTANTIATE_INPUT_NOT_LOCKED = "ERR_INSTANTIATE_INPUT_NOT_LOCKED";
export const ERR_INSTANTIATE_CYCLE = "ERR_INSTANTIATE_CYCLE";
export const ERR_INSTANTIATE_INPUT_FAILED = "ERR_INSTANTIATE_INPUT_FAILED";
/** `repo instantiate`: some packages failed (each failure is in the details). */
export const ERR_INSTANTIATE_INCOMPLETE = "ERR_INSTANTIATE_INCOMPLETE";

export type InstantiateErrorCode =
  | typeof ERR_INSTANTIATE_NAME_CONFLICT
  | typeof ERR_INSTANTIATE_BAD_META
  | typeof ERR_INSTANTIATE_META_MISMATCH
  | typeof ERR_INSTANTIATE_LOCK_MISMATCH
  | typeof ERR_INSTANTIATE_STALE_LOCK
  | typeof ERR_INSTANTIATE_INPUT_NOT_LOCKED
  | typeof ERR_INSTANTIATE_CYCLE
  | typeof ERR_INSTANTIATE_INPUT_FAILED
  | typeof ERR_INSTANTIATE_INCOMPLETE;

/** What instantiation needs of the content store. */
export type InstantiateContent = Pick<ContentStore, "getBytes" | "putBlock" | "pin">;

export interface InstantiatedDerivation {
  cid: CID;
  derivation: Derivation;
}

export interface InstantiateParams {
  lock: Lockfile;
  /** The locked package's pkg.toml (the one whose CID is `lock.package`). */
  manifest: Manifest;
  /** CID of the package's source tree (what `pkg publish` would publish as its src). */
  src: CID | string;
  content: InstantiateContent;
  /** Default: this machine's ({@link currentSystem}). */
  system?: string;
  /** Pin the root derivation, and so its closure (fetching what is missing). Default true. */
  pin?: boolean;
  /**
   * Appended to the root package's pkg.toml args, for its derivation only: a build variant (`pkg build
   * --arg`). Dependencies keep their own derivations, so variants share every input's build.
   */
  extraArgs?: readonly string[];
}

export interface Instantiation {
  /** CID of the package's derivation. */
  root: CID;
  derivation: Derivation;
  /** Lock key → derivation, for every locked dependency. */
  derivations: Map<string, InstantiatedDerivation>;
}

/** One package of the graph, as instantiation sees it (shared with src/repository/instantiate.ts). */
export interface Vertex {
  /** `crates:dep@0.2.0`: how messages name it. */
  label: string;
  manifest: Manifest;
  meta: CID;
  src: CID;
  /** Its inputs: vertex ids, with the kind of each edge. */
  edges: { id: string; kind: InputKind }[];
}

export type Outcome = { ok: true; cid: CID; derivation: Derivation; bytes: Uint8Array } | { ok: false; error: PkgError };

/** Published pkg.toml files read at once. */
export const READ_CONCURRENCY = 8;
const ROOT = ""; // never a lock key or a package name

/** How messages name a package version: `crates/dep:0.2.0` (src/ids.ts). */
export function label(m: Pick<Manifest, "repository" | "name" | "version">): string {
  return packageVersionId(m);
}

/** A published pkg.toml, read by CID (verified by the store) and parsed; it must be the package expected. */
export async function readMeta(content: Pick<ContentStore, "getBytes">, meta: string, expected: { repository: string; name: string; version: string }): Promise<Manifest> {
  const what = label(expected);
  let manifest: Manifest;
  try {
    // a published meta may be hostile: reading stops past pkg.toml's size limit, before anything is parsed
    manifest = await readPublishedManifest(content.getBytes(CID.parse(meta)), `${what} (meta ${meta})`);
  } catch (cause) {
    if (!(cause instanceof FileFormatError)) throw cause; // the content store's own errors keep their codes
    throw new PkgError(ERR_INSTANTIATE_BAD_META, `the published pkg.toml of ${what} is invalid: ${(cause as Error).message}`, {
      details: { package: what, meta },
      hint: "that version cannot be built; ask its maintainers to yank it and publish a fixed one",
      cause,
    });
  }
  if (manifest.repository !== expected.repository || manifest.name !== expected.name || manifest.version !== expected.version) {
    throw new PkgError(ERR_INSTANTIATE_META_MISMATCH, `${what}: its meta ${meta} is the pkg.toml of ${label(manifest)}`, {
      details: { package: what, meta, found: label(manifest) },
      hint: "the lock names the wrong meta CID; run `pkg lock` again",
    });
  }
  return manifest;
}

/**
 * The lock's edges out of one package must be exactly the inputs its pkg.toml declares, table by table,
 * each at a version inside its range.
 */
function checkLockedInputs(who: string, m: Manifest, edges: LockEdges, lock: Lockfile, hint: string): { id: string; kind: InputKind }[] {
  const mismatch = (problem: string, details: Record<string, unknown>) =>
    new PkgError(ERR_INSTANTIATE_LOCK_MISMATCH, `${who}: ${problem}`, { details: { package: who, ...details }, hint });
  const result: { id: string; kind: InputKind }[] = [];
  for (const { table, field, kind } of INPUT_TABLES) {
    const declared = m[field];
    const locked = new Map<string, string[]>(); // repo:name → lock keys
    for (const key of edges[field]) {
      const parsed = parseLockKey(key);
      const base = "problem" in parsed ? key : `${parsed.repository}:${parsed.name}`;
      locked.set(base, [...(locked.get(base) ?? []), key]);
    }
    for (const [input, range] of Object.entries(declared).sort(([a], [b]) => compareUtf8(a, b))) {
      const keys = locked.get(input) ?? [];
      if (keys.length !== 1) {
        throw mismatch(`[${table}] "${input}" = "${range}" is ${keys.length === 0 ? "not in the lock" : `locked ${keys.length} times (${keys.join(", ")})`}`,
          { table, input, range, locked: keys });
      }
      const entry = Object.prototype.hasOwnProperty.call(lock.dependencies, keys[0]) ? lock.dependencies[keys[0]] : undefined;
      if (entry === undefined) throw mismatch(`[${table}] "${input}" is locked as ${keys[0]}, which is not in [dependencies]`, { table, input, key: keys[0] });
      if (!semver.satisfies(entry.version, range)) {
        throw mismatch(`[${table}] "${input}" = "${range}" is locked at ${entry.version}, outside the range`, { table, input, range, version: entry.version });
      }
      result.push({ id: keys[0], kind });
    }
    for (const [base, keys] of locked) {
      if (!Object.prototype.hasOwnProperty.call(declared, base)) {
        throw mismatch(`the lock gives it ${keys.join(", ")} in [${table}], which its pkg.toml does not declare`, { table, locked: keys });
      }
    }
  }
  return result;
}

/** The derivation of one vertex, given its inputs' derivations. Throws PkgError. */
function makeDerivation(vertex: Vertex, inputs: { id: string; label: string; name: string; kind: InputKind; cid: CID }[], system: string): Derivation {
  const m = vertex.manifest;
  const byName = new Map<string, { id: string; label: string; kinds: Set<InputKind>; cid: CID }>();
  for (const input of inputs) {
    const seen = byName.get(input.name);
    if (seen !== undefined && seen.id !== input.id) {
      const both = [seen.label, input.label].sort(compareUtf8);
      throw new PkgError(ERR_INSTANTIATE_NAME_CONFLICT, `${vertex.label}: two inputs would both be $${input.name}: ${both[0]} and ${both[1]}`, {
        details: { package: vertex.label, name: input.name, inputs: both },
        hint: "a build sees each input as $name, so input names must be unique: keep one of them",
      });
    }
    if (seen !== undefined) seen.kinds.add(input.kind);
    else byName.set(input.name, { id: input.id, label: input.label, kinds: new Set([input.kind]), cid: input.cid });
  }
  const outputs = { out: { kind: "input-addressed" as const } };
  for (const [name, input] of byName) {
    if (Object.prototype.hasOwnProperty.call(outputs, name)) {
      throw new PkgError(ERR_INSTANTIATE_NAME_CONFLICT, `${vertex.label}: input ${input.label} would be $${name}, which is the build's output`, {
        details: { package: vertex.label, name, inputs: [input.label] },
        hint: `$${name} is where the build writes; a package called "${name}" cannot be an input`,
      });
    }
  }
  const inputDrvs: Record<string, DerivationInput> = {};
  for (const name of [...byName.keys()].sort(compareUtf8)) {
    const input = byName.get(name)!;
    inputDrvs[name] = { drv: input.cid, kinds: [...input.kinds].sort(compareUtf8), output: "out" };
  }
  const builder: DerivationBuilder = m.builder === null ? { kind: "none" } : m.builder.kind === "input"
    ? { kind: "input", input: m.builder.input, path: m.builder.path }
    : { kind: "source", path: m.builder.path };
  return {
    format: DERIVATION_FORMAT,
    name: `${m.name}-${m.version}`,
    system,
    builder,
    args: [...m.args],
    env: {},
    src: vertex.src,
    inputSrcs: [vertex.src],
    inputDrvs,
    outputs,
    package: { repository: m.repository, name: m.name, version: m.version, meta: vertex.meta },
  };
}

/**
 * Derivations of the vertices reachable from `starts`, bottom up. A vertex whose input failed fails with
 * ERR_INSTANTIATE_INPUT_FAILED (the input's error as cause); cycles fail with ERR_INSTANTIATE_CYCLE.
 */
export function deriveGraph(vertices: Map<string, Vertex | PkgError>, starts: readonly string[], system: string): Map<string, Outcome> {
  const outcomes = new Map<string, Outcome>();
  const stack: string[] = [];
  const labelOf = (id: string) => {
    const v = vertices.get(id);
    return v instanceof PkgError || v === undefined ? id : v.label;
  };
  const visit = (id: string): Outcome => {
    const done = outcomes.get(id);
    if (done !== undefined) return done;
    const at = stack.indexOf(id);
    if (at >= 0) {
      const cycle = [...stack.slice(at), id].map(labelOf);
      return {
        ok: false,
        error: new PkgError(ERR_INSTANTIATE_CYCLE, `${labelOf(id)} depends on itself: ${cycle.join(" -> ")}`, {
          details: { package: labelOf(id), cycle, members: stack.slice(at) },
          hint: "build inputs must form a DAG; drop one of these inputs",
        }),
      };
    }
    const vertex = vertices.get(id);
    let outcome: Outcome;
    if (vertex === undefined) {
      outcome = { ok: false, error: new PkgError(ERR_INSTANTIATE_LOCK_MISMATCH, `${id} is not in the lock`, { details: { package: id } }) };
    } else if (vertex instanceof PkgError) {
      outcome = { ok: false, error: vertex };
    } else {
      stack.push(id);
      outcome = deriveVertex(id, vertex);
      stack.pop();
    }
    outcomes.set(id, outcome);
    return outcome;
  };
  const deriveVertex = (id: string, vertex: Vertex): Outcome => {
    const inputs: Parameters<typeof makeDerivation>[1] = [];
    for (const edge of vertex.edges) {
      const input = visit(edge.id);
      if (!input.ok) {
        const members = input.error.code === ERR_INSTANTIATE_CYCLE ? (input.error.details.members as string[]) : [];
        if (members.includes(id)) return input; // a member of the cycle fails with the cycle itself
        return {
          ok: false,
          error: new PkgError(ERR_INSTANTIATE_INPUT_FAILED, `${vertex.label}: its input ${labelOf(edge.id)} failed: ${input.error.message}`, {
            details: { package: vertex.label, input: labelOf(edge.id), inputCode: input.error.code },
            hint: input.error.hint,
            cause: input.error,
          }),
        };
      }
      const target = vertices.get(edge.id) as Vertex;
      inputs.push({ id: edge.id, label: target.label, name: target.manifest.name, kind: edge.kind, cid: input.cid });
    }
    try {
      const derivation = makeDerivation(vertex, inputs, system);
      const bytes = encodeDerivation(derivation);
      return { ok: true, cid: dagCborCid(bytes), derivation, bytes };
    } catch (error) {
      if (!isPkgError(error)) throw error;
      // Derivation errors name a field, not a package: say which package's derivation it is.
      const named = error.code.startsWith("ERR_DERIVATION_")
        ? new PkgError(error.code, `${vertex.label}: ${error.message}`, { details: { package: vertex.label, ...error.details }, hint: error.hint, cause: error })
        : error;
      return { ok: false, error: named };
    }
  };
  for (const start of starts) visit(start);
  return outcomes;
}

/** The error that started a chain of ERR_INSTANTIATE_INPUT_FAILED. */
export function rootCause(error: PkgError): PkgError {
  let current = error;
  while (current.code === ERR_INSTANTIATE_INPUT_FAILED && isPkgError(current.cause)) current = current.cause;
  return current;
}

/** Puts the derivations made into the content store (DAG-CBOR blocks). */
export async function storeDerivations(content: InstantiateContent, outcomes: Iterable<Outcome>): Promise<void> {
  const blocks = [...outcomes].filter((o): o is Extract<Outcome, { ok: true }> => o.ok);
  await mapLimit(blocks, READ_CONCURRENCY, (o) => content.putBlock(o.cid, o.bytes));
}

/**
 * A package and its lock → its derivation and those of every locked dependency, stored in the content
 * store; the root is pinned (see the top of this file).
 * @throws PkgError ERR_INSTANTIATE_* (name conflicts, a lock that does not fit a pkg.toml, a bad meta),
 *   ERR_DERIVATION_* (a package whose derivation would be invalid), content store errors.
 */
export async function instantiate(params: InstantiateParams): Promise<Instantiation> {
  const { lock, manifest, content } = params;
  const system = params.system ?? currentSystem();
  const keys = Object.keys(lock.dependencies).sort(compareUtf8);
  const vertices = new Map<string, Vertex | PkgError>();
  const manifests = await mapLimit(keys, READ_CONCURRENCY, async (key) => {
    const parsed = parseLockKey(key);
    if ("problem" in parsed) throw new PkgError(ERR_INSTANTIATE_LOCK_MISMATCH, `pkg.lock: ${parsed.problem}`, { details: { key } });
    const entry = lock.dependencies[key];
    return readMeta(content, entry.meta, { repository: parsed.repository, name: parsed.name, version: entry.version });
  });
  const rerun = "run `pkg lock` to make a lock that fits";
  keys.forEach((key, i) => {
    const entry = lock.dependencies[key];
    const m = manifests[i];
    const who = label(m);
    vertices.set(key, {
      label: who,
      manifest: m,
      meta: CID.parse(entry.meta).toV1(),
      src: CID.parse(entry.src).toV1(),
      edges: checkLockedInputs(who, m, entry, lock, rerun),
    });
  });
  const rootLabel = label(manifest);
  const extra = params.extraArgs ?? [];
  vertices.set(ROOT, {
    label: rootLabel,
    manifest: extra.length > 0 ? { ...manifest, args: [...manifest.args, ...extra] } : manifest,
    meta: CID.parse(lock.package).toV1(),
    src: (typeof params.src === "string" ? CID.parse(params.src) : params.src).toV1(),
    edges: checkLockedInputs(rootLabel, manifest, lock, lock, rerun),
  });

  const outcomes = deriveGraph(vertices, [ROOT], system);
  const root = outcomes.get(ROOT)!;
  if (!root.ok) throw rootCause(root.error);
  await storeDerivations(content, outcomes.values());
  if (params.pin !== false) await content.pin(root.cid);
  const derivations = new Map<string, InstantiatedDerivation>();
  for (const key of keys) {
    const o = outcomes.get(key);
    if (o?.ok) derivations.set(key, { cid: o.cid, derivation: o.derivation });
  }
  return { root: root.cid, derivation: root.derivation, derivations };
}

export interface InstantiateDirectoryParams {
  /** The package directory: pkg.toml, pkg.lock and the files of `src`. */
  dir: string;
  content: InstantiateContent & Pick<ContentStore, "putBytes" | "putTree">;
  system?: string;
  pin?: boolean;
  /** See {@link InstantiateParams.extraArgs}. */
  extraArgs?: readonly string[];
  /**
   * Checks pkg.lock before anything is instantiated from it (src/lock-verify.ts: against the registry at
   * its block, or trusted under --offline). Commands always pass one; without it the lock is used as it is.
   */
  checkLock?: (lock: Lockfile, file: string) => Promise<void>;
  /** The directory as the caller read it already ({@link readPackageDirectory}); default: read now. */
  directory?: PackageDirectory;
}

/**
 * A package directory as one build reads it, once: pkg.toml's bytes and what they parse to, and the files its
 * `src` globs match. A glob that fails is kept as its error, thrown where the sources are needed (so that a
 * missing pkg.lock is still reported first, as `pkg instantiate` always did).
 */
export interface PackageDirectory {
  dir: string;
  manifestFile: string;
  /** pkg.toml as read: what goes into the content store (the meta `pkg publish` would publish). */
  manifestBytes: Uint8Array;
  manifest: Manifest;
  /** Sorted paths relative to `dir` ({@link resolveSources}), or the error that expanding `src` gave. */
  sources: { files: string[] } | { error: unknown };
}

/** Reads pkg.toml and expands its `src` in `dir`. @throws errors of readManifest (the sources' are kept, see {@link PackageDirectory}). */
export async function readPackageDirectory(dir: string): Promise<PackageDirectory> {
  const manifestFile = path.join(dir, MANIFEST_FILE_NAME);
  const { manifest, text } = await readManifestFile(manifestFile);
  const sources = await resolveSources(manifest, dir).then((files) => ({ files }), (error: unknown) => ({ error }));
  return { dir, manifestFile, manifestBytes: Buffer.from(text, "utf8"), manifest, sources };
}

/** The directory's source files. @throws the error expanding `src` gave. */
export function sourcesOf(directory: PackageDirectory): string[] {
  if ("error" in directory.sources) throw directory.sources.error;
  return directory.sources.files;
}

export interface DirectoryInstantiation extends Instantiation {
  /** The pkg.lock used. */
  lockFile: string;
  /** CID of the directory's pkg.toml (= the lock's `package`). */
  meta: CID;
  /** CID of the directory's source tree. */
  src: CID;
}

/**
 * `pkg instantiate` in a package directory: its pkg.toml and source tree go into the content store
 * (exactly as `pkg publish` would put them, so the CIDs are the ones it would publish), then
 * {@link instantiate} with its pkg.lock.
 * @throws PkgError ERR_INSTANTIATE_STALE_LOCK when pkg.lock was made for another pkg.toml; errors of
 *   readManifest, readLockfile, resolveSources and {@link instantiate}.
 */
export async function instantiateDirectory(params: InstantiateDirectoryParams): Promise<DirectoryInstantiation> {
  const { dir, content } = params;
  const directory = params.directory ?? (await readPackageDirectory(dir));
  const { manifest, manifestFile } = directory;
  const lockFile = path.join(dir, LOCKFILE_FILE_NAME);
  const lock = await readLockfile(lockFile);
  const meta = await content.putBytes(directory.manifestBytes);
  if (meta.toString() !== lock.package) {
    throw new PkgError(ERR_INSTANTIATE_STALE_LOCK, `${lockFile} was made for another pkg.toml (locked ${lock.package}, ${manifestFile} is now ${meta.toString()})`, {
      details: { lockFile, locked: lock.package, manifest: meta.toString() },
      hint: "run `pkg lock` after editing pkg.toml",
    });
  }
  await params.checkLock?.(lock, lockFile);
  const files = sourcesOf(directory);
  const src = await content.putTree(files.map((file) => ({ path: file, source: path.join(dir, file) })));
  const result = await instantiate({ lock, manifest, src, content, system: params.system, pin: params.pin, extraArgs: params.extraArgs });
  return { ...result, lockFile, meta, src };
}
