/**
 * Package and repository ids.
 *
 * Command line:  `{repo}[:{version}]/{pkg}[:{version}]` — `crates/hello`, `crates/hello:1.0.0`,
 *                `nixos:23.05/rustc`, `nixos:23.05/rustc:1.70.0`; a repository alone is
 *                `{repo}[:{version}]` — `crates`, `nixos:23.05`.
 * Files:         `repo:name` keys in pkg.toml and pkg.lock — `crates:dep`.
 * On chain:      repositoryId = keccak256(utf8(repo)),
 *                packageId    = keccak256(abi.encode(bytes32 repositoryId, string name)).
 *
 * Names and versions follow exactly what contracts/libraries/Validation.sol accepts, so anything
 * that parses here can be sent in a transaction, and anything the registry holds parses here.
 */
import * as semver from "semver";
import { checksumAddress, keccak256Bytes32String, keccak256Utf8, type Bytes32 } from "./chain/hash";
import { IdError } from "./errors/files";
import { quoteValue } from "./files/name";

export const ERR_ID_SYNTAX = "ERR_ID_SYNTAX";
export const ERR_ID_INVALID_NAME = "ERR_ID_INVALID_NAME";
export const ERR_ID_INVALID_VERSION = "ERR_ID_INVALID_VERSION";
export type IdErrorCode = typeof ERR_ID_SYNTAX | typeof ERR_ID_INVALID_NAME | typeof ERR_ID_INVALID_VERSION;
export { IdError, type IdErrorDetails } from "./errors/files";

/** Longest name the registry stores (Validation.MAX_NAME_LENGTH). */
export const MAX_NAME_LENGTH = 64;
/** Longest version the registry stores (Validation.MAX_VERSION_LENGTH). */
export const MAX_VERSION_LENGTH = 64;

/** A repository as named on the command line; `version: null` means "the latest, or rolling". */
export interface RepositorySpec {
  name: string;
  version: string | null;
}

/** A package as named on the command line; `version: null` means "resolve the newest allowed". */
export interface PackageSpec {
  repository: RepositorySpec;
  name: string;
  version: string | null;
}

/** A `repo:name` key as used in pkg.toml input tables and in pkg.lock. */
export interface PackageKey {
  repository: string;
  name: string;
}

/** A 0x-prefixed 32-byte hex string (chain/hash.ts). */
export type { Bytes32 };

// [a-z0-9] first so that no name can be `.`, `..` or look like a flag; the rest as the registry.
const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** Why `name` is not a valid repository/package name, or null if it is. */
export function checkName(name: string): string | null {
  if (name.length === 0) return "is empty";
  if (name.length > MAX_NAME_LENGTH) return `is ${name.length} characters long (at most ${MAX_NAME_LENGTH})`;
  if (NAME.test(name)) return null;
  if (/[A-Z]/.test(name) && NAME.test(name.toLowerCase())) return "has uppercase letters";
  if (!/^[a-z0-9]/.test(name)) return "must start with a lowercase letter or digit";
  return "may only contain a-z, 0-9, '-', '_' and '.'";
}

export function isValidName(name: string): boolean {
  return checkName(name) === null;
}

/**
 * Why `version` is not an exact version as the registry stores it, or null if it is.
 *
 * Exact means the canonical semver string: `1.0.0`, `1.0.0-rc.1`, `0.11.0+wasi-snapshot-preview1`.
 * node-semver is lenient on input (`v1.0.0`, ` 1.0.0`), so the check is that semver's own
 * rendering of the parsed version gives back the same text. Build metadata is kept: crates.io
 * has versions that carry it (the `wasi` crate) and mirrors must be able to name them.
 */
export function checkVersion(version: string): string | null {
  if (version.length === 0) return "is empty";
  if (version.length > MAX_VERSION_LENGTH) return `is ${version.length} characters long (at most ${MAX_VERSION_LENGTH})`;
  const parsed = semver.parse(version);
  if (parsed !== null) {
    const canonical = parsed.build.length > 0 ? `${parsed.version}+${parsed.build.join(".")}` : parsed.version;
    if (canonical === version) return null;
  }
  return "is not a semver version";
}

export function isExactVersion(version: string): boolean {
  return checkVersion(version) === null;
}

