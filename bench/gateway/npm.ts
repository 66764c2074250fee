/**
 * gateway-npm-install: seconds of an unmodified `npm install` of a 200-package tree through `pkg gateway` (a child
 * process, serving what `pkg mirror npm` imported from verdaccio into a local pkg node and the embedded store).
 * Goal ≥ 1.5× faster than the anchor: the same `npm install` of the same tree straight from that verdaccio, in
 * the same run.
 *
 * The tree: 200 synthetic packages of 3 versions each (1.0.0, 1.0.1, 1.1.0; 5 files, about 1.5 KiB a tarball;
 * BENCH_GATEWAY_NPM_VERSIONS=N adds N − 3 older 0.0.x versions to each, for larger packuments),
 * published to a local verdaccio by HTTP PUT. Packages 0–19 are the top ones a root project depends on; every other
 * package is a dependency of at least one package before it (so all 200 are reached), plus random extra edges
 * further down the list; every range (^1.0.0 or ~1.1.0) picks 1.1.0, so the install is exactly 200 packages, one
 * version each.
 *
 * Each install is cold on npm's side: a fresh --cache directory, no node_modules and no package-lock.json; npm's
 * files (project, caches) are on tmpfs (/dev/shm) when there is one, since on this VM's disk npm's own writes made
 * one registry's installs vary from 3.5 to 4.1 s (on tmpfs 1.78–1.85), more than the registries differ. npm 11
 * asks for full packuments (`accept: application/json`, gzip), not the abbreviated ones. The
 * registries take turns, 3 timed installs each (median), after one untimed install each (reported: the
 * gateway's first one also fills its per-block cache of package records, as its first users would). Where the time
 * goes: a third registry takes its turn in the same rotation, answering the gateway's very bytes from memory
 * (nothing computed per request: the floor of npm's own work, noted); and a quick fetch loop times every
 * abbreviated packument, then every tarball npm installed, from the gateway and verdaccio, one at a time and 15 at
 * a time (npm's maxsockets), the servers' own answers without npm.
 *
 *   npx hardhat run bench/gateway/npm.ts
 *
 * Needs `npm run build`; installs bench/tools on first use.
 */
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { seededRandom } from "../../test/helpers/random";
import { bench, median, note, pool } from "../cli/util";
import { ensureVerdaccio, startVerdaccio, type Verdaccio } from "../cli/verdaccio";
import { progress, withWorkDir } from "../mirror/util";
import { gatewayWarnings, PKG_BIN, putVersion, requireBuilt, runGroup, seconds, sourceText, startChain, startGatewayChild, Stoppers, type MirrorJson } from "./util";

const PACKAGES = Number(process.env.BENCH_GATEWAY_NPM_PACKAGES ?? 200);
const TOP = 20;
/** Versions a package: BENCH_GATEWAY_NPM_VERSIONS (≥ 3) older 0.0.x ones before these three. */
const VERSIONS = [...Array.from({ length: Math.max(0, Number(process.env.BENCH_GATEWAY_NPM_VERSIONS ?? 3) - 3) }, (_, i) => `0.0.${i}`), "1.0.0", "1.0.1", "1.1.0"];
const INSTALLED = "1.1.0";
const RUNS = 3;
/** npm's default maxsockets. */
const NPM_SOCKETS = 15;
const INSTALL_V1 = "application/vnd.npm.install-v1+json";

interface TreePackage {
  name: string;
  deps: Record<string, string>;
}

/** The tree: TOP top packages; each later one depended on by one before it (within 60), plus extra edges. */
function makeTree(count: number, seed: number): TreePackage[] {
  const rand = seededRandom(seed);
  const names = Array.from({ length: count }, (_, i) => `gw-bench-${String(i).padStart(3, "0")}`);
  const packages = names.map((name) => ({ name, deps: {} as Record<string, string> }));
  const range = () => (rand() < 0.7 ? "^1.0.0" : "~1.1.0");
  for (let j = TOP; j < count; j++) {
    const parent = Math.max(0, j - 60) + Math.floor(rand() * Math.min(60, j));
    packages[parent].deps[names[j]] = range();
  }
  for (let i = 0; i < count - 1; i++) {
    const extra = Math.floor(rand() * 3);
    for (let k = 0; k < extra; k++) packages[i].deps[names[i + 1 + Math.floor(rand() * Math.min(40, count - i - 1))]] = range();
  }
  return packages;
}

