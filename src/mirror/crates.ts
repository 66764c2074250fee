/**
 * The crates.io importer (`pkg mirror crates <index>`): a cargo registry index → one {@link PackageEntry} per crate.
 *
 * The index is a directory laid out as cargo's (`config.json`, `1/a`, `2/ab`, `3/a/abc`, `se/rd/serde`) or a
 * sparse index (`sparse+https://…/`: the same files over HTTP). Each file holds one JSON line per published
 * version; the `.crate` of a version comes from config.json's `dl` template. The Cargo book's "Registry Index"
 * chapter is the format's reference.
 *
 * What a version becomes:
 * - `src`: the unpacked `.crate` (a gzip'd tar whose top directory is `NAME-VERSION/`, which cargo requires);
 * - `meta`: a generated pkg.toml (meta.ts) whose license is the crate's Cargo.toml `[package] license` and whose
 *   inputs are the line's dependencies (see {@link crateInputs});
 * - `origin`: `{ line, crate }`: the index line byte for byte and the CID of the `.crate` itself, so the gateway
 *   serves both back as they were.
 *
 * Decisions, and why:
 * - Integrity: the `.crate`'s sha256 is checked against the line's `cksum` before anything is stored. A mismatch
 *   refuses that version (ERR_MIRROR_INTEGRITY, logged) and the run goes on: the entry lacks the version (it never
 *   holds an unverified one), and the next run tries it again. So does a damaged archive (ERR_MIRROR_BAD_ARCHIVE,
 *   also when it is over the size limit or its top directory is not `NAME-VERSION/`), and a `.crate` that is not
 *   there (HTTP 404, no such file: ERR_MIRROR_UPSTREAM). An upstream that cannot be reached or answers another HTTP
 *   error fails the package instead (ERR_MIRROR_UPSTREAM): that may pass, and a retry beats an entry short of
 *   versions.
 * - A mirrored version never changes its meta and src. A version of `previous` is reused without a download: as
 *   it is when its line is byte-identical; with the new `yanked` flag and line when the line changed but names the
 *   same `cksum` (a yank, an unyank, an index re-encoding); unchanged, with a logged line, when upstream now names
 *   another `.crate` for it. Versions gone from upstream stay, yanked; a crate gone entirely keeps its entry, all
 *   yanked (an unknown crate with no previous entry is ERR_MIRROR_UNKNOWN_PACKAGE).
 * - A line that is not JSON, lacks a field, is another crate's, has a version that is not semver (or one that
 *   differs from an earlier line's only by build metadata), or has a dependency that cannot be an input, is
 *   skipped with a logged line: one bad line does not hide the others.
 * - Package names are crate names in lowercase: crates.io names are unique case-insensitively, so this is
 *   injective, and the index's spelling stays in the package's origin (`{ name }`).
 */
import { createHash } from "node:crypto";
import { open, readdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as semver from "semver";
import { parse as parseToml } from "smol-toml";
import { mapLimit } from "../concurrency";
import { isPkgError, PkgError } from "../errors";
import { MAX_RANGE_BYTES } from "../files/limits";
import { checkName, checkVersion, withoutBuildMetadata } from "../ids";
import { serializeManifest, type InputRanges } from "../manifest";
import { canonicalJson, ENTRY_FORMAT, sortVersions, type EntryVersion, type JsonObject, type JsonValue, type PackageEntry } from "./entry";
import { mirroredManifest, mirrorLicense, putMeta, type MirroredManifest } from "./meta";
import type { ImportContext, MirrorSource, PackageImport } from "./source";
import { unpackTarball, type UnpackedArchive } from "./tarball";
import { ERR_MIRROR_BAD_ARCHIVE, ERR_MIRROR_BAD_SOURCE, ERR_MIRROR_INTEGRITY, ERR_MIRROR_UNKNOWN_PACKAGE, ERR_MIRROR_UPSTREAM } from "./errors";


/** crates.io refuses crates over 10 MB; other registries may allow more. */
export const MAX_CRATE_BYTES = 64 * 1024 * 1024;
/** An index file: the crates with the most versions have a few MB of lines. */
export const MAX_INDEX_FILE_BYTES = 32 * 1024 * 1024;
export const MAX_CONFIG_BYTES = 1024 * 1024;
/** A crate's Cargo.toml, read for its license. */
const MAX_CARGO_TOML_BYTES = 4 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 300_000;
/** New versions of one crate downloaded at once (the engine runs several crates at once besides). */
const VERSION_DOWNLOADS = 4;

export interface CratesSourceOptions {
  /** A directory laid out as a cargo index, or `sparse+http(s)://…/`. */
  index: string;
  /** The mirror repository: generated pkg.toml files name their inputs `${repository}:${crate}`. */
  repository: string;
  /** Injected for tests and for callers with their own HTTP stack; defaults to global fetch. */
  fetch?: typeof fetch;
  /** Largest `.crate` downloaded (default {@link MAX_CRATE_BYTES}). */
  maxCrateBytes?: number;
  /** Per-request timeout in milliseconds (default 5 minutes). */
  timeoutMs?: number;
}

// ---------------------------------------------------------------------------------------------
// Index lines

/** One dependency of an index line (cargo's `RegistryDependency`), defaults filled in. */
export interface IndexDependency {
  /** The name the depending crate uses; the crate's own name is `package` when renamed. */
  name: string;
  req: string;
  features: string[];
  optional: boolean;
  default_features: boolean;
  target: string | null;
  kind: "normal" | "build" | "dev";
  /** The index URL of another registry; null: the same registry. */
  registry: string | null;
  package: string | null;
}

/** One index line (cargo's `IndexPackage`), checked, defaults filled in. */
export interface IndexLine {
  name: string;
  vers: string;
  deps: IndexDependency[];
  cksum: string;
  features: Record<string, string[]>;
  features2: Record<string, string[]>;
  yanked: boolean;
  /** The line as JSON, for comparisons. */
  raw: JsonObject;
}

/** The index format versions this importer understands (cargo skips lines of a newer `v`, and so do we). */
const MAX_INDEX_FORMAT = 2;
const CRATE_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const CHECKSUM = /^[0-9a-fA-F]{64}$/;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function short(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value) ?? String(value);
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}

