/**
 * gateway-cargo-fetch: seconds of an unmodified `cargo fetch` of a 50-crate closure through `pkg gateway` (a child
 * process; `sparse+URL/index/` as the source replacing crates-io), serving what `pkg mirror crates DIR` imported
 * into a local pkg node and the embedded store. Goal ≤ 1.3× the anchor: the same `cargo fetch` from a static
 * file server (node:http in this process, every request a file read from disk: the same index files, byte for
 * byte, config.json with a `dl` template, the same .crate files), in the same run.
 *
 * The crates: a synthetic directory index of 50 crates (names of every index layout: 1/, 2/, 3/x/, ab/cd/) of 3
 * versions each (0.9.0, 1.0.0, 1.1.0), small .crate files (Cargo.toml, Cargo.toml.orig, README.md, src/lib.rs,
 * gzip'd: about 1.5 KiB, as bench/mirror/crates.ts makes them). The first 8 are the top crates a project depends on; every other crate is a
 * normal dependency of at least one crate before it, plus random extra edges, every requirement `^1.0` (so the
 * fetch is exactly 50 crates at 1.1.0).
 *
 * Each fetch is cold: a fresh CARGO_HOME, no Cargo.lock. The two servers alternate, 11 timed fetches each
 * (median; a fetch takes a few tenths of a second), after one untimed fetch each (reported: the gateway's first
 * one also fills its per-block cache).
 *
 *   npx hardhat run bench/gateway/cargo.ts
 *
 * Needs `npm run build` and cargo (skipped with a note when cargo is missing).
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { crateIndexPath } from "../../src/mirror/crates";
import { seededRandom } from "../../test/helpers/random";
import { bench, median, note } from "../cli/util";
import { tarball } from "../cli/verdaccio";
import { progress, withWorkDir } from "../mirror/util";
import { gatewayWarnings, PKG_BIN, requireBuilt, runGroup, seconds, startChain, startGatewayChild, Stoppers, type MirrorJson } from "./util";

const CRATES = 50;
const TOP = 8;
const VERSIONS = ["0.9.0", "1.0.0", "1.1.0"];
const FETCHED = "1.1.0";
/** A fetch takes a few tenths of a second: enough runs for a steady median. */
const RUNS = 11;

/** Milliseconds as seconds with 3 decimals (a fetch is a few tenths of a second). */
const s3 = (ms: number) => (ms / 1000).toFixed(3);

interface Crate {
  name: string;
  deps: string[];
}

/** 50 names, unique case-insensitively, of every index layout (1/, 2/, 3/x/, ab/cd/). */
function crateNames(count: number, rand: () => number): string[] {
  const syllables = ["ser", "de", "to", "kio", "rand", "byte", "log", "hash", "syn", "quo", "te", "mem", "chr", "ono", "url", "tar", "zip", "fut", "ure", "io"];
  const names = new Set<string>(["q", "z9", "gwb"]);
  const seen = new Set(names);
  while (names.size < count) {
    let name = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => syllables[Math.floor(rand() * syllables.length)]).join(rand() < 0.5 ? "-" : "_");
    if (name.length < 4 || rand() < 0.3) name += `${Math.floor(rand() * 100)}`;
    if (seen.has(name.replace(/_/g, "-"))) name += `-${names.size.toString(36)}`;
    names.add(name);
    seen.add(name.replace(/_/g, "-")); // cargo takes - and _ for one another
  }
  return [...names];
}

/** The closure: TOP top crates, each later crate a dependency of one before it, plus extra edges further down. */
function makeCrates(seed: number): Crate[] {
  const rand = seededRandom(seed);
  const names = crateNames(CRATES, rand);
  const deps = names.map(() => new Set<string>());
  for (let j = TOP; j < CRATES; j++) deps[Math.floor(rand() * j)].add(names[j]);
  for (let i = 0; i < CRATES - 1; i++) {
    for (let k = Math.floor(rand() * 3); k > 0; k--) deps[i].add(names[i + 1 + Math.floor(rand() * Math.min(15, CRATES - i - 1))]);
  }
  return names.map((name, i) => ({ name, deps: [...deps[i]].sort() }));
}

function libText(rand: () => number, bytes: number): string {
  const words = ["fn", "let", "impl", "pub", "struct", "self", "match", "Some", "None", "Ok", "Err", "iter", "map", "len", "value", "buf", "into"];
  let out = "";
  while (out.length < bytes) out += `// ${Array.from({ length: 8 }, () => words[Math.floor(rand() * words.length)]).join(" ")}\n`;
  return out;
}

