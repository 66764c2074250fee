/**
 * The nixpkgs importer: a channel's package list (`packages.json.br`, or the same JSON uncompressed) → one
 * package per attribute path, one version per channel snapshot.
 *
 * The file. `{"version":2,"packages":{ATTR:{name, pname, version, system, outputName, outputs, meta}}}`, as
 * nixpkgs' pkgs/top-level/make-tarball.nix publishes it with every channel release. Two generators have written
 * it, and both are read:
 *   - `nix-env -qa --meta --json` wrapped in `{"version":2,"packages":…}` (channels up to nixos-25.11): every
 *     field is present; `pname`/`version` are nix-env's split of `name` (DrvName); `outputs` maps each output
 *     name to null (channels run nix-env without `--out-path`; with it, to the store path); a meta attribute
 *     that failed to evaluate is null;
 *   - pkgs/top-level/packages-info.nix (nixpkgs-unstable since NixOS/nixpkgs#451424): `"version":"2"`; `pname` and
 *     `version` are the derivation's own (`version` "" or absent when it has none), `outputs` a map to null or
 *     the list of output names, and fields the derivation lacks may be absent.
 * So: the file's `version` is 2 or "2"; a record needs `name` (every derivation has one); `pname`, `version`,
 * `system`, `outputName`, `drvPath` are strings when present, `meta` an object, `outputs` an object of
 * strings/nulls or a list of strings; an absent `version` is "" (what nixpkgs' own generator writes for it).
 *
 * Reading. The file is ~30 MB brotli'd, ~400 MB of JSON: too large for one JS string (V8 stops at 512 M
 * UTF-16 units) and for one JSON.parse. It is read into one buffer (at most {@link MAX_CHANNEL_BYTES}, on disk
 * and decompressed: a brotli bomb stops there) and scanned once: the envelope and the `packages` object are
 * walked by a small scanner, each record is parsed on its own (refused over {@link MAX_RECORD_BYTES} or
 * {@link MAX_RECORD_DEPTH} levels) and only its position is kept; importPackage parses it again. A file named
 * `.br` is decompressed unless it starts with `{` (a channel server sends `Content-Encoding: br`, so clients
 * that honour it save plain JSON under that name; a non-empty brotli stream cannot start with that byte).
 * Anything that is not JSON, a `version` other than 2, no `packages` object, an attribute listed twice, or text
 * that is not UTF-8 refuses the whole file (ERR_MIRROR_BAD_SOURCE, naming the file and the field, from listAll
 * or the first importPackage); a record of the wrong shape, or whose version cannot be mapped, fails only its
 * attribute (ERR_MIRROR_BAD_SOURCE from importPackage, naming the field: the engine logs it and goes on).
 * A file that cannot be read is ERR_MIRROR_UPSTREAM; an attribute the channel does not have, with no entry
 * yet, ERR_MIRROR_UNKNOWN_PACKAGE.
 *
 * Names. The attribute path is the package name, through names.ts (`python311Packages.requests` →
 * `python311_packages.requests`, `SDL2` → `s_-_d_l2`); paths with quoted segments (`aspellDicts."or"`) cannot be
 * mirrored and are skipped with a log line.
 *
 * Versions. See {@link nixToSemver}: a deterministic map to an exact semver version; the Nix version is kept
 * in the version's origin (`origin.version`), which is how it is read back.
 *
 * Snapshots. One channel file is one snapshot of nixpkgs: one version per attribute. A package's entry
 * accumulates them over imports: a version stays once published (later channels having moved on does not
 * yank it, as npm's older versions are not yanked); a package whose attribute left the channel keeps its
 * versions, all yanked, and the version in a channel again is un-yanked. A published version never changes:
 * when a channel gives a version already in the entry (same semver), the published record is kept as it is
 * (its meta, src and origin), even if the new record differs; a different `name`, `outputs` or Nix version
 * text (two Nix versions mapping to one semver, as `unstable-2024-01-01` → `0-unstable-2024-01-01`, nixpkgs'
 * 2024 renaming) is logged; meta-only changes (descriptions, maintainers) happen all the time and are not.
 * The upstream digest that would tell a rebuild is the output store paths, which channel files leave out
 * (null): with a file made by `nix-env -qa --json --meta --out-path`, a changed path is such a logged change.
 *
 * Content. A channel file has no sources and no dependencies. A version's `src` is a tree of one file,
 * `nixpkgs.json`: the attribute's record exactly as the channel has it, as canonical JSON, so the version's
 * content is addressed and fetchable; its origin also keeps `meta` (licenses, homepage, platforms…) and
 * `outputs`. Its pkg.toml has no inputs and its license is {@link nixLicense}'s. Building such a version means
 * evaluating nixpkgs at that attribute with Nix: that is a builder's job, not this importer's.
 */
