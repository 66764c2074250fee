/**
 * Writes through the gateway from the unmodified cargo: `cargo publish` (PUT /api/v1/crates/new: a little-endian
 * u32 length, the JSON metadata, a u32 length, the .crate) → a native version on chain; `cargo yank` / `--undo`
 * (DELETE …/yank, PUT …/unyank) → yank / unyank. The token (cargo sends it as the Authorization header, bare)
 * guards them, as for npm.
 *
 * The version: src = the .crate's unpacked tree; the .crate itself byte-identical as the `[origin]` artifact, its
 * sha256 as `integrity` (the index's cksum); the index line built from the metadata as crates.io builds it (renames
 * as `package`, `features2` + `v: 2` for `dep:`/`?` features, deps of this registry without `registry`) stored as
 * `[origin] metadata` and served back verbatim. Everything is checked before any transaction; refusals are
 * cargo's `{"errors":[{"detail":…}]}`.
 */
import { createHash } from "node:crypto";
import type { PackageRecord, RegistryClient } from "../chain/registry";
import type { ContentStore } from "../content";
import { PkgError, isPkgError } from "../errors";
import { checkVersion } from "../ids";
import { cargoLicense, crateInputs, parseIndexLine } from "../mirror/crates";
import { nativeRecord } from "../mirror/read";
import { unpackTarball } from "../mirror/tarball";
import { json, type Reply } from "./http";
import { publishNativeVersion } from "./native";

type Writer = Pick<RegistryClient, "getRepository" | "getPackage" | "registerPackage" | "publish" | "setYanked">;

/** cargo prints `detail` of each error. */
export const cargoError = (status: number, detail: string): Reply => json({ errors: [{ detail }] }, status);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The publish body's two parts. */
export function splitPublishBody(body: Buffer): { metadata: unknown; crate: Buffer } | { problem: string } {
  if (body.length < 8) return { problem: "the body is too short" };
  const jsonLength = body.readUInt32LE(0);
  if (4 + jsonLength + 4 > body.length) return { problem: "the metadata length runs past the body" };
  const crateLength = body.readUInt32LE(4 + jsonLength);
  if (8 + jsonLength + crateLength !== body.length) return { problem: `the .crate is ${body.length - 8 - jsonLength} bytes, not the ${crateLength} its length says` };
  let metadata: unknown;
  try {
    metadata = JSON.parse(body.subarray(4, 4 + jsonLength).toString("utf8"));
  } catch {
    return { problem: "the metadata is not JSON" };
  }
  return { metadata, crate: body.subarray(8 + jsonLength) };
}

/** The index line of a published version, as crates.io writes it from cargo's publish metadata. */
export function indexLineFromPublish(metadata: Record<string, unknown>, cksum: string, ownIndex: string): string {
  const deps = (Array.isArray(metadata.deps) ? metadata.deps : []).filter(isObject).map((d) => {
    const renamed = typeof d.explicit_name_in_toml === "string" ? d.explicit_name_in_toml : null;
    const registry = typeof d.registry === "string" && d.registry !== ownIndex && d.registry !== ownIndex.replace(/^sparse\+/, "") ? d.registry : null;
    return {
      name: renamed ?? d.name,
      req: d.version_req,
      features: Array.isArray(d.features) ? d.features : [],
      optional: d.optional === true,
      default_features: d.default_features !== false,
      target: typeof d.target === "string" ? d.target : null,
      kind: typeof d.kind === "string" ? d.kind : "normal",
      ...(registry !== null ? { registry } : {}),
      ...(renamed !== null ? { package: d.name } : {}),
    };
  });
  // features using `dep:` or `?/` go into features2 with v 2, so older cargo can still read the line (crates.io)
  const all = isObject(metadata.features) ? (metadata.features as Record<string, string[]>) : {};
  const features: Record<string, string[]> = {};
  const features2: Record<string, string[]> = {};
  for (const [feature, values] of Object.entries(all)) {
    (Array.isArray(values) && values.some((v) => typeof v === "string" && (v.startsWith("dep:") || v.includes("?/"))) ? features2 : features)[feature] = values;
  }
  const line: Record<string, unknown> = { name: metadata.name, vers: metadata.vers, deps, cksum, features, yanked: false };
  if (typeof metadata.links === "string") line.links = metadata.links;
  if (Object.keys(features2).length > 0) {
    line.features2 = features2;
    line.v = 2;
  }
  if (typeof metadata.rust_version === "string") line.rust_version = metadata.rust_version;
  return JSON.stringify(line);
}

