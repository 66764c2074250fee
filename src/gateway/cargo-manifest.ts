/**
 * The cargo index line of a natively published crate, generated from the Cargo.toml its source tree holds.
 *
 * Why: `pkg gateway` serves a cargo sparse index. A crate published through the gateway (`cargo publish`) or
 * imported from crates.io has its index line from cargo or crates.io, and its .crate's Cargo.toml was normalised by
 * `cargo package`. A crate published natively on chain has neither: its source tree holds the Cargo.toml its author
 * wrote, and the .crate the gateway serves is that tree packed as-is. So the gateway writes the line itself, in the
 * format of cargo's registry index as crates.io writes it (https://doc.rust-lang.org/cargo/reference/registry-index.html):
 * `name`, `vers`, `deps` (each `name`, `req`, `features`, `optional`, `default_features`, `target`, `kind`, and
 * `package` when the Cargo.toml names the crate with `package`), `cksum`, `features` (with the features using `dep:`
 * or `?/` in `features2` and `v: 2`), `yanked`, `links`, `rust_version`, `v`.
 *
 * A requirement is written as cargo displays its `VersionReq` (semver 1.x): comparators joined by ", ", a bare
 * version with its implicit `^` (`0.2` → `^0.2`), spaces after operators dropped, wildcards as `*` (`1.x` → `1.*`),
 * build metadata dropped.
 *
 * What `cargo package` would have had to rewrite cannot be served, since the tree is served as it is: a field or
 * dependency inherited from a workspace (`version.workspace = true`, `foo = { workspace = true }`, `[lints]
 * workspace = true`), `package.workspace`, a path or git dependency without a version (cargo publish strips path/git
 * and keeps the version; a dev-dependency without one is dropped, as cargo publish drops it), and a dependency on
 * another registry. Those, a name or version other than the chain's, a field of the wrong type and a requirement
 * cargo cannot parse are refused with one line naming the field and the reason.
 */
import { parse } from "smol-toml";
import type { IndexDependency } from "../mirror/crates";

export interface CargoIndexLineResult {
  /** The JSON line, no trailing newline. */
  line: string;
}

export interface CargoManifestRefusal {
  /** One line: the field and why (`[dependencies] foo: a path dependency without a version (cargo publish would refuse it)`). */
  problem: string;
}

type Table = Record<string, unknown>;

/** One entry of the line's `deps` (keys in the index's order): no `registry` (the same one), `package` only when given. */
type IndexDep = Omit<IndexDependency, "registry" | "package"> & { package?: string };

/** Thrown inside this module, returned as a {@link CargoManifestRefusal} by {@link cargoIndexLine}. */
class Refused {
  constructor(readonly problem: string) {}
}

