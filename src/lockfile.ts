/**
 * pkg.lock, the lock file: the whole dependency graph of a package, resolved at one block of one
 * registry, with every CID needed to fetch and build it without asking the chain again.
 *
 * ```toml
 * # pkg.lock: written by `pkg lock`. Do not edit.
 * [lock]
 * format = 1
 * package = "bafkrei..."           # CID of the package's pkg.toml (its meta CID once published)
 * block = 102                      # resolved at this block...
 * chain-id = 31337                 # ...of this chain...
 * registry = "0x5FbD...0aa3"       # ...against this registry (EIP-55 checksummed)
 * meta-inputs = ["flakes:meta-rustc", "nixpkgs:cargo"]
 * native-inputs = ["nixpkgs:rustc"]
 * inputs = ["crates:dep"]
 *
 * [dependencies."crates:dep"]
 * version = "0.2.3"
 * meta = "bafkrei..."
 * src = "bafybei..."
 * inputs = ["crates:dep2"]
 * ```
 *
 * Decisions, and why:
 * - The lock stores the graph, not a flat list with one `kind` per dependency: a package can be
 *   reached as an input of one package and a native input of another, and building each
 *   dependency needs its own edges by kind. The root's edges are in `[lock]`, each dependency's
 *   in its table; the kind of an edge is the list it is in.
 * - One table per dependency, one field per line, sorted: a version bump is a three-line diff
 *   (version, meta, src) that reads as such. Cargo.lock is laid out the same way.
 * - Two versions of one package (npm allows it; A needs dep ^1, B needs dep ^2): then every
 *   version of that package is keyed `repo:name@version`, and only then; a package with one
 *   version is keyed `repo:name`. The rule is symmetric so keys never depend on resolution
 *   order. Edges name these keys.
 * - chain-id and registry are recorded so that a lock is never used against another chain by
 *   accident ({@link checkLockfileChain}); `format` lets a newer pkg change the layout.
 * - Every entry must be reachable from the root and the graph must be acyclic: builds are
 *   derivations, and a derivation cannot depend on itself. A hand edit that breaks this is an
 *   error here, not a confusing failure in the builder.
 */
import { checksumAddress, isAddress } from "./chain/hash";
import * as semver from "semver";
import { FileFormatError } from "./errors/files";
import { writeFileAtomic } from "./files/atomic";
import { checkCid } from "./files/cid";
import {
  checkTextSize,
  MAX_LOCKFILE_BYTES,
  type SizeLimit,
} from "./files/limits";
import { readTextFileOrNull } from "./files/read";
import {
  checkKeys,
  fail,
  optionalStringArray,
  requiredSafeInteger,
  requiredString,
  requiredTable,
  optionalTable,
  isTable,
  typeName,
  type FieldContext,
} from "./files/fields";
import type { FieldPath } from "./files/locate";
import { quoteValue } from "./files/name";
import { compareUtf8 } from "./files/order";
import { parseToml, tomlKey, tomlString, tomlStringArray, type TomlTable } from "./files/toml";
import { checkName, checkVersion, versionHint, type PackageKey } from "./ids";
import type { InputKind } from "./manifest";

export { FileFormatError, type FileErrorDetails } from "./errors/files";

export const LOCKFILE_FILE_NAME = "pkg.lock";
/** The layout written by this code. A file with a larger number was written by a newer pkg. */
export const LOCKFILE_FORMAT = 1;

