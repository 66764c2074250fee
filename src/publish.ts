/**
 * `pkg publish`: a package directory → content in the store, a version on chain.
 *
 * Everything that can be checked is checked before the first transaction: the manifest (sizes included), its
 * sources, the repository's existence, and that the version is new (published versions never change), also
 * ignoring build metadata: `1.0.0+linux` is the version `1.0.0` under semver, so it cannot be published next to
 * it (the registry refuses it too, whoever sends it). Content goes in first (pinned), so a version on chain
 * never points at bytes this store does not hold; with `push`, it is also pinned on those IPFS nodes (Kubo) before
 * the transaction, so that other machines can fetch it as soon as they can see the version.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { CID } from "multiformats/cid";
import { isPkgError, PkgError } from "./errors";
import { isSameVersion, packageVersionId, withoutBuildMetadata } from "./ids";
import { MANIFEST_FILE_NAME, readManifest, resolveSources, type Manifest } from "./manifest";
import { nativeRecord } from "./mirror/read";
import type { ContentStore } from "./content";
import type { RegistryClient } from "./chain/registry";

export const ERR_PUBLISH_NO_REPOSITORY = "ERR_PUBLISH_NO_REPOSITORY";
export const ERR_PUBLISH_VERSION_EXISTS = "ERR_PUBLISH_VERSION_EXISTS";
export const ERR_PUBLISH_PUSH = "ERR_PUBLISH_PUSH";

export interface PublishParams {
  /** The package directory (holding pkg.toml). */
  dir: string;
  client: Pick<RegistryClient, "getRepository" | "getPackage" | "registerPackage" | "publish">;
  content: Pick<ContentStore, "putBytes" | "putTree" | "exportCar">;
  /** IPFS nodes the meta and src are pinned to as well (config `[content] push`: Kubo RPC APIs), as CARs of verified blocks. */
  push?: ReadonlyArray<{ url: string; store: Pick<ContentStore, "importCar"> }>;
  /** Stop after the checks and the content (nothing sent to the chain). */
  dryRun?: boolean;
  onStep?: (step: string) => void;
}

export interface PublishResult {
  repository: string;
  name: string;
  version: string;
  meta: string;
  src: string;
  files: number;
  /** Whether this publish registered the package (its first version). */
  registered: boolean;
  /** Null on a dry run. */
  tx: { hash: string; block: number } | null;
}

/** The manifest file's own bytes are the published meta: what the author wrote, comments included. */
export async function putManifest(dir: string, content: Pick<ContentStore, "putBytes">): Promise<{ manifest: Manifest; meta: string }> {
  const file = path.join(dir, MANIFEST_FILE_NAME);
  const manifest = await readManifest(file);
  const meta = (await content.putBytes(await readFile(file), { pin: true })).toString();
  return { manifest, meta };
}

export async function publishPackage(params: PublishParams): Promise<PublishResult> {
  const { client, content, dir } = params;
  const step = params.onStep ?? (() => {});
  const manifest = await readManifest(path.join(dir, MANIFEST_FILE_NAME));
  const key = { repository: manifest.repository, name: manifest.name };
  const id = packageVersionId(manifest);
  const files = await resolveSources(manifest, dir);

  step(`checking ${manifest.repository} and ${id} on chain`);
  const repository = await client.getRepository(manifest.repository);
  if (!repository) {
    throw new PkgError(ERR_PUBLISH_NO_REPOSITORY, `repository ${manifest.repository} does not exist (${path.join(dir, MANIFEST_FILE_NAME)}: [package].repository)`, {
      details: { repository: manifest.repository },
      hint: `create it with \`repo create ${manifest.repository}\` (add --curated to let only its maintainers register packages)`,
    });
  }
  // a package read from a mirror snapshot is not registered: publishing claims the name with native records
  const existing = nativeRecord(await client.getPackage(key));
  const published = existing?.versions.find((v) => v.version === manifest.version);
  if (published) {
    throw new PkgError(ERR_PUBLISH_VERSION_EXISTS, `${id} is already published (meta ${published.meta}); published versions never change`, {
      details: { package: id, meta: published.meta, src: published.src },
      hint: "bump [package].version in pkg.toml",
    });
  }
  const equivalent = existing?.versions.find((v) => isSameVersion(v.version, manifest.version));
  if (equivalent) {
    const base = withoutBuildMetadata(manifest.version);
    throw new PkgError(ERR_PUBLISH_VERSION_EXISTS,
      `${id} is the version ${base} under semver, and ${packageVersionId({ ...manifest, version: equivalent.version })} is already published; ` +
        "versions that differ only in build metadata (+...) are one version", {
        details: { package: id, existing: equivalent.version, meta: equivalent.meta, src: equivalent.src },
        hint: `bump [package].version in pkg.toml (the part before '+'): ranges cannot tell ${base} and ${manifest.version} apart`,
      });
  }

  step(`adding ${files.length} source file${files.length === 1 ? "" : "s"} to the content store`);
  const src = (await content.putTree(files.map((file) => ({ path: file, source: path.join(dir, file) })), { pin: true })).toString();
  const { meta } = await putManifest(dir, content);
  for (const target of params.push ?? []) {
    step(`pinning the meta and src on ${target.url}`);
    for (const cid of [meta, src]) {
      try {
        await target.store.importCar(content.exportCar(CID.parse(cid)), { pin: true });
      } catch (error) {
        throw new PkgError(ERR_PUBLISH_PUSH, `pushing ${cid} to ${target.url} failed: ${isPkgError(error) ? error.message : (error as Error).message}`, {
          details: { url: target.url, cid },
          hint: "start that IPFS node, or remove it from [content] push (PKG_PUSH); nothing was sent to the chain",
          cause: error,
        });
      }
    }
  }
  if (params.dryRun) {
    return { ...key, version: manifest.version, meta, src, files: files.length, registered: false, tx: null };
  }

  let registered = false;
  if (!existing) {
    step(`registering ${manifest.repository}/${manifest.name}`);
    await client.registerPackage(key);
    registered = true;
  }
  step(`publishing ${id}`);
  const tx = await client.publish(key, manifest.version, meta, src);
  return { ...key, version: manifest.version, meta, src, files: files.length, registered, tx: { hash: tx.hash, block: tx.blockNumber } };
}
