/**
 * repo.lock, the repository lock: the set of package versions a repository pins, resolved at one block
 * of one registry. A published repository version's meta is exactly this file (its CID is on chain).
 *
 * ```toml
 * # repo.lock: written by `repo lock`. Do not edit.
 * [repository]
 * format = 1
 * name = "crates"                  # the repository whose packages these are
 * block = 102                      # resolved at this block...
 * chain-id = 31337                 # ...of this chain...
 * registry = "0x5FbD...0aa3"       # ...against this registry (EIP-55 checksummed)
 *
 * [packages.dep]
 * version = "0.2.3"
 * meta = "bafkrei..."              # CID of the version's pkg.toml
 * src = "bafybei..."               # CID of its source tree
 * ```
 *
 * Decisions, and why:
 * - One table per package, keyed by its name in the repository (every entry belongs to `name`; a
 *   repository pins only its own packages), one field per line, sorted by UTF-8 bytes: moving a package
 *   to a new version is a three-line diff, as in pkg.lock.
 * - One version per package: a repository version is a consistent release (a distribution's snapshot),
 *   not a dependency graph; two versions of one package would be two packages.
 * - No `[packages]` table at all when the repository has no packages, so that an empty lock is still
 *   the same bytes every time.
 * - chain-id and registry are recorded, as in pkg.lock, so that a lock written on one network is not
 *   published on another by accident ({@link checkRepositoryLockChain}).
 */
import { checksumAddress, isAddress } from "./chain/hash";
import { FileFormatError } from "./errors/files";
import { writeFileAtomic } from "./files/atomic";
import { checkCid } from "./files/cid";
import { checkTextSize, MAX_REPOLOCK_BYTES, type SizeLimit } from "./files/limits";
import { readTextFileOrNull } from "./files/read";
import {
  checkKeys,
  fail,
  isTable,
  optionalTable,
  requiredSafeInteger,
  requiredString,
  requiredTable,
  typeName,
  type FieldContext,
} from "./files/fields";
import type { FieldPath } from "./files/locate";
import { quoteValue } from "./files/name";
import { compareUtf8 } from "./files/order";
import { parseToml, tomlKey, tomlString } from "./files/toml";
import { checkName, checkVersion, nameHint, versionHint } from "./ids";

export { FileFormatError, type FileErrorDetails } from "./errors/files";

export const REPOLOCK_FILE_NAME = "repo.lock";
/** The layout written by this code. A file with a larger number was written by a newer repo. */
export const REPOLOCK_FORMAT = 1;

export const ERR_REPOLOCK_TOML = "ERR_REPOLOCK_TOML";
export const ERR_REPOLOCK_NOT_FOUND = "ERR_REPOLOCK_NOT_FOUND";
export const ERR_REPOLOCK_MISSING_FIELD = "ERR_REPOLOCK_MISSING_FIELD";
export const ERR_REPOLOCK_UNKNOWN_KEY = "ERR_REPOLOCK_UNKNOWN_KEY";
export const ERR_REPOLOCK_INVALID_TYPE = "ERR_REPOLOCK_INVALID_TYPE";
export const ERR_REPOLOCK_UNSUPPORTED_FORMAT = "ERR_REPOLOCK_UNSUPPORTED_FORMAT";
export const ERR_REPOLOCK_INVALID_NAME = "ERR_REPOLOCK_INVALID_NAME";
export const ERR_REPOLOCK_INVALID_VERSION = "ERR_REPOLOCK_INVALID_VERSION";
export const ERR_REPOLOCK_INVALID_CID = "ERR_REPOLOCK_INVALID_CID";
export const ERR_REPOLOCK_INVALID_REGISTRY = "ERR_REPOLOCK_INVALID_REGISTRY";
export const ERR_REPOLOCK_CHAIN_MISMATCH = "ERR_REPOLOCK_CHAIN_MISMATCH";
export const ERR_REPOLOCK_TOO_LARGE = "ERR_REPOLOCK_TOO_LARGE";

export type RepositoryLockErrorCode =
  | typeof ERR_REPOLOCK_TOML
  | typeof ERR_REPOLOCK_NOT_FOUND
  | typeof ERR_REPOLOCK_MISSING_FIELD
  | typeof ERR_REPOLOCK_UNKNOWN_KEY
  | typeof ERR_REPOLOCK_INVALID_TYPE
  | typeof ERR_REPOLOCK_UNSUPPORTED_FORMAT
  | typeof ERR_REPOLOCK_INVALID_NAME
  | typeof ERR_REPOLOCK_INVALID_VERSION
  | typeof ERR_REPOLOCK_INVALID_CID
  | typeof ERR_REPOLOCK_INVALID_REGISTRY
  | typeof ERR_REPOLOCK_CHAIN_MISMATCH
  | typeof ERR_REPOLOCK_TOO_LARGE;