function featureMap(value: unknown, field: string): Record<string, string[]> | string {
  if (value === undefined || value === null) return {};
  if (!isObject(value)) return `${field} is not an object`;
  for (const [key, list] of Object.entries(value)) {
    if (!Array.isArray(list) || !list.every((item) => typeof item === "string")) return `${field}.${key} is not a list of strings`;
  }
  return value as Record<string, string[]>;
}

function parseDependency(value: unknown, i: number): IndexDependency | string {
  const at = `deps[${i}]`;
  if (!isObject(value)) return `${at} is not an object`;
  const { name, req, features, optional, default_features, target, kind, registry, package: renamed } = value;
  if (typeof name !== "string" || !CRATE_NAME.test(name)) return `${at}.name ${short(name)} is not a crate name`;
  if (typeof req !== "string" || req.length > MAX_RANGE_BYTES) return `${at}.req of ${name} is not a requirement`;
  if (features !== undefined && features !== null && (!Array.isArray(features) || !features.every((f) => typeof f === "string"))) {
    return `${at}.features of ${name} is not a list of strings`;
  }
  if (optional !== undefined && typeof optional !== "boolean") return `${at}.optional of ${name} is not true or false`;
  if (default_features !== undefined && typeof default_features !== "boolean") return `${at}.default_features of ${name} is not true or false`;
  if (target !== undefined && target !== null && typeof target !== "string") return `${at}.target of ${name} is not a string`;
  if (kind !== undefined && kind !== null && kind !== "normal" && kind !== "build" && kind !== "dev") return `${at}.kind of ${name} is ${short(kind)}`;
  if (registry !== undefined && registry !== null && typeof registry !== "string") return `${at}.registry of ${name} is not a string`;
  if (renamed !== undefined && renamed !== null && (typeof renamed !== "string" || !CRATE_NAME.test(renamed))) {
    return `${at}.package of ${name} ${short(renamed)} is not a crate name`;
  }
  return {
    name,
    req,
    features: (features as string[] | undefined | null) ?? [],
    optional: optional ?? false,
    default_features: default_features ?? true,
    target: target ?? null,
    kind: kind ?? "normal",
    registry: registry ?? null,
    package: renamed ?? null,
  };
}

/**
 * One index line, checked: JSON, every field cargo needs of the right type, a version that is an exact semver
 * version as the registry stores it. Returns the problem otherwise (the caller skips the line).
 */
export function parseIndexLine(text: string): IndexLine | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { problem: `is not JSON (${(error as Error).message})` };
  }
  if (!isObject(value)) return { problem: "is not a JSON object" };
  const { name, vers, deps, cksum, yanked, v } = value;
  if (typeof name !== "string" || !CRATE_NAME.test(name)) return { problem: `name ${short(name)} is not a crate name` };
  if (typeof vers !== "string") return { problem: "has no vers" };
  const versionProblem = checkVersion(vers);
  if (versionProblem !== null) return { problem: `version ${short(vers)} ${versionProblem}` };
  if (typeof cksum !== "string" || !CHECKSUM.test(cksum)) return { problem: "has no cksum (64 hex digits)" };
  if (!Array.isArray(deps)) return { problem: "has no deps list" };
  if (yanked !== undefined && yanked !== null && typeof yanked !== "boolean") return { problem: "yanked is not true or false" };
  if (v !== undefined && (typeof v !== "number" || !Number.isInteger(v) || v < 1)) return { problem: `v ${short(v)} is not a format version` };
  if (typeof v === "number" && v > MAX_INDEX_FORMAT) return { problem: `is of index format v${v}, newer than this importer (v${MAX_INDEX_FORMAT})` };
  const features = featureMap(value.features, "features");
  if (typeof features === "string") return { problem: features };
  const features2 = featureMap(value.features2, "features2");
  if (typeof features2 === "string") return { problem: features2 };
  const parsed: IndexDependency[] = [];
  for (const [i, dep] of deps.entries()) {
    const result = parseDependency(dep, i);
    if (typeof result === "string") return { problem: result };
    parsed.push(result);
  }
  return { name, vers, deps: parsed, cksum: cksum.toLowerCase(), features, features2, yanked: yanked ?? false, raw: value as JsonObject };
}

// ---------------------------------------------------------------------------------------------
// Paths and URLs

