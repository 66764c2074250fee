/**
 * Issue 11, against a real anvil node (devDependency @foundry-rs/anvil; instant mining, state kept in a file):
 * reads at blocks a non-archive node no longer has, publishing with a keystore on fast blocks, an unfunded
 * key, and a --registry that is not a registry. The real registry client, and the BUILT binaries (dist/).
 *
 *   npx tsc -p tsconfig.build.json && npx hardhat test test/e2e/anvil.test.ts
 */
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import { ContractFactory, JsonRpcProvider } from "ethers";
import { Erc1319Anchor__factory } from "../../typechain-types";
import { createRegistryClient } from "../../src/chain/registry";
import { ERR_CHAIN_INSUFFICIENT_FUNDS, ERR_CHAIN_NO_REGISTRY, ERR_CHAIN_UNKNOWN_BLOCK } from "../../src/chain/errors";
import { rejectsWith } from "../helpers/errors";
import { ANVIL_DEV_ACCOUNT, anvilUnavailable, deployRegistry, fund, startAnvil, type RunningAnvil } from "../helpers/anvil";
import * as h from "./helpers";
import { skipBecause } from "../helpers/skip";

describe("e2e: a real anvil node (issue 11)", function () {
  this.timeout(300_000);

  let root = "";
  const nodes: RunningAnvil[] = [];

  before(function () {
    const why = anvilUnavailable();
    if (why !== null) {
      skipBecause(this, `anvil cannot run here: ${why}`);
    }
  });

  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), "chainpkg-anvil-"));
  });

  afterEach(async () => {
    for (const node of nodes.splice(0)) await node.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  async function anvil(options: { stateFile?: string; port?: number } = {}): Promise<RunningAnvil> {
    const node = await startAnvil(options);
    nodes.push(node);
    return node;
  }

  /** An environment for the built binaries: the node and registry, a temp config, data and content dir. */
  function cliEnv(url: string, registry: string, extra: h.EnvPatch = {}): NodeJS.ProcessEnv {
    return h.baseEnvironment({
      PKG_RPC_URL: url,
      PKG_REGISTRY: registry,
      PKG_CONFIG: path.join(root, "config.toml"),
      XDG_DATA_HOME: path.join(root, "data"),
      XDG_CONFIG_HOME: path.join(root, "config"),
      PKG_CONTENT_DIR: path.join(root, "ipfs"),
      ...extra,
    });
  }

  async function packageDir(name: string, version: string, repository = "crates"): Promise<string> {
    const dir = path.join(root, "packages", `${name}-${version}`);
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, "pkg.toml"), `[package]\nrepository = "${repository}"\nname = "${name}"\nversion = "${version}"\nlicense = "MIT"\nsrc = ["README"]\n`);
    await writeFile(path.join(dir, "README"), `${name} ${version}\n`);
    return dir;
  }

  describe("a read at a block the restarted node no longer has", () => {
    it("is ERR_CHAIN_UNKNOWN_BLOCK naming the block and an archive node, from the client and from `pkg lock --block`", async () => {
      const stateFile = path.join(root, "anvil-state.json");
      const first = await anvil({ stateFile });
      const { registry } = await deployRegistry(first.url);
      const provider = new JsonRpcProvider(first.url, 31337, { staticNetwork: true });
      const writer = createRegistryClient({ rpcUrl: first.url, address: registry, signer: await provider.getSigner(ANVIL_DEV_ACCOUNT), expectedChainId: 31337n });
      const created = await writer.createRepository("crates", false);
      await writer.registerPackage({ repository: "crates", name: "hello" });
      writer.close();
      provider.destroy();
      await first.stop();

      const second = await anvil({ stateFile, port: first.port });
      const client = createRegistryClient({ rpcUrl: second.url, address: registry, expectedChainId: 31337n });
      try {
        const head = await client.blockNumber();
        expect(head).to.be.greaterThan(created.blockNumber);
        expect(await client.getRepository("crates"), "the state itself survived the restart").to.not.equal(null);
        const old = created.blockNumber;
        for (const read of [
          () => client.getRepository("crates", { blockTag: old }),
          () => client.getPackage({ repository: "crates", name: "hello" }, { blockTag: old }),
          () => client.getRepositoryVersions("crates", { blockTag: old }),
        ]) {
          const error = await rejectsWith(read(), ERR_CHAIN_UNKNOWN_BLOCK);
          expect(error.message).to.contain(`block ${old}`).and.to.match(/archive node/);
          expect(error.hint).to.match(/archive node/);
        }
      } finally {
        client.close();
      }

      await mkdir(path.join(root, "work"));
      const result = await h.run("pkg", ["lock", "crates/hello", "--block", String(created.blockNumber)], cliEnv(second.url, registry), { cwd: path.join(root, "work") });
      h.expectHumanError(result, { code: ERR_CHAIN_UNKNOWN_BLOCK, message: [`block ${created.blockNumber}`, /archive node/] });
    });
  });

  /** `pkg key create` into root/keys/NAME.json; returns the keystore file and its address. */
  async function createKey(env: NodeJS.ProcessEnv, name: string): Promise<{ file: string; address: string }> {
    const file = path.join(root, "keys", `${name}.json`);
    const created = h.expectJsonSuccess<{ address: string }>(await h.run("pkg", ["key", "create", "--output", file, "--json"], env, { cwd: root }));
    return { file, address: created.address };
  }

  describe("a keystore account on a chain with instant blocks", () => {
    it("registers and publishes new packages in one command, several times in a row, without a nonce collision", async () => {
      const node = await anvil();
      const { registry } = await deployRegistry(node.url);
      const env = cliEnv(node.url, registry, { PKG_KEYSTORE_PASSWORD: "correct horse battery staple" });
      const key = await createKey(env, "publisher");
      await fund(node.url, key.address, 10n ** 18n);
      const keyEnv = h.applyPatch(env, { PKG_KEYSTORE: key.file });
      h.expectSuccess(await h.run("repo", ["create", "crates"], keyEnv, { cwd: root }));
      for (const name of ["alpha", "beta", "gamma", "delta"]) {
        const dir = await packageDir(name, "1.0.0");
        const published = h.expectJsonSuccess<{ registered: boolean }>(await h.run("pkg", ["publish", "--json"], keyEnv, { cwd: dir }));
        expect(published.registered, name).to.equal(true);
      }
      const provider = new JsonRpcProvider(node.url, 31337, { staticNetwork: true });
      try {
        // repo create, then a registration and a publication per package: all from the keystore's account
        expect(await provider.getTransactionCount(key.address, "latest")).to.equal(1 + 2 * 4);
      } finally {
        provider.destroy();
      }
    });
  });

  describe("a key without funds", () => {
    it("is ERR_CHAIN_INSUFFICIENT_FUNDS naming the account and about how much it needs", async () => {
      const node = await anvil();
      const { registry } = await deployRegistry(node.url);
      const env = cliEnv(node.url, registry, { PKG_KEYSTORE_PASSWORD: "correct horse battery staple" });
      const key = await createKey(env, "unfunded");
      const keyEnv = h.applyPatch(env, { PKG_KEYSTORE: key.file });
      const human = h.expectHumanError(await h.run("repo", ["create", "crates"], keyEnv, { cwd: root }), {
        code: ERR_CHAIN_INSUFFICIENT_FUNDS,
        message: [key.address, /needs about \d/, /ETH/],
        hint: key.address,
        progressFirst: true,
      });
      expect(human.line).not.to.match(/ERR_CHAIN_REVERTED/);
      const json = h.expectJsonError(await h.run("repo", ["create", "crates", "--json"], keyEnv, { cwd: root }), { code: ERR_CHAIN_INSUFFICIENT_FUNDS });
      expect(json.details).to.include({ account: key.address, balance: "0" });
      expect(BigInt(json.details!.needed as string) > 0n).to.equal(true);
    });
  });

  describe("a --registry that is not a registry", () => {
    it("is ERR_CHAIN_NO_REGISTRY before the command's first call, for `repo create` and `pkg publish`", async () => {
      const node = await anvil();
      const provider = new JsonRpcProvider(node.url, 31337, { staticNetwork: true });
      let other: string;
      try {
        const factory = new ContractFactory(Erc1319Anchor__factory.abi, Erc1319Anchor__factory.bytecode, await provider.getSigner(ANVIL_DEV_ACCOUNT));
        const deployed = await factory.deploy();
        await deployed.waitForDeployment();
        other = await deployed.getAddress();
      } finally {
        provider.destroy();
      }
      const env = cliEnv(node.url, other);
      const before = await h.rpc<string>(node.url, "eth_blockNumber");
      const expected = { code: ERR_CHAIN_NO_REGISTRY, message: [other, /is not a registry/], hint: /--registry/ };
      h.expectHumanError(await h.run("repo", ["create", "crates"], env, { cwd: root }), expected);
      const dir = await packageDir("hello", "1.0.0");
      h.expectHumanError(await h.run("pkg", ["publish"], env, { cwd: dir }), expected);
      h.expectJsonError(await h.run("pkg", ["publish", "--json"], env, { cwd: dir }), expected);
      expect(await h.rpc<string>(node.url, "eth_blockNumber"), "no transaction was sent").to.equal(before);
    });
  });
});
