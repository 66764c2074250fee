/**
 * Where things are and which chain to talk to: command-line flags over environment over the config file
 * over defaults. The defaults need no configuration at all: the local node (`pkg node`) on 127.0.0.1 whose
 * deployment record names the registry, and the embedded content store in the user's data directory.
 *
 * Config file ($XDG_CONFIG_HOME/chainpkg/config.toml):
 *
 *   network = "local"                  # the default network
 *   [networks.sepolia]
 *   rpc-url = "https://…"
 *   chain-id = 11155111
 *   registry = "0x…"
 *   keystore = "/home/me/.config/chainpkg/keys/me.json"
 *   [content]
 *   backend = "embedded"               # or "kubo"
 *   kubo-url = "http://127.0.0.1:5001"
 *   gateways = ["http://127.0.0.1:8080"]
 *   push = ["http://127.0.0.1:5001"]       # Kubo RPC APIs that `pkg publish` also pins to
 */
import { defaultDataDir } from "./files/dirs";
import { readTextFileOrNull } from "./files/read";
import { homedir } from "node:os";
import path from "node:path";
import { checkAddress as checkTypedAddress } from "./ids";
import { PkgError } from "./errors";
import { fail, optionalString, optionalStringArray, optionalTable, checkKeys, type FieldContext } from "./files/fields";
import { parseToml, type TomlTable } from "./files/toml";

export const ERR_CONFIG_INVALID = "ERR_CONFIG_INVALID";
export const ERR_CONFIG_UNKNOWN_NETWORK = "ERR_CONFIG_UNKNOWN_NETWORK";
export const ERR_CONFIG_NO_REGISTRY = "ERR_CONFIG_NO_REGISTRY";

export const LOCAL_NETWORK = "local";
export const LOCAL_CHAIN_ID = 31337n;
export const LOCAL_RPC_URL = "http://127.0.0.1:8545";

/** Where a signing key comes from. Secrets themselves are never held here. */
export type KeySource =
  | { kind: "dev-account"; index: number } // the local node's unlocked accounts
  | { kind: "private-key-env"; variable: string }
  | { kind: "keystore"; file: string; passwordVariable: string };

export type ContentConfig =
  | { backend: "embedded"; dir: string; gateways: string[]; push: string[] }
  | { backend: "kubo"; url: string; gateways: string[]; push: string[] };

export interface NetworkConfig {
  name: string;
  rpcUrl: string;
  /** null: the local node's deployment record says (see `registryAddress`). */
  registry: string | null;
  chainId: bigint | null;
  key: KeySource;
}

export interface Config {
  network: NetworkConfig;
  content: ContentConfig;
  dataDir: string;
  configFile: string;
}

/** What the command line may set; undefined means "not given". */
export interface ConfigFlags {
  network?: string;
  rpcUrl?: string;
  registry?: string;
  keystore?: string;
  account?: number;
  config?: string;
}

export { defaultDataDir };

