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
import type { PackageEntry } from "../mirror/entry";
import { json, text, type Reply, type StreamReply } from "./http";
import type { PackageSource } from "./source";
import type { PackageRecord } from "../chain/registry";
import type { ContentStore } from "../content";
import { collectBytes, type SizeLimit } from "../files/limits";
import { readPublishedManifest } from "../manifest";

export interface CargoRoutesOptions {
  source: PackageSource;
  /** The repository crates are served from. */
  repository: string;
  base: string;
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

/**
 * A native crate published through the gateway, as an entry: each version whose meta has a crates `[origin]`, its
 * index line the origin's metadata (verbatim), its .crate the artifact.
 */
async function nativeCrateEntry(content: Pick<ContentStore, "getBytes">, record: PackageRecord): Promise<PackageEntry | null> {
  const versions: PackageEntry["versions"] = [];
  for (const v of record.versions) {
    if (v.src === null) continue;
    try {
      const manifest = await readPublishedManifest(content.getBytes(CID.parse(v.meta)), `${record.key.repository}:${record.key.name}@${v.version} (meta ${v.meta})`);
      const origin = manifest.origin;
      if (origin === undefined || origin.registry !== "crates" || origin.metadata === undefined) continue;
      const line = (await collectBytes(content.getBytes(CID.parse(origin.metadata)), `index line of ${record.key.name}@${v.version}`, LINE_LIMIT)).toString("utf8");
      if (line.includes("\n")) continue;
      versions.push({ version: v.version, meta: v.meta, src: v.src, yanked: v.yanked, origin: { line, crate: origin.artifact } });
    } catch {
      continue; // a meta or line that is not one is not a crate version
    }
  }
  if (versions.length === 0) return null;
  return { format: 1, kind: "crates", name: record.key.name, origin: { name: record.key.name }, versions };
}

export function createCargoRoutes(options: CargoRoutesOptions) {
  const { source } = options;

  // native crates (published through the gateway) as entries, per record object (the same until the head moves)
  const natives = new WeakMap<PackageRecord, Promise<PackageEntry | null>>();

  async function entryOf(crate: string): Promise<PackageEntry | null> {
    const found = await source.get(options.repository, crate.toLowerCase());
    if (found === null) return null;
    if (found.entry === null) {
      let entry = natives.get(found.record);
      if (entry === undefined) {
        entry = nativeCrateEntry(source.content, found.record);
        natives.set(found.record, entry);
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
        if (version === undefined || typeof version.origin.crate !== "string" || version.origin.crate === "") return text("not found\n", 404);
        const cid = CID.parse(version.origin.crate);
        return { status: 200, type: "application/gzip", etag: `"${cid}"`, stream: source.content.getBytes(cid) };
      }
      return null;
    },
  };
}
