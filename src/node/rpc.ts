/**
 * Minimal JSON-RPC over HTTP for talking to the internal Hardhat node: raw forwarding (the proxy returns
 * the node's bytes unchanged) and typed single calls (replay, bookkeeping). No ethers here: the proxy must
 * not reinterpret what it forwards.
 */

export interface RpcRequest {
  jsonrpc?: string;
  id?: unknown;
  method: string;
  params?: unknown;
}

export interface RpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

export interface RpcResponse {
  jsonrpc: "2.0";
  id: unknown;
  result?: unknown;
  error?: RpcErrorObject;
}

export interface RawResponse {
  status: number;
  contentType: string;
  text: string;
}

/** A failed call to the internal node (an error answer, not a transport failure). */
export class RpcCallError extends Error {
  readonly code: number;
  readonly data: unknown;
  constructor(method: string, error: RpcErrorObject) {
    super(`${method}: ${error.message}`);
    this.name = "RpcCallError";
    this.code = error.code;
    this.data = error.data;
  }
}

/** POSTs a JSON body and returns the answer as it came. Throws only on transport failures. */
export async function postRaw(url: string, body: string, timeoutMs = 300_000): Promise<RawResponse> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  return { status: response.status, contentType: response.headers.get("content-type") ?? "application/json", text };
}

let nextId = 1;

/** One JSON-RPC call; the whole response object (result or error). */
export async function call(url: string, method: string, params?: unknown): Promise<RpcResponse> {
  const request: RpcRequest = { jsonrpc: "2.0", id: nextId++, method };
  if (params !== undefined) request.params = params;
  const raw = await postRaw(url, JSON.stringify(request));
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.text);
  } catch {
    throw new Error(`${method}: the node answered HTTP ${raw.status} with non-JSON: ${raw.text.slice(0, 200)}`);
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new Error(`${method}: unexpected answer ${raw.text.slice(0, 200)}`);
  }
  return parsed as RpcResponse;
}

/** One JSON-RPC call that must succeed; its result. */
export async function rpc<T>(url: string, method: string, params?: unknown): Promise<T> {
  const response = await call(url, method, params);
  if (response.error) throw new RpcCallError(method, response.error);
  return response.result as T;
}

export interface BlockHead {
  number: number;
  hash: string;
  timestamp: number;
}

interface RawBlock {
  number: string;
  hash: string;
  timestamp: string;
}

export function toHead(block: RawBlock): BlockHead {
  return { number: Number(BigInt(block.number)), hash: block.hash, timestamp: Number(BigInt(block.timestamp)) };
}

/** The latest block (or a given one) as number, hash and timestamp. */
export async function getHead(url: string, tag: number | "latest" = "latest"): Promise<BlockHead> {
  const param = tag === "latest" ? tag : `0x${tag.toString(16)}`;
  const block = await rpc<RawBlock | null>(url, "eth_getBlockByNumber", [param, false]);
  if (!block) throw new Error(`block ${tag} does not exist`);
  return toHead(block);
}