async function publishTree(registry: Verdaccio, packages: readonly TreePackage[]): Promise<{ versions: number; bytes: number }> {
  let versions = 0;
  let bytes = 0;
  await pool(packages, 16, async (p) => {
    const rand = seededRandom(Number.parseInt(createHash("sha256").update(p.name).digest("hex").slice(0, 8), 16));
    for (const version of VERSIONS) {
      const manifest = { name: p.name, version, description: `synthetic package ${p.name} of the gateway benchmark`, main: "index.js", license: "MIT", dependencies: p.deps };
      const size = await putVersion(registry, manifest, [
        { path: "package/README.md", content: `# ${p.name}\n\nVersion ${version}.\n\n${sourceText(rand, 10).replace(/^/gm, "    ")}` },
        { path: "package/index.js", content: `module.exports = require('./lib/main');\n// ${p.name}@${version}\n` },
        { path: "package/lib/main.js", content: sourceText(rand, 60) },
        { path: "package/lib/util.js", content: sourceText(rand, 30) },
      ]);
      bytes += size; // not `bytes += await …`: that reads `bytes` before the await
      versions++;
    }
  });
  return { versions, bytes };
}

interface Fetched {
  packumentsMs: number;
  tarballsMs: number;
  bytes: number;
}

/** Every abbreviated packument, then the installed version's tarball of each, `concurrency` requests at a time. */
async function fetchLoop(base: string, names: readonly string[], concurrency: number): Promise<Fetched> {
  let bytes = 0;
  const tarballs: string[] = [];
  let t = performance.now();
  await pool(names, concurrency, async (name) => {
    const response = await fetch(`${base}/${name}`, { headers: { accept: INSTALL_V1, "accept-encoding": "gzip" } });
    if (!response.ok) throw new Error(`GET ${base}/${name}: HTTP ${response.status}`);
    const doc = (await response.json()) as { versions: Record<string, { dist: { tarball: string } }> };
    tarballs.push(doc.versions[INSTALLED].dist.tarball);
  });
  const packumentsMs = performance.now() - t;
  t = performance.now();
  await pool(tarballs, concurrency, async (url) => {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}`);
    const body = await response.arrayBuffer();
    bytes += body.byteLength;
  });
  return { packumentsMs, tarballsMs: performance.now() - t, bytes };
}

/**
 * The floor of npm's own work: a registry (node:http, in this process) answering the gateway's very bytes from
 * memory (its abbreviated packuments, their tarball URLs pointed here, gzip'd once; the installed tarballs), nothing
 * computed per request. An install from it is what npm takes with a registry that costs nothing.
 */
async function startMemoryRegistry(source: string, names: readonly string[]): Promise<{ url: string; close(): Promise<void> }> {
  const files = new Map<string, { body: Buffer; gzip: Buffer | null; type: string }>();
  const server: Server = createServer((request, response) => {
    const file = files.get(request.url ?? "");
    if (file === undefined) {
      response.writeHead(404, { "content-type": "application/json" });
      response.end('{"error":"Not found"}');
      return;
    }
    const gzip = file.gzip !== null && /\bgzip\b/.test(String(request.headers["accept-encoding"] ?? ""));
    const body = gzip ? file.gzip! : file.body;
    response.writeHead(200, { "content-type": file.type, "content-length": String(body.length), ...(gzip ? { "content-encoding": "gzip" } : {}) });
    response.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await pool(names, 8, async (name) => {
    const response = await fetch(`${source}/${name}`, { headers: { accept: INSTALL_V1 } });
    if (!response.ok) throw new Error(`GET ${source}/${name}: HTTP ${response.status}`);
    const body = Buffer.from((await response.text()).replaceAll(`${source}/`, `${url}/`));
    files.set(`/${name}`, { body, gzip: gzipSync(body), type: response.headers.get("content-type") ?? "application/json" });
    const tarball = (JSON.parse(body.toString()) as { versions: Record<string, { dist: { tarball: string } }> }).versions[INSTALLED].dist.tarball;
    const tgz = await fetch(tarball.replace(`${url}/`, `${source}/`));
    if (!tgz.ok) throw new Error(`GET ${tarball}: HTTP ${tgz.status}`);
    files.set(tarball.slice(url.length), { body: Buffer.from(await tgz.arrayBuffer()), gzip: null, type: "application/octet-stream" });
  });
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Where npm's files go: a directory on /dev/shm (tmpfs) when it is writable, else in the work directory. */
async function clientDir(work: string): Promise<string> {
  try {
    return await mkdtemp(path.join("/dev/shm", "chainpkg-bench-npm-"));
  } catch {
    const dir = path.join(work, "npm-client");
    await mkdir(dir, { recursive: true });
    return dir;
  }
}

export async function benchGatewayNpm(): Promise<void> {
  const log = progress(performance.now());
  requireBuilt();
  const stoppers = new Stoppers();
  await withWorkDir(
    "chainpkg-bench-gateway-npm-",
    async (work) => {
      await ensureVerdaccio(log);
      const chain = await startChain(work, stoppers);
      const registry = await startVerdaccio(path.join(work, "verdaccio"));
      stoppers.add("verdaccio", () => registry.stop());
      log(`pkg node on ${chain.node.url}, verdaccio on ${registry.url}`);

      const packages = makeTree(PACKAGES, 1414);
      const names = packages.map((p) => p.name);
      let t = performance.now();
      const published = await publishTree(registry, packages);
      const edges = packages.reduce((n, p) => n + Object.keys(p.deps).length, 0);
      log(`published ${published.versions} versions of ${packages.length} packages (${edges} dependency edges) in ${seconds(performance.now() - t)} s`);

      t = performance.now();
      const mirrored = await runGroup(stoppers, process.execPath, [PKG_BIN, "mirror", "npm", ...names, "--registry", registry.url, "--repository", "npm", "--json"], { cwd: work, env: chain.env });
      const result = JSON.parse(mirrored.stdout) as MirrorJson;
      if (result.versions.stored !== published.versions) throw new Error(`pkg mirror npm stored ${result.versions.stored} versions, not ${published.versions}:\n${mirrored.stderr.slice(-3000)}`);
      log(`pkg mirror npm: ${result.versions.stored} versions in ${seconds(performance.now() - t)} s`);

      const gateway = await startGatewayChild(chain.env, work, stoppers);
      log(`pkg gateway on ${gateway.url}`);
      const memory = await startMemoryRegistry(gateway.url, names);
      stoppers.add("memory registry", () => memory.close());
      const bases = { gateway: gateway.url, verdaccio: registry.url, memory: memory.url };

      // npm's side (the project, its node_modules, each fresh cache) on tmpfs when there is one: on this VM's disk
      // npm's own writes made the same install vary by ±0.5 s from run to run, more than the registries differ
      const client = await clientDir(work);
      stoppers.add("npm's tmpfs directory", () => rm(client, { recursive: true, force: true }));
      const project = path.join(client, "project");
      await mkdir(project, { recursive: true });
      const npmrc = path.join(work, "empty.npmrc");
      await writeFile(npmrc, "");
      const projectJson = { name: "gateway-bench-project", version: "0.0.0", private: true, dependencies: Object.fromEntries(names.slice(0, TOP).map((n) => [n, "^1.0.0"])) };
      let runNo = 0;
      const install = async (which: keyof typeof bases): Promise<number> => {
        const base = bases[which];
        await rm(path.join(project, "node_modules"), { recursive: true, force: true });
        await rm(path.join(project, "package-lock.json"), { force: true });
        await writeFile(path.join(project, "package.json"), `${JSON.stringify(projectJson, null, 2)}\n`);
        const cache = path.join(client, `npm-cache-${runNo++}`);
        const ran = await runGroup(
          stoppers,
          "npm",
          ["install", "--registry", `${base}/`, "--cache", cache, "--userconfig", npmrc, "--no-audit", "--no-fund", "--no-update-notifier", "--loglevel=error"],
          { cwd: project, env: { ...chain.env, NO_UPDATE_NOTIFIER: "1" } },
        );
        const lock = JSON.parse(await readFile(path.join(project, "package-lock.json"), "utf8")) as { packages: Record<string, { version?: string; resolved?: string }> };
        const installed = Object.entries(lock.packages).filter(([where]) => where !== "");
        if (installed.length !== PACKAGES || installed.some(([, p]) => p.version !== INSTALLED)) {
          throw new Error(`npm install from ${which} installed ${installed.length} packages (expected ${PACKAGES}, each ${INSTALLED})`);
        }
        const elsewhere = installed.filter(([, p]) => p.resolved !== undefined && !p.resolved.startsWith(`${base}/`));
        if (elsewhere.length > 0) throw new Error(`npm install from ${which} resolved ${elsewhere[0][0]} at ${elsewhere[0][1].resolved}`);
        await rm(cache, { recursive: true, force: true });
        return ran.ms;
      };

      const firstGateway = await install("gateway");
      const firstVerdaccio = await install("verdaccio");
      const firstMemory = await install("memory");
      log(`untimed first installs: gateway ${seconds(firstGateway)} s, verdaccio ${seconds(firstVerdaccio)} s, memory ${seconds(firstMemory)} s`);
      const times = { gateway: [] as number[], verdaccio: [] as number[], memory: [] as number[] };
      const order = ["gateway", "verdaccio", "memory"] as const;
      for (let i = 0; i < RUNS; i++) {
        for (const which of [...order.slice(i % 3), ...order.slice(0, i % 3)]) {
          const ms = await install(which);
          times[which].push(ms);
          log(`npm install from ${which}: ${seconds(ms)} s`);
        }
      }

      // where the time goes: the servers' own answers, without npm
      const loops: { which: string; concurrency: number; fetched: Fetched }[] = [];
      for (const concurrency of [1, NPM_SOCKETS]) {
        for (const [which, base] of [["gateway", gateway.url], ["verdaccio", registry.url]] as const) {
          await fetchLoop(base, names, concurrency); // warm
          loops.push({ which, concurrency, fetched: await fetchLoop(base, names, concurrency) });
        }
      }

      const gatewayMedian = median(times.gateway) / 1000;
      const verdaccioMedian = median(times.verdaccio) / 1000;
      bench("gateway-npm-install", gatewayMedian, "s", "verdaccio-npm-install", verdaccioMedian, 2);
      note(
        `npm install (npm ${(await runGroup(stoppers, "npm", ["--version"], { env: chain.env })).stdout.trim()}) of ${PACKAGES} packages (${TOP} top ones, ${edges} dependency edges; ${VERSIONS.length} versions each on both ` +
          `registries, ${(published.bytes / published.versions / 1024).toFixed(1)} KiB a tarball), fresh cache, no node_modules or lock each time (npm's files in ${client.startsWith("/dev/shm/") ? "tmpfs" : "the work directory"}); median of ${RUNS}, alternating: ` +
          `gateway ${times.gateway.map(seconds).join(", ")} s; verdaccio ${times.verdaccio.map(seconds).join(", ")} s; verdaccio / gateway = ${(verdaccioMedian / gatewayMedian).toFixed(2)}× (goal ≥ 1.5×)`,
      );
      const memoryMedian = median(times.memory) / 1000;
      note(
        `npm's own work: the same install from a registry answering the gateway's bytes from memory: ${times.memory.map(seconds).join(", ")} s (median ${memoryMedian.toFixed(2)} s), ` +
          `so at most ${(verdaccioMedian / memoryMedian).toFixed(2)}× is to be had over verdaccio here; the gateway's answers cost ${(gatewayMedian - memoryMedian).toFixed(2)} s over that floor, verdaccio's ${(verdaccioMedian - memoryMedian).toFixed(2)} s`,
      );
      note(`untimed first installs: gateway ${seconds(firstGateway)} s (its cache of package records empty), verdaccio ${seconds(firstVerdaccio)} s, memory ${seconds(firstMemory)} s`);
      for (const { which, concurrency, fetched } of loops) {
        note(
          `fetch loop, ${which}, ${concurrency} at a time: ${PACKAGES} abbreviated packuments in ${fetched.packumentsMs.toFixed(0)} ms (${(fetched.packumentsMs / PACKAGES).toFixed(2)} ms each), ` +
            `${PACKAGES} tarballs (${(fetched.bytes / 1024).toFixed(0)} KiB) in ${fetched.tarballsMs.toFixed(0)} ms (${(fetched.tarballsMs / PACKAGES).toFixed(2)} ms each)`,
        );
      }
      const warnings = gatewayWarnings(gateway.stderr());
      note(warnings.length === 0 ? "pkg gateway: no failed requests" : `pkg gateway warned ${warnings.length} times, first: ${warnings[0]}`);
    },
    () => stoppers.stopAll(),
  );
}

if (require.main === module) {
  benchGatewayNpm().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
