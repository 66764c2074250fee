/**
 * The signer for transactions, from a KeySource (config.ts): the local node's unlocked dev accounts, a
 * private key from the environment (CI), or an encrypted JSON keystore (ethers) unlocked with a password
 * from the environment or a prompt. Keys and passwords never appear in messages or files.
 */
import { readFile } from "node:fs/promises";
import { Wallet, type JsonRpcProvider, type Signer } from "ethers";
import { PkgError } from "./errors";
import type { KeySource } from "./config";

export const ERR_KEY_INVALID = "ERR_KEY_INVALID";
export const ERR_KEY_NO_ACCOUNT = "ERR_KEY_NO_ACCOUNT";
export const ERR_KEY_PASSWORD_REQUIRED = "ERR_KEY_PASSWORD_REQUIRED";
export const ERR_KEY_BAD_PASSWORD = "ERR_KEY_BAD_PASSWORD";
export const ERR_KEY_KEYSTORE = "ERR_KEY_KEYSTORE";

/** Asks for a password without echo; null when there is no terminal to ask on. */
export type PasswordPrompt = (question: string) => Promise<string | null>;

export async function resolveSigner(
  key: KeySource,
  provider: JsonRpcProvider,
  options: { env?: NodeJS.ProcessEnv; prompt?: PasswordPrompt } = {},
): Promise<Signer> {
  const env = options.env ?? process.env;
  switch (key.kind) {
    case "dev-account": {
      const accounts = (await provider.send("eth_accounts", [])) as string[];
      if (key.index < 0 || key.index >= accounts.length) {
        throw new PkgError(ERR_KEY_NO_ACCOUNT, `the node has no unlocked account #${key.index} (it has ${accounts.length})`, {
          hint: "on a real network, set PKG_PRIVATE_KEY or pass --keystore; locally, pick --account 0..19",
        });
      }
      return provider.getSigner(accounts[key.index]);
    }
    case "private-key-env": {
      try {
        return new Wallet(env[key.variable] ?? "", provider);
      } catch {
        throw new PkgError(ERR_KEY_INVALID, `${key.variable} does not hold a valid private key`, {
          hint: "set it to 0x and 64 hex digits (the key itself is never printed)",
        });
      }
    }
    case "keystore": {
      let json: string;
      try {
        json = await readFile(key.file, "utf8");
      } catch (cause) {
        throw new PkgError(ERR_KEY_KEYSTORE, `cannot read keystore ${key.file}`, { hint: "check the path given to --keystore", cause });
      }
      const password = env[key.passwordVariable] ?? (await options.prompt?.(`Password for ${key.file}: `)) ?? null;
      if (password === null) {
        throw new PkgError(ERR_KEY_PASSWORD_REQUIRED, `keystore ${key.file} needs a password and there is no terminal to ask on`, {
          hint: `set ${key.passwordVariable}`,
        });
      }
      try {
        return (await Wallet.fromEncryptedJson(json, password)).connect(provider);
      } catch (error) {
        const message = String((error as Error).message ?? error);
        if (/password/i.test(message)) {
          throw new PkgError(ERR_KEY_BAD_PASSWORD, `wrong password for keystore ${key.file}`, { hint: `check ${key.passwordVariable} or retype it` });
        }
        throw new PkgError(ERR_KEY_KEYSTORE, `${key.file} is not an ethers JSON keystore`, { hint: "create one with `pkg key create`" });
      }
    }
  }
}

/** Encrypts a new random key into a keystore JSON (for `pkg key create`); returns the address and JSON. */
export async function createKeystore(password: string): Promise<{ address: string; json: string }> {
  const wallet = Wallet.createRandom();
  return { address: wallet.address, json: await wallet.encrypt(password) };
}
