/**
 * A synthetic, seeded dependency graph for the lock benchmarks, the same for pkg (one registry repository)
 * and npm (unscoped packages in a local registry).
 *
 * Shape: packages in `levels` tiers; a package of tier k depends on 2–6 packages (mostly 3–4) of tier k+1 and,
 * sometimes, directly on a deeper one (the way everything ends up depending on small leaf utilities); the
 * last tier holds leaves. Every package of tier k+1 has a dependent in tier k, so the roots reach the whole
 * graph. A quarter of each tier is a "spine" that only tier-k spine packages depend on, so the breadth-first
 * depth really is `levels` (skip edges cannot shorten it).
 *
 * Versions: 1–6 per package over one to three majors (some 0.x), patches and minors; about one package in
 * six has a yanked version (often its newest). Ranges are `^x.y.z`, `~x.y.z` or `>=x.y.z <X.0.0`, written
 * from a non-yanked version so a non-yanked match always exists; one request in six targets an older major,
 * so several versions of one package end up in a lock. Every version of a package has the same inputs.
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { serializeManifest } from "../../src/manifest";
import { seededRandom } from "../../test/helpers/random";

export interface GraphPackage {
  name: string;
  tier: number;
  /** Ascending semver order. */
  versions: string[];
  yanked: Set<string>;
  /** Dependency name → range; the same for every version. */
  deps: Map<string, string>;
}

export interface Graph {
  /** pkg repository name, also the npm names' prefix. */
  prefix: string;
  packages: GraphPackage[];
  /** Dependencies of the project being locked: name → range. */
  roots: Map<string, string>;
  levels: number;
}


/** Tier sizes: roots few, widening tier by tier (at most ×2.5, so 2–6 inputs per package cover the next tier), then slowly narrowing. */
const TIER_SHAPE = [8, 20, 48, 88, 124, 148, 156, 148, 136, 124];

export function tierSizes(total: number, levels: number): number[] {
  const weights = Array.from({ length: levels }, (_, k) => {
    const x = levels === 1 ? 0 : (k / (levels - 1)) * (TIER_SHAPE.length - 1);
    const i = Math.min(Math.floor(x), TIER_SHAPE.length - 2);
    return TIER_SHAPE[i] + (TIER_SHAPE[i + 1] - TIER_SHAPE[i]) * (x - i);
  });
  const sum = weights.reduce((a, b) => a + b, 0);
  const sizes = weights.map((w) => Math.max(1, Math.round((w / sum) * total)));
  let diff = total - sizes.reduce((a, b) => a + b, 0);
  for (let k = levels - 1; diff !== 0; k = k === 0 ? levels - 1 : k - 1) {
    if (diff > 0) {
      sizes[k]++;
      diff--;
    } else if (sizes[k] > 1) {
      sizes[k]--;
      diff++;
    }
  }
  return sizes;
}

interface V {
  major: number;
  minor: number;
  patch: number;
}
const str = (v: V) => `${v.major}.${v.minor}.${v.patch}`;
const parse = (s: string): V => {
  const [major, minor, patch] = s.split(".").map(Number);
  return { major, minor, patch };
};

function makeVersions(rand: () => number): { versions: string[]; yanked: Set<string> } {
  const majorCount = rand() < 0.7 ? 1 : rand() < 0.85 ? 2 : 3;
  const firstMajor = rand() < 0.15 ? 0 : 1;
  const list: V[] = [];
  for (let m = 0; m < majorCount; m++) {
    const major = firstMajor + m;
    const minors = 1 + Math.floor(rand() * 3);
    for (let minor = 0; minor < minors; minor++) {
      const patches = 1 + Math.floor(rand() * 2);
      for (let patch = 0; patch < patches; patch++) list.push({ major, minor, patch });
    }
  }
  const versions = list.slice(-6).map(str); // at most 6, the newest
  const yanked = new Set<string>();
  if (versions.length >= 2 && rand() < 0.17) {
    // the newest (a bad release) or an older one; never the only one of its major
    const pick = rand() < 0.6 ? versions.length - 1 : Math.floor(rand() * versions.length);
    const v = parse(versions[pick]);
    if (versions.filter((x) => parse(x).major === v.major).length >= 2) yanked.add(versions[pick]);
  }
  return { versions, yanked };
}

/** A range some non-yanked version of `dep` satisfies; older majors now and then. */
function makeRange(dep: GraphPackage, rand: () => number): string {
  const good = dep.versions.filter((v) => !dep.yanked.has(v)).map(parse);
  const majors = [...new Set(good.map((v) => v.major))];
  const major = majors.length > 1 && rand() < 1 / 6 ? majors[Math.floor(rand() * (majors.length - 1))] : majors[majors.length - 1];
  const inMajor = good.filter((v) => v.major === major);
  // the lower bound: some non-yanked version of that major (not always the newest, so the resolver must pick)
  const floor = inMajor[Math.floor(rand() * inMajor.length)];
  const r = rand();
  if (r < 0.5) return `^${str(floor)}`;
  if (r < 0.75) return `~${str(floor)}`;
  return `>=${str(floor)} <${major + 1}.0.0`;
}

