/**
 * A typed client of the Registry contract: reads at a block tag (a lock pins one block, and reading it again
 * there gives the same answer), writes with a signer, failures as PkgErrors. Names and CID strings go in,
 * names and CID strings come out; ids and binary CIDs stay in here.
 */
import { JsonRpcProvider, Network, Transaction, ZeroHash, isError, toQuantity, type Signer, type JsonRpcPayload, type JsonRpcResult } from "ethers";
import { Registry__factory, type Registry } from "../../typechain-types";
import { PkgError, isPkgError } from "../errors";
import { hashPackageId, hashRepositoryId, type PackageKey } from "../ids";
import { cidFromHex, cidToHex } from "./cid";
import {
  chainError,
  ERR_CHAIN_NO_REGISTRY,
  ERR_CHAIN_NO_SIGNER,
  ERR_CHAIN_UNREACHABLE,
  ERR_CHAIN_WRONG_NETWORK,
  insufficientFundsError,
  isInsufficientFunds,
  isOutOfGas,
  isUnknownBlock,
  unknownBlockError,
  unreachableHint,
  type UnknownBlockReason,
} from "./errors";
import { decodeGetPackages, encodeGetPackages, ZERO_ADDRESS, ZERO_WORD, type RawPackageView } from "./packages";

/** One version as the registry holds it. `src` is null for repository versions. */
export interface VersionRecord {
  version: string;
  meta: string;
  src: string | null;
  yanked: boolean;
}

/** A package with all its versions, newest first. */
export interface PackageRecord {
  key: PackageKey;
  id: string;
  repositoryId: string;
  owner: string;
  versions: VersionRecord[];
}

export interface RepositoryRecord {
  name: string;
  id: string;
  owner: string;
  pendingOwner: string | null;
  curated: boolean;
  versionCount: number;
  packageCount: number;
}

export interface TxResult {
  hash: string;
  blockNumber: number;
  gasUsed: bigint;
}

/** A transaction as operations report it to commands. */
export interface TxReceipt {
  hash: string;
  block: number;
}

export interface ReadOptions {
  /** Read the state as of this block (a lock's block); default: the latest. */
  blockTag?: number;
}

/** A provider that counts what it sends, so benchmarks can show how reads grow. */
export class CountingProvider extends JsonRpcProvider {
  /** JSON-RPC requests sent (a batch of n counts n). */
  requests = 0;
  /** HTTP round trips (a batch counts once). */
  roundTrips = 0;

  override async _send(payload: JsonRpcPayload | JsonRpcPayload[]): Promise<JsonRpcResult[]> {
    this.requests += Array.isArray(payload) ? payload.length : 1;
    this.roundTrips++;
    return super._send(payload);
  }
}

export interface RegistryClientOptions {
  rpcUrl: string;
  address: string;
  /** Needed for writes only; must be connected to `provider` when both are given. */
  signer?: Signer;
  /** Reuse a provider (e.g. the one a signer was made from); by default the client makes its own. */
  provider?: CountingProvider;
  /**
   * When set, connecting to a node of another chain fails instead of reading the wrong registry, and the
   * provider skips its own network detection (which retries forever, logging, when no node answers).
   */
  expectedChainId?: bigint;
}

/** Versions read per package in the first, batched call; the rest are paged. */
const FIRST_PAGE = 32;
/** Packages per listing call (getRepositoryPackages). */
const PACKAGES_PER_CALL = 100;
/**
 * At most this many packages per getPackages call. Nodes cap an eth_call's gas (Hardhat, like Osaka nodes,
 * at EIP-7825's 2^24 = 16.8M); the view costs 50-61k gas per package of a few versions (more per package in
 * bigger answers: memory grows quadratically), measured 15.2M for 250 packages of the lock-1000 graph. 240
 * keeps a margin; a call that still runs out of gas (packages with many versions) is split in two and sent
 * again. A level's packages go out in equal chunks, all at once.
 */
const MAX_PACKAGES_PER_CALL = 240;
const PAGE = 256;
/** ethers' default request timeout. */
const RAW_REQUEST_TIMEOUT_MS = 300_000;
const getPackagesSelector = Registry__factory.createInterface().getFunction("getPackages").selector;

export type RegistryClient = ReturnType<typeof createRegistryClient>;

/** A counting provider; pinned to `chainId` when known, so it never polls for the network. */
export function createProvider(rpcUrl: string, chainId?: bigint): CountingProvider {
  const network = chainId === undefined ? undefined : Network.from(chainId);
  return new CountingProvider(rpcUrl, network, { staticNetwork: network, batchMaxCount: 50 });
}

