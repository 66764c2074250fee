/**
 * Resolution: a package's inputs of every kind, transitively, against the registry at one block → a Lockfile.
 *
 * - One batched registry read per level of the graph (all packages first seen at that level together),
 *   every read at the same block, so resolving again at a lock's block gives the same lock.
 * - For each request (a dependent asks for `repo:name` in a range) the chosen version is, in order:
 *   1. a version already chosen in this resolution that satisfies the range (shared, like npm's dedupe);
 *   2. the previous lock's version of that package, if it still satisfies the range and is not being
 *      updated (cargo's rule) — even if yanked since, with a warning;
 *   3. the highest version satisfying the range that is not yanked. Pre-releases match only ranges that
 *      name one (semver's rule, as npm and cargo).
 * - Several versions of one package may end up in a lock when ranges cannot share one (as npm allows;
 *   cargo allows it across semver-incompatible versions). Their keys become `repo:name@version`.
 * - A range no version satisfies fails with every dependent that asked for it named.
 */
import * as semver from "semver";
import { CID } from "multiformats/cid";
import { PkgError } from "./errors";
import { assignLockKeys, type LockEdges, type Lockfile } from "./lockfile";
import { listInputs, readPublishedManifest, type InputKind, type Manifest } from "./manifest";
import type { PackageRecord, RegistryClient } from "./chain/registry";
import type { ContentStore } from "./content";
import { packageVersionId, type PackageKey } from "./ids";

export const ERR_RESOLVE_UNKNOWN_PACKAGE = "ERR_RESOLVE_UNKNOWN_PACKAGE";
export const ERR_RESOLVE_NO_MATCH = "ERR_RESOLVE_NO_MATCH";
export const ERR_RESOLVE_CYCLE = "ERR_RESOLVE_CYCLE";
export const ERR_RESOLVE_LOCK_MISMATCH = "ERR_RESOLVE_LOCK_MISMATCH";
export const ERR_RESOLVE_BAD_META = "ERR_RESOLVE_BAD_META";

export interface ResolveParams {
  /** The package being locked. */
  manifest: Manifest;
  /** CID of its pkg.toml (the lock's `package`). */
  manifestCid: string;
  client: Pick<RegistryClient, "getPackages">;
  /** Where dependencies' pkg.toml files are read from (verified by CID). */
  content: Pick<ContentStore, "getBytes">;
  /** Resolve against the registry as of this block. */
  block: number;
  chain: { chainId: number; registry: string };
  /** Entries to keep when they still satisfy their ranges. */
  previous?: Lockfile | null;
  /** Packages (`repo:name`) to resolve afresh, ignoring `previous`; "all" for every one. */
  update?: "all" | readonly string[];
  onProgress?: (event: { level: number; packages: number }) => void;
}

export interface ResolveResult {
  lock: Lockfile;
  warnings: string[];
  /** How many levels the graph has, i.e. how many batched registry reads it took. */
  levels: number;
}

interface Node {
  repository: string;
  name: string;
  version: string;
  meta: string;
  src: string;
  yanked: boolean;
  edges: { metaInputs: Node[]; nativeInputs: Node[]; inputs: Node[] };
}

interface Request {
  /** Who asks: "the root" or `repo:name@version`. */
  dependent: string;
  from: Node | null;
  kind: InputKind;
  repository: string;
  name: string;
  range: string;
}

const EDGE_FIELD: Record<InputKind, keyof LockEdges> = {
  "meta-input": "metaInputs",
  "native-input": "nativeInputs",
  input: "inputs",
};

function label(node: Pick<Node, "repository" | "name" | "version">): string {
  return packageVersionId(node);
}

function requestsOf(manifest: Manifest, from: Node | null): Request[] {
  const dependent = from ? label(from) : `${label(manifest)} (the package being locked)`;
  return listInputs(manifest).map((input) => ({
    dependent,
    from,
    kind: input.kind,
    repository: input.repository,
    name: input.name,
    range: input.range,
  }));
}

async function readMeta(content: Pick<ContentStore, "getBytes">, cid: string, what: string): Promise<Manifest> {
  try {
    // bounded: a hostile meta is refused one chunk past the limit, never read whole
    return await readPublishedManifest(content.getBytes(CID.parse(cid)), `${what} (meta ${cid})`);
  } catch (cause) {
    if (!(cause instanceof PkgError) || !/^ERR_MANIFEST_/.test(cause.code)) throw cause;
    throw new PkgError(ERR_RESOLVE_BAD_META, `the published pkg.toml of ${what} is invalid: ${(cause as Error).message}`, {
      details: { package: what, meta: cid },
      hint: "that version cannot be used; ask its maintainers to yank it and publish a fixed one",
      cause,
    });
  }
}

