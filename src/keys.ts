/**
 * The signer for transactions, from a KeySource (config.ts): the local node's unlocked dev accounts, a
 * private key from the environment (CI), or an encrypted JSON keystore (ethers) unlocked with a password
 * from the environment or a prompt. Keys and passwords never appear in messages or files.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { lexists } from "./files/nofollow";
import { PkgError } from "./errors";
import type { KeySource } from "./config";
import { createEncryptedKey, decryptKeystore, devAccountSigner, privateKeySigner, type ChainProvider, type ChainSigner } from "./chain/keystore";

export const ERR_KEY_INVALID = "ERR_KEY_INVALID";
export const ERR_KEY_NO_ACCOUNT = "ERR_KEY_NO_ACCOUNT";
export const ERR_KEY_PASSWORD_REQUIRED = "ERR_KEY_PASSWORD_REQUIRED";
export const ERR_KEY_BAD_PASSWORD = "ERR_KEY_BAD_PASSWORD";
export const ERR_KEY_KEYSTORE = "ERR_KEY_KEYSTORE";

/** Asks for a password without echo; null when there is no terminal to ask on. */
export type PasswordPrompt = (question: string) => Promise<string | null>;

export async function resolveSigner(
  key: KeySource,
  provider: ChainProvider,
  options: { env?: NodeJS.ProcessEnv; prompt?: PasswordPrompt } = {},
): Promise<ChainSigner> {
  const env = options.env ?? process.env;
  switch (key.kind) {
    case "dev-account": {
      const account = await devAccountSigner(provider, key.index);
      if ("accounts" in account) {
        throw new PkgError(ERR_KEY_NO_ACCOUNT, `the node has no unlocked account #${key.index} (it has ${account.accounts})`, {
          hint: "on a real network, set PKG_PRIVATE_KEY or pass --keystore; locally, pick --account 0..19",
        });
      }
      return account.signer;
    }
    case "private-key-env": {
      const signer = privateKeySigner(env[key.variable] ?? "", provider);
      if (signer === null) {
        throw new PkgError(ERR_KEY_INVALID, `${key.variable} does not hold a valid private key`, {
          hint: "set it to 0x and 64 hex digits (the key itself is never printed)",
        });
      }
      return signer;
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
      const opened = await decryptKeystore(json, password, provider);
      if ("signer" in opened) return opened.signer;
      switch (opened.failure) {
        case "bad-password":
          throw new PkgError(ERR_KEY_BAD_PASSWORD, `wrong password for keystore ${key.file}`, { hint: `check ${key.passwordVariable} or retype it` });
        case "not-a-keystore":
          throw new PkgError(ERR_KEY_KEYSTORE, `${key.file} is not an ethers JSON keystore`, { hint: "create one with `pkg key create`" });
      }
    }
  }
}

/** Encrypts a new random key into a keystore JSON (for `pkg key create`); returns the address and JSON. */
export async function createKeystore(password: string): Promise<{ address: string; json: string }> {
  return createEncryptedKey(password);
}

export const ERR_KEY_KEYSTORE_EXISTS = "ERR_KEY_KEYSTORE_EXISTS";

function keystoreExists(file: string): PkgError {
  return new PkgError(ERR_KEY_KEYSTORE_EXISTS, `${file} exists already`, { hint: "choose another --output; keystores are never overwritten" });
}

/** @throws PkgError ERR_KEY_KEYSTORE_EXISTS when something is at `file` already (checked before a password is asked for). */
export async function checkKeystoreFree(file: string): Promise<void> {
  if (await lexists(file)) throw keystoreExists(file);
}

/**
 * `pkg key create`: a new random key encrypted with `password` into a new keystore file (mode 600, its directory
 * created 700 if missing). An existing file is never overwritten.
 * @throws PkgError ERR_KEY_KEYSTORE_EXISTS, ERR_KEY_PASSWORD_REQUIRED for an empty password.
 */
export async function createKeystoreFile(file: string, password: string): Promise<{ file: string; address: string }> {
  if (password === "") throw new PkgError(ERR_KEY_PASSWORD_REQUIRED, "a keystore needs a password", { hint: "set PKG_KEYSTORE_PASSWORD or run in a terminal" });
  await checkKeystoreFree(file);
  const { address, json } = await createKeystore(password);
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  try {
    await writeFile(file, json, { mode: 0o600, flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") throw keystoreExists(file);
    throw error;
  }
  return { file, address };
}
