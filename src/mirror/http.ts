/**
 * HTTP for importers: bounded bodies, timeouts, a few retries on what is worth retrying (network errors, 429,
 * 5xx), and upstream failures as PkgErrors naming the URL. `fetchImpl` is injectable (tests count requests).
 */
import { PkgError } from "../errors";
import { ERR_MIRROR_UNKNOWN_PACKAGE, ERR_MIRROR_UPSTREAM } from "./errors";


export interface HttpOptions {
  fetchImpl?: typeof fetch;
  headers?: Record<string, string>;
  /** Refuse bodies larger than this (default 256 MiB). */
  maxBytes?: number;
  timeoutMs?: number;
  /** 404 means "no such package": null instead of an error. */
  notFound?: "null" | "error";
  signal?: AbortSignal;
}

const RETRIES = 3;

function upstreamError(url: string, problem: string, cause?: unknown): PkgError {
  return new PkgError(ERR_MIRROR_UPSTREAM, `${url}: ${problem}`, {
    details: { url },
    hint: "check that the registry is reachable (and the URL); the import resumes where it stopped when run again",
    cause,
  });
}

/** GET `url` → its body, or null on 404 when `notFound` is "null". */
export async function httpGet(url: string, options: HttpOptions = {}): Promise<Uint8Array | null> {
  const fetchImpl = options.fetchImpl ?? fetch;
  const maxBytes = options.maxBytes ?? 256 * 1024 * 1024;
  let lastError: unknown = null;
  for (let attempt = 0; attempt < RETRIES; attempt++) {
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 200 * 4 ** (attempt - 1)));
    let response: Response;
    try {
      const timeout = AbortSignal.timeout(options.timeoutMs ?? 120_000);
      response = await fetchImpl(url, { headers: options.headers, signal: options.signal ? AbortSignal.any([options.signal, timeout]) : timeout, redirect: "follow" });
    } catch (error) {
      lastError = upstreamError(url, `request failed (${(error as Error).message})`, error);
      continue;
    }
    if (response.status === 404 || response.status === 410) {
      await response.body?.cancel();
      if (options.notFound === "null") return null;
      throw new PkgError(ERR_MIRROR_UNKNOWN_PACKAGE, `${url}: not found (HTTP ${response.status})`, {
        details: { url, status: response.status },
        hint: "check the name (npm names are case-sensitive; scoped ones are @scope/name)",
      });
    }
    if (response.status === 429 || response.status >= 500) {
      await response.body?.cancel();
      lastError = upstreamError(url, `HTTP ${response.status} ${response.statusText}`);
      continue;
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw upstreamError(url, `HTTP ${response.status} ${response.statusText}`);
    }
    const declared = Number(response.headers.get("content-length") ?? "0");
    if (declared > maxBytes) {
      await response.body?.cancel();
      throw upstreamError(url, `the body is ${declared} bytes, over the limit of ${maxBytes}`);
    }
    const parts: Uint8Array[] = [];
    let length = 0;
    try {
      for await (const chunk of response.body ?? []) {
        length += chunk.length;
        if (length > maxBytes) throw upstreamError(url, `the body is over the limit of ${maxBytes} bytes`);
        parts.push(chunk);
      }
    } catch (error) {
      if (error instanceof PkgError) throw error;
      lastError = upstreamError(url, `reading the body failed (${(error as Error).message})`, error);
      continue;
    }
    return Buffer.concat(parts, length);
  }
  throw lastError as PkgError;
}

/** GET and parse JSON. */
export async function httpGetJson(url: string, options: HttpOptions = {}): Promise<unknown> {
  const body = await httpGet(url, { ...options, headers: { accept: "application/json", ...options.headers } });
  if (body === null) return null;
  try {
    return JSON.parse(Buffer.from(body).toString("utf8"));
  } catch (error) {
    throw upstreamError(url, `the answer is not JSON (${(error as Error).message})`, error);
  }
}
