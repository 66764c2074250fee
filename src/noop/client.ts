/**
 * The no-op `pkg build` client that bin/pkg.js runs before loading oclif: it sends the command line to
 * the store daemon (`noop-build`, answered by src/noop/answer.ts) and prints the answer. Its twin in C
 * is native/pkg-noop.c (bin/pkg runs it without node); both send the same request and print the same
 * trace, so either may answer.
 *
 * On this path: node:fs, node:net, node:path and the light files/dirs.ts only (no node:crypto: the
 * socket is found through the store's `daemon.sock` link, not by hashing).
 * `PKG_TRACE_FASTPATH=1` says on stderr whether the fast path answered and, if not, why.
 */
import { readlinkSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { defaultStoreDir } from "../files/dirs";
import { isNoopEnvName } from "./env";

/** The socket a client reaches the daemon at: `$PKG_STORE_SOCKET`, else where `<store>/daemon.sock` points; null: no daemon has run. */
export function noopSocket(env: NodeJS.ProcessEnv): string | null {
  if (env.PKG_STORE_SOCKET) return path.resolve(env.PKG_STORE_SOCKET);
  const storeDir = defaultStoreDir(env);
  try {
    return path.resolve(storeDir, readlinkSync(path.join(storeDir, "daemon.sock")));
  } catch {
    return null;
  }
}

/** One `noop-build` request; the daemon's result, or null when there is no (usable) answer. */
function ask(socketPath: string, request: Record<string, unknown>): Promise<Record<string, unknown> | null> {
  return new Promise((resolve) => {
    const socket = net.createConnection(socketPath);
    let buffer = "";
    const done = (result: Record<string, unknown> | null) => {
      socket.destroy();
      resolve(result);
    };
    socket.once("error", () => done(null));
    socket.once("close", () => done(null));
    socket.once("connect", () => socket.write(`${JSON.stringify({ id: 1, op: "noop-build", ...request })}\n`));
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      buffer += chunk;
      for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        let message: Record<string, unknown>;
        try {
          message = JSON.parse(line) as Record<string, unknown>;
        } catch {
          return done(null);
        }
        if (message.id !== 1 || typeof message.event === "string") continue;
        return done(message.ok === true && typeof message.result === "object" && message.result !== null ? (message.result as Record<string, unknown>) : null);
      }
    });
  });
}

/**
 * Answers a no-op `pkg build` through the daemon; resolves true when it printed the result (flushed:
 * the process may exit with status 0 at once), false when the full command must run (nothing printed
 * on stdout, nothing written).
 */
export async function noopBuild(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const trace = env.PKG_TRACE_FASTPATH === "1" ? (line: string) => process.stderr.write(`fastpath: ${line}\n`) : () => {};
  const socketPath = noopSocket(env);
  const result = socketPath === null ? null : await ask(socketPath, {
    argv,
    cwd: process.cwd(),
    env: Object.fromEntries(Object.entries(env).filter(([name, value]) => isNoopEnvName(name) && value !== undefined)),
  });
  if (result === null || result.answered !== true || typeof result.stdout !== "string") {
    trace(`full (${result === null ? "no daemon" : String(result.why)})`);
    return false;
  }
  // Resolved once written: the caller may exit at once (process.exit skips a last turn of the event loop).
  await new Promise<void>((resolve) => process.stdout.write(Buffer.from(result.stdout as string, "hex"), () => resolve()));
  trace("no-op");
  if (process.stderr.writableLength > 0) await new Promise((resolve) => process.stderr.once("drain", resolve));
  return true;
}
