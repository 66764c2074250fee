/**
 * mirror-npm: versions per minute of `pkg mirror npm` (the real CLI, a fresh `node bin/pkg.js` process) importing
 * 400 packages × 5 versions (2,000 versions, dependencies between them) from a local verdaccio into a local pkg
 * node (startLocalNode, as `pkg node` runs it) and the embedded store beside it: every packument read, every
 * tarball downloaded, checked, stored and unpacked, one pkg.toml generated per version, the index written and
 * one repository version published. Goal ≥ 2,000/min. Anchor: the same run's network floor, every packument and
 * every tarball downloaded from the same verdaccio with fetch and nothing else (as many packages at once as the
 * mirror's default --concurrency, 8; a package's tarballs one after another, as the importer fetches them).
 *
 * mirror-gas: gas per mirrored version, the mirror's transactions (found in the blocks its run mined:
 * createRepository and publishRepository) over the versions stored. Goal ≤ 1,000. Anchor: one native
 * `pkg publish` of a version (the second version of a small package, so no registration) in the same run.
 *
 *   npx hardhat run bench/mirror/npm.ts
 *
 * Needs `npm run build`; installs verdaccio into bench/tools on first use.
 */
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { createHash } from "node:crypto";
import { Registry__factory } from "../../typechain-types";
import { startLocalNode, type LocalNode } from "../../src/node";
import { seededRandom } from "../../test/helpers/random";
import { bench, cleanEnv, median, note, pool, ROOT, runOk } from "../cli/util";
import { ensureVerdaccio, startVerdaccio, putVersion, type Verdaccio } from "../cli/verdaccio";
import { blockNumber, progress, rpc, transactionsBetween, withWorkDir } from "./util";

const PACKAGES = Number(process.env.BENCH_MIRROR_NPM_PACKAGES ?? 400);
const VERSIONS = ["1.0.0", "1.0.1", "1.1.0", "1.2.0", "2.0.0"];
/** The mirror's default --concurrency: packages imported at once. */
const CONCURRENCY = 8;
const FLOOR_RUNS = 3;
const registryInterface = Registry__factory.createInterface();

interface NpmPackage {
  name: string;
  deps: Record<string, string>;
  /** Versions published deprecated (npm still installs them; the mirror keeps them, not yanked). */
  deprecated: Set<string>;
}

/** 400 packages; about 60% depend on 1–3 packages further down the list (so no cycles), with ^ and ~ ranges. */
function makePackages(count: number, seed: number): NpmPackage[] {
  const rand = seededRandom(seed);
  const names = Array.from({ length: count }, (_, i) => `mirror-bench-${String(i).padStart(3, "0")}`);
  return names.map((name, i) => {
    const deps: Record<string, string> = {};
    if (i < count - 1 && rand() < 0.6) {
      const n = 1 + Math.floor(rand() * 3);
      for (let k = 0; k < n; k++) {
        const target = names[i + 1 + Math.floor(rand() * Math.min(40, count - i - 1))];
        const r = rand();
        deps[target] = r < 0.5 ? "^1.0.0" : r < 0.75 ? "~1.1.0" : "^2.0.0";
      }
    }
    const deprecated = new Set<string>(rand() < 0.05 ? ["1.0.1"] : []);
    return { name, deps, deprecated };
  });
}

/** Some lines of JavaScript-looking text, different per seed (a few KB a package version, as small npm packages are). */
function sourceText(rand: () => number, lines: number): string {
  const words = ["value", "options", "result", "buffer", "index", "length", "callback", "module", "exports", "config", "stream", "items", "key", "error", "data"];
  const out: string[] = ["'use strict';", ""];
  for (let i = 0; i < lines; i++) {
    const a = words[Math.floor(rand() * words.length)];
    const b = words[Math.floor(rand() * words.length)];
    out.push(rand() < 0.2 ? `// ${a} ${b}: ${Math.floor(rand() * 1e6).toString(36)}` : `  const ${a}${i} = ${b}[${Math.floor(rand() * 100)}] || ${JSON.stringify(a)};`);
  }
  return `${out.join("\n")}\n`;
}