/** One package version a repository pins: enough to fetch it without asking the chain. */
export interface LockedPackage {
  version: string;
  /** CID of the version's published pkg.toml. */
  meta: string;
  /** CID of the version's source tree. */
  src: string;
}

export interface RepositoryLock {
  /** The repository; every entry of `packages` is one of its packages. */
  name: string;
  /** The block the packages were read at; locking again at it gives the same lock. */
  block: number;
  chainId: number;
  /** Registry contract address, EIP-55 checksummed. */
  registry: string;
  /** Package name (within the repository) → the pinned version. */
  packages: Record<string, LockedPackage>;
}

/** The chain a lock is about to be used with. */
export interface RepositoryLockChain {
  chainId: number;
  registry: string;
}

const HEADER_KEYS = ["format", "name", "block", "chain-id", "registry"];
const PACKAGE_KEYS = ["version", "meta", "src"];
const CODES = {
  missing: ERR_REPOLOCK_MISSING_FIELD,
  unknownKey: ERR_REPOLOCK_UNKNOWN_KEY,
  type: ERR_REPOLOCK_INVALID_TYPE,
  tooLarge: ERR_REPOLOCK_TOO_LARGE,
} as const;
const REGENERATE = "run `repo lock NAME -o repo.lock` to regenerate it";

/** repo.lock as a whole (README: Limits): a published repository version's meta; only absurd sizes are refused. */
export const REPOLOCK_LIMIT: SizeLimit = { max: MAX_REPOLOCK_BYTES, code: ERR_REPOLOCK_TOO_LARGE, what: "a repository lock", hint: REGENERATE };

function checkCidField(ctx: FieldContext, at: FieldPath, value: string): void {
  const problem = checkCid(value);
  if (problem !== null) {
    fail(ctx, ERR_REPOLOCK_INVALID_CID, at, `${quoteValue(value)} ${problem.problem}`, problem.canonical !== null ? `write ${problem.canonical}` : REGENERATE);
  }
}

function checkNameField(ctx: FieldContext, at: FieldPath, name: string): void {
  const problem = checkName(name);
  if (problem !== null) fail(ctx, ERR_REPOLOCK_INVALID_NAME, at, `${quoteValue(name)} ${problem}`, nameHint(name));
}

/** Semantic checks, shared by parse (with text, for line numbers) and serialize (without). */
function checkRepositoryLock(ctx: FieldContext, lock: RepositoryLock): void {
  checkNameField(ctx, ["repository", "name"], lock.name);
  for (const [key, value, min] of [["block", lock.block, 0], ["chain-id", lock.chainId, 1]] as const) {
    if (!Number.isSafeInteger(value) || value < min) {
      fail(ctx, ERR_REPOLOCK_INVALID_TYPE, ["repository", key], `${value} is not an integer >= ${min}`, `write a whole number >= ${min}`);
    }
  }
  if (!isAddress(lock.registry)) {
    fail(ctx, ERR_REPOLOCK_INVALID_REGISTRY, ["repository", "registry"], `${quoteValue(lock.registry)} is not an address (or its checksum is wrong)`,
      "write the 0x-prefixed registry address");
  }
  if (checksumAddress(lock.registry) !== lock.registry) {
    fail(ctx, ERR_REPOLOCK_INVALID_REGISTRY, ["repository", "registry"], `${quoteValue(lock.registry)} is not checksummed`, `write ${checksumAddress(lock.registry)}`);
  }
  for (const name of Object.keys(lock.packages).sort(compareUtf8)) {
    const entry = lock.packages[name];
    checkNameField(ctx, ["packages", name], name);
    const problem = checkVersion(entry.version);
    if (problem !== null) fail(ctx, ERR_REPOLOCK_INVALID_VERSION, ["packages", name, "version"], `${quoteValue(entry.version)} ${problem}`, versionHint(entry.version));
    checkCidField(ctx, ["packages", name, "meta"], entry.meta);
    checkCidField(ctx, ["packages", name, "src"], entry.src);
  }
}

/**
 * Parses and validates repo.lock text.
 * @throws FileFormatError with an ERR_REPOLOCK_* code; the message is `file:line: field: problem`.
 */