/**
 * A package version without its build metadata: `1.0.0+linux` → `1.0.0`. Semver ignores build metadata when
 * comparing, so two versions with the same such form satisfy the same ranges: they are one version, and the
 * registry holds at most one of them (contracts/libraries/VersionList.sol; crates.io's rule).
 */
export function withoutBuildMetadata(version: string): string {
  const plus = version.indexOf("+");
  return plus < 0 ? version : version.slice(0, plus);
}

/** Whether two package versions are the same version under semver: equal but for build metadata. */
export function isSameVersion(a: string, b: string): boolean {
  return withoutBuildMetadata(a) === withoutBuildMetadata(b);
}

// Distribution releases are named by date (`nixos:23.05`, ubuntu 22.04), with a leading zero in
// the month; that is not semver, and forcing `23.5.0` on users would make ids nobody recognises.
const RELEASE = /^[0-9]{1,9}\.[0-9]{1,9}$/;

/**
 * Why `version` is not a repository version, or null if it is: an exact semver version, or a
 * two-part release name such as `23.05`.
 *
 * Note: contracts/libraries/Validation.sol (`checkVersion`) accepts only MAJOR.MINOR.PATCH for
 * repository versions today; a release name needs the contract to accept it too.
 */
export function checkRepositoryVersion(version: string): string | null {
  if (RELEASE.test(version)) return null;
  const problem = checkVersion(version);
  return problem === "is not a semver version" ? "is not a semver version or a release name" : problem;
}

/** The hint for a string that is not an exact version; tells ranges and `v` prefixes apart. */
export function versionHint(version: string): string {
  if (version.length > MAX_VERSION_LENGTH + 8) return `write MAJOR.MINOR.PATCH, e.g. 1.0.0, in at most ${MAX_VERSION_LENGTH} characters`;
  const trimmed = version.trim();
  if (/^[vV=]\s*\d/.test(trimmed) && semver.valid(trimmed.replace(/^[vV=]\s*/, "")) !== null) {
    return `drop the prefix: ${trimmed.replace(/^[vV=]\s*/, "")}`;
  }
  if (trimmed !== version && semver.valid(trimmed) === trimmed) return `remove the spaces: ${trimmed}`;
  const partial = /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))?$/.exec(trimmed);
  if (partial !== null) return `write all three parts, MAJOR.MINOR.PATCH: ${partial[3] === undefined ? `${trimmed}.0.0` : `${trimmed}.0`}`;
  if (/[\^~<>*|xX]|\s-\s|^=/.test(trimmed) && semver.validRange(trimmed) !== null) {
    return "a range is not allowed here; write one exact version, MAJOR.MINOR.PATCH, e.g. 1.0.0";
  }
  return "write MAJOR.MINOR.PATCH, e.g. 1.0.0";
}

/** The hint for a string that is not a valid name. */
export function nameHint(name: string): string {
  if (name.length <= MAX_NAME_LENGTH && /^0x[0-9a-fA-F]{40}$/.test(name)) return "that is an address; a name is expected here";
  if (name.includes("@")) return "versions follow a ':' (crates/hello:1.0.0), not '@'";
  const lower = name.toLowerCase();
  if (lower !== name && NAME.test(lower)) return `names are lowercase: ${lower}`;
  return "names are 1-64 characters of a-z, 0-9, '-', '_', '.', starting with a letter or digit";
}

/** Whether a piece of an id may be echoed in a hint as it is: short, and only characters ids are made of. */
function isPlain(text: string): boolean {
  return text.length <= 2 * MAX_NAME_LENGTH + 1 && /^[A-Za-z0-9._:/+-]+$/.test(text);
}

/** Longest input kept whole in an error's details (more is cut, and `inputLength` says how long it was). */
const MAX_DETAILS_INPUT = 256;

/**
 * Throws the IdError. The input and its parts are quoted with {@link quoteValue}: escaped (an id holding a
 * newline stays on one line) and cut to a short prefix with the length, so that an error never echoes a
 * hostile value whole (ids also come from files: pkg.lock keys).
 */
function fail(code: IdErrorCode, input: string, field: string, problem: string, hint: string): never {
  const details = input.length <= MAX_DETAILS_INPUT ? { input, field } : { input: input.slice(0, MAX_DETAILS_INPUT), inputLength: input.length, field };
  throw new IdError(code, `invalid id ${quoteValue(input)}: ${field} ${problem}`, details, hint);
}

