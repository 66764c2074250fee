/**
 * `repo instantiate`: every package a repo.lock pins → a derivation (src/instantiate.ts says what a derivation
 * depends on; the graph is the same). A repo.lock pins one version per package of one repository and no edges:
 * each package's inputs are looked up in that same lock, by name, and must satisfy their ranges. An input from
 * another repository is not in that lock: given `resolve` (the CLI always gives it), a package that needs one is
 * locked as `pkg lock --block <the repo.lock's block>` would lock it, with the repository's own packages kept at
 * the versions the repo.lock pins (a flake's inputs, pinned by the block), and instantiated with that lock;
 * without `resolve` it is an error for that package. An input of the same repository that the lock does not pin
 * is always an error (named); every failure is reported and the other packages are still instantiated. Only the
 * derivations no other one of the repository depends on are pinned.
 */
import * as semver from "semver";
import { CID } from "multiformats/cid";
import { mapLimit } from "../concurrency";
import { currentSystem } from "../derivation";
import { isPkgError, PkgError } from "../errors";
import { compareUtf8 } from "../files/order";
import {
  deriveGraph,
  ERR_INSTANTIATE_INPUT_NOT_LOCKED,
  ERR_INSTANTIATE_LOCK_MISMATCH,
  instantiate,
  label,
  READ_CONCURRENCY,
  readMeta,
  rootCause,
  storeDerivations,
  type InstantiateContent,
  type InstantiatedDerivation,
  type Vertex,
} from "../instantiate";
import { parseLockKey, type Lockfile } from "../lockfile";
import { listInputs, type InputKind, type Manifest } from "../manifest";
import { packageVersionId } from "../ids";
import type { RepositoryLock } from "../repolock";
import { resolveLock } from "../resolve";
import type { RegistryClient } from "../chain/registry";

export interface InstantiateRepositoryParams {
  lock: RepositoryLock;
  content: InstantiateContent;
  system?: string;
  /** Pin every derivation no other one of the repository depends on. Default true. */
  pin?: boolean;
  /**
   * Lock inputs from other repositories against this registry at the repo.lock's block (see the top of this
   * file); without it a package that needs one fails with ERR_INSTANTIATE_INPUT_NOT_LOCKED.
   */
  resolve?: { client: Pick<RegistryClient, "getPackages">; chain: { chainId: number; registry: string } };
}

export interface InstantiateFailure {
  /** Package name within the repository. */
  name: string;
  version: string;
  error: PkgError;
}

export interface RepositoryInstantiation {
  repository: string;
  /** Package name → derivation, for every package that could be instantiated. */
  derivations: Map<string, InstantiatedDerivation>;
  /** Every package that could not, sorted by name; each error names the cause. */
  failures: InstantiateFailure[];
}

/**
 * Every package a repo.lock pins → a derivation, with inputs looked up in the same lock (see the top of
 * this file). Failures are collected per package, never thrown: one broken package does not hide the rest.
 * @throws only content store errors that are not about one package.
 */
