/**
 * Package ids on the command line: `{repo}[:{version}]/{pkg}[:{version}]`; none means ./pkg.toml.
 */
import path from "node:path";
import type { PackageSpec } from "../src/ids";
import { ERR_USAGE } from "./base";
import { load } from "./lazy";

/** The id given, or the package of ./pkg.toml (with its version) when none is. */
export async function packageSpecOrManifest(id: string | undefined, dir = "."): Promise<PackageSpec & { dir: string | null }> {
  if (id !== undefined) {
    const { parsePackageSpec } = load.ids();
    return { ...parsePackageSpec(id), dir: null };
  }
  const { readManifest } = load.manifest();
  const manifest = await readManifest(path.resolve(dir));
  return { repository: { name: manifest.repository, version: null }, name: manifest.name, version: manifest.version, dir: path.resolve(dir) };
}

export function formatSpec(spec: PackageSpec): string {
  return `${spec.repository.name}${spec.repository.version ? `:${spec.repository.version}` : ""}/${spec.name}${spec.version ? `:${spec.version}` : ""}`;
}

/** `0x` and 40 hex digits: what an account looks like on the command line (the checksum is checked later). */
export function looksLikeAddress(text: string | undefined): boolean {
  return text !== undefined && /^0x[0-9a-fA-F]{40}$/.test(text);
}

/** A usage error (exit 2), printed like every error: one line and a hint with the right command. */
function usageError(message: string, hint: string): Error {
  const { PkgError } = load.errors();
  return new PkgError(ERR_USAGE, message, { hint });
}

/**
 * The arguments of `pkg owner add|remove|transfer [ID] ADDRESS`: the thing first, then the account, as in
 * `repo maintainer add NAME ADDRESS` and `repo transfer NAME ADDRESS`. With one argument it is the account
 * and the package is the one of ./pkg.toml. An account where the id belongs (the order these commands took
 * before) is a usage error naming the command in the right order, never an "invalid id".
 */
export async function packageAndAccount(
  first: string | undefined,
  second: string | undefined,
  command: string,
): Promise<{ spec: PackageSpec & { dir: string | null }; account: string }> {
  if (first === undefined) throw usageError(`${command}: missing ADDRESS`, `write ${command} [ID] ADDRESS, e.g. ${command} crates/hello 0x…`);
  if (second === undefined) {
    if (!looksLikeAddress(first) && first.includes("/")) {
      throw usageError(`${command}: missing ADDRESS after the package id`, `write ${command} ${quoteArg(first)} 0x…`);
    }
    return { spec: await packageSpecOrManifest(undefined), account: first };
  }
  if (looksLikeAddress(first)) {
    throw usageError(`${command}: the first argument is an address, but the package id comes first`, `write ${command} ${quoteArg(second)} ${first}`);
  }
  return { spec: await packageSpecOrManifest(first), account: second };
}

/** `repo transfer NAME ADDRESS`, `repo maintainer add NAME ADDRESS`: refuses an address where the name belongs. */
export function checkNameFirst(name: string, account: string, command: string): void {
  if (looksLikeAddress(name)) {
    throw usageError(`${command}: the first argument is an address, but the repository name comes first`, `write ${command} ${quoteArg(account)} ${name}`);
  }
}

/** An argument as it would be retyped: short ones as they are, anything odd or long quoted and cut. */
function quoteArg(text: string): string {
  return /^[A-Za-z0-9._:/@+-]{1,130}$/.test(text) ? text : load.name().quoteValue(text);
}