function checkedName(input: string, field: string, name: string): string {
  const problem = checkName(name);
  if (problem !== null) fail(ERR_ID_INVALID_NAME, input, field, `${quoteValue(name)} ${problem}`, nameHint(name));
  return name;
}

function checkedVersion(input: string, field: string, version: string): string {
  const problem = checkVersion(version);
  if (problem !== null) fail(ERR_ID_INVALID_VERSION, input, field, `${quoteValue(version)} ${problem}`, versionHint(version));
  return version;
}

/** Splits `name[:version]`; more than one ':' is a syntax error, an empty part is reported by the caller. */
function splitVersioned(input: string, part: string, what: string): [string, string | null] {
  const pieces = part.split(":");
  if (pieces.length > 2) {
    fail(ERR_ID_SYNTAX, input, what, `${quoteValue(part)} has more than one ':'`, "write name:version, e.g. crates/hello:1.0.0");
  }
  return [pieces[0], pieces.length === 2 ? pieces[1] : null];
}

function parseRepositoryPart(input: string, part: string, usage: string): RepositorySpec {
  const [name, version] = splitVersioned(input, part, "repository");
  if (name === "") fail(ERR_ID_SYNTAX, input, "repository", "is missing", usage);
  checkedName(input, "repository", name);
  if (version === "") fail(ERR_ID_SYNTAX, input, "repository version", "is empty after ':'", "write repo:version, e.g. nixos:23.05, or drop the ':'");
  if (version !== null) {
    const problem = checkRepositoryVersion(version);
    if (problem !== null) {
      fail(ERR_ID_INVALID_VERSION, input, "repository version", `${quoteValue(version)} ${problem}`, `${versionHint(version)}, or a release like 23.05`);
    }
  }
  return { name, version };
}

/**
 * Parses a package id from the command line: `crates/hello`, `crates/hello:1.0.0`,
 * `nixos:23.05/rustc:1.70.0`.
 *
 * @throws IdError ERR_ID_SYNTAX (shape), ERR_ID_INVALID_NAME, ERR_ID_INVALID_VERSION.
 */
export function parsePackageSpec(input: string): PackageSpec {
  const slash = input.split("/");
  if (slash.length === 1) {
    fail(ERR_ID_SYNTAX, input, "id", "has no '/'", `a package id is repo/name, e.g. crates/hello; for a repository use the repo commands`);
  }
  if (slash.length > 2) fail(ERR_ID_SYNTAX, input, "id", "has more than one '/'", "write repo/name, e.g. crates/hello");
  const repository = parseRepositoryPart(input, slash[0], "write repo/name, e.g. crates/hello");
  const [name, version] = splitVersioned(input, slash[1], "name");
  if (name === "") fail(ERR_ID_SYNTAX, input, "name", "is missing after '/'", "write repo/name, e.g. crates/hello");
  checkedName(input, "name", name);
  if (version === "") fail(ERR_ID_SYNTAX, input, "version", "is empty after ':'", "write name:version, e.g. crates/hello:1.0.0, or drop the ':'");
  return { repository, name, version: version === null ? null : checkedVersion(input, "version", version) };
}

/** The inverse of {@link parsePackageSpec}; validates, so it never prints an id that would not parse. */
export function formatPackageSpec(spec: PackageSpec): string {
  const text = `${formatRepositorySpec(spec.repository)}/${spec.name}${spec.version === null ? "" : `:${spec.version}`}`;
  const reparsed = parsePackageSpec(text);
  // `name` containing ':' or '/' would still "parse" into different parts; make that an error.
  if (reparsed.name !== spec.name || reparsed.version !== spec.version) {
    fail(ERR_ID_INVALID_NAME, text, "name", `${quoteValue(spec.name)} ${checkName(spec.name) ?? "is not valid"}`, nameHint(spec.name));
  }
  return text;
}

/**
 * How output names one version of a package: `crates/hello:1.0.0`, the command line's id (never a lock key,
 * `crates:hello`, which names a package in pkg.toml and pkg.lock). Takes names that were parsed already.
 */
export function packageVersionId(p: { repository: string; name: string; version: string }): string {
  return `${p.repository}/${p.name}:${p.version}`;
}

/**
 * Parses a repository id for the `repo` commands: `crates`, `nixos:23.05`.
 *
 * @throws IdError ERR_ID_SYNTAX (a '/' means a package id was given), ERR_ID_INVALID_NAME,
 * ERR_ID_INVALID_VERSION.
 */
