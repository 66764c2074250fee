/**
 * A cargo sparse index over the chain (`sparse+BASE/index/`): `config.json` (dl, api), index files at cargo's
 * paths (`1/a`, `2/ab`, `3/a/abc`, `ab/cd/abcd`: lowercase), and `.crate` downloads at
 * `/api/v1/crates/NAME/VERSION/download` (cargo's default when `dl` has no placeholder).
 *
 * A mirrored crate's index file is its upstream lines, each byte for byte as the source index had it, oldest
 * version first; only a version yanked since (gone upstream) has its `yanked` rewritten. The .crate served is the
 * upstream file, byte-identical, so Cargo.lock's checksum is the source index's `cksum`.
 */
import { CID } from "multiformats/cid";
import * as semver from "semver";
import type { JsonObject, PackageEntry } from "../mirror/entry";
import { json, text, type Reply, type StreamReply } from "./http";
import type { PackageSource } from "./source";
import type { PackageRecord } from "../chain/registry";
import type { ContentStore } from "../content";
import { collectBytes, type SizeLimit } from "../files/limits";
import { createNativeVersions, type NativeVersions } from "./natives";
import { parse } from "smol-toml";
import { cargoIndexLine } from "./cargo-manifest";
import { packedReply, packOrSkip, readTreeFile, warnOnce, type PackCache } from "./pack";

export interface CargoRoutesOptions {
  source: PackageSource;
  /** The repository crates are served from. */
  repository: string;
  base: string;
  /** Packed trees of native versions published without a .crate. */
  packs: PackCache;
  /** A native version that cannot be served to cargo, and why (once each). */
  onWarning?: (message: string) => void;
}

/** The crate name an index path names, if the path is where cargo puts that name. */
export function crateOfIndexPath(path: string): string | null {
  const parts = path.split("/");
  const name = parts[parts.length - 1];
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) return null;
  const lower = name.toLowerCase();
  const expected = lower.length === 1 ? `1/${lower}` : lower.length === 2 ? `2/${lower}` : lower.length === 3 ? `3/${lower[0]}/${lower}` : `${lower.slice(0, 2)}/${lower.slice(2, 4)}/${lower}`;
  return path.toLowerCase() === expected ? lower : null;
}

/** The index file of a mirrored crate: its lines, oldest first; a version yanked on chain says so. */
export function indexFile(entry: PackageEntry): string {
  const lines: string[] = [];
  for (const v of [...entry.versions].sort((a, b) => semver.compare(a.version, b.version))) {
    const line = v.origin.line;
    if (typeof line !== "string") continue;
    lines.push(v.yanked ? line.replace(/"yanked"\s*:\s*false/, '"yanked":true') : line.replace(/"yanked"\s*:\s*true/, '"yanked":false'));
  }
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
}

/** An index line is a few KiB; a hostile metadata CID is refused past this. */
const LINE_LIMIT: SizeLimit = { max: 1024 * 1024, code: "ERR_MIRROR_BAD_ENTRY", what: "an index line", hint: "that version's metadata is not an index line" };

/** A Cargo.toml is a few KiB; a hostile one is refused past this. */
const CARGO_TOML_LIMIT = 1024 * 1024;

/**
 * A native crate as an entry. A version published through the gateway (its meta has a crates `[origin]`) is
 * served as cargo sent it: its index line the origin's metadata (verbatim), its .crate the artifact. A version
 * published with `pkg publish` (no `[origin]`) whose tree holds a Cargo.toml of this crate and version, one
 * `cargo publish` would take as it is, is served as the gateway packs it (src/gateway/pack.ts) with an index line
 * made from that Cargo.toml (src/gateway/cargo-manifest.ts). Other versions are not crates.
 */
