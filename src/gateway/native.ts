/**
 * The last steps every write through the gateway shares (npm publish, cargo publish): the archive's unpacked tree as
 * src and its bytes as the `[origin]` artifact, a generated pkg.toml naming them, then the package registered on its
 * first version and the version published. The pkg.toml is checked before any transaction; a refusal of it comes
 * back as `{ refused }` for the caller to answer in its client's format.
 */
import type { PackageKey } from "../ids";
import type { PackageRecord, RegistryClient } from "../chain/registry";
import type { ContentStore, TreeEntry } from "../content";
import { isPkgError } from "../errors";
import type { ManifestOrigin } from "../manifest";
import { putMeta, type MirroredManifest } from "../mirror/meta";

export async function publishNativeVersion(params: {
  client: Pick<RegistryClient, "registerPackage" | "publish">;
  content: Pick<ContentStore, "putBytes" | "putTree">;
  key: PackageKey;
  version: string;
  /** The native record before this version (null: the package is registered first). */
  existing: PackageRecord | null;
  entries: TreeEntry[];
  archive: Uint8Array;
  manifest: Pick<MirroredManifest, "license" | "inputs" | "nativeInputs">;
  /** The `[origin]` table, given the artifact's CID. */
  origin: (artifact: string) => ManifestOrigin;
}): Promise<{ refused: string } | null> {
  const { client, content, key, version } = params;
  const src = (await content.putTree(params.entries, { pin: true })).toString();
  const artifact = (await content.putBytes(params.archive, { pin: true })).toString();
  let meta: string;
  try {
    meta = await putMeta(content, { ...params.manifest, repository: key.repository, name: key.name, version, origin: params.origin(artifact) });
  } catch (error) {
    if (isPkgError(error)) return { refused: error.message };
    throw error;
  }
  if (params.existing === null) await client.registerPackage(key);
  await client.publish(key, version, meta, src);
  return null;
}
