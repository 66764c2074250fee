/**
 * Replay: the journal's requests sent again, one at a time and in order, to a fresh internal node, each
 * block forced to its recorded timestamp. The internal node's genesis is fixed and Hardhat is otherwise
 * deterministic (dev keys sign with RFC 6979, mixHash comes from a seeded generator), so every transaction
 * hash, block number and block hash comes out as recorded. Every entry is checked; the first difference
 * stops the start with an error naming the entry: a node never serves a chain that silently diverged.
 */
import { NodeError, ERR_NODE_REPLAY_DIVERGED } from "../errors/node";
import type { JournalLine } from "./journal";
import { TRANSACTION_METHODS } from "./methods";
import { call, getHead } from "./rpc";

function txHashOf(data: unknown): string | undefined {
  const hash = (data as { txHash?: unknown } | undefined)?.txHash;
  return typeof hash === "string" ? hash : undefined;
}

export async function replayJournal(
  url: string,
  file: string,
  entries: JournalLine[],
  log: (line: string) => void,
): Promise<void> {
  let lastReport = Date.now();
  for (let index = 0; index < entries.length; index++) {
    const { line, entry } = entries[index];
    const where = `journal ${file}, entry ${entry.seq} (line ${line}, ${entry.method})`;
    const diverged = (problem: string, expected: unknown, actual: unknown) =>
      new NodeError(ERR_NODE_REPLAY_DIVERGED, `${where}: the replay diverged from the recorded chain: ${problem}`, {
        details: { file, line, seq: entry.seq, method: entry.method, expected, actual },
        hint:
          "the journal was edited, or was written by a different Hardhat version or node configuration; nothing was " +
          "changed on disk: start the pkg version that wrote it, or move the node directory away to start a new, empty chain",
      });

    if (entry.mined) {
      const set = await call(url, "evm_setNextBlockTimestamp", [entry.mined.timestamp]);
      if (set.error) {
        throw diverged(`block ${entry.mined.from} cannot get its recorded timestamp (${set.error.message})`, entry.mined.timestamp, set.error.message);
      }
    }
    const response = await call(url, entry.method, entry.params);
    const ok = response.error === undefined;
    if (ok !== entry.ok) {
      throw ok
        ? diverged(`it succeeded but had failed (${entry.error?.message ?? "error"})`, entry.error, response.result)
        : diverged(`it failed (${response.error?.message}) but had succeeded`, entry.result, response.error);
    }
    if (TRANSACTION_METHODS.has(entry.method)) {
      const expected = ok ? entry.result : entry.error?.txHash;
      const actual = ok ? response.result : txHashOf(response.error?.data);
      if (expected !== undefined && String(expected).toLowerCase() !== String(actual).toLowerCase()) {
        throw diverged(`transaction hash ${String(actual)} instead of ${String(expected)}`, expected, actual);
      }
    }
    const head = await getHead(url);
    if (head.number !== entry.head.number || head.hash !== entry.head.hash) {
      throw diverged(
        `the chain is at block ${head.number} (${head.hash}) instead of block ${entry.head.number} (${entry.head.hash})`,
        entry.head,
        { number: head.number, hash: head.hash },
      );
    }
    if (Date.now() - lastReport > 5_000) {
      lastReport = Date.now();
      log(`replaying the journal: ${index + 1}/${entries.length}`);
    }
  }
}
