/**
 * Writes through the gateway, from the unmodified npm client: `npm publish` (PUT /NAME with the version document and
 * its tarball as a base64 attachment) and `npm deprecate` (PUT /NAME with the packument, `deprecated` set or
 * cleared) → a native version on chain, or a yank / unyank. Signed with the user's own key: the gateway is their
 * process, and a token (`//HOST/:_authToken` in .npmrc) guards these endpoints.
 *
 * A published version is: src = the tarball's unpacked tree; meta = a pkg.toml generated from package.json (license,
 * registry dependencies as inputs) whose `[origin]` names the tarball itself, byte-identical, by CID, with the
 * digests the client computed — so the gateway serves back the very bytes and integrity npm published. Everything
 * is checked before any transaction: the token, the name, one version, the tarball against the document's
 * integrity and shasum, the package.json inside it; a refused request leaves nothing on chain.
 */
import type { PackageRecord, RegistryClient } from "../chain/registry";
import type { ContentStore } from "../content";
import { PkgError, isPkgError } from "../errors";
import { checkVersion } from "../ids";
import { mirrorLicense } from "../mirror/meta";
import { encodeName } from "../mirror/names";
import { checkTarball, npmInputs } from "../mirror/npm";
import { nativeRecord } from "../mirror/read";
import { unpackTarball } from "../mirror/tarball";
import { json, type Reply } from "./http";
import { publishNativeVersion } from "./native";

type Writer = Pick<RegistryClient, "getRepository" | "getPackage" | "registerPackage" | "publish" | "setYanked">;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** npm prints `error` of a failed request's JSON body. */
const refuse = (status: number, message: string): Reply => json({ error: message }, status);

export function createNpmPublisher(params: { client: Writer; content: Pick<ContentStore, "putBytes" | "putTree">; repository: string }) {
  const { client, content, repository } = params;

  async function publish(upstream: string, name: string, body: Record<string, unknown>, existing: PackageRecord | null): Promise<Reply> {
    const versions = isObject(body.versions) ? body.versions : {};
    const attachments = isObject(body._attachments) ? body._attachments : {};
    const versionKeys = Object.keys(versions);
    const attachmentKeys = Object.keys(attachments);
    if (versionKeys.length !== 1 || attachmentKeys.length !== 1) return refuse(400, "publish one version with its one tarball at a time");
    const version = versionKeys[0];
    const doc = versions[version];
    const attachment = attachments[attachmentKeys[0]];
    if (!isObject(doc) || doc.name !== upstream || doc.version !== version) return refuse(400, `the version document is not ${upstream}@${version}`);
    const problem = checkVersion(version);
    if (problem !== null) return refuse(400, `version ${JSON.stringify(version.slice(0, 80))} ${problem}`);
    if (!isObject(attachment) || typeof attachment.data !== "string") return refuse(400, "the tarball attachment is missing");
    const bytes = Buffer.from(attachment.data, "base64");
    if (typeof attachment.length === "number" && attachment.length !== bytes.length) return refuse(400, `the tarball is ${bytes.length} bytes, not the ${attachment.length} its attachment says`);
    if (existing?.versions.some((v) => v.version === version)) return refuse(403, `cannot publish over the previously published version ${upstream}@${version}`);
    const dist = isObject(doc.dist) ? doc.dist : {};
    const integrity = typeof dist.integrity === "string" ? dist.integrity : undefined;
    const shasum = typeof dist.shasum === "string" ? dist.shasum : undefined;
    try {
      checkTarball(bytes, { integrity, shasum }, `${upstream}@${version}`);
    } catch (error) {
      if (isPkgError(error)) return refuse(400, error.message);
      throw error;
    }
    let unpacked;
    try {
      unpacked = await unpackTarball(bytes, `${upstream}@${version} tarball`);
    } catch (error) {
      if (isPkgError(error)) return refuse(400, error.message);
      throw error;
    }
    const packageJson = unpacked.entries.find((e) => e.path === "package.json");
    let inner: Record<string, unknown> | null = null;
    try {
      inner = packageJson !== undefined && "content" in packageJson ? (JSON.parse(Buffer.from(packageJson.content as Uint8Array).toString("utf8")) as Record<string, unknown>) : null;
    } catch {
      inner = null;
    }
    if (inner === null || inner.name !== upstream || inner.version !== version) return refuse(400, `the tarball's package.json is not ${upstream}@${version}`);

    const warnings: string[] = [];
    const { inputs } = npmInputs(doc, repository, name, (line) => warnings.push(line));
    const refusal = await publishNativeVersion({
      client,
      content,
      key: { repository, name },
      version,
      existing,
      entries: unpacked.entries,
      archive: bytes,
      manifest: { license: mirrorLicense(doc.license), inputs },
      origin: (artifact) => ({ registry: "npm", name: upstream, artifact, ...(integrity !== undefined ? { integrity } : {}), ...(shasum !== undefined ? { shasum } : {}) }),
    });
    if (refusal !== null) return refuse(400, refusal.refused);
    return json({ ok: true, id: upstream, warnings });
  }

  /** `npm deprecate`: a version's `deprecated` set → yanked on chain; cleared → unyanked. */
  async function deprecate(upstream: string, body: Record<string, unknown>, existing: PackageRecord): Promise<Reply> {
    const versions = isObject(body.versions) ? body.versions : {};
    let changed = 0;
    for (const [version, doc] of Object.entries(versions)) {
      const onChain = existing.versions.find((v) => v.version === version);
      if (onChain === undefined || !isObject(doc)) continue;
      const wanted = typeof doc.deprecated === "string" && doc.deprecated !== "";
      if (onChain.yanked !== wanted) {
        await client.setYanked(existing.key, version, wanted);
        changed++;
      }
    }
    return json({ ok: true, id: upstream, changed });
  }

  return {
    /** PUT /NAME. */
    async put(upstream: string, body: unknown): Promise<Reply> {
      if (!isObject(body) || body.name !== upstream) return refuse(400, `the document is not ${upstream}'s`);
      const named = encodeName(upstream);
      if ("problem" in named) return refuse(400, `invalid package name: ${named.problem}`);
      if ((await client.getRepository(repository)) === null) {
        return refuse(404, `repository ${repository} does not exist on chain: create it with \`repo create ${repository}\``);
      }
      const existing = nativeRecord(await client.getPackage({ repository, name: named.name }));
      const attachments = isObject(body._attachments) ? Object.keys(body._attachments) : [];
      try {
        if (attachments.length > 0) return await publish(upstream, named.name, body, existing);
        if (existing === null) return refuse(404, `${upstream} is not published on chain`);
        return await deprecate(upstream, body, existing);
      } catch (error) {
        // a chain refusal (not the owner, …) is the client's to read, in its own format
        if (error instanceof PkgError && /^ERR_CHAIN_(UNAUTHORIZED|VERSION_EXISTS|EXISTS|INSUFFICIENT_FUNDS)$/.test(error.code)) return refuse(403, error.message);
        throw error;
      }
    },
  };
}
