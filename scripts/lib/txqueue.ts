import type { Signer, TransactionReceipt, TransactionResponse } from "ethers";

export interface TxQueueOptions {
  /** Transactions sent but not yet confirmed, at most (default 16). 1 waits for each before the next. */
  window?: number;
  log?: (line: string) => void;
}

/**
 * Sends one account's transactions with consecutive nonces, keeping up to `window` of them in flight, and
 * fails loudly (naming the transaction) when one reverts. Ordering is the nonce order, so transactions of
 * one queue are mined in the order they were sent; {@link flush} waits for all of them (callers flush
 * between phases whose gas estimates depend on the previous phase's state).
 */
export class TxQueue {
  private nonce: number | undefined;
  private readonly inFlight: { label: string; response: TransactionResponse }[] = [];
  private readonly window: number;
  private readonly log: (line: string) => void;
  transactions = 0;
  gasUsed = 0n;

  constructor(
    readonly signer: Signer,
    options: TxQueueOptions = {},
  ) {
    this.window = Math.max(1, options.window ?? 16);
    this.log = options.log ?? (() => {});
  }

  /** Sends a transaction built by `send` with the queue's next nonce. */
  async send(label: string, send: (overrides: { nonce: number }) => Promise<TransactionResponse>): Promise<void> {
    if (this.nonce === undefined) this.nonce = await this.signer.getNonce("pending");
    while (this.inFlight.length >= this.window) await this.confirmOldest();
    let response: TransactionResponse;
    try {
      response = await send({ nonce: this.nonce });
    } catch (error) {
      throw new Error(`${label}: not sent: ${describe(error)}`, { cause: error });
    }
    this.nonce += 1;
    this.transactions += 1;
    this.inFlight.push({ label, response });
  }

  /** Waits until every transaction sent so far is mined and successful. */
  async flush(): Promise<void> {
    while (this.inFlight.length > 0) await this.confirmOldest();
  }

  private async confirmOldest(): Promise<TransactionReceipt> {
    const { label, response } = this.inFlight.shift()!;
    let receipt: TransactionReceipt | null;
    try {
      receipt = await response.wait();
    } catch (error) {
      throw new Error(`${label}: transaction ${response.hash} failed: ${describe(error)}`, { cause: error });
    }
    if (receipt === null || receipt.status !== 1) {
      throw new Error(`${label}: transaction ${response.hash} reverted`);
    }
    this.gasUsed += receipt.gasUsed;
    this.log(`  ${label}: block ${receipt.blockNumber}, gas ${receipt.gasUsed}`);
    return receipt;
  }
}

/** A one-line reason, with a custom error decoded when ethers could (it can for typechain contracts' calls). */
export function describe(error: unknown): string {
  const revert = (error as { revert?: { name: string; args: unknown[] } } | null)?.revert;
  if (revert) return `${revert.name}(${revert.args.map((arg) => String(arg)).join(", ")})`;
  if (error instanceof Error) {
    const short = (error as { shortMessage?: string }).shortMessage;
    return short ?? error.message.split("\n")[0];
  }
  return String(error);
}
