/**
 * End to end, issue 14 (the read half): `pkg gateway` in front of a real `pkg node` and the embedded content
 * store, used by the unmodified clients. npm: `npm install` then `npm ci` of a tree mirrored from a real verdaccio
 * (scoped, optional and peer dependencies), package-lock.json's integrity equal to verdaccio's; a version yanked on
 * chain is deprecated and never `latest`. cargo: `cargo build` of a crate whose dependencies come from the gateway,
 * as an alternative registry and as the source replacing crates-io, Cargo.lock's checksums equal to the source
 * index's cksum. HTTP as clients expect it: ETag / 304, gzip, 404, the abbreviated packument.
 *
 *   npx tsc -p tsconfig.build.json && npx hardhat test --no-compile test/e2e/gateway.test.ts   (E2E_KEEP=1 keeps the temp dir)
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { gunzipSync } from "node:zlib";
import { expect } from "chai";
import { createHash } from "node:crypto";
import { connectRegistry } from "../../src/chain/registry";
import { ensureVerdaccio, startVerdaccio, type Verdaccio } from "../../bench/cli/verdaccio";
import { debianCrate, debianCrateVersion, indexLineOf, packCrate, serve, writeIndex, type PackedCrate, type TestServer } from "../helpers/cargo-index";
import { requireBuilt } from "../helpers/dist";
import { freePort } from "../helpers/node";
import { skipBecause } from "../helpers/skip";
import * as h from "./helpers";

const KEEP = process.env.E2E_KEEP === "1";
const TOKEN = "gateway-test-token-0123456789abcdef0123456789";

describe("e2e: pkg gateway for unmodified npm and cargo", function () {
  this.timeout(600_000);

  let root = "";
  let registry: Verdaccio | null = null;
  let node: h.NodeProcess | null = null;
  let crateServer: TestServer | null = null;
  let gatewayProcess: ChildProcess | null = null;
  let gateway = "";
  let gatewayStderr = () => "";
  let env: NodeJS.ProcessEnv = {};
  let npmrc = "";
  const crates = new Map<string, PackedCrate>();

  const pkg = (args: string[], cwd = root) => h.run("pkg", args, env, { cwd, timeoutMs: 300_000 });

  function npm(args: string[], cwd: string, registryUrl: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = spawn("npm", [...args, "--registry", registryUrl, "--userconfig", npmrc, "--no-audit", "--no-fund", "--loglevel=error"], {
        cwd,
        env: { ...process.env, npm_config_cache: path.join(root, `npm-cache-${Math.random().toString(36).slice(2)}`) },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      child.stdout.on("data", (c: Buffer) => (out += c.toString()));
      child.stderr.on("data", (c: Buffer) => (out += c.toString()));
      child.once("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`npm ${args.join(" ")} exited ${code}:\n${out}`))));
    });
  }

  async function npmPublish(manifest: Record<string, unknown>): Promise<void> {
    const dir = path.join(root, "npm-src", `${String(manifest.name).replace("/", "+")}-${String(manifest.version)}`);
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
    await writeFile(path.join(dir, "index.js"), `module.exports = ${JSON.stringify(`${String(manifest.name)}@${String(manifest.version)}`)};\n`);
    await npm(["publish", "--access", "public"], dir, `${registry!.url}/`);
  }

  before(async function () {
    this.timeout(900_000);
    requireBuilt("dist/cli/pkg/gateway.js");
    root = await mkdtemp(path.join(tmpdir(), "chainpkg-gateway-"));
    await ensureVerdaccio(() => {});
    registry = await startVerdaccio(path.join(root, "verdaccio"));
    npmrc = path.join(root, ".npmrc");
    await writeFile(npmrc, `${registry.url.replace(/^http:/, "")}/:_authToken=${registry.token}\n`);
    const port = await freePort();
    env = h.baseEnvironment({
      PKG_RPC_URL: `http://127.0.0.1:${port}`,
      PKG_DATA_DIR: path.join(root, "data"),
      PKG_CONFIG: path.join(root, "config.toml"),
      XDG_RUNTIME_DIR: path.join(root, "run"),
    });
    node = await h.startNode(port, env, root);

    await npmPublish({ name: "@demo/util", version: "1.0.0", license: "MIT" });
    await npmPublish({ name: "@demo/util", version: "1.1.0", license: "MIT" });
    await npmPublish({ name: "left-pad-demo", version: "1.0.0", license: "WTFPL" });
    await npmPublish({ name: "left-pad-demo", version: "1.3.0", license: "WTFPL" });
    await npmPublish({ name: "opt-demo", version: "2.0.0", license: "ISC" });
    await npmPublish({ name: "peer-demo", version: "1.0.0", license: "MIT" });
    await npmPublish({
      name: "mirror-app",
      version: "1.0.0",
      license: "MIT",
      dependencies: { "@demo/util": "^1.0.0", "left-pad-demo": "^1.0.0" },
      optionalDependencies: { "opt-demo": "^2.0.0" },
      peerDependencies: { "peer-demo": ">=1" },
    });
    h.expectJsonSuccess(await pkg(["mirror", "npm", "mirror-app", "--deps", "--registry", registry.url, "--json"]));

    // crates: Debian's itoa and memchr through a directory index, when this machine has them
    const index = path.join(root, "index");
    const files = path.join(root, "crate-files");
    await mkdir(files, { recursive: true });
    crateServer = await serve(files);
    const lines = new Map<string, string[]>();
    for (const name of ["itoa", "memchr"]) {
      const dir = debianCrate(name);
      if (dir === null) continue;
      const crate = await packCrate(dir, name, debianCrateVersion(name, dir));
      crates.set(name, crate);
      await mkdir(path.join(files, "crates", name, crate.version), { recursive: true });
      await writeFile(path.join(files, "crates", name, crate.version, "download"), crate.bytes);
      lines.set(name, [indexLineOf(crate)]);
    }
    if (crates.size > 0) {
      await writeIndex(index, `${crateServer.url}/crates`, lines);
      h.expectJsonSuccess(await pkg(["mirror", "crates", index, ...crates.keys(), "--json"]));
    }

    const started = await startGatewayProcess(["--write"]);
    gatewayProcess = started.child;
    gatewayStderr = started.stderr;
    gateway = started.url;
  });

  /** The cargo tests need cargo and Debian's itoa and memchr (mirrored in `before`): CI installs both; elsewhere they skip. */
  function requireCargo(context: Mocha.Context): void {
    if (spawnSync("cargo", ["--version"], { stdio: "ignore" }).status === 0 && crates.size >= 2) return;
    if (process.env.CI === "true") throw new Error("cargo and Debian's librust-itoa-dev / librust-memchr-dev are needed (.ci/run installs them)");
    skipBecause(context, "cargo or Debian's crate sources are missing");
  }

  /** `pkg gateway` as a child process on a free port: its URL (its first stdout line) and what it said on stderr. */
  async function startGatewayProcess(args: string[]): Promise<{ child: ChildProcess; url: string; stderr: () => string }> {
    const child = spawn(process.execPath, [h.BIN.pkg, "gateway", "--listen", "127.0.0.1:0", ...args], { env: { ...env, PKG_GATEWAY_TOKEN: TOKEN }, cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    child.stderr!.on("data", (chunk: Buffer) => (err += chunk.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      child.once("exit", (code) => reject(new Error(`pkg gateway exited with ${code}: ${err}`)));
      createInterface({ input: child.stdout! }).once("line", (line) => resolve(line.trim()));
    });
    return { child, url, stderr: () => err };
  }

  after(async function () {
    this.timeout(120_000);
    gatewayProcess?.kill("SIGTERM");
    await pkg(["store", "status", "--shutdown"]).catch(() => undefined);
    await node?.stop();
    await registry?.stop();
    await crateServer?.close();
    if (KEEP) console.log(`    kept ${root}`);
    else if (root !== "") await rm(root, { recursive: true, force: true });
  });

  it("npm install, then npm ci, of a mirrored tree: the tree installs, and package-lock.json's integrity is verdaccio's", async () => {
    const project = path.join(root, "project");
    await mkdir(project, { recursive: true });
    await writeFile(path.join(project, "package.json"), JSON.stringify({ name: "project", version: "0.0.0", private: true, dependencies: { "mirror-app": "^1.0.0" } }));
    await npm(["install"], project, `${gateway}/`);
    const lock = JSON.parse(readFileSync(path.join(project, "package-lock.json"), "utf8")) as { packages: Record<string, { version?: string; integrity?: string; resolved?: string }> };
    const installed = Object.keys(lock.packages).filter((p) => p !== "").sort();
    expect(installed).to.deep.equal([
      "node_modules/@demo/util", "node_modules/left-pad-demo", "node_modules/mirror-app", "node_modules/opt-demo", "node_modules/peer-demo",
    ]);
    for (const [where, entry] of Object.entries(lock.packages)) {
      if (where === "") continue;
      const name = where.slice("node_modules/".length);
      const upstream = (await (await fetch(`${registry!.url}/${name.replace("/", "%2f")}`)).json()) as { versions: Record<string, { dist: { integrity: string } }> };
      expect(entry.integrity, where).to.equal(upstream.versions[entry.version!].dist.integrity);
      // npm leaves `resolved` out when it is the configured registry's; where it writes one, it is the gateway's
      if (entry.resolved !== undefined) expect(entry.resolved, where).to.match(new RegExp(`^${gateway}/`));
      expect(JSON.parse(readFileSync(path.join(project, where, "package.json"), "utf8")).version).to.equal(entry.version);
    }
    expect(lock.packages["node_modules/left-pad-demo"].version).to.equal("1.3.0");

    await rm(path.join(project, "node_modules"), { recursive: true });
    await npm(["ci"], project, `${gateway}/`);
    expect(readFileSync(path.join(project, "node_modules", "@demo", "util", "index.js"), "utf8")).to.contain("@demo/util@1.1.0");
  });

  it("speaks HTTP as the clients expect: abbreviated packuments, ETag and 304, gzip, 404 for unknown names", async () => {
    const abbreviated = await fetch(`${gateway}/@demo%2futil`, { headers: { accept: "application/vnd.npm.install-v1+json" } });
    expect(abbreviated.status).to.equal(200);
    expect(abbreviated.headers.get("content-type")).to.contain("application/vnd.npm.install-v1+json");
    const doc = (await abbreviated.json()) as { name: string; "dist-tags": Record<string, string>; versions: Record<string, Record<string, unknown>> };
    expect(doc.name).to.equal("@demo/util");
    expect(doc["dist-tags"].latest).to.equal("1.1.0");
    expect(Object.keys(doc.versions).sort()).to.deep.equal(["1.0.0", "1.1.0"]);
    expect(doc.versions["1.0.0"]).to.not.have.property("readme");

    const full = await fetch(`${gateway}/@demo/util`);
    const etag = full.headers.get("etag")!;
    expect(etag).to.match(/^".+"$/);
    expect((await fetch(`${gateway}/@demo/util`, { headers: { "if-none-match": etag } })).status).to.equal(304);
    const raw = spawnSync("curl", ["-s", "-H", "Accept-Encoding: gzip", "-D", "-", "-o", path.join(root, "packument.gz"), `${gateway}/mirror-app`], { encoding: "utf8" });
    if (raw.status === 0) {
      expect(raw.stdout.toLowerCase()).to.contain("content-encoding: gzip");
      expect(JSON.parse(gunzipSync(readFileSync(path.join(root, "packument.gz"))).toString()).name).to.equal("mirror-app");
    }
    expect((await fetch(`${gateway}/no-such-package`)).status).to.equal(404);
    expect((await fetch(`${gateway}/mirror-app/-/mirror-app-9.9.9.tgz`)).status).to.equal(404);
    expect((await fetch(`${gateway}/mirror-app`, { method: "PUT", body: "{}" })).status).to.equal(401); // no token
    // many at once
    const answers = await Promise.all(Array.from({ length: 32 }, () => fetch(`${gateway}/left-pad-demo`).then((r) => r.status)));
    expect(answers.every((s) => s === 200)).to.equal(true);
  });

  it("a version yanked on chain (gone upstream) is deprecated and never latest", async () => {
    await npm(["unpublish", "left-pad-demo@1.3.0", "--force"], root, `${registry!.url}/`);
    h.expectJsonSuccess(await pkg(["mirror", "npm", "left-pad-demo", "--registry", registry!.url, "--json"]));
    await new Promise((resolve) => setTimeout(resolve, 1200)); // the gateway reads the head at most once a second
    const doc = (await (await fetch(`${gateway}/left-pad-demo`)).json()) as { "dist-tags": Record<string, string>; versions: Record<string, { deprecated?: string }> };
    expect(doc["dist-tags"].latest).to.equal("1.0.0");
    expect(doc.versions["1.3.0"].deprecated).to.match(/yanked/);
    expect(doc.versions["1.0.0"].deprecated).to.equal(undefined);
  });

  /** The native record of npm:NAME on chain (null when there is none). */
  async function onChain(name: string) {
    const client = await connectRegistry({ rpcUrl: env.PKG_RPC_URL!, address: node!.summary.registry });
    try {
      return await client.getPackage({ repository: "npm", name });
    } finally {
      client.close();
    }
  }

  /** A package directory for npm publish, and the integrity npm pack computes for it. */
  async function packageDir(name: string, version: string, dependencies: Record<string, string> = {}): Promise<{ dir: string; integrity: string; tgz: string }> {
    const dir = path.join(root, "gw-src", `${name}-${version}`);
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, "package.json"), `${JSON.stringify({ name, version, license: "MIT", main: "index.js", dependencies }, null, 2)}\n`);
    await writeFile(path.join(dir, "index.js"), `module.exports = ${JSON.stringify(`${name}@${version}`)};\n`);
    // packed outside the directory (a tarball inside it would be published too)
    const packs = path.join(root, "gw-packs");
    await mkdir(packs, { recursive: true });
    const packed = JSON.parse(await npm(["pack", "--json", "--pack-destination", packs], dir, `${gateway}/`)) as { integrity: string; filename: string }[];
    return { dir, integrity: packed[0].integrity, tgz: path.join(packs, packed[0].filename) };
  }

  it("npm publish through the gateway lands on chain, installs back through it with npm's own integrity, and npm deprecate yanks", async () => {
    const authed = path.join(root, ".npmrc-gateway");
    await writeFile(authed, `${gateway.replace(/^http:/, "")}/:_authToken=${TOKEN}\n`);
    const { dir, integrity } = await packageDir("gw-pub", "1.0.0", { "left-pad-demo": "^1.0.0" });
    const saved = npmrc;
    npmrc = authed;
    try {
      await npm(["publish"], dir, `${gateway}/`);
      // visible with pkg: a native record whose pkg.toml names the tarball, and whose src is the package
      const record = (await onChain("gw-pub"))!;
      expect(record.versions.map((v) => v.version)).to.deep.equal(["1.0.0"]);
      const fetched = path.join(root, "gw-pub-fetched");
      h.expectJsonSuccess(await pkg(["fetch", "npm/gw-pub:1.0.0", "-o", fetched, "--json"]));
      expect(JSON.parse(readFileSync(path.join(fetched, "package.json"), "utf8")).name).to.equal("gw-pub");
      const meta = readFileSync(path.join(fetched, "pkg.toml"), "utf8");
      expect(meta).to.contain("[origin]").and.contain('registry = "npm"').and.contain(`integrity = "${integrity}"`).and.contain('"npm:left-pad-demo" = "^1.0.0"');

      // installs back through the gateway, with the integrity npm computed when it published
      const project = path.join(root, "gw-project");
      await mkdir(project, { recursive: true });
      await writeFile(path.join(project, "package.json"), JSON.stringify({ name: "gw-project", version: "0.0.0", private: true, dependencies: { "gw-pub": "1.0.0" } }));
      await npm(["install"], project, `${gateway}/`);
      const lock = JSON.parse(readFileSync(path.join(project, "package-lock.json"), "utf8")) as { packages: Record<string, { integrity?: string }> };
      expect(lock.packages["node_modules/gw-pub"].integrity).to.equal(integrity);
      expect(lock.packages).to.have.property("node_modules/left-pad-demo");

      // the same version again: refused in npm's own terms, nothing sent
      const again = await npm(["publish"], dir, `${gateway}/`).then(() => "published", (error: Error) => error.message);
      expect(again).to.match(/cannot publish over the previously published version/);

      await npm(["deprecate", "gw-pub@1.0.0", "use something else"], root, `${gateway}/`);
      expect((await onChain("gw-pub"))!.versions[0].yanked).to.equal(true);
      await new Promise((resolve) => setTimeout(resolve, 1200));
      const doc = (await (await fetch(`${gateway}/gw-pub`)).json()) as { versions: Record<string, { deprecated?: string }> };
      expect(doc.versions["1.0.0"].deprecated).to.be.a("string");
      await npm(["deprecate", "gw-pub@1.0.0", ""], root, `${gateway}/`);
      expect((await onChain("gw-pub"))!.versions[0].yanked).to.equal(false);
    } finally {
      npmrc = saved;
    }
  });

  it("bad writes are refused in npm's format with nothing on chain: no token, a wrong one, a forged integrity, a bad name", async () => {
    const { dir, tgz: tgzFile } = await packageDir("gw-refused", "1.0.0");
    // no token (the verdaccio-only .npmrc), then a wrong one
    const noToken = await npm(["publish"], dir, `${gateway}/`).then(() => "published", (error: Error) => error.message);
    expect(noToken, noToken).to.match(/E401|authentication|ENEEDAUTH|login/i);
    const wrong = path.join(root, ".npmrc-wrong");
    await writeFile(wrong, `${gateway.replace(/^http:/, "")}/:_authToken=not-the-token\n`);
    const saved = npmrc;
    npmrc = wrong;
    try {
      expect(await npm(["publish"], dir, `${gateway}/`).then(() => "published", (error: Error) => error.message)).to.match(/E401|authentication/i);
    } finally {
      npmrc = saved;
    }
    expect(await onChain("gw-refused")).to.equal(null);

    const tgz = readFileSync(tgzFile);
    const put = (name: string, integrityOf: Buffer) =>
      fetch(`${gateway}/${name}`, {
        method: "PUT",
        headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify({
          name,
          versions: { "1.0.0": { name, version: "1.0.0", dist: { integrity: `sha512-${createHash("sha512").update(integrityOf).digest("base64")}` } } },
          _attachments: { [`${name}-1.0.0.tgz`]: { data: tgz.toString("base64"), length: tgz.length } },
        }),
      });
    const forged = await put("gw-refused", Buffer.from("other bytes"));
    expect(forged.status).to.equal(400);
    expect(((await forged.json()) as { error: string }).error).to.match(/does not match/);
    const badName = await put("Bad Name", tgz);
    expect(badName.status).to.equal(400);
    expect(await onChain("gw-refused")).to.equal(null);
  });

  it("cargo publish and cargo yank through the gateway: on chain, built back by cargo; a yank keeps a lock building and stops new resolutions", async function () {
    requireCargo(this);
    const cargoHome = path.join(root, "cargo-publish-home");
    const cargoEnv = { ...process.env, CARGO_HOME: cargoHome };
    const cargo = (args: string[], cwd: string) => spawnSync("cargo", args, { cwd, encoding: "utf8", env: { ...cargoEnv, CARGO_TARGET_DIR: path.join(cwd, "target") }, timeout: 300_000 });
    const registryConfig = `[registries.chain]\nindex = "sparse+${gateway}/index/"\n`;
    async function crateDir(name: string, dependencies: string[], main: string): Promise<string> {
      const dir = path.join(root, `cargo-${name}`);
      await mkdir(path.join(dir, "src"), { recursive: true });
      await mkdir(path.join(dir, ".cargo"), { recursive: true });
      await writeFile(path.join(dir, ".cargo", "config.toml"), registryConfig);
      await writeFile(path.join(dir, "Cargo.toml"), ["[package]", `name = "${name}"`, 'version = "0.1.0"', 'edition = "2021"', 'license = "MIT"', 'description = "test"', "", "[dependencies]", ...dependencies, ""].join("\n"));
      await writeFile(path.join(dir, "src", main), main === "lib.rs" ? "pub fn shout(n: u64) -> String { let mut b = itoa::Buffer::new(); format!(\"{}!\", b.format(n)) }\n" : "fn main() { println!(\"{}\", gw_crate::shout(7)); }\n");
      return dir;
    }

    const lib = await crateDir("gw-crate", ['itoa = { version = "1", registry = "chain" }'], "lib.rs");
    // the .crate cargo makes (deterministic: `cargo publish` uploads these very bytes)
    const pack = cargo(["package", "--registry", "chain", "--no-verify", "--allow-dirty"], lib);
    expect(pack.status, pack.stderr).to.equal(0);
    const packed = readFileSync(path.join(lib, "target", "package", "gw-crate-0.1.0.crate"));
    // no token: refused, nothing on chain
    const refused = cargo(["publish", "--registry", "chain", "--no-verify", "--allow-dirty", "--token", "not-the-token"], lib);
    expect(refused.status, refused.stderr).to.not.equal(0);
    expect(refused.stderr).to.match(/authentication required/);
    const published = cargo(["publish", "--registry", "chain", "--no-verify", "--allow-dirty", "--token", TOKEN], lib);
    expect(published.status, `${published.stdout}\n${published.stderr}`).to.equal(0);
    const record = (await (async () => {
      const client = await connectRegistry({ rpcUrl: env.PKG_RPC_URL!, address: node!.summary.registry });
      try {
        return await client.getPackage({ repository: "crates", name: "gw-crate" });
      } finally {
        client.close();
      }
    })())!;
    expect(record.versions.map((v) => v.version)).to.deep.equal(["0.1.0"]);
    const fetched = path.join(root, "gw-crate-fetched");
    h.expectJsonSuccess(await pkg(["fetch", "crates/gw-crate:0.1.0", "-o", fetched, "--json"]));
    expect(readFileSync(path.join(fetched, "src", "lib.rs"), "utf8")).to.contain("shout");
    expect(readFileSync(path.join(fetched, "pkg.toml"), "utf8")).to.contain('registry = "crates"').and.contain('"crates:itoa" = "^1"');

    // built back by cargo, with the checksum of the very .crate cargo packed
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const app = await crateDir("gw-app", ['gw-crate = { version = "0.1", registry = "chain" }'], "main.rs");
    const built = cargo(["build", "--quiet"], app);
    expect(built.status, built.stderr).to.equal(0);
    expect(spawnSync(path.join(app, "target", "debug", "gw-app"), { encoding: "utf8" }).stdout.trim()).to.equal("7!");
    expect(readFileSync(path.join(app, "Cargo.lock"), "utf8")).to.contain(`checksum = "${createHash("sha256").update(packed).digest("hex")}"`);

    // cargo yank: the existing lock still builds, a new resolution does not pick the version
    const yank = cargo(["yank", "--registry", "chain", "--token", TOKEN, "gw-crate@0.1.0"], app);
    expect(yank.status, yank.stderr).to.equal(0);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    await rm(path.join(app, "target"), { recursive: true, force: true });
    const rebuilt = cargo(["build", "--quiet"], app);
    expect(rebuilt.status, rebuilt.stderr).to.equal(0);
    const fresh = await crateDir("gw-fresh", ['gw-crate = { version = "0.1", registry = "chain" }'], "main.rs");
    const resolved = cargo(["generate-lockfile"], fresh);
    expect(resolved.status).to.not.equal(0);
    expect(resolved.stderr).to.match(/yanked|failed to select a version/);
    const undo = cargo(["yank", "--undo", "--registry", "chain", "--token", TOKEN, "gw-crate@0.1.0"], app);
    expect(undo.status, undo.stderr).to.equal(0);

    // a truncated .crate (lengths consistent, archive cut): refused in cargo's format, nothing on chain
    const metadata = Buffer.from(JSON.stringify({ name: "gw-truncated", vers: "0.1.0", deps: [], features: {} }));
    const cut = packed.subarray(0, Math.floor(packed.length / 2));
    const body = Buffer.concat([Buffer.alloc(4), metadata, Buffer.alloc(4), cut]);
    body.writeUInt32LE(metadata.length, 0);
    body.writeUInt32LE(cut.length, 4 + metadata.length);
    const truncated = await fetch(`${gateway}/api/v1/crates/new`, { method: "PUT", headers: { authorization: TOKEN }, body });
    expect(truncated.status).to.equal(400);
    expect(((await truncated.json()) as { errors: { detail: string }[] }).errors[0].detail).to.match(/gzip|tar|archive/);
    // a name crates.io forbids (must start with a letter): refused the same way
    const badMetadata = Buffer.from(JSON.stringify({ name: "9lives", vers: "0.1.0", deps: [], features: {} }));
    const badBody = Buffer.concat([Buffer.alloc(4), badMetadata, Buffer.alloc(4), packed]);
    badBody.writeUInt32LE(badMetadata.length, 0);
    badBody.writeUInt32LE(packed.length, 4 + badMetadata.length);
    const badName = await fetch(`${gateway}/api/v1/crates/new`, { method: "PUT", headers: { authorization: TOKEN }, body: badBody });
    expect(badName.status).to.equal(400);
    expect(((await badName.json()) as { errors: { detail: string }[] }).errors[0].detail).to.match(/invalid crate name/);
    for (const name of ["gw-truncated", "9lives"]) {
      const client = await connectRegistry({ rpcUrl: env.PKG_RPC_URL!, address: node!.summary.registry });
      try {
        expect(await client.getPackage({ repository: "crates", name }), name).to.equal(null);
      } finally {
        client.close();
      }
    }
  });

  it("pkg publish --from npm and --from cargo publish what the clients would publish through the gateway", async function () {
    // npm: packed by npm itself; installs through the gateway with npm pack's integrity
    const { dir, integrity } = await packageDir("from-npm", "1.0.0", { "left-pad-demo": "^1.0.0" });
    const published = h.expectJsonSuccess<{ name: string; version: string; repository: string }>(await pkg(["publish", "--from", "npm", dir, "--json"]));
    expect(published).to.include({ name: "from-npm", version: "1.0.0", repository: "npm" });
    h.expectJsonError(await pkg(["publish", "--from", "npm", dir, "--json"]), { code: "ERR_PUBLISH_FROM", message: [/cannot publish over/] });
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const project = path.join(root, "from-npm-project");
    await mkdir(project, { recursive: true });
    await writeFile(path.join(project, "package.json"), JSON.stringify({ name: "p", version: "0.0.0", private: true, dependencies: { "from-npm": "1.0.0" } }));
    await npm(["install"], project, `${gateway}/`);
    const lock = JSON.parse(readFileSync(path.join(project, "package-lock.json"), "utf8")) as { packages: Record<string, { integrity?: string }> };
    expect(lock.packages["node_modules/from-npm"].integrity).to.equal(integrity);

    // cargo: packed by cargo; a crate depending on it builds through the gateway
    requireCargo(this);
    const crate = path.join(root, "from-cargo");
    await mkdir(path.join(crate, "src"), { recursive: true });
    await writeFile(path.join(crate, "Cargo.toml"), '[package]\nname = "from-cargo"\nversion = "0.2.0"\nedition = "2021"\nlicense = "MIT OR Apache-2.0"\ndescription = "x"\n\n[dependencies]\nmemchr = "2"\n');
    await writeFile(path.join(crate, "src", "lib.rs"), "pub fn find(b: &[u8]) -> Option<usize> { memchr::memchr(b'!', b) }\n");
    const cargoHome = path.join(root, "from-cargo-home");
    const cargoEnv = { ...env, CARGO_HOME: cargoHome };
    // packing needs the dependency's index: the gateway, as the source replacing crates-io
    await mkdir(cargoHome, { recursive: true });
    await writeFile(path.join(cargoHome, "config.toml"), `[source.crates-io]\nreplace-with = "chain"\n\n[source.chain]\nregistry = "sparse+${gateway}/index/"\n`);
    const fromCargo = await h.run("pkg", ["publish", "--from", "cargo", crate, "--json"], cargoEnv, { cwd: root, timeoutMs: 300_000 });
    expect(h.expectJsonSuccess<{ name: string; version: string }>(fromCargo)).to.include({ name: "from-cargo", version: "0.2.0" });
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const app = path.join(root, "from-cargo-app");
    await mkdir(path.join(app, "src"), { recursive: true });
    await writeFile(path.join(app, "Cargo.toml"), '[package]\nname = "from-cargo-app"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\nfrom-cargo = "0.2"\n');
    await writeFile(path.join(app, "src", "main.rs"), 'fn main() { println!("{:?}", from_cargo::find(b"hi!")); }\n');
    const built = spawnSync("cargo", ["run", "--quiet"], { cwd: app, encoding: "utf8", env: { ...process.env, CARGO_HOME: cargoHome, CARGO_TARGET_DIR: path.join(app, "target") }, timeout: 300_000 });
    expect(built.status, built.stderr).to.equal(0);
    expect(built.stdout.trim()).to.equal("Some(2)");
  });

  /** A package directory for plain `pkg publish`: a pkg.toml (no [origin]) beside the given files. */
  async function nativeDir(name: string, pkgToml: string[], files: Record<string, string>): Promise<string> {
    const dir = path.join(root, "native", name);
    for (const [file, body] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
      await writeFile(path.join(dir, file), body);
    }
    await writeFile(path.join(dir, "pkg.toml"), `${pkgToml.join("\n")}\n`);
    return dir;
  }

  it("a package published with plain pkg publish is served to npm: packed by the gateway, the same bytes from another gateway, installed by npm", async () => {
    // with fields only a registry may write, forged: the gateway writes its own
    const forged = { dist: { tarball: "http://127.0.0.1:9/elsewhere.tgz", integrity: "sha512-forged" }, _hasShrinkwrap: true, _id: "forged@0.0.0" };
    const packageJson = (name: string, version: string) => JSON.stringify({ name, version, main: "index.js", license: "MIT", bin: { "native-npm": "bin/cli.js" }, dependencies: { "left-pad-demo": "^1.0.0" }, ...forged }, null, 2);
    const files = (name: string, version: string) => ({
      "package.json": packageJson(name, version),
      "index.js": 'module.exports = require("left-pad-demo") + " via native-npm";\n',
      "bin/cli.js": "#!/usr/bin/env node\nconsole.log(require('..'));\n",
    });
    const toml = (version: string) => ["[package]", 'repository = "npm"', 'name = "native-npm"', `version = "${version}"`, 'license = "MIT"', 'src = ["package.json", "index.js", "bin/**"]', "", "[inputs]", '"npm:left-pad-demo" = "^1.0.0"'];
    h.expectJsonSuccess(await pkg(["publish", await nativeDir("native-npm-1.2.0", toml("1.2.0"), files("native-npm", "1.2.0")), "--json"]));
    // a tree whose package.json names another package: not an npm version of this one
    h.expectJsonSuccess(await pkg(["publish", await nativeDir("native-npm-1.3.0", toml("1.3.0"), files("someone-else", "1.3.0")), "--json"]));
    await new Promise((resolve) => setTimeout(resolve, 1200));

    const packument = async (base: string) => {
      const response = await fetch(`${base}/native-npm`, { headers: { accept: "application/vnd.npm.install-v1+json" } });
      expect(response.status).to.equal(200);
      return (await response.json()) as { "dist-tags": Record<string, string>; versions: Record<string, { dist: { integrity: string; shasum: string; tarball: string }; bin?: unknown; _hasShrinkwrap?: boolean }> };
    };
    const doc = await packument(gateway);
    expect(Object.keys(doc.versions)).to.deep.equal(["1.2.0"]);
    expect(doc["dist-tags"].latest).to.equal("1.2.0");
    expect(doc.versions["1.2.0"].bin).to.deep.equal({ "native-npm": "bin/cli.js" });
    expect(doc.versions["1.2.0"]).to.include({ _hasShrinkwrap: false }).and.not.have.property("_id");
    expect(doc.versions["1.2.0"].dist.tarball).to.equal(`${gateway}/native-npm/-/native-npm-1.2.0.tgz`);
    expect((await npm(["dist-tag", "ls", "native-npm"], root, `${gateway}/`)).trim()).to.equal("latest: 1.2.0");
    const tarball = Buffer.from(await (await fetch(doc.versions["1.2.0"].dist.tarball)).arrayBuffer());
    expect(doc.versions["1.2.0"].dist.integrity).to.equal(`sha512-${createHash("sha512").update(tarball).digest("base64")}`);
    expect(doc.versions["1.2.0"].dist.shasum).to.equal(createHash("sha1").update(tarball).digest("hex"));
    expect(gatewayStderr()).to.contain("npm/native-npm:1.3.0 is not served to npm").and.contain('"someone-else"');

    // another gateway (its own process, nothing cached) packs the same tree to the same bytes
    const other = await startGatewayProcess([]);
    try {
      const otherDoc = await packument(other.url);
      expect(otherDoc.versions["1.2.0"].dist.integrity).to.equal(doc.versions["1.2.0"].dist.integrity);
      const otherTarball = Buffer.from(await (await fetch(otherDoc.versions["1.2.0"].dist.tarball)).arrayBuffer());
      expect(otherTarball.equals(tarball)).to.equal(true);
    } finally {
      other.child.kill("SIGTERM");
    }

    const project = path.join(root, "native-npm-project");
    await mkdir(project, { recursive: true });
    await writeFile(path.join(project, "package.json"), JSON.stringify({ name: "p", version: "0.0.0", private: true, dependencies: { "native-npm": "^1.0.0" } }));
    await npm(["install"], project, `${gateway}/`);
    const lock = JSON.parse(readFileSync(path.join(project, "package-lock.json"), "utf8")) as { packages: Record<string, { version?: string; integrity?: string }> };
    expect(lock.packages["node_modules/native-npm"]).to.include({ version: "1.2.0", integrity: doc.versions["1.2.0"].dist.integrity });
    const ran = spawnSync(path.join(project, "node_modules", ".bin", "native-npm"), { encoding: "utf8" });
    // its dependency came through the gateway too (1.3.0, unless an earlier test yanked it)
    expect(ran.stdout.trim(), ran.stderr).to.equal(`left-pad-demo@${lock.packages["node_modules/left-pad-demo"].version} via native-npm`);
  });

  it("a crate published with plain pkg publish is served to cargo: index line from its Cargo.toml, a packed .crate, built by cargo; a yank shows", async function () {
    requireCargo(this);
    const cargoToml = (version: string, dependencies: string[]) =>
      ["[package]", 'name = "native-crate"', `version = "${version}"`, 'edition = "2021"', 'license = "MIT"', "", "[dependencies]", ...dependencies, "", "[features]", "shout = []", ""].join("\n");
    const lib = '#[cfg(feature = "shout")]\npub const HOW: &str = "!!";\n#[cfg(not(feature = "shout"))]\npub const HOW: &str = ".";\npub fn say(n: u64) -> String { let mut b = itoa::Buffer::new(); format!("{}{}", b.format(n), HOW) }\n';
    const toml = (version: string) => ["[package]", 'repository = "crates"', 'name = "native-crate"', `version = "${version}"`, 'license = "MIT"', 'src = ["Cargo.toml", "src/**"]', "", "[inputs]", '"crates:itoa" = "^1"'];
    h.expectJsonSuccess(await pkg(["publish", await nativeDir("native-crate-0.2.0", toml("0.2.0"), { "Cargo.toml": cargoToml("0.2.0", ['itoa = "1"']), "src/lib.rs": lib }), "--json"]));
    // a Cargo.toml cargo publish would refuse (a path dependency without a version): left out, and said why
    h.expectJsonSuccess(await pkg(["publish", await nativeDir("native-crate-0.3.0", toml("0.3.0"), { "Cargo.toml": cargoToml("0.3.0", ['itoa = "1"', 'helper = { path = "../helper" }']), "src/lib.rs": lib }), "--json"]));
    await new Promise((resolve) => setTimeout(resolve, 1200));

    const indexText = await (await fetch(`${gateway}/index/na/ti/native-crate`)).text();
    const lines = indexText.trim().split("\n").map((l) => JSON.parse(l) as { name: string; vers: string; cksum: string; yanked: boolean; deps: { name: string; req: string; kind: string }[]; features: Record<string, string[]> });
    expect(lines.map((l) => l.vers)).to.deep.equal(["0.2.0"]);
    expect(lines[0]).to.deep.include({ name: "native-crate", yanked: false, features: { shout: [] } });
    expect(lines[0].deps.map((d) => [d.name, d.req, d.kind])).to.deep.equal([["itoa", "^1", "normal"]]);
    const crate = Buffer.from(await (await fetch(`${gateway}/api/v1/crates/native-crate/0.2.0/download`)).arrayBuffer());
    expect(lines[0].cksum).to.equal(createHash("sha256").update(crate).digest("hex"));
    expect(gatewayStderr()).to.contain("crates/native-crate:0.3.0 is not served to cargo").and.contain("path");

    const app = path.join(root, "native-crate-app");
    await mkdir(path.join(app, "src"), { recursive: true });
    await mkdir(path.join(app, ".cargo"), { recursive: true });
    await writeFile(path.join(app, ".cargo", "config.toml"), `[registries.chain]\nindex = "sparse+${gateway}/index/"\n`);
    await writeFile(path.join(app, "Cargo.toml"), '[package]\nname = "native-crate-app"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\nnative-crate = { version = "0.2", registry = "chain", features = ["shout"] }\n');
    await writeFile(path.join(app, "src", "main.rs"), 'fn main() { println!("{}", native_crate::say(42)); }\n');
    const cargoEnv = { ...process.env, CARGO_HOME: path.join(root, "native-crate-home"), CARGO_TARGET_DIR: path.join(app, "target") };
    const built = spawnSync("cargo", ["run", "--quiet"], { cwd: app, encoding: "utf8", env: cargoEnv, timeout: 300_000 });
    expect(built.status, built.stderr).to.equal(0);
    expect(built.stdout.trim()).to.equal("42!!");
    expect(readFileSync(path.join(app, "Cargo.lock"), "utf8")).to.contain(`name = "native-crate"\nversion = "0.2.0"\nsource = "sparse+${gateway}/index/"\nchecksum = "${lines[0].cksum}"`);

    // pkg yank: cargo's index says so, and the checksum stays (the same tree, the same bytes)
    h.expectJsonSuccess(await pkg(["yank", "crates/native-crate:0.2.0", "--json"]));
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const yanked = JSON.parse((await (await fetch(`${gateway}/index/na/ti/native-crate`)).text()).trim()) as { yanked: boolean; cksum: string };
    expect(yanked).to.include({ yanked: true, cksum: lines[0].cksum });
    const locked = spawnSync("cargo", ["build", "--quiet", "--locked"], { cwd: app, encoding: "utf8", env: cargoEnv, timeout: 300_000 });
    expect(locked.status, locked.stderr).to.equal(0);

    // this repository's own example crates: crates:dep published as it is, examples/hello built by plain cargo
    // with the gateway in place of crates.io (its Cargo.toml says `dep = "0.2"`, nothing else)
    const examples = path.join(__dirname, "..", "..", "examples");
    const dep = path.join(root, "example-dep");
    const hello = path.join(root, "example-hello");
    await cp(path.join(examples, "dep"), dep, { recursive: true });
    await cp(path.join(examples, "hello"), hello, { recursive: true });
    h.expectJsonSuccess(await pkg(["publish", dep, "--json"]));
    await new Promise((resolve) => setTimeout(resolve, 1200));
    await mkdir(path.join(hello, ".cargo"), { recursive: true });
    await writeFile(path.join(hello, ".cargo", "config.toml"), `[source.crates-io]\nreplace-with = "chain"\n\n[source.chain]\nregistry = "sparse+${gateway}/index/"\n`);
    const greeted = spawnSync("cargo", ["run", "--quiet"], { cwd: hello, encoding: "utf8", env: { ...cargoEnv, CARGO_TARGET_DIR: path.join(hello, "target") }, timeout: 300_000 });
    expect(greeted.status, greeted.stderr).to.equal(0);
    expect(greeted.stdout.trim()).to.equal("hello from crates:dep");
  });

  for (const mode of ["alternative registry", "source replacing crates-io"] as const) {
    it(`cargo build with its dependencies from the gateway (${mode}): Cargo.lock's checksums are the source index's cksum`, async function () {
      requireCargo(this);
      const project = path.join(root, `cargo-${mode.split(" ")[0]}`);
      await mkdir(path.join(project, "src"), { recursive: true });
      await mkdir(path.join(project, ".cargo"), { recursive: true });
      const registryKey = mode === "alternative registry" ? ', registry = "chain"' : "";
      await writeFile(path.join(project, "Cargo.toml"), [
        "[package]", 'name = "gateway-user"', 'version = "0.1.0"', 'edition = "2021"', "",
        "[dependencies]", `itoa = { version = "1"${registryKey} }`, `memchr = { version = "2"${registryKey} }`, "",
      ].join("\n"));
      await writeFile(path.join(project, "src", "main.rs"), 'fn main() { let mut b = itoa::Buffer::new(); println!("{} {:?}", b.format(42), memchr::memchr(b\'z\', b"xyz")); }\n');
      await writeFile(path.join(project, ".cargo", "config.toml"), mode === "alternative registry"
        ? `[registries.chain]\nindex = "sparse+${gateway}/index/"\n`
        : `[source.crates-io]\nreplace-with = "chain"\n\n[source.chain]\nregistry = "sparse+${gateway}/index/"\n`);
      const cargoHome = path.join(project, "cargo-home");
      const built = spawnSync("cargo", ["build", "--quiet"], { cwd: project, encoding: "utf8", env: { ...process.env, CARGO_HOME: cargoHome, CARGO_TARGET_DIR: path.join(project, "target") }, timeout: 300_000 });
      expect(built.status, `${built.stdout}\n${built.stderr}`).to.equal(0);
      const run = spawnSync(path.join(project, "target", "debug", "gateway-user"), { encoding: "utf8" });
      expect(run.stdout.trim()).to.equal("42 Some(2)");
      const cargoLock = readFileSync(path.join(project, "Cargo.lock"), "utf8");
      for (const [name, crate] of crates) {
        expect(cargoLock, name).to.match(new RegExp(`name = "${name}"\\nversion = "${crate.version.replace(/\./g, "\\.")}"\\nsource = "[^"]+"\\nchecksum = "${crate.cksum}"`));
      }
    });
  }
});
