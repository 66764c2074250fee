/**
 * Gas of the registry's writes (issue: publish-gas, yank-gas, batch-publish-gas, first-publish-gas), against
 * an ERC-1319 style registry measured in the same run, and against the storage floor computed from the
 * actual transaction: the bytes it sends and the log it writes.
 *
 *   npx hardhat run bench/gas.ts
 */
import hre from "hardhat";
import type { TransactionReceipt, TransactionResponse } from "ethers";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { sha256 } from "multiformats/hashes/sha2";
import type { Erc1319Anchor, Registry } from "../typechain-types";

const { ethers } = hre;

const G_TX = 21_000;
const G_NEW_SLOT = 22_100; // cold SSTORE zero → non-zero
const G_COLD_READ = 2_100;
const G_DIRTY_WRITE = 2_900; // warm SSTORE non-zero → non-zero
const DAG_PB = 0x70;

function bench(id: string, value: number, unit: string, anchor: string, anchorValue: number): void {
  console.log(`BENCH ${id} ${Math.round(value)} ${unit} vs ${anchor} ${Math.round(anchorValue)}`);
}

/** What the transaction's bytes cost (EIP-2028: 4 per zero byte, 16 per other byte). */
function calldataGas(data: string): number {
  return [...ethers.getBytes(data)].reduce((sum, byte) => sum + (byte === 0 ? 4 : 16), 0);
}

/** What the receipt's logs cost: 375 + 375 per topic + 8 per data byte, per log. */
function logGas(receipt: TransactionReceipt): number {
  return receipt.logs.reduce((sum, log) => sum + 375 + 375 * log.topics.length + 8 * ethers.dataLength(log.data), 0);
}

async function gasOf(tx: Promise<TransactionResponse>): Promise<{ gas: number; tx: TransactionResponse; receipt: TransactionReceipt }> {
  const sent = await tx;
  const receipt = (await sent.wait())!;
  return { gas: Number(receipt.gasUsed), tx: sent, receipt };
}

async function cid(content: string, codec = raw.code): Promise<string> {
  return ethers.hexlify(CID.createV1(codec, await sha256.digest(new TextEncoder().encode(content))).bytes);
}

export async function runGasBench(): Promise<void> {
  const [deployer, publisher] = await ethers.getSigners();
  const registry = (await ethers.deployContract("Registry", [ethers.ZeroAddress])) as unknown as Registry;
  const anchor = (await ethers.deployContract("Erc1319Anchor")) as unknown as Erc1319Anchor;
  void deployer;
  const as = registry.connect(publisher);
  const repositoryId = ethers.keccak256(ethers.toUtf8Bytes("crates"));

  // first-publish-gas: a new repository, a new package, its first version
  const meta = await cid("pkg.toml of hello 1.0.0");
  const src = await cid("src of hello 1.0.0", DAG_PB);
  const create = await gasOf(as.createRepository("crates", false));
  const register = await gasOf(as.registerPackage(repositoryId, "hello"));
  const first = await gasOf(as.publish(repositoryId, "hello", "1.0.0", meta, src));
  const manifestUri = `ipfs://${CID.decode(ethers.getBytes(meta)).toString()}`;
  const anchorFirst = await gasOf(anchor.connect(publisher).release("hello", "1.0.0", manifestUri));
  bench("first-publish-gas", create.gas + register.gas + first.gas, "gas", "erc1319-first-release", anchorFirst.gas);
  console.log(
    `  create repository ${create.gas} + register package ${register.gas} + first version ${first.gas}` +
      " (ERC-1319 registers the package inside its first release and has no repositories or owners)",
  );

  // publish-gas: a new version of an existing package
  const publish = await gasOf(as.publish(repositoryId, "hello", "1.0.1", await cid("meta 1.0.1"), await cid("src 1.0.1", DAG_PB)));
  const anchorRelease = await gasOf(anchor.connect(publisher).release("hello", "1.0.1", manifestUri));
  bench("publish-gas", publish.gas, "gas", "erc1319-release", anchorRelease.gas);
  const calldata = calldataGas(publish.tx.data);
  const log = logGas(publish.receipt);
  const issueFloor = G_TX + 3 * G_NEW_SLOT + calldata + log;
  const fullFloor = issueFloor + G_COLD_READ /* owner check */ + G_COLD_READ + G_DIRTY_WRITE; /* list head */
  console.log(
    `  floor ${fullFloor} = ${G_TX} tx + 3 × ${G_NEW_SLOT} new slots + ${calldata} calldata + ${log} log` +
      ` + ${G_COLD_READ} owner read + ${G_COLD_READ + G_DIRTY_WRITE} list head update` +
      ` (without the last two, the issue's floor: ${issueFloor}); above the floor: ${publish.gas - fullFloor}; goal ≤ 100000`,
  );

  // yank-gas
  const yank = await gasOf(as.setYanked(repositoryId, "hello", "1.0.1", true));
  const yankFloor = G_TX + calldataGas(yank.tx.data) + logGas(yank.receipt) + G_COLD_READ /* owner */ + G_COLD_READ + G_DIRTY_WRITE;
  bench("yank-gas", yank.gas, "gas", "floor", yankFloor);
  console.log("  floor = tx + calldata + log + owner read + one flag slot read and rewritten; goal ≤ 35000");

  // batch-publish-gas: 100 versions in one transaction (compact encoding of IRegistry.PackageReleases)
  const versions = Array.from({ length: 100 }, (_, i) => `2.${Math.floor(i / 10)}.${i % 10}`);
  const digest = (s: string) => ethers.sha256(ethers.toUtf8Bytes(s));
  const batch = await gasOf(
    as.publishBatch([
      {
        repositoryId,
        name: "hello",
        versions: ethers.concat(versions.map((v) => ethers.concat([new Uint8Array([v.length]), ethers.toUtf8Bytes(v)]))),
        metaCidHeader: "0x01551220",
        metaDigests: versions.map((v) => digest(`meta ${v}`)),
        srcCidHeader: "0x01701220",
        srcDigests: versions.map((v) => digest(`src ${v}`)),
      },
    ]),
  );
  bench("batch-publish-gas", batch.gas / versions.length, "gas/version", "publish-gas", publish.gas);
  console.log(
    `  ${batch.gas} gas for ${versions.length} versions; storage alone is ${3 * G_NEW_SLOT} per version; goal ≤ 70000`,
  );
  const [page] = await registry.getPackageVersions(
    ethers.keccak256(ethers.AbiCoder.defaultAbiCoder().encode(["bytes32", "string"], [repositoryId, "hello"])),
    ethers.ZeroHash,
    1,
  );
  if (page[0].version !== versions[versions.length - 1]) throw new Error("batch did not publish what it measured");
}

if (require.main === module) {
  runGasBench().catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
