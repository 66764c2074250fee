/**
 * gateway-packument: p99 latency, in ms, of the abbreviated packument (`Accept: application/vnd.npm.install-v1+json`,
 * what `npm install` asks for) of one package of 2,000 versions, served by `pkg gateway` (a child process) to 32
 * concurrent clients: autocannon (bench/tools) for 10 s at 32 connections, after a 2 s warm-up. Goal ≤ 50 ms.
 * Anchor: verdaccio's p99 for the same abbreviated packument of the same package, the same way, in the same run.
 *
 * The package: 2,000 versions (0.0.0 … 9.19.9) published to a local verdaccio by one HTTP PUT each (verdaccio
 * takes one version per PUT), each with a few dependencies, engines and the fields `npm publish` sends, and a tiny
 * tarball; then `pkg mirror npm` into a local pkg node and the embedded store, and `pkg gateway` in front of it.
 *
 * The headline run sends only the accept header (the bodies go out uncompressed). A second, shorter run per
 * server adds `accept-encoding: gzip`, as npm sends it (noted, not the headline). Requests/s, the body sizes and a
 * single client's latency (one request at a time) are noted too, and a ceiling: the same autocannon runs against a
 * node:http child answering the gateway's very bytes from memory (what this machine and this client allow when a
 * server computes nothing per request; autocannon shares the 2 cores with the server). autocannon appends every
 * body chunk to a JS string (`req.body += data`, lib/pipelinedRequestsQueue.js), which costs it far more per byte
 * for binary (gzip'd) bodies than for JSON text: the gzip runs are bounded by the client sooner, hence the ceiling
 * of each.
 *
 *   npx hardhat run bench/gateway/packument.ts
 *
 * Needs `npm run build`; installs bench/tools (verdaccio, autocannon) on first use.
 */
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { createInterface } from "node:readline";
import { bench, median, note, runOk } from "../cli/util";
import { startVerdaccio, TOOLS_DIR, type Verdaccio } from "../cli/verdaccio";
import { progress, spawnGroup, withWorkDir } from "../mirror/util";
import { gatewayWarnings, percentile, PKG_BIN, putVersion, requireBuilt, runGroup, seconds, startChain, startGatewayChild, stopGroup, Stoppers, type MirrorJson } from "./util";

const VERSIONS = Number(process.env.BENCH_GATEWAY_PACKUMENT_VERSIONS ?? 2000);
const NAME = "gw-bench-many-versions";
const CONNECTIONS = 32;
const DURATION_S = 10;
const GZIP_DURATION_S = 5;
const WARMUP_S = 2;
const SINGLE_REQUESTS = 50;
const INSTALL_V1 = "application/vnd.npm.install-v1+json";
const AUTOCANNON = path.join(TOOLS_DIR, "node_modules", "autocannon", "autocannon.js");
const VERDACCIO = path.join(TOOLS_DIR, "node_modules", "verdaccio", "bin", "verdaccio");

