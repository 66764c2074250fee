import { expect } from "chai";
import { JsonRpcProvider, ContractFactory, type Signer } from "ethers";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { sha256 } from "multiformats/hashes/sha2";
import { Registry__factory } from "../../../typechain-types";
import { connectRegistry, createRegistryClient, type RegistryClient } from "../../../src/chain/registry";
import { cidFromHex, cidToHex, ERR_CID_INVALID } from "../../../src/chain/cid";
import {
  ERR_CHAIN_NO_REGISTRY,
  ERR_CHAIN_NO_SIGNER,
  ERR_CHAIN_UNAUTHORIZED,
  ERR_CHAIN_UNKNOWN_REPOSITORY,
  ERR_CHAIN_UNREACHABLE,
  ERR_CHAIN_VERSION_EXISTS,
  ERR_CHAIN_WRONG_NETWORK,
} from "../../../src/chain/errors";
import { hashPackageId, hashRepositoryId } from "../../../src/ids";
import { isPkgError } from "../../../src/errors";
import { freePort, startHardhatNode, type RunningNode } from "../../helpers/node";
import { rejectsWith } from "../../helpers/errors";

async function cid(text: string, v0 = false): Promise<string> {
  const digest = await sha256.digest(new TextEncoder().encode(text));
  return (v0 ? CID.createV0(digest) : CID.createV1(raw.code, digest)).toString();
}


