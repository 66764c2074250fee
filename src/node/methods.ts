/**
 * Which JSON-RPC methods change the chain. Anything not known to be read-only (or node-local, like
 * filters) is treated as state-changing: journaled when it succeeds or mines a block. A few methods are
 * refused because the chain could no longer be rebuilt from the journal after them.
 */

/** Reads, signatures, traces and node-local bookkeeping: forwarded, never journaled. */
const READ_ONLY = new Set([
  "eth_accounts",
  "eth_blobBaseFee",
  "eth_blockNumber",
  "eth_call",
  "eth_chainId",
  "eth_coinbase",
  "eth_createAccessList",
  "eth_estimateGas",
  "eth_feeHistory",
  "eth_gasPrice",
  "eth_getBalance",
  "eth_getBlockByHash",
  "eth_getBlockByNumber",
  "eth_getBlockReceipts",
  "eth_getBlockTransactionCountByHash",
  "eth_getBlockTransactionCountByNumber",
  "eth_getCode",
  "eth_getFilterChanges",
  "eth_getFilterLogs",
  "eth_getLogs",
  "eth_getProof",
  "eth_getStorageAt",
  "eth_getTransactionByBlockHashAndIndex",
  "eth_getTransactionByBlockNumberAndIndex",
  "eth_getTransactionByHash",
  "eth_getTransactionCount",
  "eth_getTransactionReceipt",
  "eth_getUncleByBlockHashAndIndex",
  "eth_getUncleByBlockNumberAndIndex",
  "eth_getUncleCountByBlockHash",
  "eth_getUncleCountByBlockNumber",
  "eth_hashrate",
  "eth_maxPriorityFeePerGas",
  "eth_mining",
  "eth_newBlockFilter",
  "eth_newFilter",
  "eth_newPendingTransactionFilter",
  "eth_pendingTransactions",
  "eth_protocolVersion",
  "eth_sign",
  "eth_signTypedData",
  "eth_signTypedData_v1",
  "eth_signTypedData_v3",
  "eth_signTypedData_v4",
  "eth_syncing",
  "eth_uninstallFilter",
  "personal_sign",
  "net_listening",
  "net_peerCount",
  "net_version",
  "web3_clientVersion",
  "web3_sha3",
  "debug_traceCall",
  "debug_traceTransaction",
  "hardhat_getAutomine",
  "hardhat_getStackTraceFailuresCount",
  "hardhat_metadata",
  // node-local diagnostics, not chain state
  "hardhat_addCompilationResult",
  "hardhat_setLoggingEnabled",
]);

/** Methods whose result (a transaction hash) must come out the same on replay. */
export const TRANSACTION_METHODS = new Set(["eth_sendTransaction", "eth_sendRawTransaction"]);

export type MethodKind = "read" | "write" | "refused";

export function classify(method: string, params: unknown): MethodKind {
  if (READ_ONLY.has(method)) return "read";
  if (refusal(method, params) !== null) return "refused";
  return "write";
}

/** Why a method is refused, or null when it is allowed. */
export function refusal(method: string, params: unknown): string | null {
  switch (method) {
    case "evm_snapshot":
    case "evm_revert":
    case "hardhat_reset":
      return (
        `${method} is disabled on the pkg node: its chain persists by replaying a journal of every state change, ` +
        "and snapshots, reverts and resets would break that journal; use a throwaway `npx hardhat node` for tests that need them"
      );
    case "evm_setIntervalMining": {
      const interval = Array.isArray(params) ? params[0] : undefined;
      if (interval === 0 || interval === "0" || interval === "0x0") return null;
      return (
        "evm_setIntervalMining is disabled on the pkg node: blocks mined by a timer would not be in its journal, " +
        "so the chain could not be rebuilt after a restart; mine explicitly with evm_mine or hardhat_mine"
      );
    }
    default:
      return null;
  }
}

/** JSON-RPC error code for refused methods (EIP-1474: method not supported). */
export const REFUSED_CODE = -32004;
