/**
 * Owners and maintainers are the same for packages and repositories on chain (an id, an owner, a set of
 * maintainers); `pkg owner …` and `repo maintainer …` differ only in how the id is named.
 */
import { load } from "./lazy";
import type { Session } from "../src/session";

export type AccessAction = "add" | "remove" | "transfer" | "accept";

export async function changeAccess(session: Session, id: string, action: AccessAction, account?: string) {
  const { PkgError } = load.errors();
  let address: string | null = null;
  if (action !== "accept") {
    const checked = load.ids().checkAddress(account ?? "");
    if (checked.kind !== "address") throw new PkgError("ERR_ID_SYNTAX", checked.problem, { details: { problem: checked.kind }, hint: checked.hint });
    address = checked.address;
  }
  const { client } = session;
  const tx =
    action === "add" ? await client.addMaintainer(id, address!)
    : action === "remove" ? await client.removeMaintainer(id, address!)
    : action === "transfer" ? await client.transferOwnership(id, address!)
    : await client.acceptOwnership(id);
  return { id, action, account: address, owner: await client.owner(id), maintainers: await client.getMaintainers(id), tx: tx.hash };
}