import { promises as fs } from "node:fs";
import { pipeline } from "node:stream/promises";
import { createBrotliDecompress } from "node:zlib";
import { PkgError } from "../errors";
import { isSpdxProblem, parseSpdxExpression } from "../files/spdx";
import { quoteValue } from "../files/name";
import { checkVersion, isSameVersion, MAX_VERSION_LENGTH } from "../ids";
import { canonicalJson, ENTRY_FORMAT, sortVersions, type EntryVersion, type JsonObject, type JsonValue, type PackageEntry } from "./entry";
import { mirrorLicense, putMeta } from "./meta";
import { encodeName } from "./names";
import type { ImportContext, MirrorSource, PackageImport } from "./source";
import { ERR_MIRROR_BAD_SOURCE, ERR_MIRROR_UNKNOWN_PACKAGE, ERR_MIRROR_UPSTREAM } from "./errors";


/** The channel file, on disk and decompressed (real ones: ~30 MB brotli'd, ~400 MB of JSON). */
export const MAX_CHANNEL_BYTES = 1024 * 1024 * 1024;
/** One attribute's record: real ones are a few KB; every version's origin keeps one, so this bounds entries too. */
export const MAX_RECORD_BYTES = 256 * 1024;
/** Nesting of one record (real ones: under 10, `meta.teams[0].members[0].keys[0]`). */
export const MAX_RECORD_DEPTH = 32;
/** An attribute path (real ones: under 100 bytes). */
const MAX_KEY_BYTES = 4096;
/** A number of a mapped version: above 15 digits semver's numbers stop being exact in JS. */
const MAX_NUMBER_DIGITS = 15;
const NOASSERTION = "NOASSERTION";

// ---------------------------------------------------------------------------------------------------------
// Versions

/**
 * A Nix version split as Nix splits it (`builtins.compareVersions`, `splitVersion`): `.` and `-` separate
 * components and are dropped; a component is a run of digits or a run of anything else.
 * `2.4pre20211006_53e` → `2`, `4`, `pre`, `20211006`, `_`, `53`, `e`.
 */
export function nixVersionComponents(version: string): string[] {
  const out: string[] = [];
  const digit = (i: number) => version.charCodeAt(i) >= 0x30 && version.charCodeAt(i) <= 0x39;
  const separator = (i: number) => version[i] === "." || version[i] === "-";
  let i = 0;
  for (;;) {
    while (i < version.length && separator(i)) i++;
    if (i >= version.length) return out;
    const start = i;
    if (digit(i)) while (i < version.length && digit(i)) i++;
    else while (i < version.length && !digit(i) && !separator(i)) i++;
    out.push(version.slice(start, i));
  }
}