/** The directories an index file is in: `1`, `2`, `3/a`, `ab/cd` (cargo's rule, in the name's own case). */
export function cratePrefix(name: string): string {
  if (name.length <= 2) return String(name.length);
  if (name.length === 3) return `3/${name[0]}`;
  return `${name.slice(0, 2)}/${name.slice(2, 4)}`;
}

/** The index file of a crate, relative to the index root: `se/rd/serde` (always lowercase). */
export function crateIndexPath(name: string): string {
  const lower = name.toLowerCase();
  return `${cratePrefix(lower)}/${lower}`;
}

const DL_MARKERS = /\{(crate|version|prefix|lowerprefix|sha256-checksum)\}/;

/** Where a version's `.crate` is: config.json's `dl` with its markers replaced, or `dl/{crate}/{version}/download`. */
export function crateDownloadUrl(dl: string, line: Pick<IndexLine, "name" | "vers" | "cksum">): string {
  if (!DL_MARKERS.test(dl)) return `${dl.replace(/\/+$/, "")}/${line.name}/${line.vers}/download`;
  return dl
    .replaceAll("{crate}", line.name)
    .replaceAll("{version}", line.vers)
    .replaceAll("{prefix}", cratePrefix(line.name))
    .replaceAll("{lowerprefix}", cratePrefix(line.name.toLowerCase()))
    .replaceAll("{sha256-checksum}", line.cksum);
}

type Location = { kind: "http"; url: string } | { kind: "file"; file: string };

/** An http(s) URL, a file:// URL or an absolute path; files only for a directory index. Null: none of those. */
function downloadLocation(text: string, allowFiles: boolean): Location | { problem: string } {
  if (/^https?:\/\//i.test(text)) {
    try {
      return { kind: "http", url: new URL(text).toString() };
    } catch {
      return { problem: "is not a valid URL" };
    }
  }
  let file: string;
  if (/^file:/i.test(text)) {
    try {
      file = fileURLToPath(text);
    } catch {
      return { problem: "is not a valid file URL" };
    }
  } else if (path.isAbsolute(text)) {
    file = text;
  } else {
    return { problem: "is not an http(s) or file URL" };
  }
  if (!allowFiles) return { problem: "names a local file, which only a directory index may" };
  if (text.split(/[/\\]/).includes("..") || file.split(path.sep).includes("..")) return { problem: "has a '..' path segment" };
  return { kind: "file", file };
}

/** A URL for messages: without user and password. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = "";
    parsed.password = "";
    return parsed.toString();
  } catch {
    return url;
  }
}

// ---------------------------------------------------------------------------------------------
// Requirements and inputs

const REQ_VERSION = /^(?:\*|[xX]|(?:0|[1-9][0-9]*)(?:\.(?:\*|[xX]|0|[1-9][0-9]*)(?:\.(?:\*|[xX]|0|[1-9][0-9]*)(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?)?)?)$/;

/**
 * A cargo version requirement as a node-semver range (what pkg.toml's ranges are): comparators split on `,`, a
 * bare version (`1.2.3`, `1.2`, `1`) is cargo's default caret (`^1.2.3`), wildcards (`*`, `1.*`, `1.2.*`) and the
 * operators `=`, `>`, `>=`, `<`, `<=`, `~`, `^` mean the same in both and are kept; comparators are joined with a
 * space (node-semver's "and"). Build metadata and anything else cargo does not accept is a problem.
 */
export function cargoRequirement(req: string): { range: string } | { problem: string } {
  if (req.length > MAX_RANGE_BYTES) return { problem: `is longer than ${MAX_RANGE_BYTES} bytes` };
  const parts: string[] = [];
  for (const piece of req.split(",")) {
    const match = /^\s*(=|>=|>|<=|<|~|\^)?\s*([^\s]*)\s*$/.exec(piece);
    if (match === null || match[2] === "" || !REQ_VERSION.test(match[2])) return { problem: `${short(piece.trim())} is not a cargo version requirement` };
    const [, op, version] = match;
    const wildcard = /[*xX]/.test(version);
    if (op === undefined) parts.push(wildcard ? version : `^${version}`);
    else parts.push(`${op}${version}`);
  }
  const range = parts.join(" ");
  if (semver.validRange(range) === null) return { problem: `${short(range)} is not a semver range` };
  return { range };
}

/**
 * The optional dependencies (by the name the crate uses) the `default` feature enables, transitively: a feature
 * enables the features it lists, `dep:x` and `x/feat` enable the optional dependency `x`, `x?/feat` enables nothing
 * by itself, and an optional dependency is a feature of its own name unless some feature names it as `dep:x`
 * (cargo's implicit features). `features2` (lines of format v2) is read with `features`.
 */
export function defaultOptionalDependencies(line: Pick<IndexLine, "deps" | "features" | "features2">): Set<string> {
  const features = new Map<string, string[]>([...Object.entries(line.features), ...Object.entries(line.features2)]);
  const optional = new Set(line.deps.filter((d) => d.optional).map((d) => d.name));
  const explicit = new Set([...features.values()].flat().filter((f) => f.startsWith("dep:")).map((f) => f.slice(4)));
  for (const name of optional) if (!explicit.has(name) && !features.has(name)) features.set(name, [`dep:${name}`]);
  const enabled = new Set<string>();
  const visited = new Set<string>();
  const queue = features.has("default") ? ["default"] : [];
  for (let feature = queue.pop(); feature !== undefined; feature = queue.pop()) {
    if (visited.has(feature)) continue;
    visited.add(feature);
    for (const item of features.get(feature) ?? []) {
      if (item.startsWith("dep:")) {
        enabled.add(item.slice(4));
      } else if (item.includes("/")) {
        const dep = item.slice(0, item.indexOf("/"));
        if (!dep.endsWith("?") && optional.has(dep)) enabled.add(dep);
      } else if (features.has(item)) {
        queue.push(item);
      } else if (optional.has(item)) {
        enabled.add(item);
      }
    }
  }
  return new Set([...enabled].filter((name) => optional.has(name)));
}