export function createCargoPublisher(params: { client: Writer; content: Pick<ContentStore, "putBytes" | "putTree">; repository: string; ownIndex: string }) {
  const { client, content, repository } = params;

  async function publish(body: Buffer): Promise<Reply> {
    const split = splitPublishBody(body);
    if ("problem" in split) return cargoError(400, `malformed publish request: ${split.problem}`);
    const metadata = split.metadata;
    if (!isObject(metadata) || typeof metadata.name !== "string" || typeof metadata.vers !== "string") return cargoError(400, "the metadata names no crate and version");
    const crateName = metadata.name;
    const version = metadata.vers;
    if (!/^[A-Za-z][A-Za-z0-9_-]{0,63}$/.test(crateName)) return cargoError(400, `invalid crate name ${JSON.stringify(crateName.slice(0, 80))}: a letter, then letters, digits, - or _, at most 64`);
    const problem = checkVersion(version);
    if (problem !== null) return cargoError(400, `version ${JSON.stringify(version.slice(0, 80))} ${problem}`);
    const name = crateName.toLowerCase();
    if ((await client.getRepository(repository)) === null) return cargoError(404, `repository ${repository} does not exist on chain: create it with \`repo create ${repository}\``);
    const existing: PackageRecord | null = nativeRecord(await client.getPackage({ repository, name }));
    if (existing?.versions.some((v) => v.version === version)) return cargoError(400, `crate version \`${crateName}@${version}\` is already uploaded`);

    const cksum = createHash("sha256").update(split.crate).digest("hex");
    let unpacked;
    try {
      unpacked = await unpackTarball(split.crate, `${crateName}@${version} .crate`);
    } catch (error) {
      if (isPkgError(error)) return cargoError(400, error.message);
      throw error;
    }
    if (unpacked.top.toLowerCase() !== `${name}-${version}`) return cargoError(400, `the .crate's files are not under ${crateName}-${version}/`);
    const cargoToml = unpacked.entries.find((e) => e.path === "Cargo.toml");
    if (cargoToml === undefined || !("content" in cargoToml)) return cargoError(400, "the .crate has no Cargo.toml");

    const line = indexLineFromPublish(metadata, cksum, params.ownIndex);
    const parsed = parseIndexLine(line);
    if ("problem" in parsed) return cargoError(400, `the metadata makes no valid index line: ${parsed.problem}`);
    const inputs = crateInputs(parsed, repository);
    if ("problem" in inputs) return cargoError(400, inputs.problem);
    const metadataCid = (await content.putBytes(line, { pin: true })).toString();
    const refusal = await publishNativeVersion({
      client,
      content,
      key: { repository, name },
      version,
      existing,
      entries: unpacked.entries,
      archive: split.crate,
      manifest: { license: cargoLicense(Buffer.from(cargoToml.content as Uint8Array).toString("utf8")), inputs: inputs.inputs, nativeInputs: inputs.nativeInputs },
      origin: (artifact) => ({ registry: "crates", name: crateName, artifact, integrity: cksum, metadata: metadataCid }),
    });
    if (refusal !== null) return cargoError(400, refusal.refused);
    return json({ warnings: { invalid_categories: [], invalid_badges: [], other: inputs.notes } });
  }

  async function setYanked(crateName: string, version: string, yanked: boolean): Promise<Reply> {
    const existing = nativeRecord(await client.getPackage({ repository, name: crateName.toLowerCase() }));
    const onChain = existing?.versions.find((v) => v.version === version);
    if (existing === null || onChain === undefined) return cargoError(404, `crate \`${crateName}\` has no version ${version} published on chain`);
    if (onChain.yanked !== yanked) await client.setYanked(existing.key, version, yanked);
    return json({ ok: true });
  }

  return {
    /** A write of cargo's API, or null when the path is not one. */
    async handle(method: string, pathname: string, body: () => Promise<Buffer>): Promise<Reply | null> {
      try {
        if (method === "PUT" && pathname === "/api/v1/crates/new") return await publish(await body());
        const m = /^\/api\/v1\/crates\/([A-Za-z0-9_-]{1,64})\/([^/]+)\/(yank|unyank)$/.exec(pathname);
        if (m !== null && ((m[3] === "yank" && method === "DELETE") || (m[3] === "unyank" && method === "PUT"))) {
          return await setYanked(m[1], decodeURIComponent(m[2]), m[3] === "yank");
        }
        return null;
      } catch (error) {
        if (error instanceof PkgError && /^ERR_CHAIN_(UNAUTHORIZED|VERSION_EXISTS|EXISTS|INSUFFICIENT_FUNDS)$/.test(error.code)) return cargoError(403, error.message);
        throw error;
      }
    },
  };
}

