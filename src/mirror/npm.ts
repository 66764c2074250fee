/**
 * The npm importer: packuments from a registry (the npm registry API: `GET /<name>`, scoped names as
 * `@scope%2fname`) → entries whose versions are the tarballs, verified and unpacked.
 *
 * Per version:
 * - the tarball is downloaded from `dist.tarball`, checked against `dist.integrity` (sha512, SRI) and `dist.shasum`
 *   (sha1) — a mismatch refuses the version (ERR_MIRROR_INTEGRITY), it is never stored — and kept byte-identical
 *   (its CID in the version's origin, for the gateway); its unpacked tree is the version's src;
 * - the generated pkg.toml has the version's license and, as inputs, its dependencies, optionalDependencies and
 *   (non-optional) peerDependencies with their ranges: `npm:alias@range` names the aliased package; a dist-tag
 *   (`latest`) becomes `*`; git, file, URL and GitHub specifiers cannot be resolved from a registry and are left
 *   out, with a line in the log;
 * - the version document (minus its readme) is the version's origin: bin, deprecation, engines, everything the
 *   gateway serves back. Deprecated versions are not yanked: npm still installs them when nothing else fits.
 * Per package: `dist-tags` and the upstream name in the origin. A package unpublished upstream (no versions,
 * `time.unpublished`) is skipped; a version that disappeared stays, yanked.
 */
import { createHash } from "node:crypto";
import * as semver from "semver";
import { PkgError } from "../errors";
import { checkVersion } from "../ids";
import { sortVersions, type EntryVersion, type JsonObject, type JsonValue, type PackageEntry } from "./entry";
import { httpGet, httpGetJson, type HttpOptions } from "./http";
import { mirrorLicense, putMeta } from "./meta";
import { encodeName } from "./names";
import type { ImportContext, MirrorSource, PackageImport } from "./source";
import { unpackTarball } from "./tarball";
import { ERR_MIRROR_BAD_SOURCE, ERR_MIRROR_INTEGRITY } from "./errors";


/** The registry npm itself uses when none is configured. */
export const NPM_DEFAULT_REGISTRY = "https://registry.npmjs.org/";