const LICENSE = `MIT License\n\nCopyright (c) bench\n\nPermission is hereby granted, free of charge, to any person obtaining a copy of this software and associated documentation files (the "Software"), to deal in the Software without restriction.\n`;

/** Publishes every version (oldest first, so `latest` ends on the newest) by one HTTP PUT each, 16 packages at once. */
async function publishAll(registry: Verdaccio, packages: readonly NpmPackage[]): Promise<{ versions: number; bytes: number }> {
  let versions = 0;
  let bytes = 0;
  await pool(packages, 16, async (p) => {
    const rand = seededRandom(Number.parseInt(createHash("sha256").update(p.name).digest("hex").slice(0, 8), 16));
    for (const version of VERSIONS) {
      const manifest: Record<string, unknown> = {
        name: p.name,
        version,
        description: `synthetic package ${p.name} of the mirror benchmark`,
        main: "index.js",
        license: "MIT",
        dependencies: p.deps,
      };
      if (p.deprecated.has(version)) manifest.deprecated = "use a newer version";
      bytes += await putVersion(registry, manifest as Record<string, unknown> & { name: string; version: string }, [
        { path: "package/README.md", content: `# ${p.name}\n\nVersion ${version}. A synthetic package of the mirror benchmark.\n\n${sourceText(rand, 10).replace(/^/gm, "    ")}` },
        { path: "package/LICENSE", content: LICENSE },
        { path: "package/index.js", content: `module.exports = require('./lib/main');\n// ${p.name}@${version}\n` },
        { path: "package/lib/main.js", content: sourceText(rand, 60) },
        { path: "package/lib/util.js", content: sourceText(rand, 40) },
        { path: "package/lib/errors.js", content: sourceText(rand, 20) },
      ]);
      versions++;
    }
  });
  return { versions, bytes };
}

/** The network floor: every packument and tarball downloaded with fetch, `concurrency` packages at once. */
async function downloadAll(registry: Verdaccio, names: readonly string[], concurrency: number): Promise<{ ms: number; versions: number; bytes: number }> {
  const started = performance.now();
  let versions = 0;
  let bytes = 0;
  await pool(names, concurrency, async (name) => {
    const response = await fetch(`${registry.url}/${name}`);
    if (!response.ok) throw new Error(`GET ${name}: HTTP ${response.status}`);
    const packument = (await response.json()) as { versions: Record<string, { dist: { tarball: string } }> };
    for (const doc of Object.values(packument.versions)) {
      const tgz = await fetch(doc.dist.tarball);
      if (!tgz.ok) throw new Error(`GET ${doc.dist.tarball}: HTTP ${tgz.status}`);
      const body = await tgz.arrayBuffer(); // not `bytes += (await …)`: that reads `bytes` before the await
      bytes += body.byteLength;
      versions++;
    }
  });
  return { ms: performance.now() - started, versions, bytes };
}

interface MirrorJson {
  root: string;
  version: string | null;
  tx: { hash: string; block: number } | null;
  packages: { visited: number; changed: number; skipped: number };
  versions: { stored: number; total: number };
  changes: unknown[];
  resumed: boolean;
}

