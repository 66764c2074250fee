import { expect } from "chai";
import { JsonRpcProvider, ContractFactory, type Signer } from "ethers";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { sha256 } from "multiformats/hashes/sha2";
import { Registry__factory } from "../../../typechain-types";
import { connectRegistry, createRegistryClient, probeChainId, type RegistryClient } from "../../../src/chain/registry";
import { cidFromHex, cidToHex, ERR_CID_INVALID } from "../../../src/chain/cid";
import { decodeGetPackages, encodeGetPackages } from "../../../src/chain/packages";
import {
  ERR_CHAIN_NO_REGISTRY,
  ERR_CHAIN_UNKNOWN_BLOCK,
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
import { seededRandom } from "../../helpers/random";

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

  it("reads at a block the chain does not have, or before the registry existed, as ERR_CHAIN_UNKNOWN_BLOCK naming the head", async () => {
    const dep = { repository: "crates", name: "dep" };
    const head = await client.blockNumber();
    const future = await rejectsWith(client.getPackages([dep], { blockTag: head + 1000 }), ERR_CHAIN_UNKNOWN_BLOCK);
    expect(future.message).to.equal(`block ${head + 1000} is past the chain's head (block ${head})`);
    expect((future as { hint?: string }).hint).to.contain(`--block of at most ${head}`);
    const genesis = await rejectsWith(client.getPackages([dep], { blockTag: 0 }), ERR_CHAIN_UNKNOWN_BLOCK);
    expect(genesis.message).to.match(new RegExp(`^block 0 is before the registry ${address} was deployed; the chain's head is block \\d+$`));
    // the other reads at a block say the same
    await rejectsWith(client.getRepository("crates", { blockTag: 0 }), ERR_CHAIN_UNKNOWN_BLOCK);
    await rejectsWith(client.getRepositoryVersions("crates", { blockTag: head + 1000 }), ERR_CHAIN_UNKNOWN_BLOCK);
    await rejectsWith(client.getRepositoryPackageNames("crates", { blockTag: 0 }), ERR_CHAIN_UNKNOWN_BLOCK);
  });

  it("splits a getPackages call that runs out of the node's eth_call gas and still answers everything, in order", async () => {
    // "big" has 40 versions: 60 copies of its first page (32 versions) need more than the 2^24 gas cap
    const keys = [...Array.from({ length: 60 }, () => ({ repository: "crates", name: "big" })), { repository: "crates", name: "dep" }];
    const counting = createRegistryClient({ rpcUrl: node.url, address, expectedChainId: 31337n });
    const records = await counting.getPackages(keys);
    expect(records).to.have.lengthOf(61);
    for (const record of records.slice(0, 60)) expect(record!.versions.map((v) => v.version)[39]).to.equal("1.0.0");
    expect(records[60]!.key).to.deep.equal({ repository: "crates", name: "dep" });
    expect(records[60]!.versions.map((v) => v.version)).to.deep.equal(["0.2.1", "0.2.0"]);
    expect(counting.provider.requests).to.be.at.least(1 + 2 + 60); // one that ran out of gas, its halves, the rest of each "big"
    counting.close();
  });

  it("counts the JSON-RPC requests it sends", async () => {
    const counting = createRegistryClient({ rpcUrl: node.url, address, expectedChainId: 31337n });
    await counting.getPackages([{ repository: "crates", name: "dep" }, { repository: "crates", name: "big" }]);
    // one eth_call for both packages, one more for the 8 versions of "big" past the first page
    expect(counting.provider.requests).to.equal(2);
    counting.close();
  });
});

describe("a node that does not answer (probeChainId)", function () {
  it("for the local network, the hint is to start `pkg node`; for a configured network, to check that node and its URL", async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const local = await rejectsWith(probeChainId(url), "ERR_CHAIN_UNREACHABLE");
    expect(local.hint).to.match(/pkg node/);
    const configured = await rejectsWith(probeChainId(url, "sepolia"), "ERR_CHAIN_UNREACHABLE");
    expect(configured.message).to.contain("network sepolia");
    expect(configured.hint).to.not.match(/pkg node/);
    expect(configured.hint).to.match(/network sepolia is up.*rpc-url/);
  });
});

describe("getPackages encoding and decoding (against ethers' ABI coder)", function () {
  const iface = Registry__factory.createInterface();
  const fragment = iface.getFunction("getPackages");


  async function views(seed: number) {
    const next = seededRandom(seed);
    const int = (n: number) => Math.floor(next() * n);
    const word = () => `0x${Array.from({ length: 64 }, () => "0123456789abcdef"[int(16)]).join("")}`;
    const out = [];
    for (let p = 0, n = int(6); p < n; p++) {
      const unknown = next() < 0.2;
      const versions = [];
      for (let v = 0, m = unknown ? 0 : int(5); v < m; v++) {
        versions.push({
          version: `${int(3)}.${int(40)}.${int(300)}${next() < 0.2 ? "-beta.ü" : ""}`,
          metaCid: cidToHex(await cid(`meta ${seed} ${p} ${v}`, next() < 0.3)),
          srcCid: next() < 0.2 ? "0x" : cidToHex(await cid(`src ${seed} ${p} ${v}`)),
          yanked: next() < 0.3,
        });
      }
      out.push({
        packageId: word(),
        repositoryId: unknown ? `0x${"0".repeat(64)}` : word(),
        name: unknown ? "" : `pkg-${"x".repeat(int(70))}`,
        owner: unknown ? "0x0000000000000000000000000000000000000000" : `0x${word().slice(26)}`,
        versionCount: BigInt(unknown ? 0 : versions.length + int(3)),
        versions,
        nextCursor: next() < 0.5 ? `0x${"0".repeat(64)}` : word(),
      });
    }
    return out;
  }

  it("writes the same call data as ethers", () => {
    for (const n of [0, 1, 7]) {
      const ids = Array.from({ length: n }, (_, i) => hashPackageId(hashRepositoryId("crates"), `p${i}`));
      expect(encodeGetPackages(fragment.selector, ids, 32)).to.equal(iface.encodeFunctionData("getPackages", [ids, 32]));
    }
  });

  it("reads what ethers' ABI coder writes, field by field", async () => {
    for (let seed = 1; seed <= 40; seed++) {
      const expected = await views(seed);
      const data = iface.encodeFunctionResult(fragment, [expected]);
      const decoded = decodeGetPackages(data);
      expect(decoded).to.have.lengthOf(expected.length);
      decoded.forEach((view, i) => {
        const want = expected[i];
        expect(view.packageId).to.equal(want.packageId);
        expect(view.repositoryId).to.equal(want.repositoryId);
        expect(view.name).to.equal(want.name);
        expect(view.owner.toLowerCase()).to.equal(want.owner);
        expect(view.versionCount).to.equal(want.versionCount);
        expect(view.nextCursor).to.equal(want.nextCursor);
        expect(view.versions).to.deep.equal(
          want.versions.map((v) => ({ version: v.version, meta: cidFromHex(v.metaCid), src: cidFromHex(v.srcCid), yanked: v.yanked })),
        );
      });
    }
  });

  it("refuses truncated or malformed data instead of guessing", async () => {
    const data = iface.encodeFunctionResult(fragment, [await views(3)]);
    expect(() => decodeGetPackages(data.slice(0, data.length - 64))).to.throw(/malformed/);
    expect(() => decodeGetPackages("0x")).to.throw(/malformed/);
    expect(() => decodeGetPackages(`0x${"ff".repeat(32)}`)).to.throw(/malformed/);
    expect(() => decodeGetPackages("0xzz")).to.throw(/not hex/);
  });
});