/**
 * A Nix version → an exact semver version (what the registry orders and resolves), deterministically.
 *
 *   - the version is split into Nix's components ({@link nixVersionComponents});
 *   - the leading numeric components are the release: the first three are major.minor.patch (missing ones 0):
 *     `2.12.1` → `2.12.1`, `2023-05-01` → `2023.5.1`, `20240101` → `20240101.0.0`, `0.03-1` → `0.3.1`;
 *   - everything after the third number is the prerelease, one identifier per component: numbers without
 *     leading zeros, words as their letters (`_`, `+`, `~` dropped): `1.2.3.4` → `1.2.3-4`, `1.0rc1` →
 *     `1.0.0-rc.1`, `0-unstable-2024-02-03` → `0.0.0-unstable.2024.2.3`, `unstable-2023-01-01` →
 *     `0.0.0-unstable.2023.1.1`, `2024a` → `2024.0.0-a`;
 *   - a version with nothing to keep (`""`, which nixpkgs writes for a derivation without a version) is
 *     `0.0.0-0`, below every other.
 *
 * Ordering: between releases (up to three numbers) Nix's order is kept exactly (numbers compare as numbers, so
 * `1.10` > `1.9`), and so it is within dates, `unstable` snapshots and letter or `rc` suffixes of one release.
 * Semver has no fourth number and no post-release, so what follows the third number always sorts *before* the
 * bare release, where Nix sorts all but `pre` after it: `1.2.3.4` < `1.2.3` here (a 4-number series still
 * orders right among itself: `7.6.4.1` < `7.6.5.2`), `1.0rc1` < `1.0` here (right for a release candidate,
 * which Nix itself gets wrong), `1.2.3-unstable-2024-01-01` < `1.2.3`. Build metadata cannot carry the rest:
 * the registry holds one version per semver-without-build, so it would not tell versions apart.
 *
 * Not injective: `1.0` and `1.0.0`, `01` and `1`, `unstable-X` and `0-unstable-X` (Nix's `.`/`-` and zeros
 * are dropped); within one channel that never matters (one version per attribute), across channels the
 * version published first is kept (see the module comment). Refused (the attribute is skipped): a number of
 * more than 15 digits, a result longer than the registry's 64 characters.
 */
export function nixToSemver(nixVersion: string): { version: string } | { problem: string } {
  if (nixVersion.length > 1024) return { problem: `the version ${quoteValue(nixVersion)} is too long to map` };
  const components = nixVersionComponents(nixVersion);
  const numeric = (c: string) => /^[0-9]+$/.test(c);
  const number = (c: string) => c.replace(/^0+(?=.)/, "");
  const release: string[] = [];
  let k = 0;
  while (k < components.length && numeric(components[k])) release.push(number(components[k++]));
  const prerelease = release.splice(3);
  for (; k < components.length; k++) {
    const c = components[k];
    if (numeric(c)) prerelease.push(number(c));
    else for (const word of c.split(/[^A-Za-z]+/)) if (word !== "") prerelease.push(word);
  }
  if (release.length === 0 && prerelease.length === 0) prerelease.push("0");
  while (release.length < 3) release.push("0");
  const long = [...release, ...prerelease].find((c) => numeric(c) && c.length > MAX_NUMBER_DIGITS);
  if (long !== undefined) return { problem: `the version ${quoteValue(nixVersion)} has a number of more than ${MAX_NUMBER_DIGITS} digits` };
  const version = release.join(".") + (prerelease.length > 0 ? `-${prerelease.join(".")}` : "");
  if (version.length > MAX_VERSION_LENGTH) return { problem: `the version ${quoteValue(nixVersion)} maps to ${quoteValue(version)}, longer than ${MAX_VERSION_LENGTH} characters` };
  const problem = checkVersion(version);
  if (problem !== null) return { problem: `the version ${quoteValue(nixVersion)} maps to ${quoteValue(version)}, which ${problem}` };
  return { version };
}

// ---------------------------------------------------------------------------------------------------------
// Licenses

/**
 * What the channel's license objects say about names: every `spdxId` is an SPDX id, and a `shortName` stands
 * for its object's `spdxId` (or for none). A license given as a string holds shortNames or spdxIds (the
 * nixpkgs manual, "license"), which cannot be told apart by their shape (`gpl3Plus`, `curl`, `MIT-like` are
 * all valid SPDX syntax), so a string is only believed when the channel itself says what its words are.
 */
export class NixLicenses {
  private readonly spdxIds = new Set<string>();
  private readonly shortNames = new Map<string, string | null>();

  /** Learns the license objects of one record's `meta.license` (first definition of a shortName wins). */
  learn(license: unknown): void {
    for (const item of Array.isArray(license) ? license : [license]) {
      if (!isObject(item)) continue;
      const spdxId = typeof item.spdxId === "string" && item.spdxId !== "" ? item.spdxId : null;
      if (spdxId !== null) this.spdxIds.add(spdxId);
      if (typeof item.shortName === "string" && !this.shortNames.has(item.shortName)) this.shortNames.set(item.shortName, spdxId);
    }
  }

  /** The SPDX id a word of a string license stands for, or null. */
  resolve(word: string): string | null {
    return this.spdxIds.has(word) ? word : this.shortNames.get(word) ?? null;
  }
}

