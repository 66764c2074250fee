/**
 * Client side of the IPFS Trustless Gateway protocol: blocks (`?format=raw`) and CAR streams
 * (`?format=car`) from other store nodes or public gateways. Nothing a gateway sends is trusted:
 * blocks are verified here, CAR blocks by the importing store.
 */
import type { CID } from "multiformats/cid";
import { isPkgError } from "../errors/index";
import { ContentBackendError, ContentIntegrityError, ContentNotFoundError } from "../errors/content";
import { checkBlock } from "./verify";

/** No legitimate block is bigger: Kubo refuses blocks over 2 MiB (bitswap limit). Anything larger
 * from a gateway is cut off before it fills memory. */
export const MAX_BLOCK_BYTES = 2 * 1024 * 1024;

export interface GatewayFetchOptions {
  signal?: AbortSignal;
  /** Injected for tests and for callers with their own HTTP stack; defaults to global fetch. */
  fetch?: typeof globalThis.fetch;
  /** Per-request timeout in milliseconds (default 30 s). */
  timeoutMs?: number;
}

/** `{gateway}/ipfs/{cid}?format=…`, tolerating a trailing slash on the gateway URL. */
export function gatewayUrl(gateway: string, cid: CID, format: "raw" | "car"): string {
  return `${gateway.replace(/\/+$/, "")}/ipfs/${cid.toString()}?format=${format}`;
}

function requestSignal(options: GatewayFetchOptions): AbortSignal {
  const timeout = AbortSignal.timeout(options.timeoutMs ?? 30_000);
  return options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
}

/** Reads a response body, refusing to hold more than `limit` bytes. */
async function readLimited(response: Response, limit: number): Promise<Uint8Array | undefined> {
  const declared = Number(response.headers.get("content-length") ?? "NaN");
  if (declared > limit) {
    await response.body?.cancel();
    return undefined;
  }
  if (response.body === null) return new Uint8Array(0);
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const part of response.body) {
    total += part.byteLength;
    if (total > limit) {
      await response.body.cancel().catch(() => undefined);
      return undefined;
    }
    parts.push(part);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.byteLength;
  }
  return bytes;
}

type Attempt = { gateway: string; outcome: "not-found" | "corrupt" | "error"; reason?: string };

/**
 * One block from the first gateway that has it, verified against `cid`. Gateways are tried in
 * order; a gateway that sends wrong bytes is skipped like one that has nothing. Throws
 * ERR_CONTENT_INTEGRITY if every answer was corrupt, ERR_CONTENT_NOT_FOUND if every gateway said
 * 404, ERR_CONTENT_BACKEND otherwise; `details.attempts` says what each gateway did.
 */
export async function fetchBlock(gateways: readonly string[], cid: CID, options: GatewayFetchOptions = {}): Promise<Uint8Array> {
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const attempts: Attempt[] = [];
  for (const gateway of gateways) {
    options.signal?.throwIfAborted();
    const url = gatewayUrl(gateway, cid, "raw");
    try {
      const response = await fetchImpl(url, {
        headers: { accept: "application/vnd.ipld.raw" },
        signal: requestSignal(options),
      });
      if (response.status === 404 || response.status === 410) {
        await response.body?.cancel();
        attempts.push({ gateway, outcome: "not-found" });
        continue;
      }
      if (response.status !== 200) {
        await response.body?.cancel();
        attempts.push({ gateway, outcome: "error", reason: `HTTP ${response.status}` });
        continue;
      }
      const bytes = await readLimited(response, MAX_BLOCK_BYTES);
      if (bytes === undefined) {
        attempts.push({ gateway, outcome: "corrupt", reason: `larger than ${MAX_BLOCK_BYTES} bytes` });
        continue;
      }
      await checkBlock(cid, bytes, url);
      return bytes;
    } catch (error) {
      if (options.signal?.aborted) throw error;
      if (error instanceof ContentIntegrityError) {
        attempts.push({ gateway, outcome: "corrupt", reason: error.message });
      } else if (isPkgError(error)) {
        throw error; // e.g. an unsupported hash function: no other gateway can help
      } else {
        attempts.push({ gateway, outcome: "error", reason: String(error) });
      }
    }
  }
  const details = { attempts };
  if (attempts.length > 0 && attempts.every((attempt) => attempt.outcome === "corrupt")) {
    throw new ContentIntegrityError(cid.toString(), `every gateway: ${attempts.map((a) => a.gateway).join(", ")}`, { details });
  }
  if (attempts.every((attempt) => attempt.outcome === "not-found")) {
    throw new ContentNotFoundError(cid.toString(), { details });
  }
  throw new ContentBackendError(`no gateway could serve ${cid.toString()}`, {
    details: { cid: cid.toString(), ...details },
    hint: "check that the configured gateways are reachable",
  });
}

/**
 * The DAG under `cid` as a CAR stream from one gateway (`dag-scope=all`, DFS, no duplicates).
 * The stream is not verified here: pass it to ContentStore.importCar, which checks every block.
 */
export async function* fetchCar(gateway: string, cid: CID, options: GatewayFetchOptions = {}): AsyncGenerator<Uint8Array> {
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const url = gatewayUrl(gateway, cid, "car");
  const response = await fetchImpl(url, {
    headers: { accept: "application/vnd.ipld.car; version=1; order=dfs; dups=n" },
    signal: options.signal,
  });
  if (response.status === 404) {
    await response.body?.cancel();
    throw new ContentNotFoundError(cid.toString(), { details: { gateway } });
  }
  if (response.status !== 200 || response.body === null) {
    await response.body?.cancel();
    throw new ContentBackendError(`${url} answered HTTP ${response.status}`, { details: { cid: cid.toString(), gateway } });
  }
  yield* response.body;
}