export const ERR_LOCKFILE_TOML = "ERR_LOCKFILE_TOML";
export const ERR_LOCKFILE_NOT_FOUND = "ERR_LOCKFILE_NOT_FOUND";
export const ERR_LOCKFILE_MISSING_FIELD = "ERR_LOCKFILE_MISSING_FIELD";
export const ERR_LOCKFILE_UNKNOWN_KEY = "ERR_LOCKFILE_UNKNOWN_KEY";
export const ERR_LOCKFILE_INVALID_TYPE = "ERR_LOCKFILE_INVALID_TYPE";
export const ERR_LOCKFILE_UNSUPPORTED_FORMAT = "ERR_LOCKFILE_UNSUPPORTED_FORMAT";
export const ERR_LOCKFILE_INVALID_CID = "ERR_LOCKFILE_INVALID_CID";
export const ERR_LOCKFILE_INVALID_REGISTRY = "ERR_LOCKFILE_INVALID_REGISTRY";
export const ERR_LOCKFILE_INVALID_KEY = "ERR_LOCKFILE_INVALID_KEY";
export const ERR_LOCKFILE_INVALID_VERSION = "ERR_LOCKFILE_INVALID_VERSION";
export const ERR_LOCKFILE_DUPLICATE_EDGE = "ERR_LOCKFILE_DUPLICATE_EDGE";
export const ERR_LOCKFILE_UNKNOWN_DEPENDENCY = "ERR_LOCKFILE_UNKNOWN_DEPENDENCY";
export const ERR_LOCKFILE_CYCLE = "ERR_LOCKFILE_CYCLE";
export const ERR_LOCKFILE_UNREACHABLE = "ERR_LOCKFILE_UNREACHABLE";
export const ERR_LOCKFILE_CHAIN_MISMATCH = "ERR_LOCKFILE_CHAIN_MISMATCH";
export const ERR_LOCKFILE_TOO_LARGE = "ERR_LOCKFILE_TOO_LARGE";

export type LockfileErrorCode =
  | typeof ERR_LOCKFILE_TOML
  | typeof ERR_LOCKFILE_NOT_FOUND
  | typeof ERR_LOCKFILE_MISSING_FIELD
  | typeof ERR_LOCKFILE_UNKNOWN_KEY
  | typeof ERR_LOCKFILE_INVALID_TYPE
  | typeof ERR_LOCKFILE_UNSUPPORTED_FORMAT
  | typeof ERR_LOCKFILE_INVALID_CID
  | typeof ERR_LOCKFILE_INVALID_REGISTRY
  | typeof ERR_LOCKFILE_INVALID_KEY
  | typeof ERR_LOCKFILE_INVALID_VERSION
  | typeof ERR_LOCKFILE_DUPLICATE_EDGE
  | typeof ERR_LOCKFILE_UNKNOWN_DEPENDENCY
  | typeof ERR_LOCKFILE_CYCLE
  | typeof ERR_LOCKFILE_UNREACHABLE
  | typeof ERR_LOCKFILE_CHAIN_MISMATCH
  | typeof ERR_LOCKFILE_TOO_LARGE;

/** Outgoing edges by kind; each entry is a key of {@link Lockfile.dependencies}. Sorted, unique. */
export interface LockEdges {
  metaInputs: string[];
  nativeInputs: string[];
  inputs: string[];
}

/** One resolved package version: enough to fetch it (meta, src) and wire its build (edges). */
export interface LockedDependency extends LockEdges {
  version: string;
  /** CID of the version's published pkg.toml. */
  meta: string;
  /** CID of the version's source tree. */
  src: string;
}

export interface Lockfile extends LockEdges {
  /** CID of the locked package's pkg.toml. */
  package: string;
  /** The block the graph was resolved at; resolving again at it gives the same lock. */
  block: number;
  chainId: number;
  /** Registry contract address, EIP-55 checksummed. */
  registry: string;
  /** Key (`repo:name`, or `repo:name@version` when several versions are locked) → entry. */
  dependencies: Record<string, LockedDependency>;
}

/** A dependency key taken apart; `version` is null for the plain `repo:name` form. */
export interface LockKey extends PackageKey {
  version: string | null;
}

/** The chain a lock is about to be used with. */
export interface ChainTarget {
  chainId: number;
  registry: string;
}

const EDGE_LISTS: readonly { key: string; field: keyof LockEdges; kind: InputKind }[] = [
  { key: "meta-inputs", field: "metaInputs", kind: "meta-input" },
  { key: "native-inputs", field: "nativeInputs", kind: "native-input" },
  { key: "inputs", field: "inputs", kind: "input" },
];
const LOCK_KEYS = ["format", "package", "block", "chain-id", "registry", ...EDGE_LISTS.map((e) => e.key)];
const DEPENDENCY_KEYS = ["version", "meta", "src", ...EDGE_LISTS.map((e) => e.key)];
const CODES = {
  missing: ERR_LOCKFILE_MISSING_FIELD,
  unknownKey: ERR_LOCKFILE_UNKNOWN_KEY,
  type: ERR_LOCKFILE_INVALID_TYPE,
  tooLarge: ERR_LOCKFILE_TOO_LARGE,
} as const;