/**
 * `meta.license` → the pkg.toml's license: an SPDX expression, or NOASSERTION when any part has no SPDX id.
 *   - an object (`lib.licenses.*`): its `spdxId`; objects without one (`unfree`, `free`,
 *     `unfreeRedistributable`…) are not SPDX licenses → NOASSERTION;
 *   - a list: the nixpkgs manual says a list means "parts of the package are licensed differently", so every
 *     license applies: the ids joined with ` AND `. (Packages also use lists for a choice, `[ mit asl20 ]` for
 *     "MIT OR Apache-2.0" crates; AND is the reading that never claims a choice the package may not give);
 *   - a string: space-separated shortNames or spdxIds, each resolved through the channel's own license
 *     objects ({@link NixLicenses}), joined with ` AND `; an unknown word (`MIT-like`) → NOASSERTION.
 * The upstream value itself stays in the version's origin (`meta.license`).
 */
export function nixLicense(license: unknown, licenses: NixLicenses): string {
  const ids: string[] = [];
  for (const item of Array.isArray(license) ? license : license === undefined || license === null ? [] : [license]) {
    if (typeof item === "string") {
      const words = item.split(/\s+/).filter((w) => w !== "");
      if (words.length === 0) return NOASSERTION;
      for (const word of words) {
        const id = licenses.resolve(word);
        if (id === null) return NOASSERTION;
        ids.push(id);
      }
    } else if (isObject(item) && typeof item.spdxId === "string" && item.spdxId !== "") {
      ids.push(item.spdxId);
    } else {
      return NOASSERTION;
    }
  }
  const unique = [...new Set(ids)];
  if (unique.length === 0 || unique.some((id) => id.length > 1024 || isSpdxProblem(parseSpdxExpression(id)))) return NOASSERTION;
  return mirrorLicense(unique.length === 1 ? unique[0] : unique.map((id) => (/\s/.test(id) ? `(${id})` : id)).join(" AND "));
}

// ---------------------------------------------------------------------------------------------------------
// The channel file

/** One record as checked: the fields used; the rest of it is kept as it is. */
interface NixRecord extends JsonObject {
  name: string;
}

/** What is wrong with a record: the field (`packages["hello"].version`) and the problem. */
interface RecordProblem {
  field: string;
  problem: string;
}

/** One attribute of the channel: where its record is, or why it is skipped. */
interface AttrSlot {
  start: number;
  end: number;
  problem: RecordProblem | null;
}

interface Channel {
  bytes: Buffer;
  /** Attribute path → its record, in file order. */
  attrs: Map<string, AttrSlot>;
  licenses: NixLicenses;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function badSource(file: string, problem: string, field: string | null): PkgError {
  return new PkgError(ERR_MIRROR_BAD_SOURCE, `${file}: ${problem}`, {
    details: field === null ? { file } : { file, field },
    hint: "the file is not a nixpkgs channel's packages.json(.br), or is damaged; download it again (channels.nixos.org/<channel>/packages.json.br)",
  });
}

/**
 * A record that cannot be imported: the attribute fails (importPackage throws this), the rest of the channel does
 * not; the engine logs it and goes on (or stops, when that attribute was named), and a previous entry stays.
 */
function badRecord(file: string, attr: string, field: string, problem: string): PkgError {
  return new PkgError(ERR_MIRROR_BAD_SOURCE, `${file}: ${field} ${problem}`, {
    details: { file, field, attr },
    hint: "that attribute is left out of the mirror (a mirrored version of it stays as it was); the rest of the channel is imported",
  });
}

/** `packages["python311Packages.requests"]`: a field as messages name it. */
function attrField(attr: string): string {
  return `packages[${quoteValue(attr, 120)}]`;
}

/** Why a record cannot be imported: the field (`""` for the record, `.version`) and the problem; or null. */
export function recordProblem(record: unknown): { field: string; problem: string } | null {
  if (!isObject(record)) return { field: "", problem: "is not an object" };
  if (!Object.hasOwn(record, "name")) return { field: "", problem: "has no name" };
  if (typeof record.name !== "string") return { field: ".name", problem: "is not a string" };
  for (const field of ["pname", "version", "system", "outputName", "drvPath"]) {
    if (Object.hasOwn(record, field) && typeof record[field] !== "string") return { field: `.${field}`, problem: "is not a string" };
  }
  if (Object.hasOwn(record, "meta") && !isObject(record.meta)) return { field: ".meta", problem: "is not an object" };
  if (Object.hasOwn(record, "outputs")) {
    const outputs = record.outputs;
    const ok = Array.isArray(outputs)
      ? outputs.every((o) => typeof o === "string")
      : isObject(outputs) && Object.values(outputs).every((o) => o === null || typeof o === "string");
    if (!ok) return { field: ".outputs", problem: "is neither an object of store paths (or nulls) nor a list of output names" };
  }
  return null;
}

const UTF8 = new TextDecoder("utf-8", { fatal: true });

/** A walk over the bytes of the channel file: just enough JSON to find the records, each then parsed alone. */
class Scanner {
  pos = 0;

