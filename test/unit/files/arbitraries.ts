/**
 * fast-check generators for valid ids, manifests, locks and build files. They build valid objects
 * by construction (not by filtering random ones), so the property tests cover deep graphs,
 * several versions of one package, Unicode args and every builder form.
 */
import { getAddress } from "ethers";
import fc from "fast-check";
import { CID } from "multiformats/cid";
import { create as createDigest } from "multiformats/hashes/digest";
import type { BuildRecord, Buildfile } from "../../../src/buildfile";
import { isExactVersion } from "../../../src/ids";
import { assignLockKeys, compareLockKeys, type LockedDependency, type Lockfile } from "../../../src/lockfile";
import type { Builder, InputRanges, Manifest } from "../../../src/manifest";

const SHA2_256 = 0x12;

export const arbName: fc.Arbitrary<string> = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,63}$/);

const numeric = fc.oneof(fc.constant(0), fc.nat({ max: 20 }), fc.nat({ max: 1_000_000 }));
const identifier = fc.oneof(fc.stringMatching(/^[0-9A-Za-z-]{1,8}$/).filter((s) => !/^0[0-9]+$/.test(s)), fc.nat({ max: 99 }).map(String));

export const arbVersion: fc.Arbitrary<string> = fc
  .tuple(numeric, numeric, numeric, fc.array(identifier, { maxLength: 3 }), fc.array(identifier, { maxLength: 2 }))
  .map(([a, b, c, pre, build]) => `${a}.${b}.${c}${pre.length ? `-${pre.join(".")}` : ""}${build.length ? `+${build.join(".")}` : ""}`)
  .filter(isExactVersion);

/** Canonical CIDs of every shape we write: v1 raw, v1 dag-pb, v0. */
export const arbCid: fc.Arbitrary<string> = fc
  .tuple(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.constantFrom("raw", "dag-pb", "v0"))
  .map(([bytes, shape]) => {
    const digest = createDigest(SHA2_256, bytes);
    if (shape === "v0") return CID.createV0(digest).toString();
    return CID.createV1(shape === "raw" ? 0x55 : 0x70, digest).toString();
  });

const arbRange = fc.oneof(
  fc.constantFrom("*", "^1.2.3", "~0.2", ">=1.36", "0.2", "1.x", "^1 || ^2", "1.0.0 - 2.0.0", "<2.0.0-0", ">=1.0.0 <2"),
  arbVersion.map((v) => `^${v}`),
);

const arbLicense = fc.constantFrom(
  "MIT",
  "ISC",
  "Apache-2.0",
  "MIT OR Apache-2.0",
  "GPL-3.0-or-later",
  "GPL-2.0+ WITH Classpath-exception-2.0",
  "(MIT OR Apache-2.0) AND BSD-3-Clause",
  "LicenseRef-proprietary",
  "DocumentRef-spdx-tool-1.2:LicenseRef-MIT-Style-2",
);

const arbSegment = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,10}$/);
const arbPathSegment = fc.oneof({ weight: 4, arbitrary: arbSegment }, fc.constantFrom("*", "**", "*.rs", "?.md", "src", ".cargo"));
const arbPlainPath = fc.array(arbSegment, { minLength: 1, maxLength: 4 }).map((s) => s.join("/"));
const arbSrc = fc.uniqueArray(fc.array(arbPathSegment, { minLength: 1, maxLength: 4 }).map((s) => s.join("/")), { maxLength: 8 });

/** Program arguments: any well-formed Unicode, including quotes, backslashes and newlines; no NUL. */
const arbArg = fc.string({ unit: "grapheme", maxLength: 20 }).filter((s) => !s.includes("\u0000"));

const arbKey = fc.tuple(arbName, arbName).map(([r, n]) => `${r}:${n}`);
const arbInputs: fc.Arbitrary<InputRanges> = fc.dictionary(arbKey, arbRange, { maxKeys: 5 });

export const arbManifest: fc.Arbitrary<Manifest> = fc
  .record({
    repository: arbName,
    name: arbName,
    version: arbVersion,
    license: arbLicense,
    src: arbSrc,
    metaInputs: arbInputs,
    nativeInputs: arbInputs,
    inputs: arbInputs,
    args: fc.array(arbArg, { maxLength: 4 }),
    builderChoice: fc.constantFrom("none", "source", "input"),
    builderPath: fc.oneof(fc.constant(""), arbPlainPath),
    pick: fc.nat(),
  })
  .map(({ builderChoice, builderPath, pick, args, ...rest }): Manifest => {
    const self = `${rest.repository}:${rest.name}`;
    const strip = (r: InputRanges): InputRanges => Object.fromEntries(Object.entries(r).filter(([k]) => k !== self));
    const m = { ...rest, metaInputs: strip(rest.metaInputs), nativeInputs: strip(rest.nativeInputs), inputs: strip(rest.inputs) };
    const keys = [...new Set([...Object.keys(m.metaInputs), ...Object.keys(m.nativeInputs), ...Object.keys(m.inputs)])];
    const byName = new Map<string, string[]>();
    for (const key of keys) byName.set(key.split(":")[1], [...(byName.get(key.split(":")[1]) ?? []), key]);
    const unique = [...byName].filter(([, ks]) => ks.length === 1).map(([name]) => name);
    let builder: Builder | null = null;
    if (builderChoice === "source") builder = { kind: "source", path: builderPath === "" ? "build.sh" : builderPath };
    if (builderChoice === "input" && unique.length > 0) builder = { kind: "input", input: unique[pick % unique.length], path: builderPath };
    return { ...m, builder, args: builder === null ? [] : args };
  });