export interface CrateInputs {
  /** Normal dependencies: `${repository}:${crate}` → range. */
  inputs: InputRanges;
  /** Build dependencies (build scripts and proc-macros run on the build machine). */
  nativeInputs: InputRanges;
  /** Upstream names (the crates' own, not renames) of every dependency that became an input. */
  dependencies: string[];
  /** What was left out and why (dependencies from other registries). */
  notes: string[];
}

/**
 * The inputs of a version's pkg.toml, from its index line: normal dependencies are `inputs`, build dependencies
 * `nativeInputs`, dev dependencies none; an optional dependency only when the default features enable it
 * ({@link defaultOptionalDependencies}); target-specific ones always (a cargo lock holds every target's); one from
 * another registry never (noted); one on the crate itself never. A renamed dependency is keyed by its crate's name.
 * The same crate twice in one table (two targets, two renames) gets the union of the ranges (`A || B`): a lock
 * holds one version per key; a crate that is a normal and a build dependency is in both tables.
 */
export function crateInputs(line: Pick<IndexLine, "name" | "deps" | "features" | "features2">, repository: string): CrateInputs | { problem: string } {
  const enabled = defaultOptionalDependencies(line);
  const self = line.name.toLowerCase();
  const result: CrateInputs = { inputs: {}, nativeInputs: {}, dependencies: [], notes: [] };
  const seen = new Set<string>();
  for (const dep of line.deps) {
    if (dep.kind === "dev" || (dep.optional && !enabled.has(dep.name))) continue;
    const upstream = dep.package ?? dep.name;
    if (dep.registry !== null) {
      result.notes.push(`dependency ${upstream} is from another registry (${short(redact(dep.registry))}): not an input`);
      continue;
    }
    const name = upstream.toLowerCase();
    if (name === self) continue;
    const nameProblem = checkName(name);
    if (nameProblem !== null) return { problem: `dependency ${short(upstream)} ${nameProblem}` };
    const translated = cargoRequirement(dep.req);
    if ("problem" in translated) return { problem: `dependency ${upstream}: requirement ${translated.problem}` };
    const table = dep.kind === "build" ? result.nativeInputs : result.inputs;
    const key = `${repository}:${name}`;
    const existing = table[key];
    if (existing === undefined) table[key] = translated.range;
    else if (!existing.split(" || ").includes(translated.range)) table[key] = `${existing} || ${translated.range}`;
    if (table[key].length > MAX_RANGE_BYTES) return { problem: `dependency ${upstream}: the ranges of its ${dep.kind} dependencies are over ${MAX_RANGE_BYTES} bytes together` };
    if (!seen.has(name)) {
      seen.add(name);
      result.dependencies.push(upstream);
    }
  }
  return result;
}

/**
 * The license of a crate's pkg.toml, from the text of its Cargo.toml: `[package] license` with the old `/`
 * syntax (`MIT/Apache-2.0`, common on crates.io) read as ` OR `, then {@link mirrorLicense} (NOASSERTION for what
 * is not SPDX, a missing license, `license-file` only, or a Cargo.toml that is not TOML).
 */
export function cargoLicense(cargoToml: string | null): string {
  if (cargoToml === null) return "NOASSERTION";
  let license: unknown;
  try {
    const doc = parseToml(cargoToml);
    license = isObject(doc.package) ? doc.package.license : undefined;
  } catch {
    return "NOASSERTION";
  }
  if (typeof license !== "string" || license.length > 1024) return "NOASSERTION";
  const spdx = license.includes("/") ? license.split("/").map((part) => part.trim()).join(" OR ") : license.trim();
  return mirrorLicense(spdx);
}

// ---------------------------------------------------------------------------------------------
// Reading the index and the crates

function upstreamError(message: string, details: Record<string, unknown>, cause?: unknown): PkgError {
  return new PkgError(ERR_MIRROR_UPSTREAM, message, {
    details,
    hint: "check that the index and its download host are reachable, then run the import again (it resumes)",
    cause,
  });
}

function badSource(message: string, details: Record<string, unknown>): PkgError {
  return new PkgError(ERR_MIRROR_BAD_SOURCE, message, { details, hint: "the index is not a cargo registry index this importer can read" });
}

/** Over its limit: the bytes read so far were more than `limit`. */
class TooLarge extends Error {}

/** A file of at most `limit` bytes, or null when it does not exist. */
async function readFileBounded(file: string, limit: number): Promise<Buffer | null> {
  let handle;
  try {
    handle = await open(file, "r");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return null;
    throw upstreamError(`${file}: ${(error as Error).message}`, { file }, error);
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) return null;
    if (stats.size > limit) throw new TooLarge();
    const buffer = Buffer.alloc(stats.size + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length === buffer.length) throw new TooLarge();
    }
    return buffer.subarray(0, length);
  } catch (error) {
    if (error instanceof TooLarge || error instanceof PkgError) throw error;
    throw upstreamError(`${file}: ${(error as Error).message}`, { file }, error);
  } finally {
    await handle.close();
  }
}

