/**
 * `pkg yank ID [--undo]`: yank follows crates.io: a flag on a published version, never a delete. `lock` never
 * picks a yanked version for a new resolution; an existing lock that names one still fetches and builds.
 */
import { nativeRecord } from "./mirror/read";
import { PkgError } from "./errors";
import { formatPackageSpec, type PackageSpec } from "./ids";
import type { RegistryClient } from "./chain/registry";

export interface YankResult {
  /** The version as the user named it: `crates/hello:1.0.0`. */
  id: string;
  yanked: boolean;
  /** False when the version already was as asked (no transaction sent). */
  changed: boolean;
  /** Hash of the transaction; null when none was sent. */
  tx: string | null;
}

/**
 * The version a yank is about, as `crates/hello:1.0.0`: commands check this before they open the chain.
 * @throws PkgError ERR_ID_SYNTAX when the spec names no version.
 */
export function yankTarget(spec: PackageSpec): { id: string; version: string } {
  const id = formatPackageSpec(spec);
  if (spec.version === null) throw new PkgError("ERR_ID_SYNTAX", `${id} names no version`, { hint: `write ${id}:VERSION` });
  return { id, version: spec.version };
}

/**
 * Sets the yanked flag of the version `spec` names; sends nothing when it already is as asked.
 * @throws PkgError ERR_ID_SYNTAX when the spec names no version, ERR_CHAIN_UNKNOWN_VERSION when it was never published.
 */
export async function yankPackageVersion(params: { client: Pick<RegistryClient, "getPackage" | "setYanked">; spec: PackageSpec; yanked: boolean }): Promise<YankResult> {
  const { client, spec, yanked } = params;
  const { id, version: wanted } = yankTarget(spec);
  const key = { repository: spec.repository.name, name: spec.name };
  const found = await client.getPackage(key);
  // a version read from a mirror snapshot is not on chain: the next import carries upstream's yank
  const record = nativeRecord(found);
  const version = record?.versions.find((v) => v.version === wanted);
  if (!version) {
    throw new PkgError("ERR_CHAIN_UNKNOWN_VERSION", found !== null && record === null ? `${id} is mirrored, not published on chain` : `${id} was never published`, {
      hint: found !== null && record === null ? "yank it upstream; the next `pkg mirror` import carries the yank" : "check the id with `pkg fetch`",
    });
  }
  if (version.yanked === yanked) return { id, yanked, changed: false, tx: null };
  const tx = await client.setYanked(key, wanted, yanked);
  return { id, yanked, changed: true, tx: tx.hash };
}