/** pkg.lock as a whole (README: Limits): only absurd sizes are refused, a lock grows with its graph. */
export const LOCKFILE_LIMIT: SizeLimit = {
  max: MAX_LOCKFILE_BYTES,
  code: ERR_LOCKFILE_TOO_LARGE,
  what: "a lock file",
  hint: "run `pkg lock` to regenerate it",
};

/** Parses `repo:name` or `repo:name@version`; returns a problem string instead of throwing. */
export function parseLockKey(key: string): LockKey | { problem: string } {
  const at = key.indexOf("@");
  const base = at < 0 ? key : key.slice(0, at);
  const version = at < 0 ? null : key.slice(at + 1);
  const pieces = base.split(":");
  if (pieces.length !== 2) return { problem: `${quoteValue(key)} is not repo:name or repo:name@version` };
  for (const part of pieces) {
    const problem = checkName(part);
    if (problem !== null) return { problem: `${quoteValue(key)}: ${quoteValue(part)} ${problem}` };
  }
  if (version !== null) {
    const problem = checkVersion(version);
    if (problem !== null) return { problem: `${quoteValue(key)}: version ${quoteValue(version)} ${problem}` };
  }
  return { repository: pieces[0], name: pieces[1], version };
}

export function formatLockKey(key: LockKey): string {
  return `${key.repository}:${key.name}${key.version === null ? "" : `@${key.version}`}`;
}

/**
 * The keys for a set of resolved packages, by the rule above: `repo:name@version` for packages
 * present in more than one version, `repo:name` otherwise. Returned in the order given.
 */
export function assignLockKeys(packages: readonly { repository: string; name: string; version: string }[]): string[] {
  const counts = new Map<string, number>();
  for (const p of packages) counts.set(`${p.repository}:${p.name}`, (counts.get(`${p.repository}:${p.name}`) ?? 0) + 1);
  return packages.map((p) => formatLockKey({ ...p, version: (counts.get(`${p.repository}:${p.name}`) ?? 0) > 1 ? p.version : null }));
}

/** Orders keys by package, then by semver precedence (so `@9.0.0` comes before `@10.0.0`). */
export function compareLockKeys(a: string, b: string): number {
  const ka = parseLockKey(a);
  const kb = parseLockKey(b);
  if ("problem" in ka || "problem" in kb) return compareUtf8(a, b);
  const byName = compareUtf8(`${ka.repository}:${ka.name}`, `${kb.repository}:${kb.name}`);
  if (byName !== 0) return byName;
  if (ka.version === null || kb.version === null) return compareUtf8(a, b);
  return semver.compareBuild(ka.version, kb.version);
}

function checkCidField(ctx: FieldContext, at: FieldPath, value: string): void {
  const problem = checkCid(value);
  if (problem !== null) {
    fail(ctx, ERR_LOCKFILE_INVALID_CID, at, `${quoteValue(value)} ${problem.problem}`,
      problem.canonical !== null ? `write ${problem.canonical}` : "run `pkg lock` to regenerate the lock file");
  }
}

function checkEdges(ctx: FieldContext, at: FieldPath, edges: LockEdges, dependencies: Record<string, LockedDependency>): void {
  for (const { key, field } of EDGE_LISTS) {
    const seen = new Set<string>();
    edges[field].forEach((target, i) => {
      if (seen.has(target)) fail(ctx, ERR_LOCKFILE_DUPLICATE_EDGE, [...at, key, i], `${quoteValue(target)} is listed twice`, "remove one");
      seen.add(target);
      if (!Object.prototype.hasOwnProperty.call(dependencies, target)) {
        const parsed = parseLockKey(target);
        const hint = "problem" in parsed ? parsed.problem : "every edge must name a [dependencies] entry; run `pkg lock`";
        fail(ctx, ERR_LOCKFILE_UNKNOWN_DEPENDENCY, [...at, key, i], `${quoteValue(target)} is not in [dependencies]`, hint);
      }
    });
  }
}