  constructor(
    private readonly bytes: Buffer,
    private readonly file: string,
  ) {}

  fail(problem: string, field: string | null = null): PkgError {
    return badSource(this.file, `${problem} (at byte ${this.pos})`, field);
  }

  /** Bytes of the file as text (callers bound their length first). */
  text(start: number, end: number, field: string | null): string {
    try {
      return UTF8.decode(this.bytes.subarray(start, end));
    } catch {
      throw badSource(this.file, `is not UTF-8 (between bytes ${start} and ${end})`, field);
    }
  }

  whitespace(): void {
    const b = this.bytes;
    while (this.pos < b.length && (b[this.pos] === 0x20 || b[this.pos] === 0x0a || b[this.pos] === 0x0d || b[this.pos] === 0x09)) this.pos++;
  }

  peek(): number {
    return this.pos < this.bytes.length ? this.bytes[this.pos] : -1;
  }

  expect(byte: number, what: string, field: string | null = null): void {
    this.whitespace();
    if (this.peek() !== byte) throw this.fail(`is not JSON: ${what} expected`, field);
    this.pos++;
  }

  /** A string token (at its opening quote): its end, after the closing quote. */
  skipString(): void {
    const b = this.bytes;
    let at = this.pos + 1;
    for (;;) {
      const quote = b.indexOf(0x22, at);
      if (quote < 0) {
        this.pos = b.length;
        throw this.fail("is not JSON: it ends inside a string");
      }
      let backslashes = 0;
      while (b[quote - 1 - backslashes] === 0x5c) backslashes++;
      at = quote + 1;
      if (backslashes % 2 === 0) break;
    }
    this.pos = at;
  }

  /** An object key, decoded. */
  key(field: string | null): string {
    this.whitespace();
    if (this.peek() !== 0x22) throw this.fail("is not JSON: a string key expected", field);
    const start = this.pos;
    this.skipString();
    if (this.pos - start > MAX_KEY_BYTES) throw this.fail(`a key of ${this.pos - start} bytes (at most ${MAX_KEY_BYTES})`, field);
    try {
      return JSON.parse(this.text(start, this.pos, field)) as string;
    } catch (error) {
      if (error instanceof PkgError) throw error;
      throw this.fail(`is not JSON: a bad string key (${(error as Error).message})`, field);
    }
  }

  /** Any value: its bytes and its nesting depth (its syntax is JSON.parse's to check). */
  value(field: string | null): { start: number; end: number; depth: number } {
    this.whitespace();
    const b = this.bytes;
    const start = this.pos;
    const first = this.peek();
    if (first === 0x22) {
      this.skipString();
      return { start, end: this.pos, depth: 0 };
    }
    if (first === 0x7b || first === 0x5b) {
      let depth = 0;
      let max = 0;
      while (this.pos < b.length) {
        const c = b[this.pos];
        if (c === 0x22) {
          this.skipString();
          continue;
        }
        this.pos++;
        if (c === 0x7b || c === 0x5b) max = Math.max(max, ++depth);
        else if ((c === 0x7d || c === 0x5d) && --depth === 0) return { start, end: this.pos, depth: max };
      }
      throw this.fail("is not JSON: it ends inside an object or a list", field);
    }
    // a number, true, false, null
    while (this.pos < b.length && /[-+.0-9A-Za-z]/.test(String.fromCharCode(b[this.pos]))) this.pos++;
    if (this.pos === start) throw this.fail(first < 0 ? "is not JSON: it ends where a value should be" : "is not JSON: a value expected", field);
    return { start, end: this.pos, depth: 0 };
  }