async function nativeCrateEntry(content: Pick<ContentStore, "getBytes" | "getBlock">, natives: NativeVersions, packs: PackCache, record: PackageRecord, warn: (message: string) => void): Promise<PackageEntry | null> {
  const versions = await natives.of(record, `crates:${record.key.name}`, async (v, manifest): Promise<JsonObject | null> => {
    const origin = manifest.origin;
    if (origin !== undefined) {
      if (origin.registry !== "crates" || origin.metadata === undefined) return null;
      try {
        const line = (await collectBytes(content.getBytes(CID.parse(origin.metadata)), `index line of ${record.key.name}@${v.version}`, LINE_LIMIT)).toString("utf8");
        return line.includes("\n") ? null : { line, crate: origin.artifact };
      } catch {
        return null; // a line that is not one is not a crate version
      }
    }
    const cargoToml = (await readTreeFile(content, v.src, "Cargo.toml", CARGO_TOML_LIMIT))?.toString("utf8");
    if (cargoToml === undefined) return null; // not a crate
    // the Cargo.toml is checked before the tree is packed (the line's cksum is the only part that needs the pack);
    // the line says not yanked: indexFile writes the record's flag into it, as into a mirrored line
    const id = `${record.key.repository}/${record.key.name}:${v.version}`;
    const expected = { name: record.key.name, version: v.version };
    const checked = cargoIndexLine(cargoToml, expected, "", false);
    const dir = cargoTomlPackage(cargoToml);
    if ("problem" in checked || dir === null) {
      warn(`${id} is not served to cargo: its Cargo.toml ${"problem" in checked ? checked.problem : "has no [package] name"}`);
      return null;
    }
    const top = `${dir.name}-${v.version}`;
    const packed = await packOrSkip(packs.digests(v.src, top), (problem) => warn(`${id} is not served to cargo: ${problem}`));
    if (packed === null) return null;
    const made = cargoIndexLine(cargoToml, expected, packed.sha256, false);
    return "line" in made ? { line: made.line, packed: v.src, top } : null;
  });
  if (versions.length === 0) return null;
  return { format: 1, kind: "crates", name: record.key.name, origin: { name: record.key.name }, versions };
}

/** The `[package] name` of a Cargo.toml (the .crate's top directory is NAME-VERSION), or null. */
function cargoTomlPackage(text: string): { name: string } | null {
  try {
    const name = (parse(text).package as { name?: unknown } | undefined)?.name;
    return typeof name === "string" && /^[A-Za-z0-9_-]{1,64}$/.test(name) ? { name } : null;
  } catch {
    return null;
  }
}

export function createCargoRoutes(options: CargoRoutesOptions) {
  const { source, packs } = options;
  const warn = warnOnce(options.onWarning);
  const natives = createNativeVersions(source.content);

  // native crates as entries, per record object (the same until the head moves)
  const entries = new WeakMap<PackageRecord, Promise<PackageEntry | null>>();

  async function entryOf(crate: string): Promise<PackageEntry | null> {
    const found = await source.get(options.repository, crate.toLowerCase());
    if (found === null) return null;
    if (found.entry === null) {
      let entry = entries.get(found.record);
      if (entry === undefined) {
        entry = nativeCrateEntry(source.content, natives, packs, found.record, warn);
        entries.set(found.record, entry);
      }
      return entry;
    }
    return found.entry.kind === "crates" ? found.entry : null;
  }

  return {
    async handle(pathname: string): Promise<Reply | StreamReply | null> {
      if (pathname === "/index/config.json") return json({ dl: `${options.base}/api/v1/crates`, api: options.base });
      if (pathname.startsWith("/index/")) {
        const crate = crateOfIndexPath(pathname.slice("/index/".length));
        const entry = crate === null ? null : await entryOf(crate);
        const body = entry === null ? "" : indexFile(entry);
        return body === "" ? text("not found\n", 404) : text(body, 200, "text/plain; charset=utf-8");
      }
      const download = /^\/api\/v1\/crates\/([A-Za-z0-9_-]{1,64})\/([^/]+)\/download$/.exec(pathname);
      if (download !== null) {
        const entry = await entryOf(download[1]);
        const version = entry?.versions.find((v) => v.version === decodeURIComponent(download[2]));
        if (version !== undefined && typeof version.origin.packed === "string" && typeof version.origin.top === "string") {
          const packed = await packOrSkip(packs.get(version.origin.packed, version.origin.top), () => undefined);
          return packed === null ? text("not found\n", 404) : packedReply(packed, "application/gzip");
        }
        if (version === undefined || typeof version.origin.crate !== "string" || version.origin.crate === "") return text("not found\n", 404);
        const cid = CID.parse(version.origin.crate);
        return { status: 200, type: "application/gzip", etag: `"${cid}"`, stream: source.content.getBytes(cid) };
      }
      return null;
    },
  };
}
