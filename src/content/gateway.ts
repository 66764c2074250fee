/**
 * Server side of the IPFS Trustless Gateway protocol (specs.ipfs.tech/http-gateways/trustless-gateway):
 * how store nodes hand each other blocks and DAGs over plain HTTP.
 *
 *   GET|HEAD /ipfs/{cid}?format=raw   one block            application/vnd.ipld.raw
 *   GET|HEAD /ipfs/{cid}?format=car   the DAG as CARv1     application/vnd.ipld.car; version=1; order=dfs; dups=n
 *
 * The format comes from `?format=` or, failing that, the Accept header (the query wins, as the
 * spec says). Only local blocks are served (a non-recursive gateway): the store is always read
 * with `offline`, so a request can never make this node fetch from elsewhere, and two nodes
 * configured as each other's gateways cannot loop. Supported CAR options: `dag-scope=all|block`,
 * `dups=y|n` (via `car-dups` or the Accept parameter), `order=dfs`; content paths, `entity-bytes`
 * and IPNS are not implemented and are answered 400/501.
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { CID } from "multiformats/cid";
import { isPkgError } from "../errors/index";
import { carContentType } from "./car";
import type { ContentStore } from "./types";

const RAW = "application/vnd.ipld.raw";
const CAR = "application/vnd.ipld.car";
const IMMUTABLE = "public, max-age=29030400, immutable";

/** What the server needs of a store. */
export type GatewaySource = Pick<ContentStore, "getBlock" | "hasBlock" | "exportCar">;

interface CarParams {
  dups: boolean;
  scope: "all" | "block";
}

type Negotiated =
  | { kind: "raw" }
  | { kind: "car"; params: CarParams }
  | { kind: "error"; status: number; message: string };

class HttpProblem extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Media ranges of an Accept header, in the client's order of preference (by q, stable). */
function parseAccept(header: string | undefined): Array<{ type: string; params: Map<string, string> }> {
  if (!header) return [];
  const ranges = header.split(",").map((part, index) => {
    const [type, ...rawParams] = part.split(";").map((piece) => piece.trim());
    const params = new Map<string, string>();
    for (const param of rawParams) {
      const eq = param.indexOf("=");
      if (eq > 0) params.set(param.slice(0, eq).trim().toLowerCase(), param.slice(eq + 1).trim().replace(/^"|"$/g, ""));
    }
    const q = Number(params.get("q") ?? "1");
    return { type: type.toLowerCase(), params, q: Number.isFinite(q) ? q : 0, index };
  });
  return ranges.filter((range) => range.q > 0).sort((a, b) => b.q - a.q || a.index - b.index);
}

function carParams(url: URL, accepted: Map<string, string>): CarParams {
  const version = url.searchParams.get("car-version") ?? accepted.get("version") ?? "1";
  if (version !== "1") throw new HttpProblem(400, `unsupported CAR version ${version}: only version=1 is served`);
  const order = url.searchParams.get("car-order") ?? accepted.get("order") ?? "dfs";
  if (order !== "dfs" && order !== "unk") throw new HttpProblem(400, `unsupported CAR order ${order}: only order=dfs is served`);
  const dups = url.searchParams.get("car-dups") ?? accepted.get("dups") ?? "n";
  if (dups !== "y" && dups !== "n") throw new HttpProblem(400, `invalid CAR dups ${dups}: expected y or n`);
  const scope = url.searchParams.get("dag-scope") ?? "all";
  if (scope !== "all" && scope !== "block") {
    throw new HttpProblem(400, `dag-scope=${scope} is not supported by this gateway (all, block)`);
  }
  if (url.searchParams.has("entity-bytes")) throw new HttpProblem(400, "entity-bytes is not supported by this gateway");
  return { dups: dups === "y", scope };
}

function negotiate(url: URL, accept: string | undefined): Negotiated {
  const ranges = parseAccept(accept);
  const format = url.searchParams.get("format");
  if (format !== null) {
    if (format === "raw") return { kind: "raw" };
    if (format === "car") return { kind: "car", params: carParams(url, ranges.find((r) => r.type === CAR)?.params ?? new Map()) };
    return { kind: "error", status: 400, message: `unsupported format ${JSON.stringify(format)}: this trustless gateway serves raw and car` };
  }
  for (const range of ranges) {
    if (range.type === RAW) return { kind: "raw" };
    if (range.type === CAR) return { kind: "car", params: carParams(url, range.params) };
  }
  // Strict trustless mode: no deserialized responses exist to fall back to.
  return { kind: "error", status: 400, message: `request a verifiable response: ?format=raw|car or Accept: ${RAW} | ${CAR}` };
}

function sendText(res: ServerResponse, status: number, message: string, head: boolean): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "x-content-type-options": "nosniff" });
  res.end(head ? undefined : `${message}\n`);
}

function etagMatches(req: IncomingMessage, etag: string): boolean {
  const header = req.headers["if-none-match"];
  return header !== undefined && header.split(",").some((tag) => tag.trim() === etag || tag.trim() === "*");
}

