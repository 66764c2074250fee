/**
 * `pkg node` (src/node/): a real Hardhat node behind the journaling proxy, restarted on the same data
 * directory. Everything goes over JSON-RPC on 127.0.0.1 with temp data dirs and free ports.
 */
import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, type Server } from "node:net";
import { request as httpRequest } from "node:http";
import { appendFile, cp, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { JsonRpcProvider, Network, type JsonRpcSigner } from "ethers";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { sha256 } from "multiformats/hashes/sha2";
import { Registry__factory } from "../../../typechain-types";
import { createRegistryClient, type PackageRecord, type RegistryClient, type RepositoryRecord } from "../../../src/chain/registry";
import { cidToHex } from "../../../src/chain/cid";
import { hashRepositoryId } from "../../../src/ids";
import { isPkgError, type ErrorCode } from "../../../src/errors";
import {
  ERR_NODE_EXITED,
  ERR_NODE_INVALID_OPTION,
  ERR_NODE_JOURNAL_CORRUPT,
  ERR_NODE_LOCKED,
  ERR_NODE_PORT_IN_USE,
  ERR_NODE_REPLAY_DIVERGED,
  readLocalDeployment,
  startLocalNode,
  type LocalNode,
} from "../../../src/node";

const ROOT = path.resolve(__dirname, "../../..");
const HELLO = { repository: "demo", name: "hello" };
const network = Network.from(31337n);

async function cid(text: string): Promise<string> {
  return CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode(text))).toString();
}

async function rejectsWith(promise: Promise<unknown>, code: ErrorCode): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    expect(isPkgError(error, code), `expected ${code}, got ${(error as Error).stack}`).to.equal(true);
    return error as Error;
  }
  throw new Error(`expected ${code}, but it succeeded`);
}

async function waitFor(what: string, condition: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Pids of internal Hardhat nodes started for a data dir (found by their generated config path). */
async function hardhatPids(dataDir: string): Promise<number[]> {
  const config = path.join(dataDir, "node", "hardhat-node.config.cjs");
  const pids: number[] = [];
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const cmdline = await readFile(`/proc/${name}/cmdline`, "utf8").catch(() => "");
    if (cmdline.includes(config)) pids.push(Number(name));
  }
  return pids;
}

async function rpcRaw(url: string, body: unknown): Promise<unknown> {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return response.json();
}

function journalLines(text: string): string[] {
  return text.split("\n").filter((line) => line.length > 0);
}

async function allBlockHashes(provider: JsonRpcProvider, upTo: number): Promise<string[]> {
  return Promise.all(Array.from({ length: upTo + 1 }, async (_, n) => (await provider.getBlock(n))!.hash!));
}

interface Chain {
  provider: JsonRpcProvider;
  alice: JsonRpcSigner;
  client: RegistryClient;
  close(): void;
}

async function connect(node: { url: string; registry: string }): Promise<Chain> {
  const provider = new JsonRpcProvider(node.url, network, { staticNetwork: network });
  provider.pollingInterval = 100;
  const alice = await provider.getSigner(1);
  const client = createRegistryClient({ rpcUrl: node.url, address: node.registry, signer: alice, expectedChainId: 31337n });
  return {
    provider,
    alice,
    client,
    close() {
      client.close();
      provider.destroy();
    },
  };
}

