import { ethers } from "hardhat";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { sha256 } from "multiformats/hashes/sha2";
import type { Registry } from "../../typechain-types";

export const DAG_PB = 0x70;

/** A real CIDv1 (raw or dag-pb, sha2-256) of `content`, as the binary bytes the contract takes. */
export async function cidOf(content: string, codec: number = raw.code): Promise<CID> {
  const digest = await sha256.digest(new TextEncoder().encode(content));
  return CID.createV1(codec, digest);
}

export function hexOf(cid: CID): string {
  return ethers.hexlify(cid.bytes);
}

export function repositoryIdOf(name: string): string {
  return ethers.keccak256(ethers.toUtf8Bytes(name));
}

export function packageIdOf(repositoryName: string, packageName: string): string {
  return ethers.keccak256(
    ethers.AbiCoder.defaultAbiCoder().encode(["bytes32", "string"], [repositoryIdOf(repositoryName), packageName]),
  );
}

/** A fresh registry (no importer) and the dev accounts. */
export async function deployRegistry(importer: string = ethers.ZeroAddress) {
  const [deployer, alice, bob, carol, mallory] = await ethers.getSigners();
  const registry = (await ethers.deployContract("Registry", [importer])) as unknown as Registry;
  await registry.waitForDeployment();
  return { registry, deployer, alice, bob, carol, mallory };
}

/** Registry with an open repository "crates" owned by alice and a package crates/hello owned by alice. */
export async function deployWithPackage() {
  const base = await deployRegistry();
  const { registry, alice } = base;
  await registry.connect(alice).createRepository("crates", false);
  const repositoryId = repositoryIdOf("crates");
  await registry.connect(alice).registerPackage(repositoryId, "hello");
  const packageId = packageIdOf("crates", "hello");
  return { ...base, repositoryId, packageId };
}
