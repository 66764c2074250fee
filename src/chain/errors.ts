/**
 * Chain failures as PkgErrors: the registry's custom errors (decoded from revert data) and the node's
 * transport failures, each with a stable code and a hint of what to do.
 */
import { Interface, isError } from "ethers";
import { PkgError } from "../errors";
import { Registry__factory } from "../../typechain-types";

export const ERR_CHAIN_UNREACHABLE = "ERR_CHAIN_UNREACHABLE";
export const ERR_CHAIN_NO_REGISTRY = "ERR_CHAIN_NO_REGISTRY";
export const ERR_CHAIN_WRONG_NETWORK = "ERR_CHAIN_WRONG_NETWORK";
export const ERR_CHAIN_NO_SIGNER = "ERR_CHAIN_NO_SIGNER";
export const ERR_CHAIN_UNAUTHORIZED = "ERR_CHAIN_UNAUTHORIZED";
export const ERR_CHAIN_VERSION_EXISTS = "ERR_CHAIN_VERSION_EXISTS";
export const ERR_CHAIN_UNKNOWN_REPOSITORY = "ERR_CHAIN_UNKNOWN_REPOSITORY";
export const ERR_CHAIN_UNKNOWN_PACKAGE = "ERR_CHAIN_UNKNOWN_PACKAGE";
export const ERR_CHAIN_UNKNOWN_VERSION = "ERR_CHAIN_UNKNOWN_VERSION";
export const ERR_CHAIN_EXISTS = "ERR_CHAIN_EXISTS";
export const ERR_CHAIN_INVALID_INPUT = "ERR_CHAIN_INVALID_INPUT";
export const ERR_CHAIN_REVERTED = "ERR_CHAIN_REVERTED";
export const ERR_CHAIN_UNKNOWN_BLOCK = "ERR_CHAIN_UNKNOWN_BLOCK";

const registryInterface: Interface = Registry__factory.createInterface() as unknown as Interface;

/** Finds revert data in whatever ethers threw (it nests it differently for calls, estimates and sends). */
function revertDataOf(error: unknown): string | null {
  let current: unknown = error;
  for (let depth = 0; depth < 6 && current && typeof current === "object"; depth++) {
    const record = current as Record<string, unknown>;
    if (typeof record.data === "string" && record.data.startsWith("0x") && record.data.length >= 10) return record.data;
    current = record.error ?? record.info ?? record.cause;
  }
  return null;
}

function isTransportFailure(error: unknown): boolean {
  const text = String((error as { message?: string })?.message ?? error);
  return /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ECONNRESET|socket hang up|fetch failed|aborted due to timeout/i.test(text) ||
    (isError(error, "NETWORK_ERROR") as boolean) || (isError(error, "TIMEOUT") as boolean);
}

/** Whether the error, or an error it wraps (ethers nests the node's under error/info/cause), says `pattern`. */
function mentions(error: unknown, pattern: RegExp): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 6 && current && typeof current === "object"; depth++) {
    const record = current as Record<string, unknown>;
    if (typeof record.message === "string" && pattern.test(record.message)) return true;
    current = record.error ?? record.info ?? record.cause;
  }
  return false;
}

/** A call that ran out of gas (a view asked for too much at once): the caller splits it. */
export function isOutOfGas(error: unknown): boolean {
  return mentions(error, /out of gas/i);
}

/** A node's refusal of a block it does not have (Hardhat, geth, erigon/nethermind wording). */
export function isUnknownBlock(error: unknown): boolean {
  return mentions(error, /invalid block tag|header not found|unknown block|block not found/i);
}

/**
 * A read at a block the registry cannot answer for: past the chain's head, or before the registry was
 * deployed (`head` null when the node did not say).
 */
