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

export function createCargoRoutes(options: CargoRoutesOptions) {
  const { source } = options;

  async function entryOf(crate: string): Promise<PackageEntry | null> {
    const found = await source.get(options.repository, crate.toLowerCase());
    if (found === null || found.entry === null || found.entry.kind !== "crates") return null;
    return found.entry;
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