async function readBodyBounded(response: Response, limit: number): Promise<Buffer> {
  const declared = Number(response.headers.get("content-length") ?? "NaN");
  if (declared > limit) {
    await response.body?.cancel().catch(() => undefined);
    throw new TooLarge();
  }
  if (response.body === null) return Buffer.alloc(0);
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const part of response.body) {
    total += part.byteLength;
    if (total > limit) {
      await response.body.cancel().catch(() => undefined);
      throw new TooLarge();
    }
    parts.push(part);
  }
  return Buffer.concat(parts, total);
}

interface Getter {
  fetch: typeof fetch;
  timeoutMs: number;
}

/** GET `url`: its body (at most `limit` bytes), or null for 404, 410 and 451 (what cargo takes for "no such crate"). */
async function httpGet(getter: Getter, url: string, limit: number, signal?: AbortSignal): Promise<Buffer | null> {
  const timeout = AbortSignal.timeout(getter.timeoutMs);
  let response: Response;
  try {
    response = await getter.fetch(url, {
      headers: { "user-agent": "chainpkg-mirror (pkg mirror crates)" },
      redirect: "follow",
      signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]),
    });
  } catch (error) {
    if (signal?.aborted) throw error;
    throw upstreamError(`GET ${redact(url)} failed: ${(error as Error).message}`, { url: redact(url) }, error);
  }
  if (response.status === 404 || response.status === 410 || response.status === 451) {
    await response.body?.cancel().catch(() => undefined);
    return null;
  }
  if (response.status !== 200) {
    await response.body?.cancel().catch(() => undefined);
    throw upstreamError(`GET ${redact(url)} answered HTTP ${response.status}`, { url: redact(url), status: response.status });
  }
  try {
    return await readBodyBounded(response, limit);
  } catch (error) {
    if (error instanceof TooLarge) throw error;
    if (signal?.aborted) throw error;
    throw upstreamError(`GET ${redact(url)} failed while reading: ${(error as Error).message}`, { url: redact(url) }, error);
  }
}

type IndexLocation = { kind: "sparse"; base: string } | { kind: "directory"; root: string };

function parseIndexLocation(index: string): IndexLocation {
  if (index.startsWith("sparse+")) {
    const url = index.slice("sparse+".length);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw badSource(`${short(index)} is not a sparse index URL`, { index });
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw badSource(`${short(index)}: a sparse index is served over http(s)`, { index });
    return { kind: "sparse", base: url.endsWith("/") ? url : `${url}/` };
  }
  if (/^file:/i.test(index)) return { kind: "directory", root: fileURLToPath(index) };
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(index)) {
    throw new PkgError(ERR_MIRROR_BAD_SOURCE, `${short(index)} is neither a directory nor a sparse index`, {
      details: { index },
      hint: "give a directory laid out as a cargo index (a clone of a git index works) or sparse+https://…/",
    });
  }
  return { kind: "directory", root: path.resolve(index) };
}

interface IndexConfig {
  dl: string;
}

type VersionResult = { kind: "ok"; version: EntryVersion } | { kind: "refused"; error: PkgError };

/** What refuses one version (logged; the run goes on) rather than the package: see the module's comment. */
function isVersionProblem(error: unknown): error is PkgError {
  return isPkgError(error, ERR_MIRROR_INTEGRITY) || isPkgError(error, ERR_MIRROR_BAD_ARCHIVE) || isPkgError(error, ERR_MIRROR_BAD_SOURCE)
    || (isPkgError(error, ERR_MIRROR_UPSTREAM) && error.details.missing === true)
    || (isPkgError(error) && error.code.startsWith("ERR_MANIFEST_"));
}

function badArchive(what: string, problem: string): PkgError {
  return new PkgError(ERR_MIRROR_BAD_ARCHIVE, `${what}: ${problem}`, {
    details: { archive: what },
    hint: "the upstream archive is damaged or hostile; that version is not mirrored",
  });
}

function cargoTomlOf(archive: UnpackedArchive): string | null {
  const entry = archive.entries.find((e) => e.path === "Cargo.toml");
  if (entry === undefined || !("content" in entry) || !(entry.content instanceof Uint8Array)) return null;
  if (entry.content.byteLength > MAX_CARGO_TOML_BYTES) return null;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(entry.content);
  } catch {
    return null;
  }
}

/** The lines of an index file, each with its exact text (a leading BOM kept, so the text is the bytes). */
function splitLines(bytes: Buffer): { number: number; text: string | null }[] {
  const out: { number: number; text: string | null }[] = [];
  let start = 0;
  let number = 0;
  while (start < bytes.length) {
    let end = bytes.indexOf(0x0a, start);
    if (end < 0) end = bytes.length;
    number++;
    const slice = bytes.subarray(start, end);
    start = end + 1;
    if (slice.length === 0) continue;
    try {
      out.push({ number, text: new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(slice) });
    } catch {
      out.push({ number, text: null });
    }
  }
  return out;
}

/**
 * A crates importer over a cargo index. `index` is a directory or `sparse+http(s)://…/`; a git URL is refused
 * (clone it and give the directory). Throws ERR_MIRROR_BAD_SOURCE at once for an index that is neither.
 */