function isTable(value: unknown): value is Table {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** A key as TOML writes it: bare when it can be, else quoted (one line, at most ~100 characters). */
function tomlKey(key: string): string {
  const short = key.length > 100 ? `${key.slice(0, 100)}…` : key;
  if (/^[A-Za-z0-9_-]+$/.test(short)) return short;
  if (![...short].some((c) => c === "'" || c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) return `'${short}'`;
  return JSON.stringify(short);
}

/** `[target.'cfg(unix)'.dependencies]` */
function header(path: string[]): string {
  return `[${path.map(tomlKey).join(".")}]`;
}

function quote(value: string): string {
  return JSON.stringify(value.length > 100 ? `${value.slice(0, 100)}…` : value);
}

const U64_MAX = 2n ** 64n - 1n;

/** A major/minor/patch number as semver reads it: digits, no leading zero, at most u64. */
function numeric(text: string, position: string): { value: string; rest: string } | { problem: string } {
  const digits = /^[0-9]+/.exec(text)?.[0];
  if (digits === undefined) return { problem: text === "" ? `unexpected end while parsing the ${position} version number` : `unexpected character ${quote(text[0])} while parsing the ${position} version number` };
  if (digits.length > 1 && digits.startsWith("0")) return { problem: `invalid leading zero in the ${position} version number` };
  if (BigInt(digits) > U64_MAX) return { problem: `the ${position} version number is too large` };
  return { value: digits, rest: text.slice(digits.length) };
}

/** A pre-release or build identifier: dot-separated segments of [0-9A-Za-z-], none empty (pre-release: numeric ones without leading zero). */
function identifier(text: string, position: "pre-release" | "build metadata"): { value: string; rest: string } | { problem: string } {
  const value = /^[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*/.exec(text)?.[0] ?? "";
  const rest = text.slice(value.length);
  if (value === "" || rest.startsWith(".")) return { problem: `empty identifier segment in the ${position}` };
  if (position === "pre-release" && value.split(".").some((segment) => /^0[0-9]+$/.test(segment))) return { problem: "invalid leading zero in the pre-release" };
  return { value, rest };
}

const WILDCARD = /^[*xX]/;

/** One comparator (semver's `comparator`): its display and the text after it (leading spaces trimmed). */
function comparator(input: string): { display: string; rest: string } | { problem: string } {
  const written = /^(>=|<=|=|>|<|~|\^)?/.exec(input)?.[1];
  let op = written ?? "^";
  let text = input.slice(written?.length ?? 0).replace(/^ +/, "");
  const major = numeric(text, "major");
  if ("problem" in major) return major;
  text = major.rest;
  let wildcard = false;
  const parts: string[] = [];
  for (const position of ["minor", "patch"] as const) {
    if (!text.startsWith(".")) break;
    text = text.slice(1);
    if (WILDCARD.test(text)) {
      wildcard = true;
      if (written === undefined) op = "";
      text = text.slice(1);
      continue;
    }
    if (wildcard) return { problem: "unexpected character after a wildcard" };
    const parsed = numeric(text, position);
    if ("problem" in parsed) return parsed;
    parts.push(parsed.value);
    text = parsed.rest;
  }
  const [minor, patch] = parts as [string | undefined, string | undefined];
  let pre = "";
  if (patch !== undefined && text.startsWith("-")) {
    const parsed = identifier(text.slice(1), "pre-release");
    if ("problem" in parsed) return parsed;
    pre = parsed.value;
    text = parsed.rest;
  }
  if (patch !== undefined && text.startsWith("+")) {
    const parsed = identifier(text.slice(1), "build metadata");
    if ("problem" in parsed) return parsed;
    text = parsed.rest; // cargo's VersionReq keeps no build metadata
  }
  let display = `${op}${major.value}`;
  if (minor !== undefined) {
    display += `.${minor}`;
    if (patch !== undefined) display += `.${patch}${pre === "" ? "" : `-${pre}`}`;
    else if (op === "") display += ".*";
  } else if (op === "") {
    display += ".*";
  }
  return { display, rest: text.replace(/^ +/, "") };
}

/** cargo's VersionReq (semver 1.x) read and displayed again, or why cargo would not read it. */
function cargoReq(req: string): string | { problem: string } {
  let text = req.replace(/^ +/, "");
  if (WILDCARD.test(text)) {
    const rest = text.slice(1).replace(/^ +/, "");
    if (rest === "") return "*";
    return { problem: rest.startsWith(",") ? "a wildcard must be the only comparator" : "unexpected character after a wildcard" };
  }
  const comparators: string[] = [];
  for (;;) {
    const parsed = comparator(text);
    if ("problem" in parsed) return parsed;
    comparators.push(parsed.display);
    text = parsed.rest;
    if (text === "") return comparators.join(", ");
    if (!text.startsWith(",")) return { problem: `expected a comma after ${quote(parsed.display)}, found ${quote(text[0])}` };
    if (comparators.length === 32) return { problem: "more than 32 comparators" };
    text = text.slice(1).replace(/^ +/, "");
  }
}

/**
 * A version requirement as cargo's `VersionReq` displays it, which is what the index's `req` holds: `0.2` → `^0.2`,
 * `>= 1, < 2` → `>=1, <2`, `1.x` → `1.*`, `*` stays `*`.
 * @throws Error when cargo could not parse the requirement.
 */
export function normaliseCargoReq(req: string): string {
  const result = cargoReq(req);
  if (typeof result !== "string") throw new Error(`version requirement ${quote(req)} is not one cargo can parse: ${result.problem}`);
  return result;
}

function optionalString(table: Table, key: string, where: string): string | undefined {
  const value = table[key];
  if (value !== undefined && typeof value !== "string") throw new Refused(`${where}: \`${key}\` must be a string`);
  return value;
}

function optionalBoolean(table: Table, key: string, where: string): boolean | undefined {
  const value = table[key];
  if (value !== undefined && typeof value !== "boolean") throw new Refused(`${where}: \`${key}\` must be a boolean`);
  return value;
}

function stringArray(value: unknown, where: string): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) throw new Refused(`${where} must be an array of strings`);
  return value as string[];
}

/**
 * The key of a table cargo also accepts with an underscore (`dev-dependencies` / `dev_dependencies`) and its value:
 * the dashed one wins when both are there, as in cargo; edition 2024 refuses the underscored one, so cargo would not
 * read the manifest.
 */
function dashed(table: Table, prefix: string[], key: string, edition2024: boolean): { key: string; value: unknown } {
  if (table[key] !== undefined) return { key, value: table[key] };
  const underscored = key.replaceAll("-", "_");
  if (table[underscored] !== undefined && edition2024) throw new Refused(`${header([...prefix, underscored])}: unsupported as of the 2024 edition (cargo wants ${header([...prefix, key])})`);
  return { key: underscored, value: table[underscored] };
}

const KINDS: [key: string, kind: IndexDep["kind"]][] = [
  ["dependencies", "normal"],
  ["build-dependencies", "build"],
  ["dev-dependencies", "dev"],
];

/** The index entries of one dependency table, in file order. */
function dependencies(value: unknown, path: string[], kind: IndexDep["kind"], target: string | null, edition2024: boolean): IndexDep[] {
  if (value === undefined) return [];
  if (!isTable(value)) throw new Refused(`${header(path)} must be a table`);
  const out: IndexDep[] = [];
  for (const [key, raw] of Object.entries(value)) {
    const where = `${header(path)} ${tomlKey(key)}`;
    if (typeof raw === "string") {
      out.push({ name: key, req: requirement(raw, where), features: [], optional: false, default_features: true, target, kind });
      continue;
    }
    if (!isTable(raw)) throw new Refused(`${where}: must be a version requirement (a string) or a table`);
    if (raw.workspace !== undefined) throw new Refused(`${where}: \`workspace = true\` inherits it from the workspace's [workspace.dependencies], which only cargo package writes out`);
    if (raw.registry !== undefined || raw["registry-index"] !== undefined) throw new Refused(`${where}: a dependency on another registry cannot be served by this gateway`);
    const version = optionalString(raw, "version", where);
    const pathDep = optionalString(raw, "path", where);
    const git = optionalString(raw, "git", where);
    const rename = optionalString(raw, "package", where);
    const features = raw.features === undefined ? [] : stringArray(raw.features, `${where}: \`features\``);
    const optional = optionalBoolean(raw, "optional", where) ?? false;
    if (kind === "dev" && optional) throw new Refused(`${where}: a dev-dependency cannot be optional (cargo refuses the manifest)`);
    let defaultFeatures: boolean | undefined;
    if (raw["default-features"] !== undefined) defaultFeatures = optionalBoolean(raw, "default-features", where);
    else if (raw.default_features !== undefined) {
      if (edition2024) throw new Refused(`${where}: \`default_features\` is unsupported as of the 2024 edition (cargo wants \`default-features\`)`);
      defaultFeatures = optionalBoolean(raw, "default_features", where);
    }
    if (version === undefined) {
      if (pathDep === undefined && git === undefined) throw new Refused(`${where}: no version (cargo publish would refuse a dependency without one)`);
      if (kind === "dev") continue; // cargo publish drops a path or git dev-dependency without a version
      throw new Refused(`${where}: a ${pathDep !== undefined ? "path" : "git"} dependency without a version (cargo publish would refuse it)`);
    }
    const dep: IndexDep = { name: key, req: requirement(version, where), features, optional, default_features: defaultFeatures ?? true, target, kind };
    if (rename !== undefined) dep.package = rename;
    out.push(dep);
  }
  return out;
}

function requirement(req: string, where: string): string {
  const result = cargoReq(req);
  if (typeof result !== "string") throw new Refused(`${where}: version requirement ${quote(req)} is not one cargo can parse (${result.problem})`);
  return result;
}

/** `features` and `features2` as crates.io splits them: a feature using `dep:` or `?/` goes into features2. */
function featureMaps(value: unknown): { features: Record<string, string[]>; features2: Record<string, string[]> } {
  // null prototypes: a feature may be called `__proto__`
  const features = Object.create(null) as Record<string, string[]>;
  const features2 = Object.create(null) as Record<string, string[]>;
  if (value === undefined) return { features, features2 };
  if (!isTable(value)) throw new Refused("[features] must be a table");
  for (const [name, raw] of Object.entries(value)) {
    const list = stringArray(raw, `[features] ${tomlKey(name)}`);
    (list.some((f) => f.startsWith("dep:") || f.includes("?/")) ? features2 : features)[name] = list;
  }
  return { features, features2 };
}

function lineOf(text: string, expected: { name: string; version: string }, cksum: string, yanked: boolean): string {
  let doc: Table;
  try {
    doc = parse(text) as Table;
  } catch (error) {
    const message = (error instanceof Error ? error.message : String(error)).split("\n")[0].replace(/^Invalid TOML document: /, "");
    const at = typeof (error as { line?: unknown }).line === "number" ? `line ${(error as { line: number }).line}: ` : "";
    throw new Refused(`Cargo.toml is not valid TOML: ${at}${message}`);
  }
  const pkg = doc.package;
  if (!isTable(pkg)) throw new Refused("Cargo.toml has no [package] table (a virtual manifest, or the old [project] spelling)");
  if (pkg.workspace !== undefined) throw new Refused("[package] workspace: the crate points at its workspace root, which cargo package drops; a tree packed as-is cannot be served");
  for (const [key, value] of Object.entries(pkg)) {
    if (key !== "metadata" && isTable(value) && value.workspace !== undefined) {
      throw new Refused(`[package] ${tomlKey(key)}.workspace = true: inherited from a workspace, which only cargo package writes out`);
    }
  }
  if (isTable(doc.lints) && doc.lints.workspace !== undefined) throw new Refused("[lints] workspace = true: inherited from a workspace, which only cargo package writes out");
  if (pkg.publish === false || (Array.isArray(pkg.publish) && pkg.publish.length === 0)) throw new Refused("[package] publish = false: the author asked that it never be published to a registry");

  const name = optionalString(pkg, "name", "[package]");
  if (name === undefined) throw new Refused("[package] has no name");
  if (name.toLowerCase() !== expected.name.toLowerCase()) throw new Refused(`[package] name is ${quote(name)}, not ${quote(expected.name)} as the chain says`);
  const version = optionalString(pkg, "version", "[package]");
  if (version === undefined) throw new Refused("[package] has no version (cargo publish would refuse it)");
  if (version !== expected.version) throw new Refused(`[package] version is ${quote(version)}, not ${quote(expected.version)} as the chain says`);
  const links = optionalString(pkg, "links", "[package]");
  const rustVersion = optionalString(pkg, "rust-version", "[package]");
  if (rustVersion !== undefined && !/^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*)){0,2}$/.test(rustVersion)) {
    throw new Refused(`[package] rust-version ${quote(rustVersion)} is not a Rust version (like 1.70 or 1.70.0)`);
  }
  const edition = optionalString(pkg, "edition", "[package]");
  const edition2024 = edition !== undefined && Number(edition) >= 2024;

  const untargeted: IndexDep[] = [];
  const targeted: IndexDep[] = [];
  for (const [name, kind] of KINDS) {
    const { key, value } = dashed(doc, [], name, edition2024);
    untargeted.push(...dependencies(value, [key], kind, null, edition2024));
  }
  if (doc.target !== undefined) {
    if (!isTable(doc.target)) throw new Refused("[target] must be a table");
    for (const [spec, tables] of Object.entries(doc.target)) {
      if (!isTable(tables)) throw new Refused(`${header(["target", spec])} must be a table`);
      for (const [name, kind] of KINDS) {
        const { key, value } = dashed(tables, ["target", spec], name, edition2024);
        targeted.push(...dependencies(value, ["target", spec, key], kind, spec, edition2024));
      }
    }
  }
  const { features, features2 } = featureMaps(doc.features);

  const line: Record<string, unknown> = { name, vers: version, deps: [...untargeted, ...targeted], cksum, features };
  const v2 = Object.keys(features2).length > 0;
  if (v2) line.features2 = features2;
  line.yanked = yanked;
  if (links !== undefined) line.links = links;
  if (rustVersion !== undefined) line.rust_version = rustVersion;
  line.v = v2 ? 2 : 1;
  return JSON.stringify(line);
}

/**
 * The index line of a crate from its author-written Cargo.toml, or why it cannot be served as it is.
 * `text`: the Cargo.toml's contents. `expected`: the crate name (as the registry holds it, lowercase) and version the
 * chain says this is. `cksum`: sha256 hex of the .crate. `yanked`.
 */
export function cargoIndexLine(text: string, expected: { name: string; version: string }, cksum: string, yanked: boolean): CargoIndexLineResult | CargoManifestRefusal {
  try {
    return { line: lineOf(text, expected, cksum, yanked) };
  } catch (error) {
    if (error instanceof Refused) return { problem: error.problem };
    throw error;
  }
}