export function parseRepositoryLock(text: string, file: string = REPOLOCK_FILE_NAME): RepositoryLock {
  checkTextSize(text, file, REPOLOCK_LIMIT);
  const ctx: FieldContext = { file, text, codes: CODES };
  const doc = parseToml(text, file, ERR_REPOLOCK_TOML);
  checkKeys(ctx, doc, [], ["repository", "packages"]);
  const head = requiredTable(ctx, doc, [], "repository");
  checkKeys(ctx, head, ["repository"], HEADER_KEYS);
  const format = requiredSafeInteger(ctx, head, ["repository"], "format", 1);
  if (format !== REPOLOCK_FORMAT) {
    fail(ctx, ERR_REPOLOCK_UNSUPPORTED_FORMAT, ["repository", "format"],
      `format ${format} is not supported (this repo reads format ${REPOLOCK_FORMAT})`, format > REPOLOCK_FORMAT ? "upgrade chainpkg" : REGENERATE);
  }
  const name = requiredString(ctx, head, ["repository"], "name");
  const block = requiredSafeInteger(ctx, head, ["repository"], "block", 0);
  const chainId = requiredSafeInteger(ctx, head, ["repository"], "chain-id", 1);
  const registry = requiredString(ctx, head, ["repository"], "registry");
  const packages: Record<string, LockedPackage> = {};
  const table = optionalTable(ctx, doc, [], "packages") ?? {};
  for (const pkg of Object.keys(table).sort(compareUtf8)) {
    const at = ["packages", pkg];
    // Checked before use as a property name (no `__proto__` can get through).
    checkNameField(ctx, at, pkg);
    const entry = table[pkg];
    if (!isTable(entry)) {
      fail(ctx, ERR_REPOLOCK_INVALID_TYPE, at, `expected a table, found ${typeName(entry)}`, `write [packages.${tomlKey(pkg)}] with version, meta and src`);
    }
    checkKeys(ctx, entry, at, PACKAGE_KEYS);
    packages[pkg] = {
      version: requiredString(ctx, entry, at, "version"),
      meta: requiredString(ctx, entry, at, "meta"),
      src: requiredString(ctx, entry, at, "src"),
    };
  }
  const lock: RepositoryLock = { name, block, chainId, registry, packages };
  checkRepositoryLock(ctx, lock);
  return lock;
}

/**
 * Renders a repository lock as repo.lock text: fixed field order, packages sorted, one field per line.
 * The same lock always gives the same bytes (and so the same CID once published).
 * @throws FileFormatError when the object is not a valid lock (bad name, version, CID, registry).
 */
export function serializeRepositoryLock(lock: RepositoryLock, file: string = REPOLOCK_FILE_NAME): string {
  checkRepositoryLock({ file, text: null, codes: CODES }, lock);
  const lines = [
    "# repo.lock: written by `repo lock`. Do not edit.",
    "[repository]",
    `format = ${REPOLOCK_FORMAT}`,
    `name = ${tomlString(lock.name)}`,
    `block = ${lock.block}`,
    `chain-id = ${lock.chainId}`,
    `registry = ${tomlString(lock.registry)}`,
  ];
  for (const name of Object.keys(lock.packages).sort(compareUtf8)) {
    const entry = lock.packages[name];
    lines.push(
      "",
      `[packages.${tomlKey(name)}]`,
      `version = ${tomlString(entry.version)}`,
      `meta = ${tomlString(entry.meta)}`,
      `src = ${tomlString(entry.src)}`,
    );
  }
  return `${lines.join("\n")}\n`;
}

/**
 * Refuses a lock made for another chain or registry: the same names may map to other packages there.
 * @throws FileFormatError ERR_REPOLOCK_CHAIN_MISMATCH
 */
export function checkRepositoryLockChain(lock: RepositoryLock, target: RepositoryLockChain, file: string = REPOLOCK_FILE_NAME): void {
  const same = lock.chainId === target.chainId && isAddress(target.registry) && checksumAddress(target.registry) === lock.registry;
  if (!same) {
    throw new FileFormatError(
      ERR_REPOLOCK_CHAIN_MISMATCH,
      `${file}: [repository]: locked against registry ${lock.registry} on chain ${lock.chainId}, not ${target.registry} on chain ${target.chainId}`,
      { file, field: "[repository]", lockChainId: lock.chainId, lockRegistry: lock.registry, chainId: target.chainId, registry: target.registry },
      "run `repo lock NAME -o repo.lock` against this network, or select the network the lock was made for",
    );
  }
}

/** Reads a repo.lock. @throws FileFormatError ERR_REPOLOCK_NOT_FOUND, or any error of {@link parseRepositoryLock}. */
export async function readRepositoryLock(file: string): Promise<RepositoryLock> {
  const text = await readTextFileOrNull(file, REPOLOCK_LIMIT);
  if (text === null) throw new FileFormatError(ERR_REPOLOCK_NOT_FOUND, `${file}: no such file`, { file }, "write one with `repo lock NAME -o FILE`");
  return parseRepositoryLock(text, file);
}

/** Writes a repository lock atomically; an invalid lock throws before any file is touched. */
export async function writeRepositoryLock(file: string, lock: RepositoryLock): Promise<void> {
  await writeFileAtomic(file, serializeRepositoryLock(lock, file));
}