interface Node {
  repository: string;
  name: string;
  version: string;
  meta: string;
  src: string;
  /** Each parent is the root (-1) or an earlier node, with the kind of the edge. */
  parents: { parent: number; kind: 0 | 1 | 2 }[];
}

const FIELDS = ["metaInputs", "nativeInputs", "inputs"] as const;

/**
 * A lock whose graph is a DAG reaching every entry: node i hangs below the root or below earlier
 * nodes only. Package names are drawn from a small pool so that several versions of one package
 * (and their `@version` keys) come up often.
 */
export const arbLockfile: fc.Arbitrary<Lockfile> = fc
  .record({
    package: arbCid,
    block: fc.nat(),
    chainId: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    registry: fc.uint8Array({ minLength: 20, maxLength: 20 }),
    pool: fc.uniqueArray(fc.tuple(arbName, arbName), { minLength: 1, maxLength: 4, selector: ([r, n]) => `${r}:${n}` }),
    nodes: fc.array(
      fc.record({
        which: fc.nat(),
        version: arbVersion,
        meta: arbCid,
        src: arbCid,
        parents: fc.uniqueArray(fc.record({ parent: fc.nat(), kind: fc.constantFrom(0 as const, 1 as const, 2 as const) }), {
          minLength: 1,
          maxLength: 3,
        }),
      }),
      { maxLength: 10 },
    ),
  })
  .map(({ pool, nodes: raw, registry, ...head }): Lockfile => {
    const seen = new Set<string>();
    const nodes: Node[] = [];
    for (const n of raw) {
      const [repository, name] = pool[n.which % pool.length];
      // Versions equal by precedence (differing only in build metadata) are one version on chain.
      const id = `${repository}:${name}@${n.version.split("+")[0]}`;
      if (seen.has(id)) continue;
      seen.add(id);
      const parents = n.parents.map((p) => ({ parent: (p.parent % (nodes.length + 1)) - 1, kind: p.kind }));
      nodes.push({ repository, name, version: n.version, meta: n.meta, src: n.src, parents });
    }
    const keys = assignLockKeys(nodes);
    const empty = () => ({ metaInputs: [] as string[], nativeInputs: [] as string[], inputs: [] as string[] });
    const root = empty();
    const deps: Record<string, LockedDependency> = {};
    nodes.forEach((n, i) => (deps[keys[i]] = { version: n.version, meta: n.meta, src: n.src, ...empty() }));
    nodes.forEach((n, i) => {
      for (const { parent, kind } of n.parents) {
        const edges = parent < 0 ? root : deps[keys[parent]];
        if (!edges[FIELDS[kind]].includes(keys[i])) edges[FIELDS[kind]].push(keys[i]);
      }
    });
    for (const edges of [root, ...Object.values(deps)]) for (const f of FIELDS) edges[f].sort(compareLockKeys);
    const hex = Buffer.from(registry).toString("hex");
    return { ...head, registry: getAddress(`0x${hex}`), ...root, dependencies: deps };
  });

const arbSystem = fc.oneof(
  fc.constantFrom("x86_64-linux", "aarch64-darwin", "x86_64-linux-musl", "x86_64-unknown-linux-gnu", "wasm32-wasi", "i686-linux"),
  fc.stringMatching(/^[a-z0-9_]+(-[a-z0-9_.]+){1,3}$/),
);

const arbBuild: fc.Arbitrary<BuildRecord> = fc.record({
  name: arbName,
  package: arbCid,
  lock: arbCid,
  args: fc.array(arbArg, { maxLength: 5 }),
  metadrv: arbCid,
  subderivations: fc.uniqueArray(arbCid, { maxLength: 5 }).map((cids) => cids.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))),
  output: arbCid,
  system: arbSystem,
});

export const arbBuildfile: fc.Arbitrary<Buildfile> = fc
  .uniqueArray(arbBuild, { maxLength: 4, selector: (b) => b.name })
  .map((builds) => ({ builds }));
