/** `repo create`: a repository owned by the signer, open (anyone registers packages) or curated. */
import { PkgError } from "../errors";
import { hashRepositoryId } from "../ids";
import type { RegistryClient, TxReceipt } from "../chain/registry";
import { ERR_REPO_EXISTS } from "./errors";
import { requireRepository } from "./read";

export interface CreateRepositoryParams {
  client: Pick<RegistryClient, "getRepository" | "createRepository">;
  name: string;
  /** Curated: only maintainers register packages. Open (default): anyone does. */
  curated?: boolean;
}

export interface CreateRepositoryResult {
  name: string;
  id: string;
  owner: string;
  curated: boolean;
  tx: TxReceipt;
}

/** Creates a repository owned by the signer. @throws PkgError ERR_REPO_EXISTS before any transaction. */
export async function createRepository(params: CreateRepositoryParams): Promise<CreateRepositoryResult> {
  const { client, name } = params;
  const curated = params.curated ?? false;
  const id = hashRepositoryId(name);
  const existing = await client.getRepository(name);
  if (existing !== null) {
    throw new PkgError(ERR_REPO_EXISTS, `repository ${name} exists already (owner ${existing.owner})`, {
      details: { repository: name, id, owner: existing.owner },
      hint: "choose another name, or ask its owner to make you a maintainer (`repo maintainer add`)",
    });
  }
  const tx = await client.createRepository(name, curated);
  const created = await requireRepository(client, name);
  return { name, id, owner: created.owner, curated: created.curated, tx: { hash: tx.hash, block: tx.blockNumber } };
}