/** Gas of one native version: `repo create`, then `pkg publish` of 1.0.0 (registers the package) and 1.0.1 (the one measured). */
async function nativePublishGas(work: string, env: NodeJS.ProcessEnv, url: string): Promise<{ first: number; second: number }> {
  const dir = path.join(work, "native");
  await mkdir(dir, { recursive: true });
  const manifest = (version: string) =>
    ["[package]", 'repository = "native-bench"', 'name = "tiny"', `version = "${version}"`, 'license = "MIT"', 'src = ["README.md"]', ""].join("\n");
  await writeFile(path.join(dir, "README.md"), "a small package published natively, the anchor of mirror-gas\n");
  await runOk(process.execPath, [path.join(ROOT, "bin", "repo.js"), "create", "native-bench", "--json"], { cwd: dir, env });
  const gas: number[] = [];
  for (const version of ["1.0.0", "1.0.1"]) {
    await writeFile(path.join(dir, "pkg.toml"), manifest(version));
    const result = await runOk(process.execPath, [path.join(ROOT, "bin", "pkg.js"), "publish", "--json"], { cwd: dir, env });
    const published = JSON.parse(result.stdout) as { tx: { hash: string } | null };
    if (published.tx === null) throw new Error(`pkg publish ${version} sent no transaction`);
    const receipt = await rpc<{ gasUsed: string }>(url, "eth_getTransactionReceipt", [published.tx.hash]);
    gas.push(Number(receipt.gasUsed));
  }
  return { first: gas[0], second: gas[1] };
}

