/**
 * Chain failures as PkgErrors: the registry's custom errors (decoded from revert data) and the node's
 * transport failures, each with a stable code and a hint of what to do.
 */
import { Interface, formatEther, formatUnits, isError } from "ethers";
import { PkgError } from "../errors";
import { Registry__factory } from "../../typechain-types";

export const ERR_CHAIN_UNREACHABLE = "ERR_CHAIN_UNREACHABLE";
export const ERR_CHAIN_NO_REGISTRY = "ERR_CHAIN_NO_REGISTRY";
export const ERR_CHAIN_WRONG_NETWORK = "ERR_CHAIN_WRONG_NETWORK";
export const ERR_CHAIN_NO_SIGNER = "ERR_CHAIN_NO_SIGNER";
export const ERR_CHAIN_INSUFFICIENT_FUNDS = "ERR_CHAIN_INSUFFICIENT_FUNDS";
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

/** The messages of the error and of those it wraps, one per line. */
function messagesOf(error: unknown): string {
  const out: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 6 && current && typeof current === "object"; depth++) {
    const record = current as Record<string, unknown>;
    if (typeof record.message === "string") out.push(record.message);
    current = record.error ?? record.info ?? record.cause;
  }
  return out.join("\n");
}

/** A call that ran out of gas (a view asked for too much at once): the caller splits it. */
export function isOutOfGas(error: unknown): boolean {
  return mentions(error, /out of gas/i);
}

/**
 * A node's refusal of the state of a block it no longer keeps (a non-archive node, or anvil restarted from a
 * state file): anvil, geth (path and hash schemes), erigon, nethermind, besu wording.
 */
const STATE_UNAVAILABLE = /BlockOutOfRange|block height is \d+ but requested|missing trie node|historical state|state[^.]{0,40}(not available|unavailable|pruned)|no state available|state histories|world state not available/i;

/** Whether the node said it does not keep the state of the block asked for (see STATE_UNAVAILABLE). */
export function isStateUnavailable(error: unknown): boolean {
  return mentions(error, STATE_UNAVAILABLE);
}

/** A node's refusal of a block it does not have (Hardhat, geth, erigon/nethermind wording), or of its state. */
export function isUnknownBlock(error: unknown): boolean {
  return mentions(error, /invalid block tag|header not found|unknown block|block not found/i) || isStateUnavailable(error);
}

/**
 * Why a read at a block failed: the node refused the block (`node-refused`: past its head, or state it no
 * longer keeps), or the registry's address had no code there (`no-code`: before the registry was deployed).
 */
export type UnknownBlockReason = "node-refused" | "no-code";

const ARCHIVE_HINT = "reading old blocks (a lock's block, --block) needs an archive node: pass the --rpc-url of one, or leave out --block to use the latest";

/**
 * A read at a block the registry cannot answer for: past the chain's head, a block whose state the node no
 * longer keeps (only an archive node has every block's), or before the registry was deployed (`head` null
 * when the node did not say).
 */
export function unknownBlockError(block: number, head: number | null, registry: string, reason: UnknownBlockReason = "no-code"): PkgError {
  const headText = head === null ? "" : `; the chain's head is block ${head}`;
  if (head !== null && block > head) {
    return new PkgError(ERR_CHAIN_UNKNOWN_BLOCK, `block ${block} is past the chain's head (block ${head})`, {
      details: { block, head, registry, reason: "past-head" },
      hint: `pass a --block of at most ${head}, or leave out --block to use the latest`,
    });
  }
  if (reason === "node-refused") {
    return new PkgError(ERR_CHAIN_UNKNOWN_BLOCK, `the node no longer has block ${block}: it keeps only recent state, and old blocks need an archive node${headText}`, {
      details: { block, head, registry, reason: "state-unavailable" },
      hint: ARCHIVE_HINT,
    });
  }
  return new PkgError(ERR_CHAIN_UNKNOWN_BLOCK, `block ${block} is before the registry ${registry} was deployed${headText}`, {
    details: { block, head, registry, reason: "before-registry" },
    hint: "pass a --block after the registry's deployment (a lock's block), or leave out --block to use the latest",
  });
}

/** The node (or ethers) refused a transaction because its account cannot pay for it. */
export function isInsufficientFunds(error: unknown): boolean {
  return (isError(error, "INSUFFICIENT_FUNDS") as boolean) || mentions(error, /insufficient funds/i);
}

/** What an account needs to pay for a transaction: `gas` × `price` (per gas, in wei) + `value`, when known. */
export interface FundsEstimate {
  account: string;
  balance: bigint | null;
  gas: bigint | null;
  price: bigint | null;
  value: bigint;
}

/** ERR_CHAIN_INSUFFICIENT_FUNDS: which account must be funded, and with about how much. */
export function insufficientFundsError(action: string, estimate: FundsEstimate, cause?: unknown): PkgError {
  const { account, balance, gas, price, value } = estimate;
  const needed = gas !== null && price !== null ? gas * price + value : null;
  const has = balance === null ? "" : `, it has ${formatEther(balance)} ETH`;
  const cost = needed === null
    ? "enough ETH for its gas"
    : `about ${formatEther(needed)} ETH (${gas} gas × ${formatUnits(price!, "gwei")} gwei${value > 0n ? ` + ${formatEther(value)} ETH sent` : ""})`;
  return new PkgError(ERR_CHAIN_INSUFFICIENT_FUNDS, `${action}: account ${account} cannot pay for the transaction: it needs ${cost}${has}`, {
    details: {
      account,
      balance: balance === null ? null : String(balance),
      needed: needed === null ? null : String(needed),
      gas: gas === null ? null : String(gas),
      gasPrice: price === null ? null : String(price),
    },
    hint: `send ETH to ${account} (a little more than ${needed === null ? "the gas costs" : `${formatEther(needed)} ETH`}: gas prices move), then try again`,
    cause,
  });
}

/**
 * What to do when no node answers: start the local one, for the local network; for a configured network the node
 * is not ours to start: check that it is up and that its URL is right.
 */
export function unreachableHint(network: string = "local"): string {
  return network === "local"
    ? "start the local node with `pkg node` (or `npm run chain`), or pass --rpc-url"
    : `check that the node of network ${network} is up and that its rpc-url (config file, PKG_RPC_URL or --rpc-url) is right`;
}

/** Turns a failure of a registry call into a PkgError; `context` says what was being done. */
export function chainError(error: unknown, context: { rpcUrl?: string; network?: string; action: string }): PkgError {
  if (error instanceof PkgError) return error;
  if (isTransportFailure(error)) {
    return new PkgError(ERR_CHAIN_UNREACHABLE, `no chain node answers at ${context.rpcUrl ?? "the RPC URL"}`, {
      details: { rpcUrl: context.rpcUrl },
      hint: unreachableHint(context.network),
      cause: error,
    });
  }
  if (isStateUnavailable(error)) {
    const requested = /requested was (\d+)/i.exec(messagesOf(error))?.[1];
    const which = requested === undefined ? "the block asked for" : `block ${requested}`;
    return new PkgError(ERR_CHAIN_UNKNOWN_BLOCK, `${context.action} failed: the node no longer has ${which}, and old blocks need an archive node`, {
      details: { block: requested === undefined ? null : Number(requested), rpcUrl: context.rpcUrl, reason: "state-unavailable" },
      hint: ARCHIVE_HINT,
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