function edgeTargets(edges: LockEdges): string[] {
  return [...edges.metaInputs, ...edges.nativeInputs, ...edges.inputs];
}

/** Semantic checks, shared by parse (with text, for line numbers) and serialize (without). */
function checkLockfile(ctx: FieldContext, lock: Lockfile): void {
  checkCidField(ctx, ["lock", "package"], lock.package);
  for (const [key, value, min] of [["block", lock.block, 0], ["chain-id", lock.chainId, 1]] as const) {
    if (!Number.isSafeInteger(value) || value < min) {
      fail(ctx, ERR_LOCKFILE_INVALID_TYPE, ["lock", key], `${value} is not an integer >= ${min}`, `write a whole number >= ${min}`);
    }
  }
  if (!isAddress(lock.registry)) {
    fail(ctx, ERR_LOCKFILE_INVALID_REGISTRY, ["lock", "registry"], `${quoteValue(lock.registry)} is not an address (or its checksum is wrong)`, "write the 0x-prefixed registry address");
  }
  if (checksumAddress(lock.registry) !== lock.registry) {
    fail(ctx, ERR_LOCKFILE_INVALID_REGISTRY, ["lock", "registry"], `${quoteValue(lock.registry)} is not checksummed`, `write ${checksumAddress(lock.registry)}`);
  }

  const versions = new Map<string, number>(); // repo:name → number of versions locked
  const keys = Object.keys(lock.dependencies).sort(compareLockKeys);
  for (const key of keys) {
    const dep = lock.dependencies[key];
    const parsed = parseLockKey(key);
    if ("problem" in parsed) fail(ctx, ERR_LOCKFILE_INVALID_KEY, ["dependencies", key], parsed.problem, "keys are repo:name, or repo:name@version");
    const versionProblem = checkVersion(dep.version);
    if (versionProblem !== null) {
      fail(ctx, ERR_LOCKFILE_INVALID_VERSION, ["dependencies", key, "version"], `${quoteValue(dep.version)} ${versionProblem}`, versionHint(dep.version));
    }
    if (parsed.version !== null && parsed.version !== dep.version) {
      fail(ctx, ERR_LOCKFILE_INVALID_KEY, ["dependencies", key, "version"], `is ${quoteValue(dep.version)} but the key says ${parsed.version}`, "run `pkg lock` to regenerate the lock file");
    }
    const base = `${parsed.repository}:${parsed.name}`;
    versions.set(base, (versions.get(base) ?? 0) + 1);
    checkCidField(ctx, ["dependencies", key, "meta"], dep.meta);
    checkCidField(ctx, ["dependencies", key, "src"], dep.src);
  }
  // Canonical keys: `@version` exactly when a package has several versions (see top of file).
  for (const key of keys) {
    const parsed = parseLockKey(key) as LockKey;
    const several = (versions.get(`${parsed.repository}:${parsed.name}`) ?? 0) > 1;
    if (several && parsed.version === null) {
      fail(ctx, ERR_LOCKFILE_INVALID_KEY, ["dependencies", key], `${key} is locked in several versions, so each key needs @version`,
        `write "${key}@${lock.dependencies[key].version}"`);
    }
    if (!several && parsed.version !== null) {
      fail(ctx, ERR_LOCKFILE_INVALID_KEY, ["dependencies", key], `only one version of ${parsed.repository}:${parsed.name} is locked`,
        `write "${parsed.repository}:${parsed.name}"`);
    }
  }

  checkEdges(ctx, ["lock"], lock, lock.dependencies);
  for (const key of keys) checkEdges(ctx, ["dependencies", key], lock.dependencies[key], lock.dependencies);
  checkAcyclic(ctx, lock);

  const reached = new Set<string>();
  const queue = edgeTargets(lock);
  while (queue.length > 0) {
    const key = queue.pop() as string;
    if (reached.has(key)) continue;
    reached.add(key);
    queue.push(...edgeTargets(lock.dependencies[key]));
  }
  for (const key of keys) {
    if (!reached.has(key)) {
      fail(ctx, ERR_LOCKFILE_UNREACHABLE, ["dependencies", key], "is not reachable from the package's inputs", "remove it, or run `pkg lock`");
    }
  }
}

