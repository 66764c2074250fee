/**
 * Who may change a package or a repository: its owner and maintainers (`pkg owner …`, `repo maintainer …`,
 * `repo transfer`, `repo accept`). Both have on chain an id, an owner and a set of maintainers; the two kinds
 * differ only in how the id is named. Ownership moves in two steps: offered (`transfer`), then accepted.
 */
import { PkgError } from "./errors";
import { checkAddress, hashPackageId, hashRepositoryId, type PackageKey } from "./ids";
import { requireRepository } from "./repository/read";
import type { RegistryClient } from "./chain/registry";

export type AccessAction = "add" | "remove" | "transfer" | "accept";

type AccessClient = Pick<RegistryClient, "addMaintainer" | "removeMaintainer" | "transferOwnership" | "acceptOwnership" | "owner" | "getMaintainers">;

export interface AccessResult {
  /** The on-chain id of the package or repository. */
  id: string;
  action: AccessAction;
  /** The account added, removed or offered ownership (checksummed); null for `accept`. */
  account: string | null;
  /** The owner and maintainers after the change. */
  owner: string;
  maintainers: string[];
  /** Hash of the transaction. */
  tx: string;
}

/**
 * Adds or removes a maintainer, offers or accepts ownership of the package or repository `id`.
 * @throws PkgError ERR_ID_SYNTAX when `account` is not an address (or has a wrong checksum), before any transaction.
 */
async function changeAccess(client: AccessClient, id: string, action: AccessAction, account: string | undefined): Promise<AccessResult> {
  let address: string | null = null;
  if (action !== "accept") {
    const checked = checkAddress(account ?? "");
    if (checked.kind !== "address") throw new PkgError("ERR_ID_SYNTAX", checked.problem, { details: { problem: checked.kind }, hint: checked.hint });
    address = checked.address;
  }
  const tx =
    action === "add" ? await client.addMaintainer(id, address!)
    : action === "remove" ? await client.removeMaintainer(id, address!)
    : action === "transfer" ? await client.transferOwnership(id, address!)
    : await client.acceptOwnership(id);
  return { id, action, account: address, owner: await client.owner(id), maintainers: await client.getMaintainers(id), tx: tx.hash };
}

/** `pkg owner add|remove|transfer|accept`: the access of a package. `account` is needed for all but `accept`. */
export async function changePackageAccess(params: { client: AccessClient; key: PackageKey; action: AccessAction; account?: string }): Promise<AccessResult> {
  const id = hashPackageId(hashRepositoryId(params.key.repository), params.key.name);
  return changeAccess(params.client, id, params.action, params.account);
}

/**
 * `repo maintainer add|remove`, `repo transfer`, `repo accept`: the access of a repository, which must exist.
 * @throws PkgError ERR_REPO_UNKNOWN before any transaction.
 */
export async function changeRepositoryAccess(params: {
  client: AccessClient & Pick<RegistryClient, "getRepository">;
  name: string;
  action: AccessAction;
  account?: string;
}): Promise<AccessResult> {
  const repository = await requireRepository(params.client, params.name);
  return changeAccess(params.client, repository.id, params.action, params.account);
}
