/**
 * `pkg gateway`: the registry as npm and cargo see one, on 127.0.0.1 by default, reading only the chain and the
 * content store. Read-only in this version: publishing through the gateway (npm publish, cargo publish, yank) is
 * not served (405, with a hint to use `pkg publish` / `pkg mirror`).
 */
import { createServer, type Server } from "node:http";
import { PkgError, isPkgError } from "../errors";
import { createCargoRoutes } from "./cargo";
import { json, sendReply, sendStream, type Reply, type StreamReply } from "./http";
import { createNpmRoutes } from "./npm";
import type { PackageSource } from "./source";

export const ERR_GATEWAY_LISTEN = "ERR_GATEWAY_LISTEN";

export interface GatewayOptions {
  source: PackageSource;
  listen: { host: string; port: number };
  /** Repository of npm packages (default `npm`) and of crates (default `crates`). */
  npmRepository?: string;
  cratesRepository?: string;
  onError?: (error: unknown) => void;
}

export interface RunningRegistryGateway {
  url: string;
  close(): Promise<void>;
}

export async function startGateway(options: GatewayOptions): Promise<RunningRegistryGateway> {
  let base = "";
  let npm: ReturnType<typeof createNpmRoutes> | null = null;
  let cargo: ReturnType<typeof createCargoRoutes> | null = null;

  const server: Server = createServer((request, response) => {
    void (async () => {
      const url = new URL(request.url ?? "/", "http://gateway");
      try {
        if (request.method !== "GET" && request.method !== "HEAD") {
          sendReply(request, response, json({ error: `${request.method} is not served: this gateway is read-only; publish with pkg publish or pkg mirror` }, 405));
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
  npm = createNpmRoutes({ source: options.source, repository: options.npmRepository ?? "npm", base });
  cargo = createCargoRoutes({ source: options.source, repository: options.cratesRepository ?? "crates", base });
  return {
    url: base,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