export function defaultConfigFile(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string {
  if (env.PKG_CONFIG) return path.resolve(env.PKG_CONFIG);
  return path.join(env.XDG_CONFIG_HOME || path.join(home, ".config"), "chainpkg", "config.toml");
}

const CODES = { missing: ERR_CONFIG_INVALID, unknownKey: ERR_CONFIG_INVALID, type: ERR_CONFIG_INVALID } as const;

function checkUrl(ctx: FieldContext, field: (string | number)[], value: string): string {
  try {
    const url = new URL(value);
    if (url.protocol === "http:" || url.protocol === "https:") return value;
  } catch {
    // reported below
  }
  fail(ctx, ERR_CONFIG_INVALID, field, `${JSON.stringify(value)} is not an http(s) URL`, "write e.g. http://127.0.0.1:8545");
}

function checkAddress(ctx: FieldContext, field: (string | number)[], value: string): string {
  const checked = checkTypedAddress(value);
  if (checked.kind !== "address") fail(ctx, ERR_CONFIG_INVALID, field, checked.problem, checked.hint);
  return checked.address;
}

interface FileNetwork {
  rpcUrl?: string;
  registry?: string;
  chainId?: bigint;
  keystore?: string;
}

interface ConfigFile {
  network?: string;
  networks: Map<string, FileNetwork>;
  content: { backend?: "embedded" | "kubo"; kuboUrl?: string; gateways?: string[]; push?: string[]; dir?: string };
}

/** Parses the config file's text; errors name the file, line and field. */
export function parseConfigFile(text: string, file: string): ConfigFile {
  const ctx: FieldContext = { file, text, codes: CODES };
  const root: TomlTable = parseToml(text, file, ERR_CONFIG_INVALID);
  checkKeys(ctx, root, [], ["network", "networks", "content"]);
  const networks = new Map<string, FileNetwork>();
  const table = optionalTable(ctx, root, [], "networks") ?? {};
  for (const name of Object.keys(table)) {
    const entry = optionalTable(ctx, table, ["networks"], name)!;
    const at = ["networks", name];
    checkKeys(ctx, entry, at, ["rpc-url", "registry", "chain-id", "keystore"]);
    const rpcUrl = optionalString(ctx, entry, at, "rpc-url");
    const registry = optionalString(ctx, entry, at, "registry");
    const chainId = entry["chain-id"];
    if (chainId !== undefined && (typeof chainId !== "number" || !Number.isSafeInteger(chainId) || chainId <= 0)) {
      fail(ctx, ERR_CONFIG_INVALID, [...at, "chain-id"], `${JSON.stringify(chainId)} is not a chain id`, "write a positive integer, e.g. 11155111");
    }
    networks.set(name, {
      rpcUrl: rpcUrl === undefined ? undefined : checkUrl(ctx, [...at, "rpc-url"], rpcUrl),
      registry: registry === undefined ? undefined : checkAddress(ctx, [...at, "registry"], registry),
      chainId: chainId === undefined ? undefined : BigInt(chainId as number),
      keystore: optionalString(ctx, entry, at, "keystore"),
    });
  }
  const content = optionalTable(ctx, root, [], "content") ?? {};
  checkKeys(ctx, content, ["content"], ["backend", "kubo-url", "gateways", "push", "dir"]);
  const backend = optionalString(ctx, content, ["content"], "backend");
  if (backend !== undefined && backend !== "embedded" && backend !== "kubo") {
    fail(ctx, ERR_CONFIG_INVALID, ["content", "backend"], `${JSON.stringify(backend)} is not a content backend`, 'write "embedded" or "kubo"');
  }
  const kuboUrl = optionalString(ctx, content, ["content"], "kubo-url");
  const gateways = optionalStringArray(ctx, content, ["content"], "gateways");
  gateways?.forEach((g, i) => checkUrl(ctx, ["content", "gateways", i], g));
  const push = optionalStringArray(ctx, content, ["content"], "push");
  push?.forEach((g, i) => checkUrl(ctx, ["content", "push", i], g));
  return {
    network: optionalString(ctx, root, [], "network"),
    networks,
    content: {
      backend,
      kuboUrl: kuboUrl === undefined ? undefined : checkUrl(ctx, ["content", "kubo-url"], kuboUrl),
      gateways,
      push,
      dir: optionalString(ctx, content, ["content"], "dir"),
    },
  };
}

async function readConfigFile(file: string): Promise<ConfigFile | null> {
  const text = await readTextFileOrNull(file);
  return text === null ? null : parseConfigFile(text, file);
}

/** Flags, then PKG_* environment, then the config file, then the zero-configuration defaults. */
export async function resolveConfig(flags: ConfigFlags = {}, env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  const configFile = flags.config ? path.resolve(flags.config) : defaultConfigFile(env);
  const file = await readConfigFile(configFile);
  const dataDir = defaultDataDir(env);
  const name = flags.network ?? env.PKG_NETWORK ?? file?.network ?? LOCAL_NETWORK;
  const fromFile = file?.networks.get(name);
  if (name !== LOCAL_NETWORK && !fromFile && !(flags.rpcUrl ?? env.PKG_RPC_URL)) {
    const known = [LOCAL_NETWORK, ...(file?.networks.keys() ?? [])].join(", ");
    throw new PkgError(ERR_CONFIG_UNKNOWN_NETWORK, `network ${JSON.stringify(name)} is not configured (known: ${known})`, {
      details: { network: name, configFile },
      hint: `add [networks.${name}] with rpc-url and registry to ${configFile}, or pass --rpc-url and --registry`,
    });
  }
  const registry = flags.registry ?? env.PKG_REGISTRY ?? fromFile?.registry ?? null;
  const checkedRegistry = registry === null ? null : checkTypedAddress(registry);
  if (checkedRegistry !== null && checkedRegistry.kind !== "address") {
    throw new PkgError(ERR_CONFIG_INVALID, `registry: ${checkedRegistry.problem}`, { details: { problem: checkedRegistry.kind }, hint: checkedRegistry.hint });
  }
  const isLocal = name === LOCAL_NETWORK;
  const keystore = flags.keystore ?? env.PKG_KEYSTORE ?? fromFile?.keystore;
  const key: KeySource = keystore
    ? { kind: "keystore", file: path.resolve(keystore), passwordVariable: "PKG_KEYSTORE_PASSWORD" }
    : env.PKG_PRIVATE_KEY
      ? { kind: "private-key-env", variable: "PKG_PRIVATE_KEY" }
      : { kind: "dev-account", index: flags.account ?? (env.PKG_ACCOUNT ? Number(env.PKG_ACCOUNT) : 0) };
  // The environment beats the file (README, "Configuration").
  const list = (variable: string | undefined) => (variable ? variable.split(",").filter(Boolean) : undefined);
  const gateways = list(env.PKG_GATEWAYS) ?? file?.content.gateways ?? [];
  const push = list(env.PKG_PUSH) ?? file?.content.push ?? [];
  const backend = (env.PKG_CONTENT_BACKEND as "embedded" | "kubo" | undefined) ?? file?.content.backend ?? "embedded";
  const content: ContentConfig =
    backend === "kubo"
      ? { backend, url: env.PKG_KUBO_URL ?? file?.content.kuboUrl ?? "http://127.0.0.1:5001", gateways, push }
      : { backend: "embedded", dir: path.resolve(env.PKG_CONTENT_DIR ?? file?.content.dir ?? path.join(dataDir, "ipfs")), gateways, push };
  return {
    network: {
      name,
      rpcUrl: flags.rpcUrl ?? env.PKG_RPC_URL ?? fromFile?.rpcUrl ?? LOCAL_RPC_URL,
      registry: checkedRegistry === null ? null : checkedRegistry.address,
      chainId: fromFile?.chainId ?? (isLocal ? LOCAL_CHAIN_ID : null),
      key,
    },
    content,
    dataDir,
    configFile,
  };
}
