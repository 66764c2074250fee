/**
 * `pkg store serve`: the content store as a read-only trustless gateway (src/content/gateway.ts:
 * `/ipfs/{cid}?format=raw|car`, HEAD, 404 for what it does not hold), so that another machine lists it in its
 * `gateways` and fetches what this one published, verifying every block by its CID. Only local blocks are
 * served: a request never makes this node fetch from elsewhere.
 */
import type { ContentStore } from "../content/types";
import { listenGateway, type RunningGateway } from "../content/gateway";
import { PkgError } from "../errors";
import { quoteValue } from "../files/name";

export const ERR_SERVE_LISTEN = "ERR_SERVE_LISTEN";

/** `HOST:PORT` (or a bare port, on 127.0.0.1). @throws PkgError ERR_SERVE_LISTEN. */
export function parseListen(text: string): { host: string; port: number } {
  const match = /^(?:(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):)?(\d{1,5})$/.exec(text);
  const port = match === null ? NaN : Number(match[2]);
  if (match === null || port > 65535) {
    throw new PkgError(ERR_SERVE_LISTEN, `--listen ${quoteValue(text)} is not HOST:PORT`, { details: { listen: text.slice(0, 100) }, hint: "for example --listen 127.0.0.1:8080 (port 0: any free port)" });
  }
  return { host: (match[1] ?? "127.0.0.1").replace(/^\[|\]$/g, ""), port };
}

export async function serveContent(content: Pick<ContentStore, "getBlock" | "hasBlock" | "exportCar">, listen: { host: string; port: number }): Promise<RunningGateway> {
  try {
    return await listenGateway(content, listen);
  } catch (error) {
    throw new PkgError(ERR_SERVE_LISTEN, `cannot listen on ${listen.host}:${listen.port}: ${(error as Error).message}`, {
      details: { host: listen.host, port: listen.port },
      hint: "choose another --listen (the port may be in use)",
      cause: error,
    });
  }
}