  /** A value that must be JSON, of at most MAX_RECORD_BYTES: parsed. */
  parse(slice: { start: number; end: number }, field: string | null): unknown {
    if (slice.end - slice.start > MAX_RECORD_BYTES) throw badSource(this.file, `${field ?? "a value"} is ${slice.end - slice.start} bytes long (at most ${MAX_RECORD_BYTES})`, field);
    try {
      return JSON.parse(this.text(slice.start, slice.end, field));
    } catch (error) {
      if (error instanceof PkgError) throw error;
      throw badSource(this.file, `${field ?? "a value"} is not JSON (${(error as Error).message})`, field);
    }
  }

  /** `,` then more, or the closing byte: whether there is more. */
  more(close: number, field: string | null): boolean {
    this.whitespace();
    const c = this.peek();
    this.pos++;
    if (c === 0x2c) return true;
    if (c === close) return false;
    this.pos--;
    throw this.fail(`is not JSON: ',' or '${String.fromCharCode(close)}' expected`, field);
  }
}

/** The `packages` object (the scanner at its `{`): every attribute's slot, records checked, licenses learnt. */
function scanPackages(scan: Scanner, file: string, attrs: Map<string, AttrSlot>, licenses: NixLicenses): void {
  scan.expect(0x7b, "'{'", "packages");
  scan.whitespace();
  if (scan.peek() === 0x7d) {
    scan.pos++;
    return;
  }
  do {
    const attr = scan.key("packages");
    const field = attrField(attr);
    if (attrs.has(attr)) throw badSource(file, `${field} is listed twice`, field);
    scan.expect(0x3a, "':'", field);
    const slice = scan.value(field);
    let problem: { field: string; problem: string } | null;
    if (slice.end - slice.start > MAX_RECORD_BYTES) {
      problem = { field: "", problem: `is ${slice.end - slice.start} bytes long (at most ${MAX_RECORD_BYTES})` };
    } else {
      const record = scan.parse(slice, field);
      problem = slice.depth > MAX_RECORD_DEPTH ? { field: "", problem: `is nested more than ${MAX_RECORD_DEPTH} levels deep` } : recordProblem(record);
      if (problem === null) licenses.learn((record as { meta?: { license?: unknown } }).meta?.license);
    }
    attrs.set(attr, { start: slice.start, end: slice.end, problem: problem === null ? null : { field: `${field}${problem.field}`, problem: problem.problem } });
  } while (scan.more(0x7d, "packages"));
}

/** Indexes a channel file's JSON. @throws PkgError ERR_MIRROR_BAD_SOURCE for what refuses the whole file. */
function indexChannel(bytes: Buffer, file: string): Channel {
  const scan = new Scanner(bytes, file);
  const attrs = new Map<string, AttrSlot>();
  const licenses = new NixLicenses();
  const seen = new Set<string>();
  let formatVersion: unknown = undefined;
  scan.whitespace();
  if (scan.peek() !== 0x7b) throw scan.fail("is not a JSON object");
  scan.pos++;
  scan.whitespace();
  if (scan.peek() === 0x7d) scan.pos++;
  else {
    do {
      const key = scan.key(null);
      if (seen.has(key)) throw badSource(file, `${quoteValue(key)} is given twice`, key);
      seen.add(key);
      scan.expect(0x3a, "':'", key);
      if (key === "packages") {
        scan.whitespace();
        if (scan.peek() !== 0x7b) throw badSource(file, `"packages" is not an object`, "packages");
        scanPackages(scan, file, attrs, licenses);
      } else {
        const value = scan.parse(scan.value(key), key);
        if (key === "version") formatVersion = value;
      }
    } while (scan.more(0x7d, null));
  }
  scan.whitespace();
  if (scan.pos < bytes.length) throw scan.fail("is not JSON: text after the top-level object");
  if (formatVersion === undefined) throw badSource(file, `has no "version": not a channel's packages.json`, "version");
  if (formatVersion !== 2 && formatVersion !== "2") {
    const shown = JSON.stringify(formatVersion);
    throw badSource(file, `"version" is ${shown.length > 64 ? `${shown.slice(0, 64)}…` : shown}, not 2 (the only format known)`, "version");
  }
  if (!seen.has("packages")) throw badSource(file, `has no "packages"`, "packages");
  return { bytes, attrs, licenses };
}

/** The file's JSON bytes: decompressed when it is brotli, at most `max` bytes either way. */
async function readChannelFile(file: string, max: number): Promise<Buffer> {
  const upstream = (error: unknown) =>
    new PkgError(ERR_MIRROR_UPSTREAM, `${file}: cannot be read (${(error as Error).message})`, {
      details: { file },
      hint: "name a nixpkgs channel's packages.json.br (channels.nixos.org/<channel>/packages.json.br) or its decompressed packages.json",
      cause: error,
    });
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, "r");
  } catch (error) {
    throw upstream(error);
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw badSource(file, "is not a regular file", null);
    if (stat.size > max) throw badSource(file, `is ${stat.size} bytes long, over the limit of ${max}`, null);
    const first = Buffer.alloc(1);
    await handle.read(first, 0, 1, 0);
    const brotli = file.endsWith(".br") && stat.size > 0 && first[0] !== 0x7b;
    const chunks: Buffer[] = [];
    let total = 0;
    // the refusal is kept aside: the pipeline may reject with the abort of the streams it tears down instead
    let overLimit: PkgError | null = null;
    const collect = async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) {
        total += chunk.length;
        if (total > max) {
          overLimit = badSource(file, brotli ? `decompresses to more than ${max} bytes, over the limit` : `is more than ${max} bytes long, over the limit`, null);
          throw overLimit;
        }
        chunks.push(chunk);
      }
    };
    const input = handle.createReadStream({ start: 0, autoClose: false });
    try {
      if (brotli) await pipeline(input, createBrotliDecompress(), collect);
      else await pipeline(input, collect);
    } catch (error) {
      if (overLimit !== null) throw overLimit;
      if (error instanceof PkgError) throw error;
      const code = (error as NodeJS.ErrnoException).code ?? "";
      // zlib's own codes for data that is not brotli (ERR_BROTLI_…, ERR__…, Z_DATA_ERROR, Z_BUF_ERROR)
      if (brotli && /^(ERR_BROTLI|ERR__|Z_DATA_ERROR$|Z_BUF_ERROR$)/.test(code)) {
        throw badSource(file, `is not brotli-compressed JSON (${(error as Error).message})`, null);
      }
      throw upstream(error);
    }
    return Buffer.concat(chunks, total);
  } finally {
    await handle.close();
  }
}

