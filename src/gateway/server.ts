/**
 * `pkg gateway`: the registry as npm and cargo see one, on 127.0.0.1 by default, reading only the chain and the
 * content store. With `write` (the CLI's --write), `npm publish` and `npm deprecate` go through it to the chain
 * (src/gateway/publish.ts), and cargo publish, yank and unyank (src/gateway/cargo-publish.ts), guarded by a token;
 * without, writes get 405.
 */
import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { PkgError, isPkgError } from "../errors";
import { createCargoRoutes } from "./cargo";
import { json, sendReply, sendStream, type Reply, type StreamReply } from "./http";
import { createNpmRoutes, parseNpmPath } from "./npm";
import { createNpmPublisher } from "./publish";
import { cargoError, createCargoPublisher } from "./cargo-publish";
import type { PackageSource } from "./source";
import { createPackCache } from "./pack";

export const ERR_GATEWAY_LISTEN = "ERR_GATEWAY_LISTEN";

/** npm's own limit on a package is about 100 MB packed; its base64 body a third more. */
const MAX_PUT_BYTES = 160 * 1024 * 1024;

export interface GatewayOptions {
  source: PackageSource;
  /**
   * Writes (npm publish, npm deprecate): the signing client, the content store to add to, and the token clients
   * must send (`Authorization: Bearer TOKEN`). Absent: read-only, writes get 405.
   */
  write?: { client: Parameters<typeof createNpmPublisher>[0]["client"]; content: Parameters<typeof createNpmPublisher>[0]["content"]; token: string };
  listen: { host: string; port: number };
  /** Repository of npm packages (default `npm`) and of crates (default `crates`). */
  npmRepository?: string;
  cratesRepository?: string;
  onError?: (error: unknown) => void;
  /** Something served differently than a client might expect (a native version left out, and why). */
  onWarning?: (message: string) => void;
}

export interface RunningRegistryGateway {
  url: string;
  close(): Promise<void>;
}

export async function startGateway(options: GatewayOptions): Promise<RunningRegistryGateway> {
  let base = "";
  let npm: ReturnType<typeof createNpmRoutes> | null = null;
  let cargo: ReturnType<typeof createCargoRoutes> | null = null;

  const npmRepository = options.npmRepository ?? "npm";
  const publisher = options.write === undefined ? null : createNpmPublisher({ client: options.write.client, content: options.write.content, repository: npmRepository });
  const token = options.write === undefined ? null : Buffer.from(options.write.token);
  // the cargo writer needs the gateway's own index URL (a dependency on this registry is written without one)
  let cargoWriter: ReturnType<typeof createCargoPublisher> | null = null;

  /** Whether the request carries the token: npm sends `Bearer TOKEN`, cargo the bare token. */
  function authorized(request: IncomingMessage): boolean {
    const header = String(request.headers.authorization ?? "");
    const given = Buffer.from(/^Bearer (.+)$/.exec(header)?.[1] ?? header);
    return token !== null && given.length === token.length && timingSafeEqual(given, token);
  }

  /** The body, bounded (over the limit: null). */
  async function readBody(request: IncomingMessage): Promise<Buffer | null> {
    const parts: Buffer[] = [];
    let length = 0;
    for await (const chunk of request as AsyncIterable<Buffer>) {
      length += chunk.length;
      if (length > MAX_PUT_BYTES) return null;
      parts.push(chunk);
    }
    return Buffer.concat(parts);
  }

  /** A write: the token first (before the body is even read), then the body, bounded. */
  async function write(request: IncomingMessage, pathname: string): Promise<Reply> {
    const cargoPath = pathname.startsWith("/api/v1/crates/");
    if (!authorized(request)) {
      request.resume();
      return cargoPath
        ? cargoError(403, "authentication required: pass this gateway's token (cargo publish --token TOKEN, or cargo login)")
        : json({ error: "authentication required: put this gateway's token in .npmrc (//HOST:PORT/:_authToken=TOKEN)" }, 401);
    }
    const tooLarge = `the request is over ${MAX_PUT_BYTES} bytes`;
    if (cargoPath) {
      const reply = await cargoWriter!.handle(request.method ?? "", pathname, async () => (await readBody(request)) ?? Buffer.alloc(0));
      return reply ?? cargoError(404, "no such endpoint");
    }
    const parsed = parseNpmPath(pathname);
    if (request.method !== "PUT" || parsed === null || parsed.file !== null) {
      request.resume();
      return json({ error: "Not found" }, 404);
    }
    const bytes = await readBody(request);
    if (bytes === null) return json({ error: tooLarge }, 413);
    let body: unknown;
    try {
      body = JSON.parse(bytes.toString("utf8"));
    } catch {
      return json({ error: "the body is not JSON" }, 400);
    }
    return publisher!.put(parsed.name, body);
  }

  const server: Server = createServer((request, response) => {
    void (async () => {
      const url = new URL(request.url ?? "/", "http://gateway");
      try {
        if ((request.method === "PUT" || request.method === "DELETE") && publisher !== null) {
          sendReply(request, response, await write(request, url.pathname));
          return;
        }
        if (request.method !== "GET" && request.method !== "HEAD") {
          sendReply(request, response, json({ error: `${request.method} is not served: this gateway is read-only (start it with --write to publish through it)` }, 405));
          return;
        }
        const reply: Reply | StreamReply | null =
          (await cargo!.handle(url.pathname)) ?? (await npm!.handle(url.pathname, String(request.headers.accept ?? "")));
        if (reply === null) sendReply(request, response, json({ error: "Not found" }, 404));
        else if ("stream" in reply) await sendStream(request, response, reply);
        else sendReply(request, response, reply);
      } catch (error) {
        options.onError?.(error);
        if (response.headersSent) {
          response.destroy(); // a body cut short: the client's integrity check fails rather than trusting half a file
          return;
        }
        const status = isPkgError(error) && /^ERR_CONTENT_/.test(error.code) ? 502 : 500;
        sendReply(request, response, json({ error: isPkgError(error) ? `${error.code}: ${error.message}` : "internal error" }, status));
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error) =>
      reject(new PkgError(ERR_GATEWAY_LISTEN, `cannot listen on ${options.listen.host}:${options.listen.port}: ${error.message}`, {
        details: { host: options.listen.host, port: options.listen.port },
        hint: "choose another --listen (the port may be in use)",
        cause: error,
      })),
    );
    server.listen(options.listen.port, options.listen.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : options.listen.port;
  const host = options.listen.host.includes(":") ? `[${options.listen.host}]` : options.listen.host;
  base = `http://${host}:${port}`;
  // native versions published without a registry artifact are packed here, once for npm and cargo alike
  const packs = createPackCache(options.source.content);
  npm = createNpmRoutes({ source: options.source, repository: npmRepository, base, packs, onWarning: options.onWarning });
  cargo = createCargoRoutes({ source: options.source, repository: options.cratesRepository ?? "crates", base, packs, onWarning: options.onWarning });
  if (options.write !== undefined) {
    cargoWriter = createCargoPublisher({ client: options.write.client, content: options.write.content, repository: options.cratesRepository ?? "crates", ownIndex: `sparse+${base}/index/` });
  }
  return {
    url: base,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
