/**
 * Package ids on the command line: `{repo}[:{version}]/{pkg}[:{version}]`; none means ./pkg.toml.
 */
import path from "node:path";
import type { PackageSpec } from "../src/ids";
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