export async function resolveLock(params: ResolveParams): Promise<ResolveResult> {
  const { client, content, block } = params;
  const warnings: string[] = [];
  const records = new Map<string, PackageRecord | null>(); // repo:name → what the chain holds at `block`
  const chosen = new Map<string, Node[]>(); // repo:name → versions chosen so far
  const metas = new Map<Node, Promise<Manifest>>();
  const updateAll = params.update === "all";
  const updating = new Set(updateAll ? [] : (params.update ?? []));
  const previous = new Map<string, { version: string; meta: string; src: string }[]>();
  if (params.previous && !updateAll) {
    for (const [key, entry] of Object.entries(params.previous.dependencies)) {
      const base = key.split("@")[0];
      if (updating.has(base)) continue;
      previous.set(base, [...(previous.get(base) ?? []), entry]);
    }
  }

  const root: Node = {
    repository: params.manifest.repository,
    name: params.manifest.name,
    version: params.manifest.version,
    meta: params.manifestCid,
    src: "",
    yanked: false,
    edges: { metaInputs: [], nativeInputs: [], inputs: [] },
  };

  let frontier = requestsOf(params.manifest, null);
  let level = 0;
  while (frontier.length > 0) {
    level++;
    // one batched read for every package first seen at this level
    const unseen = [...new Set(frontier.map((r) => `${r.repository}:${r.name}`))].filter((k) => !records.has(k)).sort();
    if (unseen.length > 0) {
      const keys: PackageKey[] = unseen.map((k) => ({ repository: k.split(":")[0], name: k.split(":")[1] }));
      const fetched = await client.getPackages(keys, { blockTag: block });
      unseen.forEach((k, i) => records.set(k, fetched[i]));
    }
    params.onProgress?.({ level, packages: [...chosen.values()].reduce((n, v) => n + v.length, 0) });

    // deterministic: requests in a fixed order, whatever order the graph was discovered in
    frontier.sort((a, b) =>
      `${a.repository}:${a.name}\0${a.range}\0${a.dependent}\0${a.kind}`.localeCompare(`${b.repository}:${b.name}\0${b.range}\0${b.dependent}\0${b.kind}`),
    );
    checkKnown(frontier, records);
    const fresh: Node[] = [];
    for (const request of frontier) {
      const key = `${request.repository}:${request.name}`;
      const record = records.get(key)!;
      const node = choose(request, record, chosen.get(key) ?? [], previous.get(key) ?? [], warnings);
      if (!chosen.get(key)?.includes(node)) {
        chosen.set(key, [...(chosen.get(key) ?? []), node]);
        fresh.push(node);
      }
      const from = request.from ?? root;
      const edges = from.edges[EDGE_FIELD[request.kind]];
      if (!edges.includes(node)) edges.push(node);
    }

    // the next level: the inputs of every version chosen for the first time, from their published pkg.toml
    for (const node of fresh) metas.set(node, readMeta(content, node.meta, label(node)));
    const next: Request[] = [];
    for (const node of fresh) next.push(...requestsOf(await metas.get(node)!, node));
    frontier = next;
  }

  const nodes = [...chosen.values()].flat();
  checkAcyclic(root, nodes);
  const keys = assignLockKeys(nodes);
  const keyOf = new Map(nodes.map((node, i) => [node, keys[i]]));
  const edgeKeys = (node: Node): LockEdges => ({
    metaInputs: node.edges.metaInputs.map((n) => keyOf.get(n)!).sort(),
    nativeInputs: node.edges.nativeInputs.map((n) => keyOf.get(n)!).sort(),
    inputs: node.edges.inputs.map((n) => keyOf.get(n)!).sort(),
  });
  const dependencies: Lockfile["dependencies"] = {};
  for (const node of nodes) {
    dependencies[keyOf.get(node)!] = { version: node.version, meta: node.meta, src: node.src, ...edgeKeys(node) };
  }
  const lock: Lockfile = {
    package: params.manifestCid,
    block,
    chainId: params.chain.chainId,
    registry: params.chain.registry,
    ...edgeKeys(root),
    dependencies,
  };
  return { lock, warnings, levels: level };
}