export function unknownBlockError(block: number, head: number | null, registry: string): PkgError {
  const past = head !== null && block > head;
  const headText = head === null ? "" : `; the chain's head is block ${head}`;
  return new PkgError(
    ERR_CHAIN_UNKNOWN_BLOCK,
    past
      ? `block ${block} is past the chain's head (block ${head})`
      : `block ${block} is before the registry ${registry} was deployed${headText}`,
    {
      details: { block, head, registry },
      hint: past
        ? `pass a --block of at most ${head}, or leave out --block to use the latest`
        : "pass a --block after the registry's deployment (a lock's block), or leave out --block to use the latest",
    },
  );
}

/** Turns a failure of a registry call into a PkgError; `context` says what was being done. */
export function chainError(error: unknown, context: { rpcUrl?: string; action: string }): PkgError {
  if (error instanceof PkgError) return error;
  if (isTransportFailure(error)) {
    return new PkgError(ERR_CHAIN_UNREACHABLE, `no chain node answers at ${context.rpcUrl ?? "the RPC URL"}`, {
      details: { rpcUrl: context.rpcUrl },
      hint: "start the local node with `pkg node` (or `npm run chain`), or pass --rpc-url",
      cause: error,
    });
  }
  const data = revertDataOf(error);
  const parsed = data ? registryInterface.parseError(data) : null;
  if (!parsed) {
    const reason = (error as { shortMessage?: string; message?: string })?.shortMessage ?? String(error);
    return new PkgError(ERR_CHAIN_REVERTED, `${context.action} failed: ${reason}`, { cause: error });
  }
  const args = parsed.args;
  const action = context.action;
  switch (parsed.name) {
    case "RegistryUnauthorized":
      return new PkgError(ERR_CHAIN_UNAUTHORIZED, `${action}: account ${args[1]} is not allowed to do this`, {
        details: { id: args[0], account: args[1] },
        hint: "use the owner's key, or ask the owner to add you as a maintainer",
      });
    case "RegistryVersionExists":
      return new PkgError(ERR_CHAIN_VERSION_EXISTS, `${action}: version ${args[1]} is already published`, {
        details: { id: args[0], version: args[1] },
        hint: "published versions never change; bump the version in pkg.toml",
      });
    case "RegistryEquivalentVersionExists":
      return new PkgError(ERR_CHAIN_VERSION_EXISTS, `${action}: version ${args[1]} is ${args[2]} under semver, which is already published (as ${args[2]} or with other build metadata)`, {
        details: { id: args[0], version: args[1], withoutBuild: args[2] },
        hint: "versions that differ only in build metadata (+...) are one version; bump the version in pkg.toml",
      });
    case "RegistryUnknownRepository":
      return new PkgError(ERR_CHAIN_UNKNOWN_REPOSITORY, `${action}: no such repository`, {
        details: { id: args[0] },
        hint: "create it with `repo create NAME`",
      });
    case "RegistryUnknownPackage":
      return new PkgError(ERR_CHAIN_UNKNOWN_PACKAGE, `${action}: no such package`, { details: { id: args[0] } });
    case "RegistryUnknownId":
      return new PkgError(ERR_CHAIN_UNKNOWN_PACKAGE, `${action}: no such repository or package`, { details: { id: args[0] } });
    case "RegistryUnknownVersion":
      return new PkgError(ERR_CHAIN_UNKNOWN_VERSION, `${action}: version ${args[1]} was never published`, {
        details: { id: args[0], version: args[1] },
      });
    case "RegistryRepositoryExists":
    case "RegistryPackageExists":
      return new PkgError(ERR_CHAIN_EXISTS, `${action}: ${args[1]} exists already`, { details: { id: args[0], name: args[1] } });
    case "RegistryNotPendingOwner":
      return new PkgError(ERR_CHAIN_UNAUTHORIZED, `${action}: account ${args[1]} was not offered ownership`, {
        details: { id: args[0], account: args[1] },
        hint: "the current owner must first run the transfer command naming your address",
      });
    default:
      return new PkgError(ERR_CHAIN_INVALID_INPUT, `${action}: the registry refused it (${parsed.name})`, {
        details: { error: parsed.name, args: args.toArray().map(String) },
      });
  }
}