export function parseRepositorySpec(input: string): RepositorySpec {
  if (input.includes("/")) {
    const repository = input.split("/")[0];
    fail(ERR_ID_SYNTAX, input, "id", "contains '/': that is a package id",
      `a repository id is repo or repo:version, e.g. ${repository.length > 0 && isPlain(repository) ? repository : "crates"}`);
  }
  return parseRepositoryPart(input, input, "write repo or repo:version, e.g. crates or nixos:23.05");
}

export function formatRepositorySpec(spec: RepositorySpec): string {
  const text = spec.version === null ? spec.name : `${spec.name}:${spec.version}`;
  const reparsed = parseRepositorySpec(text);
  if (reparsed.name !== spec.name || reparsed.version !== spec.version) {
    fail(ERR_ID_INVALID_NAME, text, "repository", `${quoteValue(spec.name)} ${checkName(spec.name) ?? "is not valid"}`, nameHint(spec.name));
  }
  return text;
}

/**
 * Parses a `repo:name` key from pkg.toml or pkg.lock. Versions never appear in these keys (a
 * manifest gives ranges as the value; the lock file adds `@version` itself, see lockfile.ts).
 */
export function parsePackageKey(input: string): PackageKey {
  const pieces = input.split(":");
  if (pieces.length !== 2) {
    const hint = input.includes("/") && isPlain(input) ? `write ${input.replace("/", ":")}` : "write repo:name, e.g. crates:dep";
    fail(ERR_ID_SYNTAX, input, "key", pieces.length === 1 ? "has no ':'" : "has more than one ':'", hint);
  }
  const [repository, name] = pieces;
  checkedName(input, "repository", repository);
  checkedName(input, "name", name);
  return { repository, name };
}

export function formatPackageKey(key: PackageKey): string {
  checkedName(`${key.repository}:${key.name}`, "repository", key.repository);
  checkedName(`${key.repository}:${key.name}`, "name", key.name);
  return `${key.repository}:${key.name}`;
}

/** The registry's id of a repository: keccak256 of the UTF-8 name (Registry.sol `_repositoryId`). */
export function hashRepositoryId(repository: string): Bytes32 {
  checkedName(repository, "repository", repository);
  return keccak256Utf8(repository);
}

/** The registry's id of a package: keccak256(abi.encode(repositoryId, name)) (Registry.sol `packageId`). */
export function hashPackageId(repositoryId: Bytes32, name: string): Bytes32 {
  checkedName(name, "name", name);
  return keccak256Bytes32String(repositoryId, name);
}

/** The registry's ids of one package. */
export interface OnChainIds {
  repositoryId: Bytes32;
  packageId: Bytes32;
}

/** Both on-chain ids of a `repo:name` key. */
export function hashPackageKey(key: PackageKey): OnChainIds {
  const repositoryId = hashRepositoryId(key.repository);
  return { repositoryId, packageId: hashPackageId(repositoryId, key.name) };
}

/** An address as typed (an account, a registry): its checksummed form, or what is wrong with it. */
export type AddressCheck = { kind: "address"; address: string } | { kind: "syntax"; problem: string; hint: string } | { kind: "checksum"; problem: string; hint: string };

/**
 * Checks an address as typed: `0x` and 40 hex digits, and, when its letters mix upper and lower case, its
 * EIP-55 checksum (all-lower or all-upper case carries none). A wrong checksum is said as such, never as
 * "not an address": it most often means a mistyped digit, so the right form is not suggested.
 */
export function checkAddress(text: string): AddressCheck {
  if (!/^0x[0-9a-fA-F]{40}$/.test(text)) {
    return { kind: "syntax", problem: `${quoteValue(text)} is not an address`, hint: "write 0x and 40 hex digits" };
  }
  const digits = text.slice(2);
  if (digits !== digits.toLowerCase() && digits !== digits.toUpperCase() && checksumAddress(text.toLowerCase()) !== text) {
    return {
      kind: "checksum",
      problem: `${text} has a wrong checksum: the upper and lower case of its letters is not the address's EIP-55 checksum`,
      hint: "a wrong checksum most often means a mistyped digit: copy the address again from where it came from",
    };
  }
  return { kind: "address", address: checksumAddress(text.toLowerCase()) };
}
