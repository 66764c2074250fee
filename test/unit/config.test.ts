import { expect } from "chai";
import { mkdtemp, writeFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { JsonRpcProvider, Wallet } from "ethers";
import {
  ERR_CONFIG_INVALID,
  ERR_CONFIG_UNKNOWN_NETWORK,
  LOCAL_CHAIN_ID,
  LOCAL_RPC_URL,
  defaultConfigFile,
  defaultDataDir,
  parseConfigFile,
  resolveConfig,
} from "../../src/config";
import { ERR_KEY_BAD_PASSWORD, ERR_KEY_INVALID, ERR_KEY_PASSWORD_REQUIRED, createKeystore, resolveSigner } from "../../src/keys";
import { isPkgError } from "../../src/errors";
import { rejectsWith } from "../helpers/errors";


describe("config", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "chainpkg-config-"));
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it("follows XDG and the PKG_* overrides for its directories", () => {
    expect(defaultDataDir({}, "/home/u")).to.equal("/home/u/.local/share/chainpkg");
    expect(defaultDataDir({ XDG_DATA_HOME: "/x" }, "/home/u")).to.equal("/x/chainpkg");
    expect(defaultDataDir({ PKG_DATA_DIR: "/d" }, "/home/u")).to.equal("/d");
    expect(defaultConfigFile({}, "/home/u")).to.equal("/home/u/.config/chainpkg/config.toml");
    expect(defaultConfigFile({ XDG_CONFIG_HOME: "/c" }, "/home/u")).to.equal("/c/chainpkg/config.toml");
  });

  it("needs no configuration for the local node", async () => {
    const config = await resolveConfig({}, { PKG_CONFIG: path.join(dir, "none.toml"), PKG_DATA_DIR: dir });
    expect(config.network).to.deep.equal({
      name: "local",
      rpcUrl: LOCAL_RPC_URL,
      registry: null, // from the local node's deployment record
      chainId: LOCAL_CHAIN_ID,
      key: { kind: "dev-account", index: 0 },
    });
    expect(config.content).to.deep.equal({ backend: "embedded", dir: path.join(dir, "ipfs"), gateways: [], push: [] });
  });

  it("takes flags over environment over the file", async () => {
    const file = path.join(dir, "config.toml");
    await writeFile(
      file,
      [
        'network = "test"',
        "[networks.test]",
        'rpc-url = "http://127.0.0.1:9000"',
        "chain-id = 5",
        'registry = "0x5fbdb2315678afecb367f032d93f642f64180aa3"',
        "[content]",
        'backend = "kubo"',
        'kubo-url = "http://127.0.0.1:5001"',
        'gateways = ["http://127.0.0.1:8080"]',
        'push = ["http://127.0.0.1:5002"]',
        "",
      ].join("\n"),
    );
    const fromFile = await resolveConfig({}, { PKG_CONFIG: file });
    expect(fromFile.network.rpcUrl).to.equal("http://127.0.0.1:9000");
    expect(fromFile.network.chainId).to.equal(5n);
    expect(fromFile.network.registry).to.equal("0x5FbDB2315678afecb367f032d93F642f64180aa3"); // checksummed
    expect(fromFile.content).to.deep.equal({ backend: "kubo", url: "http://127.0.0.1:5001", gateways: ["http://127.0.0.1:8080"], push: ["http://127.0.0.1:5002"] });
    // the environment beats the file for the lists too (comma-separated)
    const listsFromEnv = await resolveConfig({}, { PKG_CONFIG: file, PKG_GATEWAYS: "http://127.0.0.1:8081,http://127.0.0.1:8082", PKG_PUSH: "http://127.0.0.1:5003" });
    expect(listsFromEnv.content).to.deep.include({ gateways: ["http://127.0.0.1:8081", "http://127.0.0.1:8082"], push: ["http://127.0.0.1:5003"] });
    const fromEnv = await resolveConfig({}, { PKG_CONFIG: file, PKG_RPC_URL: "http://127.0.0.1:9001", PKG_PRIVATE_KEY: "0x01" });
    expect(fromEnv.network.rpcUrl).to.equal("http://127.0.0.1:9001");
    expect(fromEnv.network.key).to.deep.equal({ kind: "private-key-env", variable: "PKG_PRIVATE_KEY" });
    const fromFlags = await resolveConfig({ rpcUrl: "http://127.0.0.1:9002", keystore: "k.json" }, { PKG_CONFIG: file, PKG_RPC_URL: "http://127.0.0.1:9001" });
    expect(fromFlags.network.rpcUrl).to.equal("http://127.0.0.1:9002");
    expect(fromFlags.network.key.kind).to.equal("keystore");
  });

  it("says which networks exist when asked for an unknown one", async () => {
    const error = await rejectsWith(resolveConfig({ network: "mainnet" }, { PKG_CONFIG: path.join(dir, "none.toml") }), ERR_CONFIG_UNKNOWN_NETWORK);
    expect(error.message).to.contain("known: local");
  });

  const bad: [string, string, RegExp][] = [
    ["syntax", "network = \n", /config\.toml:1/],
    ["unknown key", 'netwrok = "x"\n', /config\.toml:1: .*netwrok/],
    ["bad url", '[networks.a]\nrpc-url = "ftp://x"\n', /config\.toml:2: \[networks\]\.a\.rpc-url: "ftp:\/\/x" is not an http\(s\) URL/],
    ["bad address", '[networks.a]\nregistry = "0x12"\n', /config\.toml:2: \[networks\]\.a\.registry: "0x12" is not an address/],
    ["bad chain id", "[networks.a]\nchain-id = -1\n", /config\.toml:2: \[networks\]\.a\.chain-id/],
    ["bad backend", '[content]\nbackend = "s3"\n', /config\.toml:2: \[content\]\.backend: "s3" is not a content backend/],
    ["bad gateway", '[content]\ngateways = ["http://ok", "nope"]\n', /config\.toml:2: \[content\]\.gateways\[1\]/],
    ["bad push URL", '[content]\npush = ["ftp://x"]\n', /config\.toml:2: \[content\]\.push\[0\]/],
  ];
  for (const [what, text, message] of bad) {
    it(`refuses a config file with a ${what}, naming file, line and field`, () => {
      try {
        parseConfigFile(text, "/home/u/.config/chainpkg/config.toml");
      } catch (error) {
        expect(isPkgError(error, ERR_CONFIG_INVALID) || /ERR_CONFIG/.test((error as { code?: string }).code ?? "")).to.equal(true);
        expect((error as Error).message).to.match(message);
        expect((error as Error).message).to.not.contain("\n");
        return;
      }
      throw new Error("accepted a bad config file");
    });
  }
});