/** Every package asked for at this level exists; the first missing one is reported with all who asked. */
function checkKnown(frontier: Request[], records: Map<string, PackageRecord | null>): void {
  const unknown = new Map<string, Request[]>();
  for (const request of frontier) {
    const key = `${request.repository}:${request.name}`;
    if (records.get(key) === null) unknown.set(key, [...(unknown.get(key) ?? []), request]);
  }
  if (unknown.size > 0) {
    const [key, requests] = [...unknown.entries()][0];
    throw new PkgError(ERR_RESOLVE_UNKNOWN_PACKAGE, `${key} is not in the registry (needed by ${[...new Set(requests.map((r) => r.dependent))].join(", ")})`, {
      details: { package: key, dependents: requests.map((r) => r.dependent), missing: [...unknown.keys()] },
      hint: "check the name in [inputs], or publish that package first",
    });
  }
}

function choose(
  request: Request,
  record: PackageRecord | null,
  already: Node[],
  previous: { version: string; meta: string; src: string }[],
  warnings: string[],
): Node {
  const key = `${request.repository}:${request.name}`;
  const satisfies = (version: string) => semver.satisfies(version, request.range);
  // 1. share a version this resolution chose already (the highest that fits)
  const shared = already.filter((n) => satisfies(n.version)).sort((a, b) => semver.rcompare(a.version, b.version))[0];
  if (shared) return shared;
  const versions = record!.versions;
  const node = (v: (typeof versions)[number]): Node => ({
    repository: request.repository,
    name: request.name,
    version: v.version,
    meta: v.meta,
    src: v.src ?? "",
    yanked: v.yanked,
    edges: { metaInputs: [], nativeInputs: [], inputs: [] },
  });
  // 2. keep what the previous lock had, if it still fits
  for (const locked of previous.filter((p) => satisfies(p.version)).sort((a, b) => semver.rcompare(a.version, b.version))) {
    const onChain = versions.find((v) => v.version === locked.version);
    if (!onChain) continue; // not on this chain (any more at this block): resolve afresh
    if (onChain.meta !== locked.meta || onChain.src !== locked.src) {
      throw new PkgError(ERR_RESOLVE_LOCK_MISMATCH, `${label({ ...request, version: locked.version })}: the lock's CIDs differ from the registry's`, {
        details: { package: key, version: locked.version, lock: locked, registry: { meta: onChain.meta, src: onChain.src } },
        hint: "the lock was made against another registry or was edited; delete the entry (or the lock) and lock again",
      });
    }
    if (onChain.yanked) warnings.push(`${label({ ...request, version: locked.version })} is yanked; keeping it because the lock names it (pkg update ${key} moves off it)`);
    return node(onChain);
  }
  // 3. the highest non-yanked version that fits
  const candidates = versions.filter((v) => !v.yanked && satisfies(v.version));
  const best = candidates.sort((a, b) => semver.rcompare(a.version, b.version))[0];
  if (best) return node(best);
  const yankedMatches = versions.filter((v) => v.yanked && satisfies(v.version)).map((v) => v.version);
  const available = versions.filter((v) => !v.yanked).map((v) => v.version).sort(semver.rcompare);
  throw new PkgError(
    ERR_RESOLVE_NO_MATCH,
    `no version of ${key} satisfies "${request.range}" (needed by ${request.dependent}; ` +
      `available: ${available.slice(0, 8).join(", ") || "none"}${available.length > 8 ? ", …" : ""}` +
      `${yankedMatches.length ? `; yanked: ${yankedMatches.join(", ")}` : ""})`,
    {
      details: { package: key, range: request.range, dependent: request.dependent, available, yanked: yankedMatches },
      hint: yankedMatches.length
        ? "the matching versions are yanked; widen the range or ask the maintainers for a fixed release"
        : "widen the range in pkg.toml, or publish a matching version",
    },
  );
}

/** Locks are acyclic (builds need an order); a cycle is reported with its path. */
function checkAcyclic(root: Node, nodes: Node[]): void {
  const state = new Map<Node, "open" | "done">();
  const stack: Node[] = [];
  const visit = (node: Node): void => {
    if (state.get(node) === "done") return;
    if (state.get(node) === "open") {
      const cycle = [...stack.slice(stack.indexOf(node)), node].map(label).join(" → ");
      throw new PkgError(ERR_RESOLVE_CYCLE, `the inputs form a cycle: ${cycle}`, {
        details: { cycle },
        hint: "a package cannot depend on itself, even indirectly; change one of these versions' inputs",
      });
    }
    state.set(node, "open");
    stack.push(node);
    for (const next of [...node.edges.metaInputs, ...node.edges.nativeInputs, ...node.edges.inputs]) visit(next);
    stack.pop();
    state.set(node, "done");
  };
  visit(root);
  for (const node of nodes) visit(node);
}