function checkAcyclic(ctx: FieldContext, lock: Lockfile): void {
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (key: string): void => {
    if (state.get(key) === "done") return;
    if (state.get(key) === "visiting") {
      const cycle = [...stack.slice(stack.indexOf(key)), key].join(" -> ");
      fail(ctx, ERR_LOCKFILE_CYCLE, ["dependencies", key], `is part of a dependency cycle: ${cycle}`, "build inputs must form a DAG; run `pkg lock`");
    }
    state.set(key, "visiting");
    stack.push(key);
    for (const next of edgeTargets(lock.dependencies[key])) visit(next);
    stack.pop();
    state.set(key, "done");
  };
  for (const key of Object.keys(lock.dependencies).sort(compareLockKeys)) visit(key);
}

function readEdges(ctx: FieldContext, table: TomlTable, at: FieldPath): LockEdges {
  // Edges are sets; a hand-edited file may list them in any order, the object is always sorted.
  const read = (key: string): string[] => (optionalStringArray(ctx, table, at, key) ?? []).sort(compareLockKeys);
  return { metaInputs: read("meta-inputs"), nativeInputs: read("native-inputs"), inputs: read("inputs") };
}

/**
 * Parses and validates pkg.lock text.
 * @throws FileFormatError with an ERR_LOCKFILE_* code; the message is `file:line: field: problem`.
 */
export function parseLockfile(text: string, file: string = LOCKFILE_FILE_NAME): Lockfile {
  checkTextSize(text, file, LOCKFILE_LIMIT);
  const ctx: FieldContext = { file, text, codes: CODES };
  const doc = parseToml(text, file, ERR_LOCKFILE_TOML);
  checkKeys(ctx, doc, [], ["lock", "dependencies"]);
  const head = requiredTable(ctx, doc, [], "lock");
  checkKeys(ctx, head, ["lock"], LOCK_KEYS);
  const format = requiredSafeInteger(ctx, head, ["lock"], "format", 1);
  if (format !== LOCKFILE_FORMAT) {
    fail(ctx, ERR_LOCKFILE_UNSUPPORTED_FORMAT, ["lock", "format"], `format ${format} is not supported (this pkg reads format ${LOCKFILE_FORMAT})`,
      format > LOCKFILE_FORMAT ? "upgrade pkg" : "run `pkg lock` to regenerate the lock file");
  }
  const dependencies: Record<string, LockedDependency> = {};
  const deps = optionalTable(ctx, doc, [], "dependencies");
  if (deps === undefined) {
    // A lock with inputs but no [dependencies] at all was cut short or hand-edited: say so, rather than
    // naming the first dangling edge.
    const edges = readEdges(ctx, head, ["lock"]);
    if (edgeTargets(edges).length > 0) {
      const first = EDGE_LISTS.find(({ field }) => edges[field].length > 0)!;
      fail(ctx, ERR_LOCKFILE_MISSING_FIELD, ["dependencies"],
        `missing table, but [lock].${first.key} names ${quoteValue(edges[first.field][0])}`, "run `pkg lock` to regenerate the lock file");
    }
  }
  for (const key of Object.keys(deps ?? {}).sort(compareLockKeys)) {
    const entry = (deps ?? {})[key];
    if (!isTable(entry)) {
      fail(ctx, ERR_LOCKFILE_INVALID_TYPE, ["dependencies", key], `expected a table, found ${typeName(entry)}`,
        `write [dependencies.${quoteValue(key)}] with version, meta and src`);
    }
    const at = ["dependencies", key];
    // Checked before use as a property name (no `__proto__` can get through).
    const parsed = parseLockKey(key);
    if ("problem" in parsed) fail(ctx, ERR_LOCKFILE_INVALID_KEY, at, parsed.problem, "keys are repo:name, or repo:name@version");
    checkKeys(ctx, entry, at, DEPENDENCY_KEYS);
    dependencies[key] = {
      version: requiredString(ctx, entry, at, "version"),
      meta: requiredString(ctx, entry, at, "meta"),
      src: requiredString(ctx, entry, at, "src"),
      ...readEdges(ctx, entry, at),
    };
  }
  const lock: Lockfile = {
    package: requiredString(ctx, head, ["lock"], "package"),
    block: requiredSafeInteger(ctx, head, ["lock"], "block", 0),
    chainId: requiredSafeInteger(ctx, head, ["lock"], "chain-id", 1),
    registry: requiredString(ctx, head, ["lock"], "registry"),
    ...readEdges(ctx, head, ["lock"]),
    dependencies,
  };
  checkLockfile(ctx, lock);
  return lock;
}

