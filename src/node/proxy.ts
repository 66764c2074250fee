/**
 * The JSON-RPC endpoint users talk to: a plain HTTP proxy in front of the internal Hardhat node. Reads are
 * forwarded as they are. State changes go one at a time (journal order = execution order): forwarded, then
 * the head block is read, then the request and what it did are appended to the journal and fsync'd, and
 * only then is the node's answer returned, unchanged; reads wait for the change before them to be on disk. Methods that would make the journal unreplayable
 * (snapshots, reverts, resets, timer mining) are refused with a JSON-RPC error.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { NodeError, ERR_NODE_JOURNAL_WRITE, ERR_NODE_PORT_IN_USE } from "../errors/node";
import type { JournalEntry, JournalWriter } from "./journal";
import { classify, refusal, REFUSED_CODE } from "./methods";
import { getHead, postRaw, type BlockHead, type RawResponse, type RpcRequest, type RpcResponse } from "./rpc";

const MAX_BODY = 128 * 1024 * 1024;
const INTERNAL_ERROR = -32603;

export interface ProxyOptions {
  host: string;
  port: number;
  internalUrl: string;
  journal: JournalWriter;
  /** The internal node's latest block when the proxy starts. */
  head: BlockHead;
  /** Sequence number of the next journal entry. */
  nextSeq: number;
  log: (line: string) => void;
}

export interface Proxy {
  url: string;
  port: number;
  /** State-changing requests journaled since the start. */
  journaled(): number;
  /** Refuses further state changes (the internal node died, or the journal cannot be written). */
  fail(reason: string): void;
  /** Stops listening, lets queued state changes finish, closes all connections. */
  close(): Promise<void>;
}

export function portInUse(host: string, port: number, cause?: unknown): NodeError {
  return new NodeError(ERR_NODE_PORT_IN_USE, `port ${port} on ${host} is already in use: a pkg node (or another chain node) may already be running there`, {
    details: { host, port },
    hint: "use the node that is running, stop it, or start this one on another port (e.g. `pkg node --port 8546`, or port 0 for any free one)",
    cause,
  });
}

function isRequest(value: unknown): value is RpcRequest {
  return !!value && typeof value === "object" && !Array.isArray(value) && typeof (value as RpcRequest).method === "string";
}

function errorBody(id: unknown, code: number, message: string): RpcResponse {
  return { jsonrpc: "2.0", id: id ?? null, error: { code, message } };
}

function json(value: unknown): RawResponse {
  return { status: 200, contentType: "application/json; charset=utf-8", text: JSON.stringify(value) };
}

function hostAllowed(header: string | undefined, own: string): boolean {
  if (header === undefined) return true;
  const name = header.startsWith("[") ? header.slice(0, header.indexOf("]") + 1) : header.split(":")[0];
  return ["127.0.0.1", "localhost", "[::1]", own, `[${own}]`].includes(name.toLowerCase());
}