/** The directory index `pkg mirror crates` reads (config.json's dl a file:// template) and the .crate files. */
async function writeCrates(dir: string, crates: readonly Crate[]): Promise<{ versions: number; bytes: number }> {
  const index = path.join(dir, "index");
  const files = path.join(dir, "crates");
  await mkdir(index, { recursive: true });
  await writeFile(path.join(index, "config.json"), `${JSON.stringify({ dl: `${pathToFileURL(files).toString()}/{crate}/{crate}-{version}.crate`, api: null }, null, 2)}\n`);
  let versions = 0;
  let bytes = 0;
  for (const [i, crate] of crates.entries()) {
    const rand = seededRandom(500 + i);
    const lines: string[] = [];
    await mkdir(path.join(files, crate.name), { recursive: true });
    for (const vers of VERSIONS) {
      const top = `${crate.name}-${vers}`;
      const cargoToml = [
        "# THIS FILE IS AUTOMATICALLY GENERATED BY CARGO",
        "",
        "[package]",
        'edition = "2021"',
        `name = "${crate.name}"`,
        `version = "${vers}"`,
        'description = "A synthetic crate of the gateway benchmark"',
        'license = "MIT"',
        'readme = "README.md"',
        "",
        "[lib]",
        'path = "src/lib.rs"',
        "",
        ...crate.deps.map((d) => `[dependencies.${d}]\nversion = "1.0"\n`),
      ].join("\n");
      const tgz = tarball([
        { path: `${top}/Cargo.toml`, content: cargoToml },
        { path: `${top}/Cargo.toml.orig`, content: `[package]\nname = "${crate.name}"\nversion = "${vers}"\nlicense = "MIT"\n` },
        { path: `${top}/README.md`, content: `# ${crate.name}\n\nVersion ${vers}, a synthetic crate.\n\n${libText(rand, 600)}` },
        { path: `${top}/src/lib.rs`, content: `//! ${crate.name} ${vers}\n${libText(rand, 3000)}` },
      ]);
      await writeFile(path.join(files, crate.name, `${top}.crate`), tgz);
      const cksum = createHash("sha256").update(tgz).digest("hex");
      const deps = crate.deps.map((d) => ({ name: d, req: "^1.0", features: [], optional: false, default_features: true, target: null, kind: "normal" }));
      lines.push(JSON.stringify({ name: crate.name, vers, deps, cksum, features: {}, yanked: false, links: null }));
      versions++;
      bytes += tgz.length;
    }
    const file = path.join(index, ...crateIndexPath(crate.name).split("/"));
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, `${lines.join("\n")}\n`);
  }
  return { versions, bytes };
}

/**
 * The anchor: a static file server. `/index/config.json` (dl: a template into /crates/), `/index/…` the directory
 * index's files, `/crates/NAME/NAME-VERSION.crate` the .crate files; each read from disk per request.
 */
