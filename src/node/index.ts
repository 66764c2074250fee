/**
 * `pkg node`: a local chain on 127.0.0.1 with the registry deployed, whose state survives restarts.
 *
 * Hardhat's node keeps its chain in memory only, so the chain is persisted as a journal of every state
 * change (see journal.ts) and rebuilt on start by replaying it against a fresh Hardhat node with a fixed
 * genesis (see replay.ts), checking every transaction hash and block hash on the way. Users talk to a
 * proxy (proxy.ts) that journals each state change, fsync'd, before answering.
 *
 * Files, all under `${dataDir}/node/`: journal.ndjson, deployment.json, node.lock, hardhat-node.config.cjs.
 */
import { mkdir } from "node:fs/promises";
import { createServer } from "node:net";
import path from "node:path";
import { NodeError, ERR_NODE_INVALID_OPTION, ERR_NODE_EXITED, ERR_NODE_REPLAY_DIVERGED } from "../errors/node";
import { syncDirectory } from "../files/atomic";
import { ensureRegistry, readDeploymentFile } from "./deployment";
import { INITIAL_DATE, startInternalNode } from "./hardhat";
import { JOURNAL_VERSION, JournalWriter, loadJournal, type JournalHeader } from "./journal";
import { acquireLock } from "./lock";
import { portInUse, startProxy } from "./proxy";
import { replayJournal } from "./replay";
import { getHead, rpc } from "./rpc";

export { DEPLOYMENT_FILE } from "./deployment";
export { LOCK_FILE } from "./lock";
export { CHAIN_ID, INITIAL_DATE } from "./hardhat";
export * from "../errors/node";

export const JOURNAL_FILE = "journal.ndjson";

export interface LocalNodeOptions {
  /** The user's data directory; everything goes under `${dataDir}/node/`. */
  dataDir: string;
  /** A loopback address; default 127.0.0.1. */
  host?: string;
  /** Default 8545; 0 picks any free port. */
  port?: number;
  /** Progress and warnings, one line each; default: stderr. */
  log?: (line: string) => void;
}

export interface LocalNode {
  /** The JSON-RPC URL to use (the proxy). */
  url: string;
  chainId: bigint;
  /** Registry address. */
  registry: string;
  deployBlock: number;
  /** Journal entries replayed at start. */
  replayed: number;
  /** Settles once the node is down: null after stop(), an error if its internal node died. */
  closed: Promise<Error | null>;
  stop(): Promise<void>;
}

export interface LocalDeployment {
  rpcUrl: string;
  chainId: bigint;
  registry: string;
  deployBlock: number;
}

/** The node directory inside a data directory. */
export function nodeDir(dataDir: string): string {
  return path.join(path.resolve(dataDir), "node");
}

/** Where the local registry is (as written by the last `pkg node` start), or null if none was ever deployed. */
export async function readLocalDeployment(dataDir: string): Promise<LocalDeployment | null> {
  const record = await readDeploymentFile(nodeDir(dataDir));
  return record && { rpcUrl: record.rpcUrl, chainId: record.chainId, registry: record.registry, deployBlock: record.deployBlock };
}

function checkOptions(options: LocalNodeOptions): { host: string; port: number } {
  const host = options.host === undefined || options.host === "localhost" ? "127.0.0.1" : options.host;
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) && host !== "::1") {
    throw new NodeError(ERR_NODE_INVALID_OPTION, `the pkg node listens on loopback addresses only, not on ${host}`, {
      details: { host },
      hint: "its dev accounts sign for anyone who can reach it; use 127.0.0.1 (the default)",
    });
  }
  const port = options.port ?? 8545;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new NodeError(ERR_NODE_INVALID_OPTION, `invalid port ${port}`, { details: { port }, hint: "use 0..65535 (0 = any free port)" });
  }
  return { host, port };
}

