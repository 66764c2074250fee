/**
 * The npm registry API over the chain: `GET /NAME` (the packument, full or — with `Accept:
 * application/vnd.npm.install-v1+json` — abbreviated), `GET /NAME/-/FILE.tgz` (the tarball), `GET /-/ping`.
 * Scoped names arrive as `@scope%2fname` or `@scope/name`.
 *
 * A mirrored version is served as its upstream registry served it (the version document kept in the snapshot),
 * its `dist.tarball` pointing here, `dist.integrity` and `shasum` the upstream ones — which are the digests of the
 * very bytes served, checked when the tarball was imported and kept byte-identical, so package-lock.json gets the
 * same integrity as from the upstream registry. Yanked versions are marked deprecated and never `latest`.
 */
import * as semver from "semver";
import type { JsonObject, PackageEntry } from "../mirror/entry";
import { encodeName } from "../mirror/names";
import { json, prepare, type Reply, type StreamReply } from "./http";
import type { PackageSource } from "./source";
import { CID } from "multiformats/cid";
import type { PackageRecord } from "../chain/registry";
import type { ContentStore } from "../content";
import { createNativeVersions, type NativeVersions } from "./natives";
import { packedReply, packOrSkip, readTreeFile, treeHasFile, warnOnce, type PackCache } from "./pack";

export const INSTALL_V1 = "application/vnd.npm.install-v1+json";

/** The fields of a version the abbreviated ("corgi") document keeps: what npm reads to install. */
const ABBREVIATED_FIELDS = [
  "name", "version", "deprecated", "dependencies", "optionalDependencies", "devDependencies", "bundleDependencies",
  "peerDependencies", "peerDependenciesMeta", "bin", "directories", "engines", "cpu", "os", "libc", "_hasShrinkwrap",
  "hasInstallScript", "funding", "license", "dist",
];

const YANKED_MESSAGE = "this version is yanked on chain";

export interface NpmRoutesOptions {
  source: PackageSource;
  /** The repository npm packages are served from (mirrored npm packages live in `npm`). */
  repository: string;
  /** The gateway's own base URL, for `dist.tarball`. */
  base: string;
  /** Packed trees of native versions published without an npm tarball. */
  packs: PackCache;
  /** A native version that cannot be served to npm, and why (once each). */
  onWarning?: (message: string) => void;
}

function tarballName(upstream: string, version: string): string {
  const bare = upstream.startsWith("@") ? upstream.slice(upstream.indexOf("/") + 1) : upstream;
  return `${bare}-${version}.tgz`;
}

function tarballUrl(base: string, upstream: string, version: string): string {
  return `${base}/${upstream}/-/${tarballName(upstream, version)}`;
}

/** `latest` must name a live (non-yanked) version: upstream's, or else the highest live release. */
function distTags(entry: PackageEntry, live: Set<string>): Record<string, string> {
  const upstream = (entry.origin["dist-tags"] ?? {}) as Record<string, unknown>;
  const tags: Record<string, string> = {};
  for (const [tag, version] of Object.entries(upstream)) if (typeof version === "string" && live.has(version)) tags[tag] = version;
  if (tags.latest === undefined) {
    const releases = [...live].filter((v) => semver.prerelease(v) === null);
    const pick = (releases.length > 0 ? releases : [...live]).sort(semver.rcompare)[0];
    if (pick !== undefined) tags.latest = pick;
  }
  return tags;
}

/** The packument of a mirrored npm package; null when it has no version with a tarball. */
export function mirroredPackument(entry: PackageEntry, base: string, abbreviated: boolean): JsonObject | null {
  const upstream = typeof entry.origin.name === "string" ? entry.origin.name : entry.name;
  const versions: JsonObject = {};
  const live = new Set<string>();
  for (const v of entry.versions) {
    const document = v.origin.document as JsonObject | undefined;
    if ((typeof v.origin.tarball !== "string" && typeof v.origin.packed !== "string") || document === undefined) continue;
    const doc: JsonObject = { ...document, name: upstream, version: v.version };
    doc.dist = {
      ...((document.dist ?? {}) as JsonObject),
      tarball: tarballUrl(base, upstream, v.version),
      ...(typeof v.origin.integrity === "string" ? { integrity: v.origin.integrity } : {}),
      ...(typeof v.origin.shasum === "string" ? { shasum: v.origin.shasum } : {}),
    };
    if (v.yanked && doc.deprecated === undefined) doc.deprecated = YANKED_MESSAGE;
    if (!v.yanked) live.add(v.version);
    versions[v.version] = abbreviated ? Object.fromEntries(ABBREVIATED_FIELDS.filter((f) => doc[f] !== undefined).map((f) => [f, doc[f]])) : doc;
  }
  if (Object.keys(versions).length === 0) return null;
  const tags = distTags(entry, live);
  return abbreviated ? { name: upstream, "dist-tags": tags, versions } : { _id: upstream, name: upstream, "dist-tags": tags, versions };
}