export function createRegistryClient(options: RegistryClientOptions) {
  const provider = options.provider ?? createProvider(options.rpcUrl, options.expectedChainId);
  const reader: Registry = Registry__factory.connect(options.address, provider);
  const rpcUrl = options.rpcUrl;

  /** A read; at a `blockTag` the node does not have, or before the registry existed there: ERR_CHAIN_UNKNOWN_BLOCK. */
  async function read<T>(action: string, run: () => Promise<T>, blockTag?: number): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (blockTag !== undefined && isUnknownBlock(error)) throw await unknownBlock(blockTag, "node-refused");
      if (blockTag !== undefined && isEmptyAnswer(error)) throw await unknownBlock(blockTag, "no-code");
      throw chainError(error, { rpcUrl, action });
    }
  }

  /** ethers' failure to decode "0x": the call went to an address without code. */
  function isEmptyAnswer(error: unknown): boolean {
    return isError(error, "BAD_DATA") && (error as { value?: unknown }).value === "0x";
  }

  function writer(): Registry {
    if (!options.signer) {
      throw new PkgError(ERR_CHAIN_NO_SIGNER, "this command sends a transaction but no key is configured", {
        hint: "set PKG_PRIVATE_KEY, pass --keystore, or use the local node (its dev accounts need no key)",
      });
    }
    return Registry__factory.connect(options.address, options.signer);
  }

  async function send(action: string, run: (registry: Registry) => Promise<{ hash: string; wait(): Promise<unknown> }>): Promise<TxResult> {
    try {
      const tx = await run(writer());
      const receipt = (await tx.wait()) as { blockNumber: number; gasUsed: bigint; hash: string };
      return { hash: receipt.hash ?? tx.hash, blockNumber: receipt.blockNumber, gasUsed: receipt.gasUsed };
    } catch (error) {
      if (isInsufficientFunds(error)) throw await insufficientFunds(action, error);
      throw chainError(error, { rpcUrl, action });
    }
  }

  /**
   * The account that cannot pay, with about what it needs: the gas limit and fee of the transaction ethers
   * signed (it comes with the error), else the gas price the node asks now (the gas unknown), and the balance.
   */
  async function insufficientFunds(action: string, error: unknown): Promise<PkgError> {
    let tx: Transaction | null = null;
    const raw = (error as { transaction?: unknown }).transaction;
    if (typeof raw === "string") {
      try {
        tx = Transaction.from(raw);
      } catch {
        tx = null;
      }
    }
    const account = tx?.from ?? (await options.signer!.getAddress());
    // the error of a failed estimate carries the request ({ to, data }): estimated again without fees
    const request = !tx && raw && typeof raw === "object" ? (raw as { to?: string; data?: string }) : null;
    const [balance, fees, gas] = await Promise.all([
      provider.getBalance(account).catch(() => null),
      tx ? null : provider.getFeeData().catch(() => null),
      request?.to ? provider.estimateGas({ to: request.to, data: request.data, from: account }).catch(() => null) : null,
    ]);
    const price = tx ? (tx.maxFeePerGas ?? tx.gasPrice) : (fees?.maxFeePerGas ?? fees?.gasPrice ?? null);
    return insufficientFundsError(action, { account, balance, gas: tx?.gasLimit ?? gas, price, value: tx?.value ?? 0n }, error);
  }

  function toVersion(view: { version: string; metaCid: string; srcCid: string; yanked: boolean }): VersionRecord {
    return { version: view.version, meta: cidFromHex(view.metaCid)!, src: cidFromHex(view.srcCid), yanked: view.yanked };
  }

  /** A version of a decoded view (checked to have a meta CID when decoded). */
  function toRecord(view: RawPackageView["versions"][number]): VersionRecord {
    return { version: view.version, meta: view.meta!, src: view.src, yanked: view.yanked };
  }

  /**
   * One JSON-RPC request by fetch, counted by the provider like its own. For the big answers of
   * getPackages: ethers' transport decodes response bodies with a JavaScript UTF-8 decoder (~0.2 s for the
   * ~2 MB of a 1,000-package lock). JSON-RPC errors are thrown as errors whose `error` is the node's.
   */
  async function rawRequest(method: string, params: unknown[]): Promise<unknown> {
    provider.requests++;
    provider.roundTrips++;
    const response = await fetch(rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
      signal: AbortSignal.timeout(RAW_REQUEST_TIMEOUT_MS),
    });
    const text = await response.text();
    let body: { result?: unknown; error?: { code?: number; message?: string; data?: unknown } };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new Error(`${method}: the node answered HTTP ${response.status} with no JSON-RPC response`);
    }
    if (body.error) {
      const data = typeof body.error.data === "string" ? body.error.data : undefined;
      throw Object.assign(new Error(body.error.message ?? JSON.stringify(body.error)), { error: body.error, data, shortMessage: body.error.message });
    }
    if (body.result === undefined) throw new Error(`${method}: the node answered HTTP ${response.status} without a result`);
    return body.result;
  }

  /**
   * getPackages(ids, versionLimit) by a raw eth_call, encoded and decoded here (packages.ts). Runs out of
   * gas → the two halves, concurrently. No code at the address at that block (before the registry was
   * deployed) → ERR_CHAIN_UNKNOWN_BLOCK.
   */
  async function callGetPackages(ids: string[], versionLimit: number, blockTag: number | undefined): Promise<RawPackageView[]> {
    if (ids.length === 0) return [];
    const tag = blockTag === undefined ? "latest" : toQuantity(blockTag);
    let result: string;
    try {
      result = (await rawRequest("eth_call", [{ to: options.address, data: encodeGetPackages(getPackagesSelector, ids, versionLimit) }, tag])) as string;
    } catch (error) {
      if (ids.length > 1 && isOutOfGas(error)) {
        const half = Math.ceil(ids.length / 2);
        const [a, b] = await Promise.all([callGetPackages(ids.slice(0, half), versionLimit, blockTag), callGetPackages(ids.slice(half), versionLimit, blockTag)]);
        return [...a, ...b];
      }
      if (blockTag !== undefined && isUnknownBlock(error)) throw await unknownBlock(blockTag, "node-refused");
      throw chainError(error, { rpcUrl, action: "reading packages" });
    }
    // a call to an address without code answers nothing: the registry did not exist yet at that block
    if (result === "0x" && blockTag !== undefined) throw await unknownBlock(blockTag, "no-code");
    try {
      const views = decodeGetPackages(result);
      if (views.length !== ids.length) throw new Error(`${views.length} packages for ${ids.length} ids`);
      const noMeta = views.flatMap((view) => view.versions).find((version) => version.meta === null);
      if (noMeta) throw new Error(`version ${noMeta.version} has no meta CID`);
      return views;
    } catch (cause) {
      throw notARegistry(cause);
    }
  }

  /** ERR_CHAIN_NO_REGISTRY for a contract that does not answer as a registry does. */
  function notARegistry(cause: unknown): PkgError {
    return new PkgError(ERR_CHAIN_NO_REGISTRY, `the contract at ${options.address} is not a registry: it does not answer getPackages as a registry does`, {
      details: { address: options.address },
      hint: "check --registry (or the network's registry in the config file): it must be the address of a chainpkg registry",
      cause,
    });
  }

  /** The error for a read at `block` that the node could not answer (asks for the head to say which case). */
  async function unknownBlock(block: number, reason: UnknownBlockReason): Promise<PkgError> {
    const head = await client.blockNumber().catch(() => null);
    return unknownBlockError(block, head, options.address, reason);
  }

  /** The remaining versions of a package after `cursor`. */
  async function rest(id: string, cursor: string, blockTag: number | undefined): Promise<VersionRecord[]> {
    const out: VersionRecord[] = [];
    while (cursor !== ZeroHash) {
      const [page, next] = await reader.getPackageVersions(id, cursor, PAGE, { blockTag });
      out.push(...page.map(toVersion));
      cursor = next;
    }
    return out;
  }

  const client = {
    address: options.address,
    provider,
    rpcUrl,

    /** The chain id the node reports (not the one the provider assumes). */
    async chainId(): Promise<bigint> {
      return read("reading the chain id", async () => BigInt(await provider.send("eth_chainId", [])));
    },

    /** The node's latest block, asked every time (ethers caches getBlockNumber for a polling interval,
     * and a lock taken right after a yank must see it). */
    async blockNumber(): Promise<number> {
      return read("reading the block number", async () => Number(await provider.send("eth_blockNumber", [])));
    },

    /** Fails unless a registry answers at the address, on the expected chain. */
    async checkDeployed(): Promise<void> {
      const chainId = await client.chainId();
      if (options.expectedChainId !== undefined && chainId !== options.expectedChainId) {
        throw new PkgError(ERR_CHAIN_WRONG_NETWORK, `the node at ${rpcUrl} is chain ${chainId}, not ${options.expectedChainId}`, {
          details: { chainId: String(chainId), expected: String(options.expectedChainId) },
          hint: "pass the --rpc-url of the right network, or the --network it belongs to",
        });
      }
      // the code, and a getPackages call that only a registry answers (asked at once): a contract that is
      // not a registry fails here, before the command's first call, not with "could not decode result data"
      const [code, probe] = await Promise.allSettled([
        read("reading the registry's code", () => provider.getCode(options.address)),
        callGetPackages([ZeroHash], 0, undefined),
      ]);
      if (code.status === "rejected") throw code.reason;
      if (code.value === "0x") {
        throw new PkgError(ERR_CHAIN_NO_REGISTRY, `no registry is deployed at ${options.address} on chain ${chainId}`, {
          details: { address: options.address, chainId: String(chainId) },
          hint: "start the local node with `pkg node` (it deploys one), or pass --registry with the right address",
        });
      }
      if (probe.status === "rejected") {
        if (isPkgError(probe.reason, ERR_CHAIN_UNREACHABLE) || isPkgError(probe.reason, ERR_CHAIN_NO_REGISTRY)) throw probe.reason;
        throw notARegistry(probe.reason);
      }
      if (probe.value.length !== 1 || probe.value[0].owner !== ZERO_ADDRESS) throw notARegistry(new Error("a package without an id has an owner"));
    },

    /**
     * Many packages with all their versions: one eth_call per MAX_PACKAGES_PER_CALL packages, all sent at
     * once (plus one per 256 extra versions of very long-lived packages). Unknown packages come back as
     * null, in order.
     */
    async getPackages(keys: PackageKey[], { blockTag }: ReadOptions = {}): Promise<(PackageRecord | null)[]> {
      const repositoryIds = new Map<string, string>();
      const repositoryId = (name: string) => repositoryIds.get(name) ?? repositoryIds.set(name, hashRepositoryId(name)).get(name)!;
      const ids = keys.map((key) => hashPackageId(repositoryId(key.repository), key.name));
      const size = Math.ceil(ids.length / Math.ceil(ids.length / MAX_PACKAGES_PER_CALL));
      const chunks: string[][] = [];
      for (let start = 0; start < ids.length; start += size) chunks.push(ids.slice(start, start + size));
      const views = (await Promise.all(chunks.map((chunk) => callGetPackages(chunk, FIRST_PAGE, blockTag)))).flat();
      return Promise.all(
        views.map(async (view, i): Promise<PackageRecord | null> => {
          if (view.owner === ZERO_ADDRESS) return null;
          const versions = view.versions.map(toRecord);
          if (view.nextCursor !== ZERO_WORD) {
            versions.push(...(await read("reading versions", () => rest(view.packageId, view.nextCursor, blockTag), blockTag)));
          }
          return { key: keys[i], id: view.packageId, repositoryId: view.repositoryId, owner: view.owner, versions };
        }),
      );
    },

    async getPackage(key: PackageKey, options_: ReadOptions = {}): Promise<PackageRecord | null> {
      return (await client.getPackages([key], options_))[0];
    },

    async getRepository(name: string, { blockTag }: ReadOptions = {}): Promise<RepositoryRecord | null> {
      const view = await read("reading a repository", () => reader.getRepository(hashRepositoryId(name), { blockTag }), blockTag);
      if (view.owner === "0x0000000000000000000000000000000000000000") return null;
      return {
        name: view.name,
        id: view.repositoryId,
        owner: view.owner,
        pendingOwner: view.pendingOwner === "0x0000000000000000000000000000000000000000" ? null : view.pendingOwner,
        curated: view.curated,
        versionCount: Number(view.versionCount),
        packageCount: Number(view.packageCount),
      };
    },

    /** The names of a repository's packages, in registration order. */
    async getRepositoryPackageNames(name: string, { blockTag }: ReadOptions = {}): Promise<string[]> {
      const id = hashRepositoryId(name);
      const names: string[] = [];
      for (let offset = 0; ; offset += PACKAGES_PER_CALL) {
        const ids = await read("listing packages", () => reader.getRepositoryPackages(id, offset, PACKAGES_PER_CALL, { blockTag }), blockTag);
        if (ids.length === 0) break;
        const views = await callGetPackages([...ids], 0, blockTag);
        names.push(...views.map((view) => view.name));
        if (ids.length < PACKAGES_PER_CALL) break;
      }
      return names;
    },

    async getRepositoryVersions(name: string, { blockTag }: ReadOptions = {}): Promise<VersionRecord[]> {
      const id = hashRepositoryId(name);
      const out: VersionRecord[] = [];
      let cursor = ZeroHash;
      do {
        const [page, next] = await read("reading repository versions", () => reader.getRepositoryVersions(id, cursor, PAGE, { blockTag }), blockTag);
        out.push(...page.map(toVersion));
        cursor = next;
      } while (cursor !== ZeroHash);
      return out;
    },

    async getMaintainers(id: string, { blockTag }: ReadOptions = {}): Promise<string[]> {
      return read("reading maintainers", async () => [...(await reader.getMaintainers(id, { blockTag }))], blockTag);
    },

    async owner(id: string, { blockTag }: ReadOptions = {}): Promise<string> {
      return read("reading an owner", () => reader.owner(id, { blockTag }), blockTag);
    },

    // ---------------------------------------------------------------- writes

    createRepository(name: string, curated: boolean): Promise<TxResult> {
      return send(`creating repository ${name}`, (r) => r.createRepository(name, curated));
    },

    setCurated(name: string, curated: boolean): Promise<TxResult> {
      return send(`changing curation of ${name}`, (r) => r.setCurated(hashRepositoryId(name), curated));
    },

    registerPackage(key: PackageKey): Promise<TxResult> {
      return send(`registering ${key.repository}:${key.name}`, (r) => r.registerPackage(hashRepositoryId(key.repository), key.name));
    },

    publish(key: PackageKey, version: string, meta: string, src: string): Promise<TxResult> {
      return send(`publishing ${key.repository}:${key.name} ${version}`, (r) =>
        r.publish(hashRepositoryId(key.repository), key.name, version, cidToHex(meta, "meta CID"), cidToHex(src, "src CID")),
      );
    },

    setYanked(key: PackageKey, version: string, yanked: boolean): Promise<TxResult> {
      return send(`${yanked ? "yanking" : "unyanking"} ${key.repository}:${key.name} ${version}`, (r) =>
        r.setYanked(hashRepositoryId(key.repository), key.name, version, yanked),
      );
    },

    publishRepository(name: string, version: string, meta: string): Promise<TxResult> {
      return send(`publishing repository ${name} ${version}`, (r) =>
        r.publishRepository(hashRepositoryId(name), version, cidToHex(meta, "repository lock CID")),
      );
    },

    setRepositoryYanked(name: string, version: string, yanked: boolean): Promise<TxResult> {
      return send(`${yanked ? "yanking" : "unyanking"} repository ${name} ${version}`, (r) =>
        r.setRepositoryYanked(hashRepositoryId(name), version, yanked),
      );
    },

    addMaintainer(id: string, account: string): Promise<TxResult> {
      return send(`adding maintainer ${account}`, (r) => r.addMaintainer(id, account));
    },

    removeMaintainer(id: string, account: string): Promise<TxResult> {
      return send(`removing maintainer ${account}`, (r) => r.removeMaintainer(id, account));
    },

    transferOwnership(id: string, account: string): Promise<TxResult> {
      return send(`offering ownership to ${account}`, (r) => r.transferOwnership(id, account));
    },

    acceptOwnership(id: string): Promise<TxResult> {
      return send("accepting ownership", (r) => r.acceptOwnership(id));
    },

    /** Stops the provider's polling so a CLI process can exit. */
    close(): void {
      provider.destroy();
    },
  };
  return client;
}