export function makeGraph(options: { total: number; levels: number; seed: number; prefix: string; roots?: number }): Graph {
  const { total, levels, prefix } = options;
  const rand = seededRandom(options.seed);
  const sizes = tierSizes(total, levels);
  const tiers: GraphPackage[][] = sizes.map((size, tier) =>
    Array.from({ length: size }, (_, i) => ({
      name: `${prefix}-t${tier}-${String(i).padStart(3, "0")}`,
      tier,
      ...makeVersions(rand),
      deps: new Map<string, string>(),
    })),
  );
  const spineSize = (tier: number) => Math.max(1, Math.ceil(sizes[tier] / 4));
  const isSpine = (p: GraphPackage) => Number(p.name.slice(-3)) < spineSize(p.tier);

  for (let k = 0; k < levels - 1; k++) {
    const sources = tiers[k];
    const next = tiers[k + 1];
    const wanted = new Map(sources.map((p) => [p, 2 + Math.floor(rand() * 2) + (rand() < 0.35 ? 1 + Math.floor(rand() * 3) : 0)]));
    const picks = new Map<GraphPackage, Set<GraphPackage>>(sources.map((p) => [p, new Set()]));
    // cover tier k+1: spine targets from spine sources, the others from anyone, round robin
    const spineSources = sources.filter(isSpine);
    next.forEach((target, i) => {
      const from = isSpine(target) ? spineSources[i % spineSources.length] : sources[i % sources.length];
      picks.get(from)!.add(target);
    });
    const deeper = tiers.slice(k + 2).flat().filter((p) => !isSpine(p));
    for (const source of sources) {
      const chosen = picks.get(source)!;
      // a spine package keeps at least one spine input, so the chain through the spine is unbroken
      if (isSpine(source) && ![...chosen].some(isSpine)) chosen.add(next.filter(isSpine)[Math.floor(rand() * spineSize(k + 1))]);
      const pool = isSpine(source) ? next : next.filter((p) => !isSpine(p));
      let guard = 0;
      while (chosen.size < Math.min(wanted.get(source)!, 6) && guard++ < 50) {
        const target = deeper.length > 0 && rand() < 0.15 ? deeper[Math.floor(rand() * deeper.length)] : pool[Math.floor(rand() * pool.length)];
        if (target) chosen.add(target);
      }
      for (const target of [...chosen].sort((a, b) => (a.name < b.name ? -1 : 1))) source.deps.set(target.name, makeRange(target, rand));
    }
  }

  const roots = new Map<string, string>();
  for (const root of tiers[0].slice(0, options.roots ?? tiers[0].length)) roots.set(root.name, makeRange(root, rand));
  return { prefix, packages: tiers.flat(), roots, levels };
}

/**
 * Breadth-first depth from the roots (what a level-by-level resolver walks), packages reached, and how many
 * packages are first seen at each level (what each level's registry read asks for).
 */
export function graphDepth(graph: Graph): { depth: number; reached: number; perLevel: number[] } {
  const byName = new Map(graph.packages.map((p) => [p.name, p]));
  const seen = new Set<string>(graph.roots.keys());
  let frontier = [...graph.roots.keys()];
  let depth = 0;
  const perLevel: number[] = [];
  while (frontier.length > 0) {
    depth++;
    perLevel.push(frontier.length);
    const next: string[] = [];
    for (const name of frontier) {
      for (const dep of byName.get(name)!.deps.keys()) {
        if (!seen.has(dep)) {
          seen.add(dep);
          next.push(dep);
        }
      }
    }
    frontier = next;
  }
  return { depth, reached: seen.size, perLevel };
}

export function versionCount(graph: Graph): number {
  return graph.packages.reduce((n, p) => n + p.versions.length, 0);
}

export function describe(graph: Graph): string {
  const sizes = graph.levels > 0 ? tierSizes(graph.packages.length, graph.levels) : [];
  const edges = graph.packages.reduce((n, p) => n + p.deps.size, 0);
  const yanked = graph.packages.reduce((n, p) => n + p.yanked.size, 0);
  const multi = graph.packages.filter((p) => p.versions.length > 1).length;
  const ranges = graph.packages.flatMap((p) => [...p.deps.values()]);
  const caret = ranges.filter((r) => r.startsWith("^")).length;
  const tilde = ranges.filter((r) => r.startsWith("~")).length;
  const { depth, reached } = graphDepth(graph);
  const nonLeaves = graph.packages.filter((p) => p.deps.size > 0);
  return (
    `${graph.packages.length} packages (${reached} reached from ${graph.roots.size} roots), tiers ${sizes.join("/")}, depth ${depth}; ` +
    `${versionCount(graph)} versions (${multi} packages with several), ${yanked} yanked; ${edges} edges ` +
    `(${(edges / nonLeaves.length).toFixed(1)} per non-leaf, ${Math.min(...nonLeaves.map((p) => p.deps.size))}–${Math.max(...nonLeaves.map((p) => p.deps.size))}); ranges ${caret} ^, ${tilde} ~, ${ranges.length - caret - tilde} >= <`
  );
}

/** The project being locked: depends on every root of the graph. */
export async function writePkgProject(dir: string, graph: Graph): Promise<void> {
  await mkdir(dir, { recursive: true });
  const manifest = {
    repository: "app",
    name: "app",
    version: "1.0.0",
    license: "MIT",
    src: ["README.md"],
    builder: null,
    args: [],
    metaInputs: {},
    nativeInputs: {},
    inputs: Object.fromEntries([...graph.roots].map(([name, range]) => [`${graph.prefix}:${name}`, range])),
  };
  await writeFile(path.join(dir, "pkg.toml"), serializeManifest(manifest));
  await writeFile(path.join(dir, "README.md"), "the project of the lock benchmark\n");
}
