/**
 * One account's nonces for every write of a command. ethers asks the node for the pending nonce before each
 * transaction, and caches that answer for 250 ms: on a chain with fast blocks (anvil's instant mining) the
 * second write of a command (publish after register) got the first one's nonce ("nonce has already been
 * used"). The session's signer asks the node once, uncached, then counts up itself; a write that fails before
 * it is sent (a revert found by the gas estimate) uses no nonce, and a refused one makes it ask again.
 */
import { AbstractSigner, type Provider, type Signer, type TransactionRequest, type TransactionResponse, type TypedDataDomain, type TypedDataField } from "ethers";

/** A signer whose transactions take consecutive nonces, one at a time (sends are serialized). */
export class ManagedNonceSigner extends AbstractSigner {
  readonly signer: Signer;
  /** The next nonce to use, once known; null: ask the node (first write, or after a refused send). */
  #next: number | null = null;
  /** The send in progress: the next one waits for it, so two never take the same nonce. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(signer: Signer) {
    super(signer.provider);
    this.signer = signer;
  }

  override connect(provider: null | Provider): ManagedNonceSigner {
    return new ManagedNonceSigner(this.signer.connect(provider));
  }

  override getAddress(): Promise<string> {
    return this.signer.getAddress();
  }

  /** The nonce the next transaction will have (the node's pending count the first time, asked uncached). */
  override async getNonce(blockTag?: "pending" | "latest"): Promise<number> {
    if (blockTag === "latest") return this.signer.getNonce("latest");
    if (this.#next !== null) return this.#next;
    const provider = this.signer.provider as (Provider & { send?: (method: string, params: unknown[]) => Promise<string> }) | null;
    if (provider?.send) return Number(await provider.send("eth_getTransactionCount", [await this.getAddress(), "pending"]));
    return this.signer.getNonce("pending");
  }

  override sendTransaction(tx: TransactionRequest): Promise<TransactionResponse> {
    const send = this.#queue.then(() => this.#send(tx));
    this.#queue = send.catch(() => undefined);
    return send;
  }

  async #send(tx: TransactionRequest): Promise<TransactionResponse> {
    const nonce = tx.nonce ?? (await this.getNonce("pending"));
    const populated = await this.signer.populateTransaction({ ...tx, nonce });
    try {
      const response = await this.signer.sendTransaction(populated);
      this.#next = nonce + 1;
      return response;
    } catch (error) {
      this.#next = null;
      throw error;
    }
  }

  override signTransaction(tx: TransactionRequest): Promise<string> {
    return this.signer.signTransaction(tx);
  }

  override signMessage(message: string | Uint8Array): Promise<string> {
    return this.signer.signMessage(message);
  }

  override signTypedData(domain: TypedDataDomain, types: Record<string, TypedDataField[]>, value: Record<string, unknown>): Promise<string> {
    return this.signer.signTypedData(domain, types, value);
  }
}

/** The signer a session writes with: `signer` with its nonces counted here (see {@link ManagedNonceSigner}). */
export function managedNonces(signer: Signer): ManagedNonceSigner {
  return signer instanceof ManagedNonceSigner ? signer : new ManagedNonceSigner(signer);
}