export async function startProxy(options: ProxyOptions): Promise<Proxy> {
  const { internalUrl, journal, log } = options;
  let head = options.head;
  let seq = options.nextSeq;
  let journaled = 0;
  let failure: string | null = null;
  let closing = false;
  // A first-come read/write gate. State changes run one at a time, each after every request that came
  // before it; reads run side by side, but only after the state change before them is journaled. So the
  // journal order is the execution order, and no reader ever sees a change that a crash could still undo.
  const settled = () => undefined;
  let lastWrite: Promise<void> = Promise.resolve();
  let readsSinceWrite: Promise<void>[] = [];

  function exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = Promise.all([lastWrite, ...readsSinceWrite]).then(task);
    readsSinceWrite = [];
    lastWrite = run.then(settled, settled);
    return run;
  }

  function shared<T>(task: () => Promise<T>): Promise<T> {
    const run = lastWrite.then(task);
    readsSinceWrite.push(run.then(settled, settled));
    return run;
  }

  async function forward(body: string, id: unknown): Promise<RawResponse> {
    try {
      return await postRaw(internalUrl, body);
    } catch (error) {
      return json(errorBody(id, INTERNAL_ERROR, `the local chain's internal node did not answer: ${(error as Error).message}`));
    }
  }

  /** One state-changing request: run it, journal what it did, then answer. */
  function write(request: RpcRequest, body: string): Promise<RawResponse> {
    return exclusive(async () => {
      if (failure !== null) {
        return json(errorBody(request.id, INTERNAL_ERROR, `the pkg node accepts no more changes: ${failure}; restart it (the journal holds everything acknowledged)`));
      }
      const before = head;
      let response: RawResponse;
      try {
        response = await postRaw(internalUrl, body);
      } catch (error) {
        // Unknown whether it ran: the chain in memory may now differ from the journal.
        failure = `a state change got no answer from the internal node (${(error as Error).message})`;
        log(`error: ${failure}`);
        return json(errorBody(request.id, INTERNAL_ERROR, failure));
      }
      let answer: RpcResponse | null = null;
      try {
        const parsed: unknown = JSON.parse(response.text);
        if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) answer = parsed as RpcResponse;
      } catch {
        // not JSON: nothing ran
      }
      const ok = answer !== null && answer.error === undefined && "result" in answer;
      let after: BlockHead;
      let firstTimestamp: number;
      try {
        after = await getHead(internalUrl);
        firstTimestamp = after.number > before.number + 1 ? (await getHead(internalUrl, before.number + 1)).timestamp : after.timestamp;
      } catch (error) {
        failure = `the head block could not be read after ${request.method} (${(error as Error).message})`;
        log(`error: ${failure}`);
        return json(errorBody(request.id, INTERNAL_ERROR, failure));
      }
      const mined = after.number > before.number;
      // Nothing happened: a failed request that mined nothing (bad params, unknown method, rejected tx).
      if (!ok && !mined) return response;

      const entry: JournalEntry = { seq, method: request.method, ok, head: { number: after.number, hash: after.hash } };
      if (request.params !== undefined) entry.params = request.params;
      if (ok) entry.result = answer!.result;
      else if (answer?.error) {
        const txHash = (answer.error.data as { txHash?: unknown } | undefined)?.txHash;
        entry.error = { code: answer.error.code, message: String(answer.error.message) };
        if (typeof txHash === "string") entry.error.txHash = txHash;
      }
      if (mined) entry.mined = { from: before.number + 1, timestamp: firstTimestamp };
      try {
        await journal.append(entry);
      } catch (error) {
        failure = `the journal ${journal.file} could not be written (${(error as Error).message})`;
        log(`error: ${failure}`);
        const refused = new NodeError(ERR_NODE_JOURNAL_WRITE, failure);
        return json(errorBody(request.id, INTERNAL_ERROR, `${refused.message}; this change is not persisted and the node accepts no more changes: restart it`));
      }
      seq++;
      journaled++;
      head = after;
      return response;
    });
  }

  async function one(request: RpcRequest, body: string): Promise<RawResponse> {
    switch (classify(request.method, request.params)) {
      case "read":
        return shared(() => forward(body, request.id));
      case "refused":
        return json(errorBody(request.id, REFUSED_CODE, refusal(request.method, request.params)!));
      case "write":
        return write(request, body);
    }
  }

  async function batch(items: unknown[]): Promise<RawResponse> {
    const out: unknown[] = [];
    for (const item of items) {
      const body = JSON.stringify(item);
      const response = isRequest(item) ? await one(item, body) : await shared(() => forward(body, null));
      try {
        out.push(JSON.parse(response.text));
      } catch {
        out.push(errorBody(isRequest(item) ? item.id : null, INTERNAL_ERROR, `HTTP ${response.status}: ${response.text.slice(0, 200)}`));
      }
    }
    return json(out);
  }

  async function route(body: string): Promise<RawResponse> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return forward(body, null); // the node answers with its parse error
    }
    if (Array.isArray(parsed)) {
      const readOnly = parsed.every((item) => !isRequest(item) || classify(item.method, item.params) === "read");
      return readOnly ? shared(() => forward(body, null)) : batch(parsed);
    }
    return isRequest(parsed) ? one(parsed, body) : shared(() => forward(body, null));
  }

  function reply(res: ServerResponse, response: RawResponse): void {
    res.writeHead(response.status, { "content-type": response.contentType });
    res.end(response.text);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const plain = (status: number, text: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "content-type": "text/plain; charset=utf-8", ...headers });
      res.end(`${text}\n`);
    };
    if (!hostAllowed(req.headers.host, options.host)) return plain(403, "forbidden host: the pkg node answers on 127.0.0.1 / localhost only");
    if (req.method !== "POST") return plain(405, "the pkg node speaks JSON-RPC over HTTP POST", { allow: "POST" });
    const type = String(req.headers["content-type"] ?? "").toLowerCase();
    if (!type.startsWith("application/json")) return plain(415, "invalid content type, only application/json is supported");
    if (closing) return plain(503, "the pkg node is stopping");

    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY) return plain(413, `request larger than ${MAX_BODY} bytes`);
      chunks.push(chunk as Buffer);
    }
    reply(res, await route(Buffer.concat(chunks).toString("utf8")));
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      log(`error: the proxy failed on a request: ${(error as Error).stack ?? String(error)}`);
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end();
    });
  });
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(error.code === "EADDRINUSE" ? portInUse(options.host, options.port, error) : error),
    );
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = options.host.includes(":") ? `[${options.host}]` : options.host;

  return {
    url: `http://${urlHost}:${port}`,
    port,
    journaled: () => journaled,
    fail(reason) {
      failure ??= reason;
    },
    async close() {
      closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await Promise.all([lastWrite, ...readsSinceWrite]);
      server.closeAllConnections();
      await closed;
    },
  };
}