async function handle(source: GatewaySource, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const head = req.method === "HEAD";
  if (req.method !== "GET" && !head) {
    res.setHeader("allow", "GET, HEAD");
    return sendText(res, 405, "only GET and HEAD are supported", false);
  }
  const url = new URL(req.url ?? "/", "http://gateway.invalid");
  const match = /^\/ipfs\/([^/]+)(\/.*)?$/.exec(url.pathname);
  if (match === null) return sendText(res, 404, "not found: this gateway serves /ipfs/{cid}", head);

  let cid: CID;
  try {
    cid = CID.parse(decodeURIComponent(match[1]));
  } catch {
    return sendText(res, 400, `invalid CID ${JSON.stringify(match[1])}`, head);
  }
  let negotiated: Negotiated;
  try {
    negotiated = negotiate(url, req.headers.accept);
  } catch (error) {
    if (error instanceof HttpProblem) return sendText(res, error.status, error.message, head);
    throw error;
  }
  if (negotiated.kind === "error") return sendText(res, negotiated.status, negotiated.message, head);
  const contentPath = match[2] !== undefined && match[2] !== "/" ? match[2] : undefined;
  if (contentPath !== undefined) {
    return negotiated.kind === "raw"
      ? sendText(res, 400, "block requests take no content path: request /ipfs/{cid}", head)
      : sendText(res, 501, "content paths in CAR requests are not implemented by this gateway", head);
  }

  const onlyIfCached = /\bonly-if-cached\b/.test(req.headers["cache-control"] ?? "");
  if (!(await source.hasBlock(cid))) {
    return sendText(res, onlyIfCached ? 412 : 404, `${cid.toString()} is not held by this gateway`, head);
  }
  const common = {
    "cache-control": IMMUTABLE,
    "x-content-type-options": "nosniff",
    "x-ipfs-path": `/ipfs/${cid.toString()}`,
    vary: "Accept",
  };

  if (negotiated.kind === "raw") {
    const etag = `"${cid.toString()}.raw"`;
    const headers = {
      ...common,
      "content-type": RAW,
      "content-disposition": `attachment; filename="${cid.toString()}.bin"`,
      etag,
      ...(url.searchParams.has("format") ? {} : { "content-location": `/ipfs/${cid.toString()}?format=raw` }),
    };
    if (etagMatches(req, etag)) {
      res.writeHead(304, headers);
      return void res.end();
    }
    // Read (and verify) before the status line: a corrupt local block must not go out as 200.
    const bytes = await source.getBlock(cid, { offline: true });
    res.writeHead(200, { ...headers, "content-length": String(bytes.byteLength) });
    res.end(head ? undefined : bytes);
    return;
  }

  const { params } = negotiated;
  const etag = `"${cid.toString()}.car.${params.scope}.dfs.${params.dups ? "y" : "n"}"`;
  const headers = {
    ...common,
    "content-type": carContentType({ dups: params.dups }),
    "content-disposition": `attachment; filename="${cid.toString()}.car"`,
    etag,
    ...(url.searchParams.has("format") ? {} : { "content-location": `/ipfs/${cid.toString()}?format=car` }),
  };
  if (etagMatches(req, etag)) {
    res.writeHead(304, headers);
    return void res.end();
  }
  res.writeHead(200, headers);
  if (head) return void res.end();
  const car = source.exportCar(cid, { offline: true, dups: params.dups, scope: params.scope });
  try {
    for await (const chunk of car) {
      if (res.destroyed) return;
      if (!res.write(chunk)) await Promise.race([once(res, "drain"), once(res, "close")]);
    }
    res.end();
  } catch (error) {
    // 200 is already on the wire: the spec's answer to a block missing mid-stream is to cut the
    // stream, leaving a CAR the client will see is incomplete.
    res.destroy(error instanceof Error ? error : new Error(String(error)));
  }
}

/** A request listener serving a store as a trustless gateway; mount it on any node:http server. */
export function createGatewayHandler(source: GatewaySource): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    handle(source, req, res).catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const status = isPkgError(error, "ERR_CONTENT_NOT_FOUND") ? 404 : 500;
      const message = isPkgError(error) ? error.message : "internal error";
      sendText(res, status, message, req.method === "HEAD");
    });
  };
}

/** An http.Server for the gateway, not yet listening. */
export function createGatewayServer(source: GatewaySource): Server {
  return createServer(createGatewayHandler(source));
}

export interface RunningGateway {
  /** Base URL to give to fetchers, e.g. "http://127.0.0.1:40123". */
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** Serves a store on host:port (default 127.0.0.1 and a free port). */
export async function listenGateway(source: GatewaySource, options: { host?: string; port?: number } = {}): Promise<RunningGateway> {
  const host = options.host ?? "127.0.0.1";
  const server = createGatewayServer(source);
  server.listen(options.port ?? 0, host);
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  const hostInUrl = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${hostInUrl}:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