describe("keys", function () {
  this.timeout(60_000);
  const provider = new JsonRpcProvider("http://127.0.0.1:1", 31337, { staticNetwork: true });
  after(() => provider.destroy());

  it("unlocks a keystore with the right password and names the problem otherwise, never the secret", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "chainpkg-keys-"));
    const { address, json } = await createKeystore("right horse");
    const file = path.join(dir, "me.json");
    await writeFile(file, json);
    const key = { kind: "keystore", file, passwordVariable: "PW" } as const;
    const signer = await resolveSigner(key, provider, { env: { PW: "right horse" } });
    expect(await signer.getAddress()).to.equal(address);
    const wrong = await rejectsWith(resolveSigner(key, provider, { env: { PW: "wrong horse" } }), ERR_KEY_BAD_PASSWORD);
    expect(wrong.message).to.not.contain("wrong horse");
    await rejectsWith(resolveSigner(key, provider, { env: {} }), ERR_KEY_PASSWORD_REQUIRED);
    const prompted = await resolveSigner(key, provider, { env: {}, prompt: async () => "right horse" });
    expect(await prompted.getAddress()).to.equal(address);
    await rm(dir, { recursive: true, force: true });
  });

  it("takes a private key from the environment and refuses a malformed one without printing it", async () => {
    const wallet = Wallet.createRandom();
    const signer = await resolveSigner({ kind: "private-key-env", variable: "K" }, provider, { env: { K: wallet.privateKey } });
    expect(await signer.getAddress()).to.equal(wallet.address);
    const error = await rejectsWith(resolveSigner({ kind: "private-key-env", variable: "K" }, provider, { env: { K: "0xdeadbeef" } }), ERR_KEY_INVALID);
    expect(error.message).to.not.contain("deadbeef");
  });
});