export async function instantiateRepository(params: InstantiateRepositoryParams): Promise<RepositoryInstantiation> {
  const { lock, content } = params;
  const system = params.system ?? currentSystem();
  const names = Object.keys(lock.packages).sort(compareUtf8);
  const vertices = new Map<string, Vertex | PkgError>();
  const across = new Set<PkgError>(); // a package's only problem: inputs of other repositories (params.resolve)
  const manifests = await mapLimit(names, READ_CONCURRENCY, async (name): Promise<Manifest | PkgError> => {
    const entry = lock.packages[name];
    try {
      return await readMeta(content, entry.meta, { repository: lock.name, name, version: entry.version });
    } catch (error) {
      if (isPkgError(error)) return error;
      throw error;
    }
  });
  names.forEach((name, i) => {
    const m = manifests[i];
    if (m instanceof PkgError) {
      vertices.set(name, m);
      return;
    }
    const who = label(m);
    const edges: { id: string; kind: InputKind }[] = [];
    let outside: PkgError | null = null;
    for (const input of listInputs(m)) {
      if (input.repository !== lock.name && params.resolve !== undefined) {
        outside ??= new PkgError(ERR_INSTANTIATE_INPUT_NOT_LOCKED, `${who}: its ${input.kind} ${input.key} is not pinned by the repo.lock of ${lock.name}`, {
          details: { package: who, input: input.key, kind: input.kind },
        });
        continue;
      }
      const pinned = input.repository === lock.name && Object.prototype.hasOwnProperty.call(lock.packages, input.name) ? lock.packages[input.name] : undefined;
      if (pinned === undefined) {
        vertices.set(name, new PkgError(ERR_INSTANTIATE_INPUT_NOT_LOCKED, `${who}: its ${input.kind} ${input.key} is not pinned by the repo.lock of ${lock.name}`, {
          details: { package: who, input: input.key, kind: input.kind },
          hint: input.repository === lock.name
            ? `${input.key} is not in this version of ${lock.name}; publish it and lock the repository again`
            : "repo instantiate uses only the repository's own packages; instantiate this one with `pkg lock` and `pkg instantiate`",
        }));
        return;
      }
      if (!semver.satisfies(pinned.version, input.range)) {
        vertices.set(name, new PkgError(ERR_INSTANTIATE_LOCK_MISMATCH, `${who}: [${input.kind}s] "${input.key}" = "${input.range}", but the repo.lock of ${lock.name} pins ${pinned.version}`, {
          details: { package: who, input: input.key, range: input.range, version: pinned.version },
          hint: "the repository pins versions that do not fit together; publish a version that accepts it, or pin another one",
        }));
        return;
      }
      edges.push({ id: input.name, kind: input.kind });
    }
    if (outside !== null) {
      across.add(outside);
      vertices.set(name, outside);
      return;
    }
    vertices.set(name, { label: who, manifest: m, meta: CID.parse(lock.packages[name].meta).toV1(), src: CID.parse(lock.packages[name].src).toV1(), edges });
  });

  const outcomes = deriveGraph(vertices, names, system);
  await storeDerivations(content, outcomes.values());
  const derivations = new Map<string, InstantiatedDerivation>();
  const failures: InstantiateFailure[] = [];
  const used = new Set<string>(); // derivations some other one depends on
  for (const [i, name] of names.entries()) {
    let o: ({ ok: true } & InstantiatedDerivation) | { ok: false; error: PkgError } = outcomes.get(name)!;
    if (!o.ok && params.resolve !== undefined && across.has(rootCause(o.error))) {
      try {
        o = { ok: true, ...(await instantiateAcross(lock, name, manifests[i] as Manifest, params.resolve, content, system)) };
      } catch (error) {
        if (!isPkgError(error)) throw error;
        o = { ok: false, error };
      }
    }
    if (o.ok) {
      derivations.set(name, { cid: o.cid, derivation: o.derivation });
      for (const input of Object.values(o.derivation.inputDrvs)) used.add(input.drv.toString());
    } else {
      failures.push({ name, version: lock.packages[name].version, error: o.error });
    }
  }
  if (params.pin !== false) {
    for (const { cid } of derivations.values()) if (!used.has(cid.toString())) await content.pin(cid);
  }
  return { repository: lock.name, derivations, failures };
}

/**
 * One package of a repo.lock that needs other repositories: locked at the repo.lock's block with the
 * repository's own pins kept (cargo's rule for an existing lock), then instantiated like a package directory.
 * The lock must keep every package of this repository at its pinned version, else ERR_INSTANTIATE_LOCK_MISMATCH.
 */
async function instantiateAcross(
  lock: RepositoryLock,
  name: string,
  manifest: Manifest,
  resolve: NonNullable<InstantiateRepositoryParams["resolve"]>,
  content: InstantiateContent,
  system: string,
): Promise<InstantiatedDerivation> {
  const entry = lock.packages[name];
  const noEdges = { metaInputs: [], nativeInputs: [], inputs: [] };
  const pins: Lockfile = {
    package: entry.meta, block: lock.block, ...resolve.chain, ...noEdges,
    dependencies: Object.fromEntries(Object.entries(lock.packages).map(([n, p]) => [`${lock.name}:${n}`, { ...p, ...noEdges }])),
  };
  const resolved = await resolveLock({ manifest, manifestCid: entry.meta, client: resolve.client, content, block: lock.block, chain: resolve.chain, previous: pins });
  for (const [key, dep] of Object.entries(resolved.lock.dependencies)) {
    const parsed = parseLockKey(key);
    if ("problem" in parsed || parsed.repository !== lock.name) continue;
    const pinned = Object.prototype.hasOwnProperty.call(lock.packages, parsed.name) ? lock.packages[parsed.name].version : "nothing";
    if (dep.version !== pinned) {
      const who = label(manifest);
      throw new PkgError(ERR_INSTANTIATE_LOCK_MISMATCH, `${who}: its inputs need ${packageVersionId({ repository: lock.name, name: parsed.name, version: dep.version })}, but the repo.lock of ${lock.name} pins ${pinned}`, {
        details: { package: who, input: `${lock.name}:${parsed.name}`, version: dep.version, pinned },
        hint: "the repository pins versions that do not fit together; publish a version that accepts it, or pin another one",
      });
    }
  }
  const { root, derivation } = await instantiate({ lock: resolved.lock, manifest, src: entry.src, content, system, pin: false });
  return { cid: root, derivation };
}
