/**
 * `pkg install`: an output in the store linked into the user's profile as a new generation (Nix's `nix-env -i`),
 * and the PATH hint the first time. Building it is the caller's (the build operations, through the store
 * daemon): it passes what it built, or a path already in the store (`--path`).
 */
import path from "node:path";
import { parsePackageSpec, packageVersionId } from "./ids";
import {
  describeStorePath,
  installPackages,
  parseStorePathName,
  profileLink,
  takePathHint,
  type GenerationResult,
  type ProfileEntryInput,
  type ProfileOptions,
} from "./profile";

/** Which package an output is: from its pkg.toml, from the id the user gave, or from its store path name. */
export interface InstallNaming {
  name: string;
  /** Null for an output installed from a bare store path. */
  repository: string | null;
  /** Null: the version in the store path's name. */
  version: string | null;
}

export interface InstallParams {
  /** The profile, and the store its outputs must be in. */
  options: ProfileOptions & { storeRoot: string };
  /** What the caller built: its `out` path, derivation and package. Null: install `path` as it is. */
  built: { path: string; drv: string; naming: InstallNaming } | null;
  /** `--path`: an output already in the store (used when `built` is null). */
  path?: string;
  /** With `path`: the id (`repo/name[:version]`) that names it; default: its store path name. */
  id?: string;
  /** Conflict priority (lower wins; default 5). */
  priority?: number;
  env?: NodeJS.ProcessEnv;
}

export interface InstallResult extends GenerationResult {
  /** The profile link (`<profiles>/<name>`). */
  profile: string;
  /** The id installed: `crates/hello:1.0.0` (`hello:1.0.0` for a bare store path). */
  installed: string;
  /** The line that puts the profile on PATH, the first time only; null afterwards. */
  pathHint: string | null;
}

/** The naming of a package id typed by the user. */
export function namingOfId(id: string): InstallNaming {
  const spec = parsePackageSpec(id);
  return { name: spec.name, repository: spec.repository.name, version: spec.version };
}

/**
 * Installs an output: it must be a registered path of the profile's store; its derivation and content CID come
 * from the store's index (or from the build). Installing a package again replaces its old version.
 */
export async function installOutput(params: InstallParams): Promise<InstallResult> {
  const { options, built } = params;
  const storePath = built?.path ?? path.resolve(params.path ?? "");
  const info = describeStorePath(options.storeRoot, storePath);
  const naming = built?.naming ?? (params.id !== undefined ? namingOfId(params.id) : { ...parseStorePathName(info.path), repository: null });
  const version = naming.version ?? parseStorePathName(info.path).version;
  const entry: ProfileEntryInput = {
    name: naming.name,
    repository: naming.repository,
    version,
    id: naming.repository === null ? `${naming.name}:${version}` : packageVersionId({ repository: naming.repository, name: naming.name, version }),
    drv: built?.drv ?? info.drv,
    path: info.path,
    cid: info.cid,
    priority: params.priority,
  };
  const result = await installPackages(options, [entry]);
  const pathHint = await takePathHint(options, params.env);
  return { profile: profileLink(options), installed: entry.id, ...result, pathHint };
}