describe("chain client (real hardhat node over JSON-RPC)", function () {
  this.timeout(120_000);
  let node: RunningNode;
  let address: string;
  let alice: Signer;
  let bob: Signer;
  let client: RegistryClient;
  let asBob: RegistryClient;

  before(async () => {
    node = await startHardhatNode();
    const provider = new JsonRpcProvider(node.url);
    alice = await provider.getSigner(1);
    bob = await provider.getSigner(2);
    const factory = new ContractFactory(Registry__factory.abi, Registry__factory.bytecode, await provider.getSigner(0));
    const registry = await factory.deploy("0x0000000000000000000000000000000000000000");
    await registry.waitForDeployment();
    address = await registry.getAddress();
    client = createRegistryClient({ rpcUrl: node.url, address, signer: alice, expectedChainId: 31337n });
    asBob = createRegistryClient({ rpcUrl: node.url, address, signer: bob });
  });

  after(async () => {
    client?.close();
    asBob?.close();
    await node?.stop();
  });

  it("round-trips CID strings through the contract's binary form", async () => {
    for (const text of [await cid("a"), await cid("a", true)]) expect(cidFromHex(cidToHex(text))).to.equal(text);
    expect(cidFromHex("0x")).to.equal(null);
    expect(() => cidToHex("not-a-cid", "meta CID")).to.throw(/meta CID "not-a-cid" is not a CID/);
    try {
      cidToHex("nope");
    } catch (error) {
      expect(isPkgError(error, ERR_CID_INVALID)).to.equal(true);
    }
  });

  it("publishes and reads packages, at the latest block and at an older one", async () => {
    await client.checkDeployed();
    await client.createRepository("crates", false);
    const dep = { repository: "crates", name: "dep" };
    await client.registerPackage(dep);
    const first = await client.publish(dep, "0.2.0", await cid("meta 0.2.0"), await cid("src 0.2.0", true));
    expect(first.hash).to.match(/^0x[0-9a-f]{64}$/);
    await client.publish(dep, "0.2.1", await cid("meta 0.2.1"), await cid("src 0.2.1"));
    const yank = await client.setYanked(dep, "0.2.1", true);

    const [now, missing] = await client.getPackages([dep, { repository: "crates", name: "nope" }]);
    expect(missing).to.equal(null);
    expect(now!.id).to.equal(hashPackageId(hashRepositoryId("crates"), "dep"));
    expect(now!.versions).to.deep.equal([
      { version: "0.2.1", meta: await cid("meta 0.2.1"), src: await cid("src 0.2.1"), yanked: true },
      { version: "0.2.0", meta: await cid("meta 0.2.0"), src: await cid("src 0.2.0", true), yanked: false },
    ]);
    const before = await client.getPackage(dep, { blockTag: first.blockNumber });
    expect(before!.versions.map((v) => v.version)).to.deep.equal(["0.2.0"]);
    const beforeYank = await client.getPackage(dep, { blockTag: yank.blockNumber - 1 });
    expect(beforeYank!.versions[0].yanked).to.equal(false);
  });

  it("pages through packages with many versions", async () => {
    const big = { repository: "crates", name: "big" };
    await client.registerPackage(big);
    const meta = await cid("m");
    for (let i = 0; i < 40; i++) await client.publish(big, `1.0.${i}`, meta, meta); // more than the first page
    const record = await client.getPackage(big);
    expect(record!.versions.map((v) => v.version)).to.deep.equal(Array.from({ length: 40 }, (_, i) => `1.0.${39 - i}`));
  });

  it("reads repositories, their packages and versions", async () => {
    await client.publishRepository("crates", "2026.11.0", await cid("repo lock"));
    expect((await client.getRepository("crates"))!.packageCount).to.equal(2);
    expect(await client.getRepositoryPackageNames("crates")).to.deep.equal(["dep", "big"]);
    expect(await client.getRepositoryVersions("crates")).to.deep.equal([
      { version: "2026.11.0", meta: await cid("repo lock"), src: null, yanked: false },
    ]);
    expect(await client.getRepository("nope")).to.equal(null);
  });

  it("maps the registry's custom errors to coded errors with hints", async () => {
    const dep = { repository: "crates", name: "dep" };
    const meta = await cid("x");
    const unauthorized = await rejectsWith(asBob.publish(dep, "9.0.0", meta, meta), ERR_CHAIN_UNAUTHORIZED);
    expect(unauthorized.message).to.contain(await bob.getAddress());
    await rejectsWith(client.publish(dep, "0.2.0", meta, meta), ERR_CHAIN_VERSION_EXISTS);
    await rejectsWith(client.registerPackage({ repository: "nope", name: "x" }), ERR_CHAIN_UNKNOWN_REPOSITORY);
    const readOnly = createRegistryClient({ rpcUrl: node.url, address });
    await rejectsWith(readOnly.publish(dep, "9.0.0", meta, meta), ERR_CHAIN_NO_SIGNER);
    readOnly.close();
  });

  it("says when no node answers, no registry is deployed, or the chain is another one", async () => {
    const nowhere = `http://127.0.0.1:${await freePort()}`;
    const error = await rejectsWith(connectRegistry({ rpcUrl: nowhere, address }), ERR_CHAIN_UNREACHABLE);
    expect((error as { hint?: string }).hint).to.contain("pkg node");
    await rejectsWith(connectRegistry({ rpcUrl: node.url, address: "0x000000000000000000000000000000000000dEaD" }), ERR_CHAIN_NO_REGISTRY);
    await rejectsWith(connectRegistry({ rpcUrl: node.url, address, expectedChainId: 1n }), ERR_CHAIN_WRONG_NETWORK);
    const wrong = createRegistryClient({ rpcUrl: node.url, address, expectedChainId: 1n });
    await rejectsWith(wrong.checkDeployed(), ERR_CHAIN_WRONG_NETWORK);
    wrong.close();
    const connected = await connectRegistry({ rpcUrl: node.url, address, expectedChainId: 31337n });
    expect(await connected.chainId()).to.equal(31337n);
    connected.close();
  });

  it("counts the JSON-RPC requests it sends", async () => {
    const counting = createRegistryClient({ rpcUrl: node.url, address, expectedChainId: 31337n });
    await counting.getPackages([{ repository: "crates", name: "dep" }, { repository: "crates", name: "big" }]);
    // one eth_call for both packages, one more for the 8 versions of "big" past the first page
    expect(counting.provider.requests).to.equal(2);
    counting.close();
  });
});