export async function benchMirrorNpm(): Promise<void> {
  const log = progress(performance.now());
  if (!existsSync(path.join(ROOT, "dist", "cli", "pkg", "mirror", "npm.js"))) throw new Error("dist/ is not built: run `npm run build` first");
  let node: LocalNode | null = null;
  let verdaccio: Verdaccio | null = null;
  const nodeLog: string[] = [];
  const stop = async () => {
    await verdaccio?.stop();
    verdaccio = null;
    await node?.stop();
    node = null;
  };
  await withWorkDir(
    "chainpkg-bench-mirror-npm-",
    async (work) => {
      const dataDir = path.join(work, "data");
      await ensureVerdaccio(log);
      const [startedNode, startedVerdaccio] = await Promise.allSettled([
        startLocalNode({ dataDir, port: 0, log: (line) => nodeLog.push(line) }),
        startVerdaccio(path.join(work, "verdaccio")),
      ]);
      if (startedNode.status === "fulfilled") node = startedNode.value;
      if (startedVerdaccio.status === "fulfilled") verdaccio = startedVerdaccio.value;
      if (startedNode.status === "rejected") throw startedNode.reason;
      if (startedVerdaccio.status === "rejected") throw startedVerdaccio.reason;
      const localNode: LocalNode = startedNode.value;
      const registry: Verdaccio = startedVerdaccio.value;
      log(`pkg node on ${localNode.url}, verdaccio on ${registry.url}`);

      const packages = makePackages(PACKAGES, 2000);
      const names = packages.map((p) => p.name);
      const t = performance.now();
      const published = await publishAll(registry, packages);
      const edges = packages.reduce((n, p) => n + Object.keys(p.deps).length, 0);
      log(`published ${published.versions} versions of ${packages.length} packages to verdaccio in ${((performance.now() - t) / 1000).toFixed(1)} s`);

      // the floor: once untimed (verdaccio's caches), then FLOOR_RUNS timed
      await downloadAll(registry, names, CONCURRENCY);
      const floors: number[] = [];
      let floorBytes = 0;
      for (let i = 0; i < FLOOR_RUNS; i++) {
        const floor = await downloadAll(registry, names, CONCURRENCY);
        if (floor.versions !== published.versions) throw new Error(`the floor downloaded ${floor.versions} versions, not ${published.versions}`);
        floors.push((floor.versions / floor.ms) * 60_000);
        floorBytes = floor.bytes;
      }
      log(`network floor: ${floors.map((f) => f.toFixed(0)).join(", ")} versions/min`);

      const env = cleanEnv({
        PKG_DATA_DIR: dataDir,
        PKG_RPC_URL: localNode.url,
        PKG_CONFIG: path.join(work, "no-config.toml"),
        XDG_RUNTIME_DIR: path.join(work, "run"),
        NO_COLOR: "1",
      });
      const before = await blockNumber(localNode.url);
      log(`pkg mirror npm (${names.length} names on its command line) ...`);
      const args = [path.join(ROOT, "bin", "pkg.js"), "mirror", "npm", ...names, "--registry", registry.url, "--repository", "npm", "--json"];
      const mirrored = await runOk(process.execPath, args, { cwd: work, env });
      const result = JSON.parse(mirrored.stdout) as MirrorJson;
      if (result.versions.stored !== published.versions || result.tx === null) {
        throw new Error(`pkg mirror npm stored ${result.versions.stored} versions (of ${published.versions}), tx ${JSON.stringify(result.tx)}:\n${mirrored.stderr.slice(-3000)}`);
      }
      const rate = (result.versions.stored / mirrored.ms) * 60_000;
      log(`mirrored ${result.versions.stored} versions in ${(mirrored.ms / 1000).toFixed(1)} s`);

      // the mirror's transactions: every one mined from `before` to the publishing block
      const txs = (await transactionsBetween(localNode.url, before + 1, result.tx.block)).filter((tx) => tx.to?.toLowerCase() === localNode.registry.toLowerCase());
      const create = registryInterface.getFunction("createRepository").selector;
      const publish = registryInterface.getFunction("publishRepository").selector;
      const unknown = txs.filter((tx) => tx.selector !== create && tx.selector !== publish);
      if (unknown.length > 0) throw new Error(`pkg mirror npm sent other transactions: ${unknown.map((tx) => tx.selector).join(", ")}`);
      const createGas = txs.filter((tx) => tx.selector === create).reduce((n, tx) => n + tx.gasUsed, 0);
      const publishTx = txs.find((tx) => tx.hash === result.tx!.hash);
      if (publishTx === undefined) throw new Error(`the publishing transaction ${result.tx.hash} is not in blocks ${before + 1}–${result.tx.block}`);
      const totalGas = txs.reduce((n, tx) => n + tx.gasUsed, 0);

      const native = await nativePublishGas(work, env, localNode.url);

      const floor = median(floors);
      bench("mirror-npm", rate, "versions/min", "fetch-floor", floor);
      note(
        `${result.versions.stored} versions of ${result.packages.changed} packages (${edges} dependency edges, ${packages.filter((p) => p.deprecated.size > 0).length} with a deprecated version), ` +
          `${(published.bytes / published.versions / 1024).toFixed(1)} KiB a tarball (7 files); one \`pkg mirror npm\` run of all ${names.length} names, ` +
          `--concurrency ${CONCURRENCY} (default), ${(mirrored.ms / 1000).toFixed(1)} s wall time including the CLI's start and the transactions (goal ≥ 2,000/min)`,
      );
      note(
        `fetch floor: median of ${FLOOR_RUNS} in-process downloads of every packument and tarball (${(floorBytes / 1024 / 1024).toFixed(1)} MiB), ${CONCURRENCY} packages at once: ` +
          `${floors.map((f) => f.toFixed(0)).join(", ")} versions/min; mirror / floor = ${(rate / floor).toFixed(2)}`,
      );
      bench("mirror-gas", totalGas / result.versions.stored, "gas/version", "native-publish-gas", native.second);
      note(
        `counted: every transaction the run mined, ${txs.length}: createRepository ${createGas} gas + publishRepository ${publishTx.gasUsed} gas = ${totalGas} gas, ` +
          `over ${result.versions.stored} versions (publishRepository alone: ${(publishTx.gasUsed / result.versions.stored).toFixed(0)} gas/version; it costs the same for any number of versions) (goal ≤ 1,000)`,
      );
      note(`native: \`pkg publish\` of tiny 1.0.1 in the same run (1.0.0, which also registered the package: ${native.first} gas); README's publish-gas: 104,814`);
    },
    stop,
  ).catch((error: unknown) => {
    if (nodeLog.length > 0) console.error(`pkg node log:\n${nodeLog.slice(-20).join("\n")}`);
    throw error;
  });
}

if (require.main === module) {
  benchMirrorNpm().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