/** A request path → the npm package name, and the tarball file when it asks for one. */
export function parseNpmPath(pathname: string): { name: string; file: string | null } | null {
  let path: string;
  try {
    path = decodeURIComponent(pathname);
  } catch {
    return null;
  }
  const m = /^\/((?:@[^/]+\/)?[^/@][^/]*)(?:\/-\/([^/]+\.tgz))?$/.exec(path);
  if (m === null) return null;
  return { name: m[1], file: m[2] ?? null };
}

const notFound = (): Reply => json({ error: "Not found" }, 404);

/** A value of a hostile package.json in one short line. */
function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 100 ? `${text.slice(0, 100)}…` : text;
}

/** At most this much of a version's package.json is read (a hostile one is refused past it). */
const PACKAGE_JSON_LIMIT = 1024 * 1024;

/**
 * The version document a package.json gives: what the registry keeps of it (no readme, scripts or
 * devDependencies), without the fields only a registry may write — `dist` and every `_field` — which an author's
 * package.json could otherwise forge (a `dist.tarball` elsewhere, `_hasShrinkwrap`); the registry's own are set
 * here and by the packument.
 */
async function versionDocument(content: Pick<ContentStore, "getBlock">, src: string, document: JsonObject): Promise<JsonObject> {
  const { readme: _readme, readmeFilename: _readmeFilename, scripts, devDependencies: _dev, dist: _dist, hasInstallScript: _hasInstallScript, ...rest } = document;
  const kept: JsonObject = Object.fromEntries(Object.entries(rest).filter(([key]) => !key.startsWith("_")));
  const hooks = typeof scripts === "object" && scripts !== null && !Array.isArray(scripts) ? Object.keys(scripts) : [];
  if (hooks.some((hook) => hook === "preinstall" || hook === "install" || hook === "postinstall")) kept.hasInstallScript = true;
  kept._hasShrinkwrap = await treeHasFile(content, src, "npm-shrinkwrap.json"); // what npm publish's registry says
  return kept;
}

/** A version's package.json, when it is a JSON object. */
async function packageJson(content: Pick<ContentStore, "getBlock">, src: string): Promise<JsonObject | null> {
  const bytes = await readTreeFile(content, src, "package.json", PACKAGE_JSON_LIMIT);
  if (bytes === null) return null;
  try {
    const parsed = JSON.parse(Buffer.from(bytes).toString("utf8")) as unknown;
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? (parsed as JsonObject) : null;
  } catch {
    return null;
  }
}

/**
 * A native package as an entry. A version published through the gateway (its meta has an npm `[origin]` of this
 * name) is served as the client sent it: the document its package.json, the tarball its artifact. A version
 * published with `pkg publish` (no `[origin]`) whose tree holds a package.json of this very name and version is
 * served as the gateway packs it (src/gateway/pack.ts: the same bytes on every gateway). Other versions are not
 * npm packages.
 */