export function createCratesSource(options: CratesSourceOptions): MirrorSource {
  const location = parseIndexLocation(options.index);
  const getter: Getter = { fetch: options.fetch ?? globalThis.fetch, timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS };
  const maxCrateBytes = options.maxCrateBytes ?? MAX_CRATE_BYTES;
  const where = location.kind === "sparse" ? `sparse+${location.base}` : location.root;
  let configLoad: Promise<IndexConfig> | null = null;

  /** An index file's bytes (config.json or a crate's), or null when there is none. */
  async function readIndexFile(relative: string, limit: number, signal?: AbortSignal): Promise<Buffer | null> {
    try {
      if (location.kind === "sparse") return await httpGet(getter, `${location.base}${relative}`, limit, signal);
      return await readFileBounded(path.join(location.root, ...relative.split("/")), limit);
    } catch (error) {
      if (error instanceof TooLarge) throw badSource(`${where}: ${relative} is over ${limit} bytes`, { index: where, file: relative });
      throw error;
    }
  }

  async function loadConfig(signal?: AbortSignal): Promise<IndexConfig> {
    const bytes = await readIndexFile("config.json", MAX_CONFIG_BYTES, signal);
    if (bytes === null) throw badSource(`${where} has no config.json: it is not a cargo index`, { index: where });
    let value: unknown;
    try {
      value = JSON.parse(bytes.toString("utf8"));
    } catch (error) {
      throw badSource(`${where}: config.json is not JSON (${(error as Error).message})`, { index: where });
    }
    if (!isObject(value) || typeof value.dl !== "string" || value.dl.length === 0 || value.dl.length > 4096) {
      throw badSource(`${where}: config.json has no dl (the download URL)`, { index: where });
    }
    const sample = downloadLocation(crateDownloadUrl(value.dl, { name: "crate", vers: "1.0.0", cksum: "0".repeat(64) }), location.kind === "directory");
    if ("problem" in sample) throw badSource(`${where}: config.json dl ${short(value.dl)} ${sample.problem}`, { index: where, dl: value.dl });
    return { dl: value.dl };
  }

  function indexConfig(signal?: AbortSignal): Promise<IndexConfig> {
    if (configLoad === null) {
      configLoad = loadConfig(signal);
      configLoad.catch(() => {
        configLoad = null; // a failed load is tried again by the next package
      });
    }
    return configLoad;
  }

  async function downloadCrate(line: IndexLine, dl: string, what: string, signal?: AbortSignal): Promise<{ bytes: Buffer; url: string }> {
    const text = crateDownloadUrl(dl, line);
    const target = downloadLocation(text, location.kind === "directory");
    if ("problem" in target) throw badSource(`${what}: its download URL ${short(text)} ${target.problem}`, { url: text });
    const url = target.kind === "http" ? target.url : target.file;
    let bytes: Buffer | null;
    try {
      bytes = target.kind === "http" ? await httpGet(getter, target.url, maxCrateBytes, signal) : await readFileBounded(target.file, maxCrateBytes);
    } catch (error) {
      if (error instanceof TooLarge) throw badArchive(what, `${redact(url)} is over the limit of ${maxCrateBytes} bytes`);
      throw error;
    }
    if (bytes === null) {
      const details = target.kind === "http" ? { url: redact(url), status: 404, missing: true } : { file: url, missing: true };
      throw upstreamError(`${what}: ${redact(url)} is not there, though the index lists the version`, details);
    }
    return { bytes, url };
  }

  /** Downloads, verifies, unpacks and stores one new version. */
  async function importVersion(line: IndexLine, text: string, inputs: CrateInputs, config: IndexConfig, context: ImportContext): Promise<VersionResult> {
    const what = `crates ${line.name}@${line.vers} .crate`;
    try {
      const { bytes, url } = await downloadCrate(line, config.dl, what, context.signal);
      const actual = createHash("sha256").update(bytes).digest("hex");
      if (actual !== line.cksum) {
        throw new PkgError(ERR_MIRROR_INTEGRITY, `${line.name}@${line.vers}: the .crate has sha256 ${actual}, the index line says ${line.cksum}`, {
          details: { crate: line.name, version: line.vers, expected: line.cksum, actual, url: redact(url) },
          hint: "the download or the index is corrupt or tampered with; the version is not mirrored",
        });
      }
      const archive = await unpackTarball(bytes, what);
      const top = `${line.name}-${line.vers}`;
      if (archive.top !== top) throw badArchive(what, `its files are under ${short(archive.top === "" ? "(no common directory)" : `${archive.top}/`)}, not ${top}/`);
      const manifest: MirroredManifest = {
        repository: context.repository,
        name: line.name.toLowerCase(),
        version: line.vers,
        license: cargoLicense(cargoTomlOf(archive)),
        inputs: inputs.inputs,
        nativeInputs: inputs.nativeInputs,
      };
      serializeManifest(mirroredManifest(manifest), `${context.repository}:${manifest.name}@${line.vers} (generated pkg.toml)`); // refuses before anything is stored
      let src: string;
      try {
        src = (await context.content.putTree(archive.entries, { pin: true, signal: context.signal })).toString();
      } catch (error) {
        if (isPkgError(error, "ERR_CONTENT_PATH")) throw badArchive(what, error.message);
        throw error;
      }
      const crate = (await context.content.putBytes(bytes, { pin: true, signal: context.signal })).toString();
      const meta = await putMeta(context.content, manifest);
      return { kind: "ok", version: { version: line.vers, meta, src, yanked: line.yanked, origin: { line: text, crate } } };
    } catch (error) {
      if (isVersionProblem(error)) return { kind: "refused", error };
      throw error;
    }
  }

  const source: MirrorSource = {
    kind: "crates",
    location: where,

    packageName(upstreamName: string): { name: string } | { problem: string } {
      if (!CRATE_NAME.test(upstreamName)) return { problem: `${short(upstreamName)} is not a crate name (1-64 of A-Z, a-z, 0-9, '-', '_')` };
      const name = upstreamName.toLowerCase();
      const problem = checkName(name);
      return problem === null ? { name } : { problem: `${short(upstreamName)} becomes ${short(name)}, which ${problem}` };
    },

    async importPackage(upstreamName: string, previous: PackageEntry | null, context: ImportContext): Promise<PackageImport> {
      const named = source.packageName(upstreamName);
      if ("problem" in named) {
        throw new PkgError(ERR_MIRROR_UNKNOWN_PACKAGE, `crates ${named.problem}`, { details: { crate: upstreamName, index: where }, hint: "check the crate's name" });
      }
      const name = named.name;
      const logged = new Set<string>();
      const log = (line: string): void => {
        if (logged.has(line)) return;
        logged.add(line);
        context.log(line);
      };
      const config = await indexConfig(context.signal);
      const bytes = await readIndexFile(crateIndexPath(name), MAX_INDEX_FILE_BYTES, context.signal);
      if (bytes === null) {
        if (previous === null) {
          throw new PkgError(ERR_MIRROR_UNKNOWN_PACKAGE, `crates ${upstreamName}: the index ${where} has no such crate`, {
            details: { crate: upstreamName, index: where },
            hint: "check the crate's name (and that the index is the one meant)",
          });
        }
        log(`crates ${upstreamName}: gone from the index; its ${previous.versions.length} mirrored versions stay, yanked`);
        return { entry: { ...previous, versions: previous.versions.map((v) => (v.yanked ? v : { ...v, yanked: true })) }, dependencies: [] };
      }

      const previousVersions = new Map((previous?.versions ?? []).map((v) => [v.version, v]));
      const previousCores = new Map((previous?.versions ?? []).map((v) => [withoutBuildMetadata(v.version), v.version]));
      const cores = new Set<string>();
      const versions: EntryVersion[] = [];
      const refusals: string[] = [];
      let firstRefusal: PkgError | null = null;
      const dependencies = new Map<string, string>();
      const addDependencies = (names: string[]): void => {
        for (const dep of names) if (!dependencies.has(dep.toLowerCase())) dependencies.set(dep.toLowerCase(), dep);
      };
      let spelled: string | null = null;
      const downloads: { line: IndexLine; text: string; inputs: CrateInputs }[] = [];

      for (const { number, text } of splitLines(bytes)) {
        context.signal?.throwIfAborted();
        const at = `crates ${upstreamName}: index line ${number}`;
        if (text === null) {
          log(`${at} skipped: not UTF-8`);
          continue;
        }
        const line = parseIndexLine(text);
        if ("problem" in line) {
          log(`${at} skipped: ${line.problem}`);
          continue;
        }
        if (line.name.toLowerCase() !== name) {
          log(`${at} skipped: it is the line of ${short(line.name)}, not of ${upstreamName}`);
          continue;
        }
        const core = withoutBuildMetadata(line.vers);
        const clash = previousCores.get(core);
        if (cores.has(core)) {
          log(`${at} skipped: version ${line.vers} is an earlier line's, but for build metadata`);
          continue;
        }
        if (clash !== undefined && clash !== line.vers) {
          log(`${at} skipped: version ${line.vers} is the mirrored ${clash}, but for build metadata`);
          continue;
        }
        cores.add(core);
        spelled ??= line.name;
        const inputs = crateInputs(line, options.repository);
        const old = previousVersions.get(line.vers);
        if (old !== undefined) {
          previousVersions.delete(line.vers);
          versions.push(reuse(old, text, line, log));
          if (!("problem" in inputs)) addDependencies(inputs.dependencies);
          continue;
        }
        if ("problem" in inputs) {
          log(`crates ${line.name}@${line.vers} skipped: ${inputs.problem}`);
          continue;
        }
        for (const note of inputs.notes) log(`crates ${line.name}: ${note}`);
        if (context.dryRun) {
          versions.push({ version: line.vers, meta: "", src: "", yanked: line.yanked, origin: { line: text, crate: "" } });
          addDependencies(inputs.dependencies);
          continue;
        }
        downloads.push({ line, text, inputs });
      }
      // the new versions' .crate files, a few at a time (a crate of hundreds of versions would otherwise wait on
      // each download in turn); results, refusals and the first refusal in index order
      const results = await mapLimit(downloads, VERSION_DOWNLOADS, async ({ line, text, inputs }) => {
        const result = await importVersion(line, text, inputs, config, context);
        if (result.kind === "ok") context.onVersion();
        return result;
      });
      for (const [i, result] of results.entries()) {
        const { line, inputs } = downloads[i];
        if (result.kind === "refused") {
          refusals.push(`crates ${line.name}@${line.vers} refused [${result.error.code}]: ${result.error.message}`);
          firstRefusal ??= result.error;
          continue;
        }
        versions.push(result.version);
        addDependencies(inputs.dependencies);
      }

      if (previousVersions.size > 0) {
        log(`crates ${upstreamName}: ${[...previousVersions.keys()].join(", ")} gone from the index; the mirrored versions stay, yanked`);
        for (const old of previousVersions.values()) versions.push(old.yanked ? old : { ...old, yanked: true });
      }
      // nothing of the crate could be mirrored: the refusal says why (the engine fails a crate the user named on it,
      // and skips one reached through --deps or a listing with a line in the log)
      if (versions.length === 0 && firstRefusal !== null) throw firstRefusal;
      for (const line of refusals) log(line);
      if (versions.length === 0) return { entry: null, dependencies: [] };
      const previousName = previous?.origin.name;
      const entry: PackageEntry = {
        format: ENTRY_FORMAT,
        kind: "crates",
        name,
        origin: { name: spelled ?? (typeof previousName === "string" ? previousName : upstreamName) },
        versions: sortVersions(versions),
      };
      return { entry, dependencies: [...dependencies.values()] };
    },
  };

  /** A version of `previous` under the index line it has now (see the module's comment). */
  function reuse(old: EntryVersion, text: string, line: IndexLine, log: (line: string) => void): EntryVersion {
    if (old.origin.line === text) return old.yanked === line.yanked ? old : { ...old, yanked: line.yanked };
    const before = typeof old.origin.line === "string" ? parseIndexLine(old.origin.line) : null;
    if (before !== null && !("problem" in before) && before.cksum === line.cksum) {
      const unyanked = (raw: JsonObject): string => canonicalJson({ ...raw, yanked: null } as JsonValue);
      if (unyanked(before.raw) !== unyanked(line.raw)) log(`crates ${line.name}@${line.vers}: the index line changed (same .crate); the entry keeps its pkg.toml and sources`);
      return { ...old, yanked: line.yanked, origin: { ...old.origin, line: text } };
    }
    log(`crates ${line.name}@${line.vers}: upstream now names another .crate (cksum ${line.cksum}); the mirrored version keeps the one it had`);
    return old;
  }

  if (location.kind === "directory") {
    const root = location.root;
    source.listAll = async function* listAll(): AsyncIterable<string> {
      async function* walk(relative: string[]): AsyncGenerator<string> {
        let entries;
        try {
          entries = await readdir(path.join(root, ...relative), { withFileTypes: true });
        } catch (error) {
          throw upstreamError(`${where}: ${(error as Error).message}`, { index: where }, error);
        }
        entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        for (const entry of entries) {
          if (entry.name.startsWith(".") || (relative.length === 0 && entry.name === "config.json")) continue;
          if (entry.isDirectory()) {
            if (relative.length < 2) yield* walk([...relative, entry.name]);
          } else if (entry.isFile() && CRATE_NAME.test(entry.name) && crateIndexPath(entry.name) === [...relative, entry.name].join("/")) {
            yield entry.name;
          }
        }
      }
      yield* walk([]);
    };
  }
  return source;
}