describe("pkg node: a local chain persisted by journal and replay", function () {
  this.timeout(120_000);
  const temps: string[] = [];
  const running: LocalNode[] = [];

  async function tempDir(): Promise<string> {
    const dir = await mkdtemp(path.join(tmpdir(), "pkg-node-test-"));
    temps.push(dir);
    return dir;
  }

  async function start(dataDir: string, log: string[] = []): Promise<LocalNode> {
    const node = await startLocalNode({ dataDir, port: 0, log: (line) => log.push(line) });
    running.push(node);
    return node;
  }

  /** A copy of the base data directory (as left by a clean stop). */
  async function copyOfBase(): Promise<string> {
    const dir = await tempDir();
    await cp(base.dir, dir, { recursive: true });
    return dir;
  }

  // The chain every test starts from: deployed, a repository, a package, versions, a yank, time travel,
  // mined empty blocks, a balance change and a transaction that reverted (Hardhat mines those too).
  const base = {
    dir: "",
    url: "",
    registry: "",
    deployBlock: 0,
    firstStartLog: [] as string[],
    registryCode: "",
    blockNumber: 0,
    hashes: [] as string[],
    pkg: null as PackageRecord | null,
    repo: null as RepositoryRecord | null,
    entries: 0,
  };

  before(async () => {
    base.dir = await tempDir();
    const node = await start(base.dir, base.firstStartLog);
    Object.assign(base, { url: node.url, registry: node.registry, deployBlock: node.deployBlock });
    const chain = await connect(node);
    try {
      base.registryCode = await chain.provider.getCode(node.registry);
      const { client, provider, alice } = chain;
      await client.createRepository("demo", false);
      await client.registerPackage(HELLO);
      await client.publish(HELLO, "1.0.0", await cid("meta 1.0.0"), await cid("src 1.0.0"));
      await client.publish(HELLO, "1.1.0", await cid("meta 1.1.0"), await cid("src 1.1.0"));
      await provider.send("evm_increaseTime", [3600]);
      await provider.send("hardhat_mine", ["0x3", "0x3c"]);
      await provider.send("hardhat_setBalance", [await (await provider.getSigner(2)).getAddress(), "0x56bc75e2d63100000"]);
      // Publishing 1.0.0 again reverts; with a fixed gas limit Hardhat still mines it (and answers an error).
      const data = Registry__factory.createInterface().encodeFunctionData("publish", [
        hashRepositoryId("demo"),
        "hello",
        "1.0.0",
        cidToHex(await cid("other meta")),
        cidToHex(await cid("other src")),
      ]);
      const blockNumber = async () => Number(await provider.send("eth_blockNumber", []));
      const before = await blockNumber();
      let reverted = false;
      await alice.sendTransaction({ to: node.registry, data, gasLimit: 400_000 }).catch(() => (reverted = true));
      expect(reverted).to.equal(true);
      expect(await blockNumber()).to.equal(before + 1);
      await client.setYanked(HELLO, "1.0.0", true);
      await client.publish(HELLO, "1.2.0", await cid("meta 1.2.0"), await cid("src 1.2.0"));

      base.blockNumber = await blockNumber();
      base.hashes = await allBlockHashes(provider, base.blockNumber);
      base.pkg = await client.getPackage(HELLO);
      base.repo = await client.getRepository("demo");
    } finally {
      chain.close();
    }
    await node.stop();
    base.entries = journalLines(await readFile(path.join(base.dir, "node", "journal.ndjson"), "utf8")).length - 1;
  });

  after(async () => {
    for (const node of running) await node.stop().catch(() => undefined);
    for (const dir of temps) await rm(dir, { recursive: true, force: true });
  });

  it("deploys the registry on first start, through the journal, and records it in deployment.json", async () => {
    expect(base.url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(base.registryCode).to.not.equal("0x");
    expect(base.firstStartLog.join("\n")).to.match(/deployed the registry/);
    const dir = path.join(base.dir, "node");
    const record = JSON.parse(await readFile(path.join(dir, "deployment.json"), "utf8")) as Record<string, unknown>;
    expect(record).to.include({ rpcUrl: base.url, chainId: 31337, registry: base.registry, deployBlock: base.deployBlock });
    expect(record.deployTx).to.match(/^0x[0-9a-f]{64}$/);
    expect(await readLocalDeployment(base.dir)).to.deep.equal({ rpcUrl: base.url, chainId: 31337n, registry: base.registry, deployBlock: base.deployBlock });
    expect(await readLocalDeployment(await tempDir())).to.equal(null);

    const lines = journalLines(await readFile(path.join(dir, "journal.ndjson"), "utf8")).map((line) => JSON.parse(line));
    expect(lines[0]).to.include({ journal: "pkg-node", chainId: "31337" });
    expect(lines[1]).to.include({ seq: 1, method: "eth_sendTransaction", ok: true, result: record.deployTx });
    const failed = lines.find((entry) => entry.ok === false);
    expect(failed, "the reverted transaction is journaled").to.include({ method: "eth_sendTransaction" });
    expect(failed.mined).to.be.an("object");
    // the lock is gone after a clean stop
    await rejectsWithCode(stat(path.join(dir, "node.lock")), "ENOENT");
  });

  it("restarts on the same data dir with the same registry, packages, block numbers and block hashes; writes continue", async () => {
    const dataDir = await copyOfBase();
    const log: string[] = [];
    let node = await start(dataDir, log);
    expect(node.registry).to.equal(base.registry);
    expect(node.deployBlock).to.equal(base.deployBlock);
    expect(node.replayed).to.equal(base.entries);
    expect(log.join("\n")).to.not.match(/deployed the registry/);
    expect((await readLocalDeployment(dataDir))?.rpcUrl).to.equal(node.url);

    let chain = await connect(node);
    try {
      expect(Number(await chain.provider.send("eth_blockNumber", []))).to.equal(base.blockNumber);
      expect(await allBlockHashes(chain.provider, base.blockNumber)).to.deep.equal(base.hashes);
      expect(await chain.client.getPackage(HELLO)).to.deep.equal(base.pkg);
      expect(await chain.client.getRepository("demo")).to.deep.equal(base.repo);
      expect(base.pkg!.versions.map((v) => [v.version, v.yanked])).to.deep.equal([
        ["1.2.0", false],
        ["1.1.0", false],
        ["1.0.0", true],
      ]);

      // Writes continue with the right nonces, from the publisher and from the deployer.
      await chain.client.publish(HELLO, "2.0.0", await cid("meta 2.0.0"), await cid("src 2.0.0"));
      const deployer = createRegistryClient({ rpcUrl: node.url, address: node.registry, signer: await chain.provider.getSigner(0) });
      await deployer.createRepository("second", true);
      deployer.close();
      expect((await chain.client.getPackage(HELLO))!.versions[0].version).to.equal("2.0.0");
    } finally {
      chain.close();
    }
    await node.stop();

    // And what was written after a replay replays too.
    node = await start(dataDir);
    expect(node.replayed).to.equal(base.entries + 2);
    chain = await connect(node);
    try {
      expect((await chain.client.getPackage(HELLO))!.versions.map((v) => v.version)).to.deep.equal(["2.0.0", "1.2.0", "1.1.0", "1.0.0"]);
      expect(await chain.client.getRepository("second")).to.include({ curated: true });
      expect(await allBlockHashes(chain.provider, base.blockNumber)).to.deep.equal(base.hashes);
    } finally {
      chain.close();
    }
    await node.stop();
  });

  it("keeps every acknowledged change when the node's process group is killed with SIGKILL mid-way", async () => {
    const dataDir = await copyOfBase();
    const child: ChildProcess = spawn(
      process.execPath,
      ["-r", "ts-node/register/transpile-only", path.join(__dirname, "run-node.ts"), dataDir],
      { cwd: ROOT, detached: true, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (chunk) => (stdout += chunk));
    child.stderr!.on("data", (chunk) => (stderr += chunk));
    try {
      await waitFor(`the node process to be ready (${stderr})`, () => stdout.includes("\n") || child.exitCode !== null, 90_000);
      expect(stdout, stderr).to.match(/^READY /);
      const ready = JSON.parse(stdout.slice("READY ".length).split("\n")[0]) as { url: string; registry: string };
      expect(ready.registry).to.equal(base.registry);
      expect(await hardhatPids(dataDir)).to.have.length(1);

      // Twelve publishes in flight at once; kill everything as soon as four are acknowledged.
      const iface = Registry__factory.createInterface();
      const from = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"; // dev account 1 (alice)
      const acknowledged: { version: string; hash: string }[] = [];
      const requests = await Promise.all(
        Array.from({ length: 12 }, async (_, i) => {
          const version = `3.0.${i}`;
          const data = iface.encodeFunctionData("publish", [
            hashRepositoryId("demo"),
            "hello",
            version,
            cidToHex(await cid(`meta ${version}`)),
            cidToHex(await cid(`src ${version}`)),
          ]);
          return { version, body: { jsonrpc: "2.0", id: i, method: "eth_sendTransaction", params: [{ from, to: ready.registry, data, gas: "0x100000" }] } };
        }),
      );
      let killed = false;
      const kill = () => {
        if (killed) return;
        killed = true;
        process.kill(-child.pid!, "SIGKILL");
      };
      await Promise.allSettled(
        requests.map(async ({ version, body }) => {
          const answer = (await rpcRaw(ready.url, body)) as { result?: string };
          if (!answer.result) throw new Error(JSON.stringify(answer));
          acknowledged.push({ version, hash: answer.result }); // answered = journaled and fsync'd
          if (acknowledged.length >= 4) kill();
        }),
      );
      kill();
      expect(acknowledged.length).to.be.at.least(4).and.below(12);
      await waitFor("the wrapper to die", () => child.exitCode !== null || child.signalCode !== null);
      // The internal Hardhat node (own process group) notices its parent is gone and exits by itself.
      await waitFor("the orphaned hardhat node to exit", async () => (await hardhatPids(dataDir)).length === 0);

      const log: string[] = [];
      const node = await start(dataDir, log);
      expect(log.join("\n")).to.match(/stale lock/);
      expect(node.registry).to.equal(base.registry);
      const chain = await connect(node);
      try {
        const versions = (await chain.client.getPackage(HELLO))!.versions.map((v) => v.version);
        for (const { version, hash } of acknowledged) {
          expect(versions, `acknowledged ${version}`).to.include(version);
          const receipt = await chain.provider.getTransactionReceipt(hash);
          expect(receipt?.status, `receipt of ${hash}`).to.equal(1);
        }
        expect(await allBlockHashes(chain.provider, base.blockNumber)).to.deep.equal(base.hashes);
        await chain.client.publish(HELLO, "4.0.0", await cid("meta 4.0.0"), await cid("src 4.0.0"));
        expect((await chain.client.getPackage(HELLO))!.versions[0].version).to.equal("4.0.0");
      } finally {
        chain.close();
      }
      await node.stop();
      expect(await hardhatPids(dataDir)).to.deep.equal([]);
    } finally {
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, "SIGKILL");
    }
  });

  it("drops a torn or unreadable last journal line with a warning and recovers", async () => {
    const journalOf = (dir: string) => path.join(dir, "node", "journal.ndjson");
    const original = await readFile(journalOf(base.dir), "utf8");

    const torn = await copyOfBase();
    await appendFile(journalOf(torn), '{"seq":999,"method":"eth_sendTrans');
    const garbled = await copyOfBase();
    await appendFile(journalOf(garbled), "\u0000\u0000 not json\n");

    for (const [dir, why] of [[torn, /incomplete/], [garbled, /not valid JSON/]] as const) {
      const log: string[] = [];
      const node = await start(dir, log);
      expect(log.join("\n")).to.match(/warning: journal .*the last line/).and.match(why);
      expect(node.replayed).to.equal(base.entries);
      expect(await readFile(journalOf(dir), "utf8")).to.equal(original);
      const chain = await connect(node);
      try {
        expect((await chain.provider.getBlock("latest"))!.hash).to.equal(base.hashes[base.blockNumber]);
        await chain.client.publish(HELLO, "5.0.0", await cid("meta 5.0.0"), await cid("src 5.0.0"));
      } finally {
        chain.close();
      }
      await node.stop();
      const lines = journalLines(await readFile(journalOf(dir), "utf8"));
      expect(JSON.parse(lines[lines.length - 1])).to.include({ seq: base.entries + 1 });
    }

    // Damage before the last line is not a crash while writing: refuse.
    const damaged = await copyOfBase();
    const lines = original.split("\n");
    lines[3] = lines[3].slice(0, 20);
    await writeFile(journalOf(damaged), lines.join("\n"));
    const error = await rejectsWith(start(damaged), ERR_NODE_JOURNAL_CORRUPT);
    expect(error.message).to.match(/line 4/);
  });

  it("refuses a journal whose replay diverges, naming the entry, and leaves nothing running", async () => {
    const dataDir = await copyOfBase();
    const file = path.join(dataDir, "node", "journal.ndjson");
    const lines = (await readFile(file, "utf8")).split("\n");
    const index = lines.findIndex((line, i) => i > 1 && line.includes('"method":"eth_sendTransaction"') && line.includes('"ok":true'));
    const entry = JSON.parse(lines[index]) as { seq: number; result: string };
    const forged = entry.result.slice(0, -4) + (entry.result.endsWith("0000") ? "1111" : "0000");
    lines[index] = lines[index].replace(entry.result, forged);
    const edited = lines.join("\n");
    await writeFile(file, edited);

    const error = await rejectsWith(start(dataDir), ERR_NODE_REPLAY_DIVERGED);
    expect(error.message).to.include(`entry ${entry.seq} (line ${index + 1}, eth_sendTransaction)`);
    expect(error.message).to.include(forged);
    expect((error as unknown as { details: Record<string, unknown> }).details).to.include({ seq: entry.seq, line: index + 1, expected: forged });
    expect(await readFile(file, "utf8")).to.equal(edited);
    await rejectsWithCode(stat(path.join(dataDir, "node", "node.lock")), "ENOENT");
    expect(await hardhatPids(dataDir)).to.deep.equal([]);
  });

  it("finds the registry in the journal when deployment.json is lost, and reports the death of its internal node", async () => {
    const dataDir = await copyOfBase();
    await rm(path.join(dataDir, "node", "deployment.json"));
    const log: string[] = [];
    const node = await start(dataDir, log);
    expect(node.registry).to.equal(base.registry);
    expect(node.deployBlock).to.equal(base.deployBlock);
    expect(log.join("\n")).to.match(/found the registry deployed at/).and.not.match(/deployed the registry at/);
    expect(await readLocalDeployment(dataDir)).to.deep.equal({ rpcUrl: node.url, chainId: 31337n, registry: base.registry, deployBlock: base.deployBlock });

    const [pid] = await hardhatPids(dataDir);
    process.kill(pid, "SIGKILL");
    const reason = await node.closed;
    expect(isPkgError(reason, ERR_NODE_EXITED), String(reason)).to.equal(true);
    await rejectsWithCode(stat(path.join(dataDir, "node", "node.lock")), "ENOENT");
    let refused = false;
    await rpcRaw(node.url, { jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }).catch(() => (refused = true));
    expect(refused, "the proxy is closed").to.equal(true);
  });

  describe("one node per data dir, loopback only, persistence-breaking methods refused", () => {
    let node: LocalNode;
    let dataDir: string;

    before(async () => {
      dataDir = await copyOfBase();
      node = await start(dataDir);
    });

    after(async () => node?.stop());

    it("refuses a second node on the same data dir", async () => {
      const error = await rejectsWith(startLocalNode({ dataDir, port: 0, log: () => undefined }), ERR_NODE_LOCKED);
      expect(error.message).to.include(String(process.pid));
      // the running node is unharmed
      expect(await rpcRaw(node.url, { jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] })).to.include({ result: "0x7a69" });
    });

    it("fails with ERR_NODE_PORT_IN_USE when the port is taken", async () => {
      const port = Number(new URL(node.url).port);
      const error = await rejectsWith(startLocalNode({ dataDir: await tempDir(), port, log: () => undefined }), ERR_NODE_PORT_IN_USE);
      expect(error.message).to.include(String(port)).and.match(/already be running/);
      expect((error as unknown as { hint: string }).hint).to.match(/--port/);
      const other: Server = createServer();
      await new Promise<void>((resolve) => other.listen(0, "127.0.0.1", resolve));
      const taken = (other.address() as { port: number }).port;
      await rejectsWith(startLocalNode({ dataDir: await tempDir(), port: taken, log: () => undefined }), ERR_NODE_PORT_IN_USE);
      other.close();
    });

    it("listens on loopback addresses only", async () => {
      await rejectsWith(startLocalNode({ dataDir: await tempDir(), host: "0.0.0.0", port: 0 }), ERR_NODE_INVALID_OPTION);
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpRequest(node.url, { method: "POST", headers: { host: "evil.example:8545", "content-type": "application/json" } }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        });
        req.on("error", reject);
        req.end(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }));
      });
      expect(status).to.equal(403);
      const plain = await fetch(node.url, { method: "POST", headers: { "content-type": "text/plain" }, body: "{}" });
      expect(plain.status).to.equal(415);
    });

    it("refuses evm_snapshot, evm_revert, hardhat_reset and interval mining, alone and in batches", async () => {
      for (const [method, params] of [
        ["evm_snapshot", []],
        ["evm_revert", ["0x1"]],
        ["hardhat_reset", []],
        ["evm_setIntervalMining", [1000]],
      ] as const) {
        const answer = (await rpcRaw(node.url, { jsonrpc: "2.0", id: 7, method, params })) as { id: number; error?: { code: number; message: string } };
        expect(answer.id).to.equal(7);
        expect(answer.error?.code, method).to.equal(-32004);
        expect(answer.error?.message).to.include(method).and.match(/journal/);
      }
      const journal = path.join(dataDir, "node", "journal.ndjson");
      const entriesBefore = journalLines(await readFile(journal, "utf8")).length;
      const answers = (await rpcRaw(node.url, [
        { jsonrpc: "2.0", id: 1, method: "eth_blockNumber", params: [] },
        { jsonrpc: "2.0", id: 2, method: "evm_snapshot", params: [] },
        { jsonrpc: "2.0", id: 3, method: "evm_mine", params: [] },
        { jsonrpc: "2.0", id: 4, method: "eth_blockNumber", params: [] },
      ])) as { id: number; result?: string; error?: { code: number } }[];
      expect(answers.map((a) => a.id)).to.deep.equal([1, 2, 3, 4]);
      expect(answers[1].error?.code).to.equal(-32004);
      expect(Number(answers[3].result)).to.equal(Number(answers[0].result) + 1);
      const lines = journalLines(await readFile(journal, "utf8"));
      expect(lines).to.have.length(entriesBefore + 1);
      expect(JSON.parse(lines[lines.length - 1])).to.include({ method: "evm_mine", ok: true });
      // reads are not journaled; a read-only batch is answered as the node answers it
      const reads = (await rpcRaw(node.url, [
        { jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] },
        { jsonrpc: "2.0", id: 2, method: "eth_getCode", params: [node.registry, "latest"] },
      ])) as { result: string }[];
      expect(reads[0].result).to.equal("0x7a69");
      expect(reads[1].result).to.equal(base.registryCode);
      expect(journalLines(await readFile(journal, "utf8"))).to.have.length(entriesBefore + 1);
    });
  });
});

async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<void> {
  try {
    await promise;
  } catch (error) {
    expect((error as NodeJS.ErrnoException).code).to.equal(code);
    return;
  }
  throw new Error(`expected ${code}`);
}