/** `npm ci` in bench/tools when verdaccio or autocannon is not installed yet. */
async function ensureTools(log: (line: string) => void): Promise<void> {
  if (existsSync(AUTOCANNON) && existsSync(VERDACCIO)) return;
  log("installing bench/tools (npm ci: verdaccio, autocannon)");
  await runOk("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: TOOLS_DIR });
}

function versionAt(i: number): string {
  return `${Math.floor(i / 200)}.${Math.floor((i % 200) / 10)}.${i % 10}`;
}

/** One version after another (verdaccio rewrites the package's document on each). */
async function publishVersions(registry: Verdaccio, count: number, log: (line: string) => void): Promise<void> {
  const deps = ["left-pad", "lodash", "debug", "ms", "semver", "chalk", "commander", "glob"];
  for (let i = 0; i < count; i++) {
    const version = versionAt(i);
    const major = Math.floor(i / 200);
    const dependencies = Object.fromEntries(deps.slice(major % 3, (major % 3) + 3 + (i % 3)).map((d, k) => [d, `^${1 + ((i + k) % 4)}.0.0`]));
    await putVersion(
      registry,
      {
        name: NAME,
        version,
        description: "a synthetic package of 2,000 versions, the gateway's packument benchmark",
        main: "index.js",
        license: "MIT",
        keywords: ["bench", "gateway", "packument"],
        author: { name: "bench", email: "bench@example.invalid" },
        repository: { type: "git", url: "git+https://example.invalid/gw-bench.git" },
        engines: { node: `>=${12 + (major % 8)}` },
        scripts: { test: "node test.js" },
        dependencies,
        devDependencies: { mocha: "^10.0.0" },
      },
      [{ path: "package/index.js", content: `module.exports = ${JSON.stringify(version)};\n` }],
    );
    if ((i + 1) % 500 === 0) log(`published ${i + 1} / ${count} versions`);
  }
}

interface Cannon {
  p50: number;
  p99: number;
  max: number;
  requests: number;
  rps: number;
  errors: number;
  non2xx: number;
  bytesPerRequest: number;
}

/** autocannon's CLI (its own process: its work does not share this process's event loop), JSON results. */
async function cannon(stoppers: Stoppers, url: string, seconds: number, headers: Record<string, string>): Promise<Cannon> {
  const args = [AUTOCANNON, "-c", String(CONNECTIONS), "-d", String(seconds), "-n", "-j"];
  for (const [key, value] of Object.entries(headers)) args.push("-H", `${key}=${value}`);
  const ran = await runGroup(stoppers, process.execPath, [...args, url]);
  const result = JSON.parse(ran.stdout) as {
    latency: { p50: number; p99: number; max: number };
    requests: { average: number; total: number };
    throughput: { total: number };
    errors: number;
    timeouts: number;
    non2xx: number;
  };
  return {
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
    requests: result.requests.total,
    rps: result.requests.average,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    bytesPerRequest: result.throughput.total / Math.max(1, result.requests.total),
  };
}

interface Abbreviated {
  versions: Record<string, { dist: { integrity: string } }>;
  "dist-tags": Record<string, string>;
}

/**
 * The ceiling of this machine and client: a node:http server (a child process) answering every request with the
 * same bytes the gateway sent, held in memory (gzip'd once, for clients that accept it): no work per request but
 * the write. Its URL is its first stdout line.
 */
const CEILING_SERVER = `
const http = require("node:http");
const fs = require("node:fs");
const zlib = require("node:zlib");
const body = fs.readFileSync(process.argv[1]);
const gzip = zlib.gzipSync(body);
const type = "application/vnd.npm.install-v1+json; charset=utf-8";
http.createServer((request, response) => {
  const gz = /\\bgzip\\b/.test(String(request.headers["accept-encoding"] || ""));
  const out = gz ? gzip : body;
  response.writeHead(200, { "content-type": type, etag: '"ceiling"', "content-length": String(out.length), ...(gz ? { "content-encoding": "gzip" } : {}) });
  response.end(out);
}).listen(0, "127.0.0.1", function () { console.log("http://127.0.0.1:" + this.address().port); });
`;

async function startCeiling(stoppers: Stoppers, bodyFile: string): Promise<string> {
  const running = spawnGroup(process.execPath, ["-e", CEILING_SERVER, bodyFile]);
  stoppers.add("ceiling server", () => stopGroup(running.child));
  return new Promise<string>((resolve, reject) => {
    running.child.once("exit", (code) => reject(new Error(`the ceiling server exited with ${code}`)));
    createInterface({ input: running.child.stdout! }).once("line", (line) => resolve(line.trim()));
  });
}

/** One request at a time: the latency of the answer alone (median, p99) and the body. */
async function single(url: string, count: number): Promise<{ median: number; p99: number; bytes: number; body: string; doc: Abbreviated }> {
  const times: number[] = [];
  let bytes = 0;
  let text = "";
  let doc: Abbreviated | null = null;
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    const response = await fetch(url, { headers: { accept: INSTALL_V1 } });
    const body = await response.text();
    times.push(performance.now() - t);
    if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}`);
    if (!(response.headers.get("content-type") ?? "").includes(INSTALL_V1)) throw new Error(`GET ${url}: content-type ${response.headers.get("content-type")}, not the abbreviated packument`);
    bytes = Buffer.byteLength(body);
    text = body;
    doc ??= JSON.parse(body) as Abbreviated;
  }
  return { median: median(times), p99: percentile(times, 99), bytes, body: text, doc: doc! };
}

export async function benchGatewayPackument(): Promise<void> {
  const log = progress(performance.now());
  requireBuilt();
  const stoppers = new Stoppers();
  await withWorkDir(
    "chainpkg-bench-gateway-packument-",
    async (work) => {
      await ensureTools(log);
      const chain = await startChain(work, stoppers);
      const registry = await startVerdaccio(path.join(work, "verdaccio"));
      stoppers.add("verdaccio", () => registry.stop());
      log(`pkg node on ${chain.node.url}, verdaccio on ${registry.url}`);

      let t = performance.now();
      await publishVersions(registry, VERSIONS, log);
      const publishMs = performance.now() - t;
      log(`published ${VERSIONS} versions of ${NAME} to verdaccio in ${seconds(publishMs)} s`);

      t = performance.now();
      const mirrored = await runGroup(stoppers, process.execPath, [PKG_BIN, "mirror", "npm", NAME, "--registry", registry.url, "--repository", "npm", "--json"], { cwd: work, env: chain.env });
      const mirrorMs = performance.now() - t;
      const result = JSON.parse(mirrored.stdout) as MirrorJson;
      if (result.versions.stored !== VERSIONS) throw new Error(`pkg mirror npm stored ${result.versions.stored} versions, not ${VERSIONS}:\n${mirrored.stderr.slice(-3000)}`);
      log(`pkg mirror npm: ${result.versions.stored} versions in ${seconds(mirrorMs)} s`);

      const gateway = await startGatewayChild(chain.env, work, stoppers);
      log(`pkg gateway on ${gateway.url}`);
      const urls = { gateway: `${gateway.url}/${NAME}`, verdaccio: `${registry.url}/${NAME}` };

      // the first answer of each (the gateway's reads the package from the chain and the store), then the same document from both
      t = performance.now();
      const firstGateway = await single(urls.gateway, 1);
      const coldGatewayMs = performance.now() - t;
      const singles = { gateway: await single(urls.gateway, SINGLE_REQUESTS), verdaccio: await single(urls.verdaccio, SINGLE_REQUESTS) };
      for (const which of ["gateway", "verdaccio"] as const) {
        const doc = singles[which].doc;
        if (Object.keys(doc.versions).length !== VERSIONS) throw new Error(`${which}'s abbreviated packument has ${Object.keys(doc.versions).length} versions, not ${VERSIONS}`);
      }
      const differing = Object.keys(singles.verdaccio.doc.versions).filter((v) => singles.gateway.doc.versions[v]?.dist.integrity !== singles.verdaccio.doc.versions[v].dist.integrity);
      if (differing.length > 0) throw new Error(`the gateway's integrity of ${differing.length} versions differs from verdaccio's (${differing[0]} first)`);
      if (firstGateway.doc["dist-tags"].latest !== singles.verdaccio.doc["dist-tags"].latest) throw new Error("the gateway's latest is not verdaccio's");
      log(`one client: gateway ${singles.gateway.median.toFixed(1)} ms, verdaccio ${singles.verdaccio.median.toFixed(1)} ms a request (median)`);

      const bodyFile = path.join(work, "abbreviated.json");
      await writeFile(bodyFile, singles.gateway.body);
      const ceiling = await startCeiling(stoppers, bodyFile);
      const urlOf = { ...urls, ceiling: `${ceiling}/${NAME}` };
      const runs: Record<"gateway" | "verdaccio" | "ceiling", { plain: Cannon; gzip: Cannon }> = {} as never;
      for (const which of ["gateway", "verdaccio", "ceiling"] as const) {
        await cannon(stoppers, urlOf[which], WARMUP_S, { accept: INSTALL_V1 });
        const plain = await cannon(stoppers, urlOf[which], DURATION_S, { accept: INSTALL_V1 });
        log(`${which}: p99 ${plain.p99} ms, ${plain.rps.toFixed(0)} requests/s`);
        const gzip = await cannon(stoppers, urlOf[which], GZIP_DURATION_S, { accept: INSTALL_V1, "accept-encoding": "gzip" });
        log(`${which} (gzip): p99 ${gzip.p99} ms, ${gzip.rps.toFixed(0)} requests/s`);
        for (const [label, run] of [["", plain], [" (gzip)", gzip]] as const) {
          if (run.errors > 0 || run.non2xx > 0) throw new Error(`autocannon against ${which}${label}: ${run.errors} errors/timeouts, ${run.non2xx} non-2xx answers`);
        }
        runs[which] = { plain, gzip };
      }

      const describe = (run: Cannon) => `p50 ${run.p50} ms, p99 ${run.p99} ms, max ${run.max} ms, ${run.rps.toFixed(0)} requests/s (${run.requests} in all), ${(run.bytesPerRequest / 1024).toFixed(0)} KiB a response`;
      bench("gateway-packument", runs.gateway.plain.p99, "ms", "verdaccio-packument", runs.verdaccio.plain.p99);
      note(
        `abbreviated packument of ${NAME} (${VERSIONS} versions; gateway ${(singles.gateway.bytes / 1024).toFixed(0)} KiB, verdaccio ${(singles.verdaccio.bytes / 1024).toFixed(0)} KiB uncompressed), ` +
          `autocannon 8 at ${CONNECTIONS} connections for ${DURATION_S} s after ${WARMUP_S} s of warm-up, header accept: ${INSTALL_V1} only (goal ≤ 50 ms)`,
      );
      note(`gateway: ${describe(runs.gateway.plain)}`);
      note(`verdaccio: ${describe(runs.verdaccio.plain)}`);
      note(`with accept-encoding: gzip (as npm sends it), ${GZIP_DURATION_S} s: gateway ${describe(runs.gateway.gzip)}; verdaccio ${describe(runs.verdaccio.gzip)}`);
      note(
        `ceiling (a node:http child answering the gateway's very bytes from memory, nothing computed per request; this machine, this client): ` +
          `${describe(runs.ceiling.plain)}; with gzip ${describe(runs.ceiling.gzip)} (autocannon decodes every body into a string: gzip'd bytes cost it more than JSON text)`,
      );
      note(
        `one client, one request at a time (${SINGLE_REQUESTS}): gateway median ${singles.gateway.median.toFixed(1)} ms, p99 ${singles.gateway.p99.toFixed(1)} ms; ` +
          `verdaccio median ${singles.verdaccio.median.toFixed(1)} ms, p99 ${singles.verdaccio.p99.toFixed(1)} ms; the gateway's first answer (package read from chain and store): ${coldGatewayMs.toFixed(0)} ms`,
      );
      note(`setup: ${VERSIONS} PUTs to verdaccio in ${seconds(publishMs)} s, pkg mirror npm in ${seconds(mirrorMs)} s`);
      const warnings = gatewayWarnings(gateway.stderr());
      note(warnings.length === 0 ? "pkg gateway: no failed requests" : `pkg gateway warned ${warnings.length} times, first: ${warnings[0]}`);
    },
    () => stoppers.stopAll(),
  );
}

if (require.main === module) {
  benchGatewayPackument().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