/**
 * cargo's publish metadata for a crate, from the normalized Cargo.toml its .crate holds (what `cargo publish` would
 * send): its dependencies of every kind and target, renames, features and links. Dependencies are taken as of the
 * registry the crate is published to (crates.io's, replaced by it), so none carries a `registry`.
 */
export function cargoPublishMetadata(cargoToml: Record<string, unknown>): Record<string, unknown> {
  const pkg = isObject(cargoToml.package) ? cargoToml.package : {};
  const deps: Record<string, unknown>[] = [];
  const add = (table: unknown, kind: string, target: string | null): void => {
    if (!isObject(table)) return;
    for (const [key, raw] of Object.entries(table)) {
      const spec = typeof raw === "string" ? { version: raw } : isObject(raw) ? raw : {};
      const crate = typeof spec.package === "string" ? spec.package : key;
      deps.push({
        name: crate,
        version_req: typeof spec.version === "string" ? (/^[0-9]/.test(spec.version) ? `^${spec.version}` : spec.version) : "*",
        features: Array.isArray(spec.features) ? spec.features : [],
        optional: spec.optional === true,
        default_features: spec["default-features"] !== false && spec.default_features !== false,
        target,
        kind,
        ...(crate !== key ? { explicit_name_in_toml: key } : {}),
      });
    }
  };
  const kinds: [string, string][] = [["dependencies", "normal"], ["build-dependencies", "build"], ["dev-dependencies", "dev"]];
  for (const [table, kind] of kinds) add(cargoToml[table], kind, null);
  if (isObject(cargoToml.target)) {
    for (const [target, tables] of Object.entries(cargoToml.target)) {
      if (isObject(tables)) for (const [table, kind] of kinds) add(tables[table], kind, target);
    }
  }
  return {
    name: pkg.name,
    vers: pkg.version,
    deps,
    features: isObject(cargoToml.features) ? cargoToml.features : {},
    ...(typeof pkg.links === "string" ? { links: pkg.links } : {}),
    ...(typeof pkg["rust-version"] === "string" ? { rust_version: pkg["rust-version"] } : {}),
  };
}

/** cargo's publish body: u32 LE length, metadata JSON, u32 LE length, .crate. */
export function publishBody(metadata: Record<string, unknown>, crate: Uint8Array): Buffer {
  const json = Buffer.from(JSON.stringify(metadata));
  const body = Buffer.alloc(8 + json.length + crate.length);
  body.writeUInt32LE(json.length, 0);
  json.copy(body, 4);
  body.writeUInt32LE(crate.length, 4 + json.length);
  Buffer.from(crate).copy(body, 8 + json.length);
  return body;
}