/** Fails fast, before a long replay, when the port is taken. */
async function probePort(host: string, port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const server = createServer();
    server.once("error", (error: NodeJS.ErrnoException) => reject(error.code === "EADDRINUSE" ? portInUse(host, port, error) : error));
    server.listen(port, host, () => server.close(() => resolve()));
  });
}

export async function startLocalNode(options: LocalNodeOptions): Promise<LocalNode> {
  const log = options.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const { host, port } = checkOptions(options);
  const dir = nodeDir(options.dataDir);
  await mkdir(dir, { recursive: true });

  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async () => {
    while (cleanups.length > 0) await cleanups.shift()!().catch(() => undefined);
  };
  const lock = await acquireLock(dir, log);
  cleanups.unshift(() => lock.release());
  try {
    await probePort(host, port);
    const journalFile = path.join(dir, JOURNAL_FILE);
    const journal = await loadJournal(journalFile, log);

    const internal = await startInternalNode(dir);
    cleanups.unshift(() => internal.stop());
    const chainId = BigInt(await rpc<string>(internal.url, "eth_chainId"));
    const genesis = await getHead(internal.url, 0);
    if (journal.header && (journal.header.genesis !== genesis.hash || BigInt(journal.header.chainId) !== chainId)) {
      throw new NodeError(
        ERR_NODE_REPLAY_DIVERGED,
        `journal ${journalFile}: it starts from genesis ${journal.header.genesis} on chain ${journal.header.chainId}, ` +
          `but the internal node's genesis is ${genesis.hash} on chain ${chainId}`,
        {
          details: { file: journalFile, line: 1, expected: journal.header, actual: { genesis: genesis.hash, chainId: String(chainId) } },
          hint: "the Hardhat version or the node configuration changed; run the pkg version that wrote the journal, or move the node directory away to start a new chain",
        },
      );
    }
    if (journal.entries.length > 0) {
      const started = Date.now();
      log(`replaying ${journal.entries.length} journal entries from ${journalFile}`);
      await replayJournal(internal.url, journalFile, journal.entries, log);
      log(`replayed ${journal.entries.length} journal entries in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }

    const writer = await JournalWriter.open(journalFile, journal.size);
    cleanups.unshift(() => writer.close());
    if (!journal.header) {
      const header: JournalHeader = {
        journal: "pkg-node",
        version: JOURNAL_VERSION,
        chainId: String(chainId),
        genesis: genesis.hash,
        initialDate: INITIAL_DATE,
      };
      await writer.append(header);
      await syncDirectory(dir);
    }

    const proxy = await startProxy({
      host,
      port,
      internalUrl: internal.url,
      journal: writer,
      head: await getHead(internal.url),
      nextSeq: journal.entries.length + 1,
      log,
    });
    cleanups.unshift(() => proxy.close());

    const deployment = await ensureRegistry({ dir, proxyUrl: proxy.url, chainId, entries: journal.entries, log });

    let resolveClosed!: (value: Error | null) => void;
    const closed = new Promise<Error | null>((resolve) => (resolveClosed = resolve));
    let stopping: Promise<void> | null = null;
    const shutdown = (reason: Error | null) => {
      stopping ??= cleanup().then(() => resolveClosed(reason));
      return stopping;
    };
    void internal.exited.then(({ code, signal }) => {
      if (stopping) return;
      const reason = `the internal Hardhat node exited unexpectedly (${signal ?? `code ${code}`})`;
      log(`error: ${reason}; the journal holds every acknowledged change, start pkg node again`);
      proxy.fail(reason);
      void shutdown(new NodeError(ERR_NODE_EXITED, reason, { details: { output: internal.output().slice(-4000) } }));
    });

    log(`pkg node: ${proxy.url} chain ${chainId}, registry ${deployment.registry}` + (journal.entries.length ? `, ${journal.entries.length} journal entries replayed` : ""));
    return {
      url: proxy.url,
      chainId,
      registry: deployment.registry,
      deployBlock: deployment.deployBlock,
      replayed: journal.entries.length,
      closed,
      stop: () => shutdown(null),
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
