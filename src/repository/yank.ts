/** `repo yank NAME:VERSION [--undo]`: a flag on a published version, never a delete. */
import type { RegistryClient, TxReceipt } from "../chain/registry";
import { checkedRepositoryVersion } from "./names";
import { requireRepository, unknownVersion } from "./read";

export interface YankRepositoryResult {
  name: string;
  version: string;
  yanked: boolean;
  /** False when the version already was as asked (no transaction sent). */
  changed: boolean;
  tx: TxReceipt | null;
}

/** Sets a repository version's yanked flag; sends nothing when it already is as asked. */
export async function yankRepositoryVersion(params: {
  client: Pick<RegistryClient, "getRepository" | "getRepositoryVersions" | "setRepositoryYanked">;
  name: string;
  version: string;
  yanked: boolean;
}): Promise<YankRepositoryResult> {
  const { client, name, yanked } = params;
  const version = checkedRepositoryVersion(name, params.version);
  await requireRepository(client, name);
  const versions = await client.getRepositoryVersions(name);
  const record = versions.find((v) => v.version === version);
  if (!record) throw unknownVersion(name, version, versions);
  if (record.yanked === yanked) return { name, version, yanked, changed: false, tx: null };
  const tx = await client.setRepositoryYanked(name, version, yanked);
  return { name, version, yanked, changed: true, tx: { hash: tx.hash, block: tx.blockNumber } };
}