// ---------------------------------------------------------------------------------------------------------
// The importer

export interface NixpkgsSourceOptions {
  /** The channel file: `packages.json.br` (brotli) or `packages.json`. */
  file: string;
  /** The repository the packages are mirrored into (generated pkg.toml files name the context's). */
  repository: string;
  /** The bound of {@link MAX_CHANNEL_BYTES}, lower (tests). */
  maxBytes?: number;
}

export function createNixpkgsSource(options: NixpkgsSourceOptions): MirrorSource {
  return new NixpkgsSource(options);
}

class NixpkgsSource implements MirrorSource {
  readonly kind = "nixpkgs" as const;
  readonly location: string;
  readonly repository: string;
  private readonly maxBytes: number;
  private channel: Promise<Channel> | null = null;

  constructor(options: NixpkgsSourceOptions) {
    this.location = options.file;
    this.repository = options.repository;
    this.maxBytes = Math.min(options.maxBytes ?? MAX_CHANNEL_BYTES, MAX_CHANNEL_BYTES);
  }

  /** The channel, read and indexed once (a failed read is tried again on the next call). */
  private load(): Promise<Channel> {
    if (this.channel === null) {
      const file = this.location;
      this.channel = readChannelFile(file, this.maxBytes).then((bytes) => indexChannel(bytes, file));
      this.channel.catch(() => (this.channel = null));
    }
    return this.channel;
  }

  packageName(attr: string): { name: string } | { problem: string } {
    return encodeName(attr);
  }

  /** Every attribute of the channel, sorted (the same order for the same channel, whatever its key order). */
  async *listAll(): AsyncIterable<string> {
    const channel = await this.load();
    yield* [...channel.attrs.keys()].sort();
  }