/** The node's chain id, by one plain request that fails fast (ERR_CHAIN_UNREACHABLE) when nothing listens. */
export async function probeChainId(rpcUrl: string, network: string = "local"): Promise<bigint> {
  try {
    const response = await fetch(rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await response.json()) as { result?: string };
    if (!body.result) throw new Error(`no chain id in ${JSON.stringify(body)}`);
    return BigInt(body.result);
  } catch (cause) {
    throw new PkgError(ERR_CHAIN_UNREACHABLE, `no chain node answers at ${rpcUrl}${network === "local" ? "" : ` (network ${network})`}`, {
      details: { rpcUrl, network },
      hint: unreachableHint(network),
      cause,
    });
  }
}

/**
 * Asks the node for its chain id once (a plain request that fails fast when nothing listens), then returns
 * a client pinned to that chain and checked to have a registry at `address`.
 */
export async function connectRegistry(options: RegistryClientOptions): Promise<RegistryClient> {
  const chainId = await probeChainId(options.rpcUrl);
  if (options.expectedChainId !== undefined && chainId !== options.expectedChainId) {
    throw new PkgError(ERR_CHAIN_WRONG_NETWORK, `the node at ${options.rpcUrl} is chain ${chainId}, not ${options.expectedChainId}`, {
      details: { chainId: String(chainId), expected: String(options.expectedChainId) },
      hint: "pass the --rpc-url of the right network, or the --network it belongs to",
    });
  }
  const client = createRegistryClient({ ...options, expectedChainId: chainId });
  try {
    await client.checkDeployed();
  } catch (error) {
    client.close();
    throw error;
  }
  return client;
}