export interface NpmSourceOptions {
  registry: string;
  repository: string;
  fetchImpl?: typeof fetch;
  /** Sent as `Authorization: Bearer` (a private registry). */
  token?: string;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The packument URL of a name: npm escapes the scope's slash. */
export function packumentUrl(registry: string, name: string): string {
  const base = registry.endsWith("/") ? registry : `${registry}/`;
  return `${base}${name.startsWith("@") ? `@${encodeURIComponent(name.slice(1))}` : encodeURIComponent(name)}`;
}

/** A dependency spec → the registry package and range it asks for, or why it cannot be mirrored. */
export function npmDependency(name: string, spec: string): { name: string; range: string } | { problem: string } {
  let target = name;
  let range = spec.trim();
  if (range.startsWith("npm:")) {
    const rest = range.slice(4);
    const at = rest.lastIndexOf("@");
    if (at > 0) {
      target = rest.slice(0, at);
      range = rest.slice(at + 1);
    } else {
      target = rest;
      range = "*";
    }
  }
  if (range === "" || range === "latest" || range === "*" || range === "x") return { name: target, range: "*" };
  if (/^(git\+|git:|github:|gitlab:|bitbucket:|gist:|file:|link:|workspace:|https?:)/.test(range) || /^[^@\s]+\/[^\s]+$/.test(range)) {
    return { problem: `${name}@${spec} is not a registry range (git, file, URL or GitHub specifier)` };
  }
  const valid = semver.validRange(range);
  if (valid === null) {
    // a dist-tag other than latest (`next`, `beta`): its target moves; any version is the honest translation
    if (/^[A-Za-z][A-Za-z0-9._-]*$/.test(range)) return { name: target, range: "*" };
    return { problem: `${name}@${spec}: ${JSON.stringify(range)} is not a semver range` };
  }
  return { name: target, range };
}

/** sha512 of `bytes` in SRI form, and sha1 in hex. */
function digests(bytes: Uint8Array): { sha512: string; sha1: string } {
  return {
    sha512: `sha512-${createHash("sha512").update(bytes).digest("base64")}`,
    sha1: createHash("sha1").update(bytes).digest("hex"),
  };
}

/** Checks the tarball against what the packument published: every sha512 of the SRI string, and shasum. */
export function checkTarball(bytes: Uint8Array, dist: { integrity?: string; shasum?: string }, what: string): void {
  const actual = digests(bytes);
  const sha512s = (dist.integrity ?? "").split(/\s+/).filter((h) => h.startsWith("sha512-")).map((h) => h.split("?")[0]);
  const problems: string[] = [];
  if (sha512s.length > 0 && !sha512s.includes(actual.sha512)) problems.push(`integrity ${sha512s[0]}, got ${actual.sha512}`);
  if (dist.shasum !== undefined && dist.shasum.toLowerCase() !== actual.sha1) problems.push(`shasum ${dist.shasum}, got ${actual.sha1}`);
  if (sha512s.length === 0 && dist.shasum === undefined) problems.push("the packument gives neither integrity nor shasum");
  if (problems.length > 0) {
    throw new PkgError(ERR_MIRROR_INTEGRITY, `${what}: the tarball does not match the packument (expected ${problems.join("; ")})`, {
      details: { package: what, expected: { integrity: dist.integrity ?? null, shasum: dist.shasum ?? null }, actual },
      hint: "the registry served other bytes than it published: that version is not mirrored",
    });
  }
}

/** The version document as kept in the origin: everything but the readme (large, and not what installs read). */
function versionDocument(doc: Record<string, unknown>): JsonObject {
  const { readme: _readme, readmeFilename: _readmeFilename, ...rest } = doc;
  return rest as JsonObject;
}

/**
 * A version document's registry dependencies as pkg.toml inputs (`REPOSITORY:name` → range): dependencies,
 * optionalDependencies and non-optional peerDependencies; aliases name their target; what no registry can resolve
 * (git, file, URL specifiers) and names that cannot be package names are left out, each said through `warn`.
 * Also the upstream names depended on (followed with --deps).
 */
export function npmInputs(document: Record<string, unknown>, repository: string, selfName: string, warn: (line: string) => void): { inputs: Record<string, string>; dependencies: string[] } {
  const inputs: Record<string, string> = {};
  const dependencies: string[] = [];
  for (const field of ["dependencies", "optionalDependencies", "peerDependencies"] as const) {
    const table = isObject(document[field]) ? (document[field] as Record<string, unknown>) : {};
    const optionalPeers = field === "peerDependencies" && isObject(document.peerDependenciesMeta) ? document.peerDependenciesMeta : {};
    for (const [dep, spec] of Object.entries(table)) {
      if (typeof spec !== "string") continue;
      // an optional peer is the host's choice, never installed for the package (npm's rule)
      if (isObject(optionalPeers[dep]) && (optionalPeers[dep] as Record<string, unknown>).optional === true) continue;
      const resolved = npmDependency(dep, spec);
      if ("problem" in resolved) {
        warn(`leaving out ${resolved.problem}`);
        continue;
      }
      const depName = encodeName(resolved.name);
      if ("problem" in depName) {
        warn(`leaving out ${dep}: ${depName.problem}`);
        continue;
      }
      if (depName.name === selfName) continue;
      const key = `${repository}:${depName.name}`;
      if (inputs[key] === undefined) inputs[key] = resolved.range;
      dependencies.push(resolved.name);
    }
  }
  return { inputs, dependencies };
}

export function createNpmSource(options: NpmSourceOptions): MirrorSource {
  const http: HttpOptions = {
    fetchImpl: options.fetchImpl,
    headers: options.token ? { authorization: `Bearer ${options.token}` } : undefined,
  };

  async function importPackage(upstream: string, previous: PackageEntry | null, context: ImportContext): Promise<PackageImport> {
    const named = encodeName(upstream);
    if ("problem" in named) throw new PkgError(ERR_MIRROR_BAD_SOURCE, `npm package ${upstream}: ${named.problem}`, { hint: "that package cannot be mirrored" });
    const url = packumentUrl(options.registry, upstream);
    const packument = await httpGetJson(url, { ...http, signal: context.signal });
    if (!isObject(packument) || (packument.name !== undefined && packument.name !== upstream)) {
      throw new PkgError(ERR_MIRROR_BAD_SOURCE, `${url}: not the packument of ${upstream}`, { details: { url }, hint: "check the registry URL" });
    }
    const versions = isObject(packument.versions) ? packument.versions : {};
    const distTags = isObject(packument["dist-tags"]) ? (packument["dist-tags"] as JsonObject) : {};
    const old = new Map((previous?.versions ?? []).map((v) => [v.version, v]));
    const out: EntryVersion[] = [];
    const dependencies = new Set<string>();
    const what = (version: string) => `npm:${named.name}@${version}`;
    let refused: PkgError | null = null;
    const refusals: string[] = [];

    for (const [version, raw] of Object.entries(versions)) {
      if (!isObject(raw) || checkVersion(version) !== null || (raw.version !== undefined && raw.version !== version)) {
        context.log(`skipping ${upstream}@${version}: not an exact semver version with its document`);
        continue;
      }
      const dist = isObject(raw.dist) ? raw.dist : {};
      const integrity = typeof dist.integrity === "string" ? dist.integrity : undefined;
      const shasum = typeof dist.shasum === "string" ? dist.shasum : undefined;
      const { inputs, dependencies: deps } = npmInputs(raw, options.repository, named.name, (line) => context.log(`${what(version)}: ${line}`));
      for (const dep of deps) dependencies.add(dep);
      const document = versionDocument(raw);
      const known = old.get(version);
      const sameDigest = known !== undefined && (known.origin.integrity ?? null) === (integrity ?? null) && (known.origin.shasum ?? null) === (shasum ?? null);
      if (known !== undefined) {
        if (!sameDigest) context.log(`${what(version)}: upstream now publishes other bytes for it; keeping the version mirrored first (published versions never change)`);
        // the tarball is the same: keep meta, src and tarball; the document may have changed (deprecation)
        out.push({ ...known, yanked: false, origin: sameDigest ? { ...known.origin, document } : known.origin });
        continue;
      }
      if (context.dryRun) {
        out.push({ version, meta: "", src: "", yanked: false, origin: { document, integrity: integrity ?? null, shasum: shasum ?? null, tarball: null } });
        continue;
      }
      const tarballUrl = typeof dist.tarball === "string" ? dist.tarball : null;
      if (tarballUrl === null || !/^https?:\/\//.test(tarballUrl)) {
        context.log(`skipping ${what(version)}: dist.tarball is not an http(s) URL`);
        continue;
      }
      let stored: EntryVersion;
      try {
        const bytes = (await httpGet(tarballUrl, { ...http, signal: context.signal }))!;
        checkTarball(bytes, { integrity, shasum }, what(version));
        const unpacked = await unpackTarball(bytes, `${what(version)} tarball`);
        for (const line of unpacked.skipped) context.log(`${what(version)}: left out ${line} (links and devices are not unpacked, as npm does)`);
        const tarball = (await context.content.putBytes(bytes, { pin: true })).toString();
        const src = (await context.content.putTree(unpacked.entries, { pin: true })).toString();
        const meta = await putMeta(context.content, {
          repository: options.repository,
          name: named.name,
          version,
          license: mirrorLicense(raw.license),
          inputs,
        });
        stored = { version, meta, src, yanked: false, origin: { document, integrity: integrity ?? null, shasum: shasum ?? null, tarball } };
      } catch (error) {
        if (error instanceof PkgError && /^ERR_MIRROR_(INTEGRITY|BAD_ARCHIVE)$|^ERR_MANIFEST_/.test(error.code)) {
          refusals.push(`skipping ${what(version)}: ${error.message}`);
          refused ??= error;
          continue;
        }
        throw error;
      }
      context.onVersion();
      out.push(stored);
    }
    // versions gone upstream stay (locks name them), yanked
    for (const [version, known] of old) {
      if (!out.some((v) => v.version === version)) out.push({ ...known, yanked: true });
    }
    if (out.length === 0) {
      // nothing of it could be mirrored: the refusal says why (the engine skips it when it was only a dependency)
      if (refused !== null) throw refused;
    }
    for (const line of refusals) context.log(line);
    if (out.length === 0) {
      if (isObject(packument.time) && packument.time.unpublished !== undefined) context.log(`skipping ${upstream}: unpublished upstream`);
      return { entry: null, dependencies: [...dependencies] };
    }
    const entry: PackageEntry = {
      format: 1,
      kind: "npm",
      name: named.name,
      origin: { name: upstream, "dist-tags": distTags as JsonValue } as JsonObject,
      versions: sortVersions(out),
    };
    return { entry, dependencies: [...dependencies].sort() };
  }

  return {
    kind: "npm",
    location: options.registry,
    packageName: (upstream) => encodeName(upstream),
    importPackage,
  };
}

/** The registry npm itself would use (`npm config get registry`); npm's default when npm is not installed. */
export async function defaultNpmRegistry(): Promise<string> {
  const { execFile } = await import("node:child_process");
  return new Promise((resolve) => {
    execFile("npm", ["config", "get", "registry"], { timeout: 15_000 }, (error, stdout) => {
      const url = stdout?.trim();
      resolve(error === null && url !== undefined && /^https?:\/\//.test(url) ? url : NPM_DEFAULT_REGISTRY);
    });
  });
}