/**
 * The index cargo itself uses for crates.io, as `sparse+URL`, asked of cargo rather than written here: cargo
 * resolves a one-dependency project in a scratch directory with its debug log on, and the log names the index
 * files it fetches (`<index>/config.json`). Source replacement in the user's cargo config is honoured, since it
 * is cargo that chooses. Needs cargo and the network (what mirroring the default index needs anyway).
 */
export async function defaultCratesIndex(): Promise<string> {
  const { mkdtemp, mkdir, rm, writeFile } = await import("node:fs/promises");
  const { tmpdir } = await import("node:os");
  const { execFile } = await import("node:child_process");
  const path = await import("node:path");
  const dir = await mkdtemp(path.join(tmpdir(), "chainpkg-cargo-index-"));
  try {
    await writeFile(path.join(dir, "Cargo.toml"), '[package]\nname = "probe"\nversion = "0.0.0"\nedition = "2021"\n\n[dependencies]\nitoa = "1"\n');
    await mkdir(path.join(dir, "src"));
    await writeFile(path.join(dir, "src", "lib.rs"), "");
    const log = await new Promise<string>((resolve, reject) => {
      execFile("cargo", ["generate-lockfile"], { cwd: dir, env: { ...process.env, CARGO_LOG: "debug", CARGO_TARGET_DIR: path.join(dir, "target") }, timeout: 120_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
        if (error && !/config\.json/.test(stderr)) reject(error);
        else resolve(`${stdout}\n${stderr}`);
      });
    }).catch((error: Error) => {
      throw new PkgError(ERR_MIRROR_UPSTREAM, `cannot ask cargo for its default index (${error.message.split("\n")[0]})`, {
        hint: "pass the index: sparse+URL, or a directory holding a cargo index",
      });
    });
    const found = /(https?:\/\/[^\s"']+\/)config\.json/.exec(log);
    if (found === null) {
      throw new PkgError(ERR_MIRROR_UPSTREAM, "cargo did not say which index it uses (no config.json fetch in its log)", {
        hint: "pass the index: sparse+URL, or a directory holding a cargo index",
      });
    }
    return `sparse+${found[1]}`;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
