import { type ChildProcess, execFile, spawn } from "node:child_process";
import { promises as fs } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import hre, { ethers } from "hardhat";
import RegistryModule, { REGISTRY_MODULE_ID } from "../../ignition/modules/Registry";
import { deployRegistry } from "../../scripts/lib/deploy";
import {
  type DeploymentRecord,
  deploymentFile,
  readDeploymentRecord,
  writeDeploymentRecord,
} from "../../scripts/lib/deployments";
import { Registry__factory } from "../../typechain-types";

const ROOT = path.resolve(__dirname, "../..");

async function tempDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), "pkg-deploy-test-"));
}

describe("deployment (ignition/modules/Registry.ts, scripts/lib/deploy.ts)", function () {
  this.timeout(180_000);

  it("the Ignition module deploys a Registry with the importer parameter (zero by default)", async () => {
    const [, alice] = await ethers.getSigners();
    const { registry } = await hre.ignition.deploy(RegistryModule);
    const plain = Registry__factory.connect(await registry.getAddress(), ethers.provider);
    expect(await plain.importer()).to.equal(ethers.ZeroAddress);
    expect(await plain.repositoryCount()).to.equal(0n);

    const { registry: withImporter } = await hre.ignition.deploy(RegistryModule, {
      parameters: { [REGISTRY_MODULE_ID]: { importer: alice.address } },
    });
    expect(await Registry__factory.connect(await withImporter.getAddress(), ethers.provider).importer()).to.equal(
      alice.address,
    );
  });

  it("deployRegistry describes the deployment and writes deployments/<network>.json", async () => {
    const [deployer] = await ethers.getSigners();
    const dir = await tempDir();
    const before = Date.now();
    const { registry, record } = await deployRegistry(hre, { recordIn: dir });

    expect(await registry.getAddress()).to.equal(record.registry);
    expect(await registry.importer()).to.equal(ethers.ZeroAddress);
    expect(record.network).to.equal("hardhat");
    expect(record.chainId).to.equal(31337);
    expect(record.deployer).to.equal(deployer.address);
    expect(record.importer).to.equal(ethers.ZeroAddress);
    expect(record.deploymentId).to.equal(null); // the in-process network keeps no journal

    const receipt = (await ethers.provider.getTransactionReceipt(record.transactionHash))!;
    expect(receipt.contractAddress).to.equal(record.registry);
    expect(receipt.blockNumber).to.equal(record.blockNumber);
    expect(receipt.from).to.equal(deployer.address);
    const block = (await ethers.provider.getBlock(record.blockNumber))!;
    expect(record.deployedAt).to.equal(new Date(block.timestamp * 1000).toISOString());
    expect(Date.parse(record.deployedAt)).to.be.at.least(Math.floor(before / 1000) * 1000 - 60_000);

    const code = await ethers.provider.getCode(record.registry);
    expect(record.contract.name).to.equal("Registry");
    expect(record.contract.codeHash).to.equal(ethers.keccak256(code));
    expect(record.contract.codeHash).to.equal(
      ethers.keccak256((await hre.artifacts.readArtifact("Registry")).deployedBytecode),
    );
    expect(record.contract.compiler).to.equal("0.8.28");
    expect(record.contract.packageVersion).to.match(/^\d+\.\d+\.\d+/);

    const file = path.join(dir, "hardhat.json");
    expect(JSON.parse(await fs.readFile(file, "utf8"))).to.deep.equal(record);
    expect(await readDeploymentRecord(dir, "hardhat")).to.deep.equal(record);
    expect(await fs.readdir(dir)).to.deep.equal(["hardhat.json"]); // no temp file left behind
  });

  it("a second deploy is a new registry and replaces the record", async () => {
    const dir = await tempDir();
    const first = await deployRegistry(hre, { recordIn: dir });
    const second = await deployRegistry(hre, { recordIn: dir });
    expect(second.record.registry).to.not.equal(first.record.registry);
    expect(second.record.blockNumber).to.be.greaterThan(first.record.blockNumber);
    expect((await readDeploymentRecord(dir, "hardhat"))?.registry).to.equal(second.record.registry);
    expect(await fs.readdir(dir)).to.deep.equal(["hardhat.json"]);
  });

  it("deploys with an importer and from another account", async () => {
    const [, alice, bob] = await ethers.getSigners();
    const { registry, record } = await deployRegistry(hre, { importer: alice.address, from: bob.address });
    expect(await registry.importer()).to.equal(alice.address);
    expect(record.importer).to.equal(alice.address);
    expect(record.deployer).to.equal(bob.address);
    // the importer has owner powers until it seals
    await registry.connect(alice).sealImport();
    expect(await registry.importer()).to.equal(ethers.ZeroAddress);
  });

  it("records are written atomically and read back; a missing one reads as undefined", async () => {
    const dir = path.join(await tempDir(), "nested", "deployments");
    expect(await readDeploymentRecord(dir, "localhost")).to.equal(undefined);
    const record = { network: "localhost", chainId: 31337, registry: ethers.ZeroAddress } as DeploymentRecord;
    await Promise.all(
      Array.from({ length: 8 }, (_, i) => writeDeploymentRecord(dir, { ...record, blockNumber: i })),
    );
    const read = await readDeploymentRecord(dir, "localhost");
    expect(read?.blockNumber).to.be.within(0, 7);
    expect(await fs.readdir(dir)).to.deep.equal(["localhost.json"]);
    expect(() => deploymentFile(dir, "../evil")).to.throw(/cannot name/);
  });

  describe("against a fresh `hardhat node` (scripts/deploy.ts and scripts/migrate.ts as run by hand)", () => {
    let node: ChildProcess | undefined;
    let url = "";

    async function startNode(): Promise<void> {
      const port = await freePort();
      url = `http://127.0.0.1:${port}`;
      node = spawn(path.join(ROOT, "node_modules/.bin/hardhat"), ["node", "--hostname", "127.0.0.1", "--port", String(port)], {
        cwd: ROOT,
        stdio: "ignore",
        env: withoutHardhatNetwork(process.env),
      });
      const deadline = Date.now() + 60_000;
      for (;;) {
        try {
          const response = await fetch(url, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
          });
          if (response.ok) return;
          throw new Error(`HTTP ${response.status}`);
        } catch (error) {
          if (Date.now() > deadline || node.exitCode !== null) throw new Error(`hardhat node did not start: ${String(error)}`);
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      }
    }

    async function stopNode(): Promise<void> {
      const child = node;
      node = undefined;
      if (child === undefined || child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }

    async function run(script: string, env: Record<string, string>): Promise<string> {
      const { stdout } = await promisify(execFile)(
        path.join(ROOT, "node_modules/.bin/hardhat"),
        ["run", "--no-compile", script, "--network", "localhost"],
        { cwd: ROOT, env: { ...withoutHardhatNetwork(process.env), PKG_RPC_URL: url, ...env } },
      );
      return stdout;
    }

    afterEach(stopNode);

    it("deploys repeatedly, again after a node restart, and migrates; no Ignition journal is left", async () => {
      const dir = await tempDir();
      const journals = async () =>
        (await fs.readdir(path.join(ROOT, "ignition/deployments")).catch(() => [] as string[])).filter((d) =>
          d.startsWith("chain-31337-"),
        );
      const journalsBefore = await journals();
      const read = async () => (await readDeploymentRecord(dir, "localhost"))!;

      await startNode();
      await run("scripts/deploy.ts", { PKG_DEPLOYMENTS_DIR: dir });
      const first = await read();
      await run("scripts/deploy.ts", { PKG_DEPLOYMENTS_DIR: dir });
      const second = await read();
      expect(second.registry).to.not.equal(first.registry);
      expect(second.network).to.equal("localhost");
      expect(second.chainId).to.equal(31337);
      expect(second.deploymentId).to.equal(null);
      expect(second.blockNumber).to.equal(first.blockNumber + 1);

      // a fresh node: same chain id, nothing deployed; Ignition must not think the registry exists
      await stopNode();
      await startNode();
      await run("scripts/deploy.ts", { PKG_DEPLOYMENTS_DIR: dir });
      const third = await read();
      const provider = new ethers.JsonRpcProvider(url, 31337, { staticNetwork: true });
      expect(await provider.getCode(third.registry)).to.not.equal("0x");
      expect(third.blockNumber).to.equal(1);

      // the migration script on the same node: a new registry, the old record kept as previousRegistry
      const out = await run("scripts/migrate.ts", { PKG_DEPLOYMENTS_DIR: dir, MIGRATE_FROM: third.registry });
      expect(out).to.contain("check passed");
      const migrated = await read();
      expect(migrated.registry).to.not.equal(third.registry);
      expect(migrated.previousRegistry).to.deep.equal(third);
      expect(migrated.migration?.from).to.equal(third.registry);
      const registry = Registry__factory.connect(migrated.registry, provider);
      expect(await registry.importer()).to.equal(ethers.ZeroAddress);

      expect(await journals()).to.deep.equal(journalsBefore);
      provider.destroy();
    });
  });
});

function withoutHardhatNetwork(env: NodeJS.ProcessEnv): Record<string, string> {
  const copy: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && key !== "HARDHAT_NETWORK") copy[key] = value;
  }
  return copy;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