async function nativeEntry(content: Pick<ContentStore, "getBlock">, natives: NativeVersions, packs: PackCache, record: PackageRecord, upstream: string, warn: (message: string) => void): Promise<PackageEntry | null> {
  const versions = await natives.of(record, `npm:${upstream}`, async (v, manifest): Promise<JsonObject | null> => {
    const origin = manifest.origin;
    if (origin !== undefined && (origin.registry !== "npm" || origin.name !== upstream)) return null;
    const document = await packageJson(content, v.src);
    if (document === null) return null;
    if (origin !== undefined) {
      return { document: await versionDocument(content, v.src, document), tarball: origin.artifact, integrity: origin.integrity ?? null, shasum: origin.shasum ?? null };
    }
    const id = `${record.key.repository}/${record.key.name}:${v.version}`;
    if (document.name !== upstream || document.version !== v.version) {
      // npm would install a package.json that says otherwise
      warn(`${id} is not served to npm: its package.json says ${shown(document.name)} ${shown(document.version)}, not ${JSON.stringify(upstream)} ${JSON.stringify(v.version)}`);
      return null;
    }
    const packed = await packOrSkip(packs.digests(v.src, "package"), (problem) => warn(`${id} is not served to npm: ${problem}`));
    if (packed === null) return null;
    return { document: await versionDocument(content, v.src, document), packed: v.src, integrity: packed.integrity, shasum: packed.shasum };
  });
  if (versions.length === 0) return null;
  return { format: 1, kind: "npm", name: record.key.name, origin: { name: upstream }, versions };
}

export function createNpmRoutes(options: NpmRoutesOptions) {
  const { source, packs } = options;
  const warn = warnOnce(options.onWarning);
  const natives = createNativeVersions(source.content);
  // finished packument replies per entry: the source hands out the same entry object for a package until the
  // head moves, so a packument is built, hashed and gzip'd once per block, not once per request
  const replies = new WeakMap<PackageEntry, { full?: Reply | null; abbreviated?: Reply | null }>();

  function packumentReply(entry: PackageEntry, abbreviated: boolean): Reply | null {
    const cached = replies.get(entry) ?? {};
    const field = abbreviated ? "abbreviated" : "full";
    if (cached[field] === undefined) {
      const doc = mirroredPackument(entry, options.base, abbreviated);
      cached[field] = doc === null ? null : prepare(abbreviated ? { ...json(doc), type: `${INSTALL_V1}; charset=utf-8` } : json(doc));
      replies.set(entry, cached);
    }
    return cached[field] ?? null;
  }

  // native packages as entries, per record object (the same until the head moves)
  const entries = new WeakMap<PackageRecord, Promise<PackageEntry | null>>();

  async function entryOf(upstream: string): Promise<PackageEntry | null> {
    const named = encodeName(upstream);
    if ("problem" in named) return null;
    const found = await source.get(options.repository, named.name);
    if (found === null) return null;
    if (found.entry === null) {
      let entry = entries.get(found.record);
      if (entry === undefined) {
        entry = nativeEntry(source.content, natives, packs, found.record, upstream, warn);
        entries.set(found.record, entry);
      }
      return entry;
    }
    // only npm mirror entries of this very name are npm packages (a crates entry is not)
    if (found.entry.kind !== "npm" || found.entry.origin.name !== upstream) return null;
    return found.entry;
  }

  return {
    /** A reply for `pathname`, or null when it is not an npm path. */
    async handle(pathname: string, accept: string): Promise<Reply | StreamReply | null> {
      if (pathname === "/-/ping") return json({});
      // `npm dist-tag ls NAME`
      const tags = /^\/-\/package\/(.+)\/dist-tags$/.exec(pathname);
      if (tags !== null) {
        const named = parseNpmPath(`/${tags[1]}`);
        const entry = named === null || named.file !== null ? null : await entryOf(named.name);
        const doc = entry === null ? null : mirroredPackument(entry, options.base, true);
        return doc === null ? notFound() : json(doc["dist-tags"]);
      }
      const parsed = parseNpmPath(pathname);
      if (parsed === null) return null;
      const entry = await entryOf(parsed.name);
      if (entry === null) return notFound();
      if (parsed.file === null) {
        return packumentReply(entry, accept.includes(INSTALL_V1)) ?? notFound();
      }
      const version = entry.versions.find((v) => tarballName(parsed.name, v.version) === parsed.file);
      if (version !== undefined && typeof version.origin.packed === "string") {
        const packed = await packOrSkip(packs.get(version.origin.packed, "package"), () => undefined);
        return packed === null ? notFound() : packedReply(packed, "application/octet-stream");
      }
      if (version === undefined || typeof version.origin.tarball !== "string") return notFound();
      const cid = CID.parse(version.origin.tarball);
      return { status: 200, type: "application/octet-stream", etag: `"${cid}"`, stream: source.content.getBytes(cid) };
    },
  };
}
