/**
 * Signing keys as ethers holds them: the node's unlocked dev accounts, a raw private key, an encrypted JSON
 * keystore (scrypt + AES, the format geth and ethers write). src/keys.ts decides which one a command uses and
 * words the errors; this module only does what needs ethers. Keys and passwords never appear in what it throws.
 */
import { Wallet, type JsonRpcProvider, type Signer } from "ethers";

export type { JsonRpcProvider as ChainProvider, Signer as ChainSigner };

/** The node's unlocked account `index` (eth_accounts), or null with how many it has when there is no such one. */
export async function devAccountSigner(provider: JsonRpcProvider, index: number): Promise<{ signer: Signer } | { accounts: number }> {
  const accounts = (await provider.send("eth_accounts", [])) as string[];
  if (!Number.isInteger(index) || index < 0 || index >= accounts.length) return { accounts: accounts.length };
  return { signer: await provider.getSigner(accounts[index]) };
}

/** A signer of a raw private key (`0x` and 64 hex digits); null when it is not a valid key. */
export function privateKeySigner(privateKey: string, provider: JsonRpcProvider): Signer | null {
  try {
    return new Wallet(privateKey, provider);
  } catch {
    return null;
  }
}

/** Why a keystore could not be opened: a wrong password, or a file that is no keystore. */
export type KeystoreFailure = "bad-password" | "not-a-keystore";

/** Decrypts a JSON keystore into a signer connected to `provider`, or says why it cannot. */
export async function decryptKeystore(json: string, password: string, provider: JsonRpcProvider): Promise<{ signer: Signer } | { failure: KeystoreFailure }> {
  try {
    return { signer: (await Wallet.fromEncryptedJson(json, password)).connect(provider) };
  } catch (error) {
    const message = String((error as Error).message ?? error);
    return { failure: /password/i.test(message) ? "bad-password" : "not-a-keystore" };
  }
}

/** A new random key, encrypted with `password` into a JSON keystore: its address and the JSON. */
export async function createEncryptedKey(password: string): Promise<{ address: string; json: string }> {
  const wallet = Wallet.createRandom();
  return { address: wallet.address, json: await wallet.encrypt(password) };
}