function edgeLines(edges: LockEdges): string[] {
  return EDGE_LISTS.filter(({ field }) => edges[field].length > 0).map(({ key, field }) =>
    tomlStringArray(key, [...edges[field]].sort(compareLockKeys)),
  );
}

/**
 * Renders a lock as pkg.lock text: fixed field order, dependencies and edges sorted, one field
 * per line. The same lock always gives the same bytes.
 * @throws FileFormatError when the object is not a valid lock (dangling edge, cycle, bad CID, ...).
 */
export function serializeLockfile(lock: Lockfile, file: string = LOCKFILE_FILE_NAME): string {
  checkLockfile({ file, text: null, codes: CODES }, lock);
  const lines = [
    "# pkg.lock: written by `pkg lock`. Do not edit.",
    "[lock]",
    `format = ${LOCKFILE_FORMAT}`,
    `package = ${tomlString(lock.package)}`,
    `block = ${lock.block}`,
    `chain-id = ${lock.chainId}`,
    `registry = ${tomlString(lock.registry)}`,
    ...edgeLines(lock),
  ];
  for (const key of Object.keys(lock.dependencies).sort(compareLockKeys)) {
    const dep = lock.dependencies[key];
    lines.push(
      "",
      `[dependencies.${tomlKey(key)}]`,
      `version = ${tomlString(dep.version)}`,
      `meta = ${tomlString(dep.meta)}`,
      `src = ${tomlString(dep.src)}`,
      ...edgeLines(dep),
    );
  }
  return `${lines.join("\n")}\n`;
}

/**
 * Refuses a lock made for another chain or registry: its block number and CIDs would be
 * meaningless there, and the same names may map to other packages.
 * @throws FileFormatError ERR_LOCKFILE_CHAIN_MISMATCH
 */
export function checkLockfileChain(lock: Lockfile, target: ChainTarget, file: string = LOCKFILE_FILE_NAME): void {
  const same = lock.chainId === target.chainId && isAddress(target.registry) && checksumAddress(target.registry) === lock.registry;
  if (!same) {
    throw new FileFormatError(
      ERR_LOCKFILE_CHAIN_MISMATCH,
      `${file}: [lock]: locked against registry ${lock.registry} on chain ${lock.chainId}, not ${target.registry} on chain ${target.chainId}`,
      { file, field: "[lock]", lockChainId: lock.chainId, lockRegistry: lock.registry, chainId: target.chainId, registry: target.registry },
      "run `pkg lock` to resolve against this network, or select the network the lock was made for",
    );
  }
}

/** Reads a pkg.lock. @throws FileFormatError ERR_LOCKFILE_NOT_FOUND, or any error of {@link parseLockfile}. */
export async function readLockfile(file: string): Promise<Lockfile> {
  const text = await readTextFileOrNull(file, LOCKFILE_LIMIT);
  if (text === null) throw new FileFormatError(ERR_LOCKFILE_NOT_FOUND, `${file}: no such file`, { file }, "run `pkg lock` first");
  return parseLockfile(text, file);
}

/** Writes a lock atomically; an invalid lock throws before any file is touched. */
export async function writeLockfile(file: string, lock: Lockfile): Promise<void> {
  await writeFileAtomic(file, serializeLockfile(lock, file));
}
