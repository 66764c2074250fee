/**
 * A real local chain for tests: `hardhat node` as a child process on a free 127.0.0.1 port, stopped with
 * its whole process group. No in-process provider: the client under test talks JSON-RPC over HTTP.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { freeLoopbackPort } from "../../src/node/hardhat";

export interface RunningNode {
  url: string;
  port: number;
  stop(): Promise<void>;
}

const ROOT = path.resolve(__dirname, "../..");

/** A free port on 127.0.0.1 (the local node's own finder). */
export const freePort = freeLoopbackPort;

/** Whether a JSON-RPC node answers at `url` (eth_chainId). */
export async function rpcAnswers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
    });
    return response.ok;
  } catch {
    return false;
  }
}

function stopGroup(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.pid === undefined) return resolve();
    child.once("exit", () => resolve());
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      resolve();
    }
  });
}

export async function startHardhatNode(): Promise<RunningNode> {
  const port = await freePort();
  const cli = require.resolve("hardhat/internal/cli/cli.js", { paths: [ROOT] });
  const child = spawn(process.execPath, [cli, "node", "--hostname", "127.0.0.1", "--port", String(port)], {
    cwd: ROOT,
    detached: true, // own process group: stop() takes down every child
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, HARDHAT_DISABLE_TELEMETRY_PROMPT: "true" },
  });
  let output = "";
  child.stdout?.on("data", (chunk) => (output += chunk));
  child.stderr?.on("data", (chunk) => (output += chunk));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  while (!(await rpcAnswers(url))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stopGroup(child);
      throw new Error(`hardhat node did not start on ${url}:\n${output.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, port, stop: () => stopGroup(child) };
}
