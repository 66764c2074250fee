/**
 * A real anvil node for tests (devDependency @foundry-rs/anvil, whose binary ships inside the npm package):
 * a child process on a free 127.0.0.1 port, optionally keeping its state in a file across restarts, stopped
 * with SIGINT (anvil writes its state file on shutdown) and then, if it lingers, SIGKILL. Each node is
 * stopped by its own pid; an exit hook stops any node a failed test left running.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { ContractFactory, JsonRpcProvider } from "ethers";
import { Registry__factory } from "../../typechain-types";
import { freePort, rpcAnswers } from "./node";

const ROOT = path.resolve(__dirname, "../..");

export interface AnvilOptions {
  /** Keep the chain in this file: loaded at start, written at stop. */
  stateFile?: string;
  /** Reuse this port (a restart on the same URL). */
  port?: number;
}

export interface RunningAnvil {
  url: string;
  port: number;
  /** Stops the node (SIGINT, so the state file is written) and waits for it to exit. */
  stop(): Promise<void>;
}

/** Anvil's dev account 0 (the same mnemonic as Hardhat's node): funded, unlocked. */
export const ANVIL_DEV_ACCOUNT = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of running) if (child.exitCode === null && child.pid !== undefined) child.kill("SIGKILL");
});

/** The anvil binary of the platform package, or null when it is not installed for this platform. */
export function anvilBinary(): string | null {
  const pkg = `@foundry-rs/anvil-${process.platform}-${process.arch === "x64" ? "amd64" : process.arch}`;
  try {
    const dir = path.dirname(require.resolve(`${pkg}/package.json`, { paths: [ROOT] }));
    const bin = path.join(dir, "bin", process.platform === "win32" ? "anvil.exe" : "anvil");
    return existsSync(bin) ? bin : null;
  } catch {
    return null;
  }
}

/** Why anvil cannot run here, or null when it can (the binary exists and answers --version). */
export function anvilUnavailable(): string | null {
  const bin = anvilBinary();
  if (bin === null) return "the @foundry-rs/anvil binary for this platform is not installed (npm install)";
  const result = spawnSync(bin, ["--version"], { encoding: "utf8", timeout: 10_000 });
  if (result.status !== 0) return `${bin} --version failed: ${result.error?.message ?? result.stderr}`;
  return null;
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
      running.delete(child);
      return resolve();
    }
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.once("exit", () => {
      clearTimeout(timer);
      running.delete(child);
      resolve();
    });
    child.kill("SIGINT");
  });
}

/** Starts anvil (instant mining, chain 31337) and waits until it answers JSON-RPC. */
export async function startAnvil(options: AnvilOptions = {}): Promise<RunningAnvil> {
  const bin = anvilBinary();
  if (bin === null) throw new Error("anvil is not installed");
  const port = options.port ?? (await freePort());
  const args = ["--host", "127.0.0.1", "--port", String(port), "--silent"];
  if (options.stateFile) args.push("--state", options.stateFile);
  const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  let output = "";
  child.stdout?.on("data", (chunk) => (output += chunk));
  child.stderr?.on("data", (chunk) => (output += chunk));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  while (!(await rpcAnswers(url))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stopChild(child);
      throw new Error(`anvil did not start on ${url}:\n${output.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, port, stop: () => stopChild(child) };
}

/** Deploys a Registry from anvil's dev account 0; returns its address and the deployment's block. */
export async function deployRegistry(url: string): Promise<{ registry: string; block: number }> {
  const provider = new JsonRpcProvider(url, 31337, { staticNetwork: true });
  try {
    const factory = new ContractFactory(Registry__factory.abi, Registry__factory.bytecode, await provider.getSigner(ANVIL_DEV_ACCOUNT));
    const deployed = await factory.deploy("0x0000000000000000000000000000000000000000");
    const receipt = await deployed.deploymentTransaction()!.wait();
    return { registry: await deployed.getAddress(), block: receipt!.blockNumber };
  } finally {
    provider.destroy();
  }
}

/** Sends `wei` from anvil's dev account 0 to `to` and waits for it to be mined. */
export async function fund(url: string, to: string, wei: bigint): Promise<void> {
  const provider = new JsonRpcProvider(url, 31337, { staticNetwork: true });
  try {
    const signer = await provider.getSigner(ANVIL_DEV_ACCOUNT);
    await (await signer.sendTransaction({ to, value: wei })).wait();
  } finally {
    provider.destroy();
  }
}