async function startStatic(dir: string): Promise<{ url: string; requests: () => number; close(): Promise<void> }> {
  let base = "";
  let requests = 0;
  const server: Server = createServer((request, response) => {
    requests++;
    const pathname = decodeURIComponent(new URL(request.url ?? "/", "http://static").pathname);
    void (async () => {
      if (pathname === "/index/config.json") {
        const body = Buffer.from(`${JSON.stringify({ dl: `${base}/crates/{crate}/{crate}-{version}.crate` })}\n`);
        response.writeHead(200, { "content-type": "application/json", "content-length": String(body.length) });
        response.end(body);
        return;
      }
      const file = pathname.startsWith("/index/") || pathname.startsWith("/crates/") ? path.join(dir, pathname) : null;
      const body = file === null || pathname.includes("..") ? null : await readFile(file).catch(() => null);
      if (body === null) {
        response.writeHead(404, { "content-type": "text/plain" });
        response.end("not found\n");
        return;
      }
      response.writeHead(200, { "content-type": pathname.endsWith(".crate") ? "application/gzip" : "text/plain; charset=utf-8", "content-length": String(body.length) });
      response.end(body);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    requests: () => requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export async function benchGatewayCargo(): Promise<void> {
  const log = progress(performance.now());
  requireBuilt();
  const cargoVersion = spawnSync("cargo", ["--version"], { encoding: "utf8" });
  if (cargoVersion.status !== 0) {
    note("gateway-cargo-fetch skipped: cargo is not installed");
    return;
  }
  const stoppers = new Stoppers();
  await withWorkDir(
    "chainpkg-bench-gateway-cargo-",
    async (work) => {
      const crates = makeCrates(2626);
      const written = await writeCrates(work, crates);
      const edges = crates.reduce((n, c) => n + c.deps.length, 0);
      log(`index: ${written.versions} versions of ${CRATES} crates, ${edges} dependency edges`);

      const chain = await startChain(work, stoppers);
      const t = performance.now();
      const mirrored = await runGroup(stoppers, process.execPath, [PKG_BIN, "mirror", "crates", path.join(work, "index"), "--repository", "crates", "--json"], { cwd: work, env: chain.env });
      const result = JSON.parse(mirrored.stdout) as MirrorJson;
      if (result.versions.stored !== written.versions) throw new Error(`pkg mirror crates stored ${result.versions.stored} versions, not ${written.versions}:\n${mirrored.stderr.slice(-3000)}`);
      log(`pkg mirror crates: ${result.versions.stored} versions in ${seconds(performance.now() - t)} s`);

      const gateway = await startGatewayChild(chain.env, work, stoppers);
      const staticServer = await startStatic(work);
      stoppers.add("static server", () => staticServer.close());
      log(`pkg gateway on ${gateway.url}, static server on ${staticServer.url}`);
      const index = { gateway: `${gateway.url}/index/`, static: `${staticServer.url}/index/` };

      // both serve the same index files, byte for byte
      for (const crate of crates) {
        const [a, b] = await Promise.all([fetch(`${index.gateway}${crateIndexPath(crate.name)}`), fetch(`${index.static}${crateIndexPath(crate.name)}`)]);
        const [textA, textB] = await Promise.all([a.text(), b.text()]);
        if (!a.ok || !b.ok || textA !== textB) throw new Error(`${crate.name}: the gateway's index file (HTTP ${a.status}) is not the static server's (HTTP ${b.status})`);
      }

      const project = path.join(work, "project");
      await mkdir(path.join(project, "src"), { recursive: true });
      await mkdir(path.join(project, ".cargo"), { recursive: true });
      await writeFile(
        path.join(project, "Cargo.toml"),
        ["[package]", 'name = "gateway-bench"', 'version = "0.1.0"', 'edition = "2021"', "", "[dependencies]", ...crates.slice(0, TOP).map((c) => `${c.name} = "1.0"`), ""].join("\n"),
      );
      await writeFile(path.join(project, "src", "lib.rs"), "");
      let runNo = 0;
      const fetchFrom = async (which: "gateway" | "static"): Promise<number> => {
        await writeFile(path.join(project, ".cargo", "config.toml"), `[source.crates-io]\nreplace-with = "bench"\n\n[source.bench]\nregistry = "sparse+${index[which]}"\n`);
        await rm(path.join(project, "Cargo.lock"), { force: true });
        const cargoHome = path.join(work, `cargo-home-${runNo++}`);
        const ran = await runGroup(stoppers, "cargo", ["fetch"], { cwd: project, env: { ...chain.env, CARGO_HOME: cargoHome, CARGO_TARGET_DIR: path.join(work, "target"), CARGO_TERM_COLOR: "never" } });
        const lock = await readFile(path.join(project, "Cargo.lock"), "utf8");
        const locked = [...lock.matchAll(/^name = "([^"]+)"\nversion = "([^"]+)"\nsource = "([^"]+)"/gm)];
        if (locked.length !== CRATES || locked.some((m) => m[2] !== FETCHED)) throw new Error(`cargo fetch from ${which} locked ${locked.length} crates (expected ${CRATES}, each ${FETCHED}):\n${ran.stderr.slice(-2000)}`);
        await rm(cargoHome, { recursive: true, force: true });
        return ran.ms;
      };

      const firstGateway = await fetchFrom("gateway");
      const staticBefore = staticServer.requests();
      const firstStatic = await fetchFrom("static");
      const requestsPerFetch = staticServer.requests() - staticBefore;
      log(`untimed first fetches: gateway ${s3(firstGateway)} s, static ${s3(firstStatic)} s`);
      const times = { gateway: [] as number[], static: [] as number[] };
      for (let i = 0; i < RUNS; i++) {
        for (const which of i % 2 === 0 ? (["gateway", "static"] as const) : (["static", "gateway"] as const)) {
          const ms = await fetchFrom(which);
          times[which].push(ms);
          log(`cargo fetch from ${which}: ${s3(ms)} s`);
        }
      }

      const gatewayMedian = median(times.gateway) / 1000;
      const staticMedian = median(times.static) / 1000;
      bench("gateway-cargo-fetch", gatewayMedian, "s", "static-cargo-fetch", staticMedian, 3);
      note(
        `${cargoVersion.stdout.trim()}: cargo fetch of ${CRATES} crates at ${FETCHED} (${TOP} top ones, ${edges} dependency edges; ${VERSIONS.length} versions each in the index, ` +
          `${(written.bytes / written.versions / 1024).toFixed(1)} KiB a .crate), fresh CARGO_HOME and no Cargo.lock each time, ${requestsPerFetch} requests a fetch; median of ${RUNS}, alternating: ` +
          `gateway ${times.gateway.map(s3).join(", ")} s; static ${times.static.map(s3).join(", ")} s; gateway / static = ${(gatewayMedian / staticMedian).toFixed(2)}× (goal ≤ 1.3×)`,
      );
      note(`untimed first fetches: gateway ${s3(firstGateway)} s (its cache of package records empty), static ${s3(firstStatic)} s`);
      const warnings = gatewayWarnings(gateway.stderr());
      note(warnings.length === 0 ? "pkg gateway: no failed requests" : `pkg gateway warned ${warnings.length} times, first: ${warnings[0]}`);
    },
    () => stoppers.stopAll(),
  );
}

if (require.main === module) {
  benchGatewayCargo().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
