/**
 * HTTP as npm and cargo expect it of a registry: strong ETags (the body's sha256) with If-None-Match → 304, gzip
 * when the client accepts it (and the body is worth it), HEAD, JSON 404s, and errors that never leak a stack.
 * Bodies are built whole (packuments, index files: small) or streamed (tarballs, .crate files: verified block by
 * block by the content store as they go out).
 */
import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { gzipSync } from "node:zlib";

/** A whole body and its type. */
export interface Reply {
  status: number;
  type: string;
  body: Uint8Array;
  headers?: Record<string, string>;
  /** Computed once by {@link prepare} for a reply served many times (a packument): its ETag and gzip'd body. */
  etag?: string;
  gzip?: Uint8Array;
}

/** A streamed body (bytes of the content store); its ETag is the content's CID, known before a byte is read. */
export interface StreamReply {
  status: 200;
  type: string;
  etag: string;
  length?: number;
  stream: AsyncIterable<Uint8Array>;
}

export function json(value: unknown, status = 200): Reply {
  return { status, type: "application/json", body: Buffer.from(JSON.stringify(value)) };
}

export function text(value: string, status = 200, type = "text/plain; charset=utf-8"): Reply {
  return { status, type, body: Buffer.from(value) };
}

/** Bodies smaller than this are not compressed (the header costs more than it saves). */
const GZIP_MIN_BYTES = 256;

function acceptsGzip(request: IncomingMessage): boolean {
  return /\bgzip\b/.test(String(request.headers["accept-encoding"] ?? ""));
}

function etagMatches(request: IncomingMessage, etag: string): boolean {
  const header = request.headers["if-none-match"];
  if (header === undefined) return false;
  return header.split(",").some((tag) => tag.trim().replace(/^W\//, "") === etag || tag.trim() === "*");
}

function etagOf(body: Uint8Array): string {
  return `"${createHash("sha256").update(body).digest("base64url")}"`;
}

/**
 * A reply with its ETag and gzip'd body computed now, for replies cached and served many times: a large
 * packument's JSON, hash and gzip cost milliseconds each, on the event loop, per request otherwise.
 */
export function prepare(reply: Reply): Reply {
  return { ...reply, etag: etagOf(reply.body), gzip: reply.body.length >= GZIP_MIN_BYTES ? gzipSync(reply.body, { level: 6 }) : undefined };
}

/** Sends a whole reply: ETag, 304, gzip, HEAD. */
export function sendReply(request: IncomingMessage, response: ServerResponse, reply: Reply): void {
  const etag = reply.etag ?? etagOf(reply.body);
  const headers: Record<string, string> = { "content-type": reply.type, etag, vary: "accept, accept-encoding", ...reply.headers };
  if (reply.status === 200 && etagMatches(request, etag)) {
    response.writeHead(304, { etag, vary: headers.vary });
    response.end();
    return;
  }
  let body = reply.body;
  if (body.length >= GZIP_MIN_BYTES && acceptsGzip(request)) {
    body = reply.gzip ?? gzipSync(body, { level: 6 });
    headers["content-encoding"] = "gzip";
  }
  headers["content-length"] = String(body.length);
  response.writeHead(reply.status, headers);
  response.end(request.method === "HEAD" ? undefined : body);
}

/** Sends content-store bytes as they are verified (no gzip: tarballs and .crate files are compressed already). */
export async function sendStream(request: IncomingMessage, response: ServerResponse, reply: StreamReply): Promise<void> {
  const headers: Record<string, string> = { "content-type": reply.type, etag: reply.etag, "cache-control": "public, max-age=31536000, immutable" };
  if (etagMatches(request, reply.etag)) {
    response.writeHead(304, { etag: reply.etag });
    response.end();
    return;
  }
  if (reply.length !== undefined) headers["content-length"] = String(reply.length);
  if (request.method === "HEAD") {
    response.writeHead(200, headers);
    response.end();
    return;
  }
  // the first block is read (and verified) before the status goes out, so a missing or corrupt block is a clean error
  const iterator = reply.stream[Symbol.asyncIterator]();
  const first = await iterator.next();
  response.writeHead(200, headers);
  if (!first.done) response.write(first.value);
  for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
    if (!response.write(next.value)) await new Promise((resolve) => response.once("drain", resolve));
  }
  response.end();
}
