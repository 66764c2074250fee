/** `repo curated NAME --on|--off`: who may register packages in a repository. */
import type { RegistryClient, TxReceipt } from "../chain/registry";
import { requireRepository } from "./read";

export interface SetCuratedResult {
  name: string;
  curated: boolean;
  /** False when the repository already was as asked (no transaction sent). */
  changed: boolean;
  tx: TxReceipt | null;
}

/** Switches a repository between open and curated; sends nothing when it already is as asked. */
export async function setRepositoryCurated(params: {
  client: Pick<RegistryClient, "getRepository" | "setCurated">;
  name: string;
  curated: boolean;
}): Promise<SetCuratedResult> {
  const { client, name, curated } = params;
  const record = await requireRepository(client, name);
  if (record.curated === curated) return { name, curated, changed: false, tx: null };
  const tx = await client.setCurated(name, curated);
  return { name, curated, changed: true, tx: { hash: tx.hash, block: tx.blockNumber } };
}
