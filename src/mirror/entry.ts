/**
 * A mirrored package's entry in a snapshot index: one UnixFS file per package, named by the package's name in
 * its repository, holding this JSON document. Resolution reads `versions` (the same record a native package
 * has on chain: version, meta CID, src CID, yanked); the gateway reads `origin` (what the source registry
 * served, so it can serve it back: an npm version document, a cargo index line byte for byte).
 *
 * The encoding is canonical (keys sorted, versions newest first, no whitespace), so the same package always
 * gives the same bytes, the same CID, and an unchanged package costs no new block in the next snapshot.
 * An entry read back is hostile until checked: its size is bounded before it is parsed and every field is
 * validated (names, versions, CIDs), so a forged index cannot smuggle a path or a non-CID into resolution.
 */
import { CID } from "multiformats/cid";
import * as semver from "semver";
import { PkgError } from "../errors";
import { collectBytes, type SizeLimit } from "../files/limits";
import { checkName, checkVersion } from "../ids";
import type { ContentStore } from "../content";
import { ERR_MIRROR_BAD_ENTRY } from "./errors";

export const ENTRY_FORMAT = 1;

/** A JSON value as the source registry gave it (kept for the gateway). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** Which importer made an entry (and how the gateway reads its `origin`). */
export type MirrorKind = "npm" | "crates" | "nixpkgs";
export const MIRROR_KINDS: readonly MirrorKind[] = ["npm", "crates", "nixpkgs"];

export interface EntryVersion {
  /** Exact semver, as resolution compares it. */
  version: string;
  /** CID of the generated pkg.toml (what resolution reads for the version's inputs). */
  meta: string;
  /** CID of the version's source tree (UnixFS directory). */
  src: string;
  yanked: boolean;
  /** Source-specific, per version: npm `{document, tarball, integrity, shasum}`; crates `{line, crate}`; nixpkgs `{attr, ...}`. */
  origin: JsonObject;
}

export interface PackageEntry {
  format: typeof ENTRY_FORMAT;
  kind: MirrorKind;
  /** The package's name in its repository (passes the one name rule). */
  name: string;
  /** Source-specific, per package: npm `{name, "dist-tags"}`; crates `{name}`; nixpkgs `{attr}`. */
  origin: JsonObject;
  /** Newest first (semver order). */
  versions: EntryVersion[];
}


/** An entry is a few hundred bytes per version; the largest npm packages have a few thousand versions. */
export const MAX_ENTRY_BYTES = 64 * 1024 * 1024;

const ENTRY_LIMIT: SizeLimit = {
  max: MAX_ENTRY_BYTES,
  code: ERR_MIRROR_BAD_ENTRY,
  what: "a mirror index entry",
  hint: "the snapshot is not one chainpkg wrote; do not use it",
};

/** JSON with object keys sorted at every level (arrays keep their order). */
export function canonicalJson(value: JsonValue): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const keys = Object.keys(value).filter((k) => value[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(",")}}`;
}

/** Versions newest first; build metadata breaks ties by text so the order is total. */
export function sortVersions<T extends { version: string }>(versions: T[]): T[] {
  return versions.sort((a, b) => semver.rcompare(a.version, b.version) || (a.version < b.version ? 1 : a.version > b.version ? -1 : 0));
}

/** The entry's bytes: canonical, versions newest first. Throws ERR_MIRROR_BAD_ENTRY on an invalid entry. */
export function encodeEntry(entry: PackageEntry): Uint8Array {
  const sorted: PackageEntry = { ...entry, versions: sortVersions([...entry.versions]) };
  checkEntry(sorted, `entry ${entry.name}`);
  return new TextEncoder().encode(canonicalJson(sorted as unknown as JsonValue));
}

function bad(what: string, problem: string): PkgError {
  return new PkgError(ERR_MIRROR_BAD_ENTRY, `${what}: ${problem}`, {
    details: { entry: what },
    hint: "the snapshot is not one chainpkg wrote (or was written by a newer version); do not use it",
  });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function checkCid(value: unknown, what: string, field: string): void {
  if (typeof value !== "string") throw bad(what, `${field} is not a string`);
  try {
    if (CID.parse(value).toString() !== value) throw new Error("not canonical");
  } catch {
    throw bad(what, `${field} ${JSON.stringify(value.slice(0, 80))} is not a CIDv1 in base32`);
  }
}

/** Every field of an entry, checked; `expectedName` when the entry was looked up by name. */
export function checkEntry(value: unknown, what: string, expectedName?: string): asserts value is PackageEntry {
  if (!isObject(value)) throw bad(what, "is not an object");
  if (value.format !== ENTRY_FORMAT) throw bad(what, `format ${JSON.stringify(value.format)} is not ${ENTRY_FORMAT}`);
  if (!MIRROR_KINDS.includes(value.kind as MirrorKind)) throw bad(what, `kind ${JSON.stringify(value.kind)} is not one of ${MIRROR_KINDS.join(", ")}`);
  if (typeof value.name !== "string" || checkName(value.name) !== null) throw bad(what, `name ${JSON.stringify(value.name)} is not a package name`);
  if (expectedName !== undefined && value.name !== expectedName) throw bad(what, `is the entry of ${value.name}, not of ${expectedName}`);
  if (!isObject(value.origin)) throw bad(what, "origin is not an object");
  if (!Array.isArray(value.versions)) throw bad(what, "versions is not a list");
  const seen = new Set<string>();
  value.versions.forEach((v: unknown, i: number) => {
    const at = `versions[${i}]`;
    if (!isObject(v)) throw bad(what, `${at} is not an object`);
    if (typeof v.version !== "string" || checkVersion(v.version) !== null) throw bad(what, `${at}.version ${JSON.stringify(v.version)} is not an exact semver version`);
    if (seen.has(v.version)) throw bad(what, `${at}.version ${v.version} is listed twice`);
    seen.add(v.version);
    checkCid(v.meta, what, `${at}.meta`);
    checkCid(v.src, what, `${at}.src`);
    if (typeof v.yanked !== "boolean") throw bad(what, `${at}.yanked is not true or false`);
    if (!isObject(v.origin)) throw bad(what, `${at}.origin is not an object`);
    if (i > 0 && semver.gt(v.version, (value.versions as EntryVersion[])[i - 1].version)) throw bad(what, `${at}: versions are not newest first`);
  });
}

/** Decodes and checks entry bytes (already verified against their CID by the content store). */
export function decodeEntry(bytes: Uint8Array, what: string, expectedName?: string): PackageEntry {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (error) {
    throw bad(what, `is not JSON (${(error as Error).message})`);
  }
  checkEntry(value, what, expectedName);
  return value;
}

/** An entry read from the content store: every block verified, at most {@link MAX_ENTRY_BYTES} read. */
export async function readEntry(content: Pick<ContentStore, "getBytes">, cid: CID, what: string, expectedName?: string): Promise<PackageEntry> {
  const bytes = await collectBytes(content.getBytes(cid), `${what} (entry ${cid})`, ENTRY_LIMIT);
  return decodeEntry(bytes, `${what} (entry ${cid})`, expectedName);
}