  async importPackage(attr: string, previous: PackageEntry | null, context: ImportContext): Promise<PackageImport> {
    context.signal?.throwIfAborted();
    const channel = await this.load();
    const dependencies: string[] = [];
    const say = (line: string) => context.log(`nixpkgs ${quoteValue(attr, 120)}: ${line}`);
    const named = encodeName(attr);
    if ("problem" in named) {
      say(`skipped: ${named.problem}`);
      return { entry: null, dependencies };
    }
    const slot = channel.attrs.get(attr);
    if (slot === undefined) {
      if (previous === null) {
        throw new PkgError(ERR_MIRROR_UNKNOWN_PACKAGE, `nixpkgs: the channel ${this.location} has no attribute ${quoteValue(attr, 120)}`, {
          details: { attr, file: this.location },
          hint: "name an attribute path of the channel (`hello`, `python311Packages.requests`), as search.nixos.org shows it",
        });
      }
      // gone from nixpkgs: its versions stay, yanked (locks that name them keep working)
      if (previous.versions.some((v) => !v.yanked)) say("no longer in the channel: its versions are yanked");
      return { entry: { ...previous, versions: previous.versions.map((v) => ({ ...v, yanked: true })) }, dependencies };
    }
    if (slot.problem !== null) throw badRecord(this.location, attr, slot.problem.field, slot.problem.problem);
    const record = JSON.parse(channel.bytes.toString("utf8", slot.start, slot.end)) as NixRecord;
    const nixVersion = typeof record.version === "string" ? record.version : "";
    const mapped = nixToSemver(nixVersion);
    if ("problem" in mapped) throw badRecord(this.location, attr, `${attrField(attr)}.version`, `cannot be a registry version: ${mapped.problem}`);
    const versions: EntryVersion[] = (previous?.versions ?? []).map((v) => ({ ...v }));
    const existing = versions.find((v) => isSameVersion(v.version, mapped.version));
    if (existing !== undefined) {
      existing.yanked = false;
      const changed = changes(existing.origin, record, nixVersion);
      if (changed.length > 0) say(`${existing.version} is published already; the channel's differs (${changed.join(", ")}): the published version is kept`);
    } else {
      versions.push(await this.newVersion(attr, named.name, mapped.version, nixVersion, record, channel, context));
    }
    const entry: PackageEntry = { format: ENTRY_FORMAT, kind: "nixpkgs", name: named.name, origin: { attr }, versions: sortVersions(versions) };
    return { entry, dependencies };
  }

  private async newVersion(attr: string, name: string, version: string, nixVersion: string, record: NixRecord, channel: Channel, context: ImportContext): Promise<EntryVersion> {
    const origin: JsonObject = { attr, version: nixVersion };
    for (const field of ["name", "pname", "system", "outputName", "outputs", "drvPath", "meta"]) {
      if (Object.hasOwn(record, field)) origin[field] = record[field];
    }
    if (context.dryRun) return { version, meta: "", src: "", yanked: false, origin };
    const license = nixLicense(isObject(record.meta) ? record.meta.license : undefined, channel.licenses);
    const meta = await putMeta(context.content, { repository: context.repository, name, version, license });
    const src = await context.content.putTree([{ path: "nixpkgs.json", content: canonicalJson(record) }], { pin: true, signal: context.signal });
    context.onVersion();
    return { version, meta, src: src.toString(), yanked: false, origin };
  }

  async close(): Promise<void> {
    this.channel = null;
  }
}

/** What differs between a published version's origin and the channel's record for it (meta aside). */
function changes(origin: JsonObject, record: NixRecord, nixVersion: string): string[] {
  const out: string[] = [];
  const same = (a: JsonValue | undefined, b: JsonValue | undefined) => (a === undefined ? b === undefined : b !== undefined && canonicalJson(a) === canonicalJson(b));
  if (origin.version !== nixVersion) out.push(`Nix version ${quoteValue(nixVersion)}, published as ${quoteValue(String(origin.version))}`);
  if (!same(origin.name, record.name)) out.push(`name ${quoteValue(record.name)}`);
  if (!same(origin.outputs, record.outputs)) out.push("outputs");
  return out;
}
