/**
 * End to end, issue 13: `pkg mirror npm` against a real local registry (verdaccio, started here and filled by
 * `npm publish` of packages this test writes, scoped and deprecated ones included), a real `pkg node` and the
 * embedded content store. Then the mirrored packages are locked, fetched and built by `pkg` like native ones, a
 * native record claims a mirrored name, a second run and `pkg mirror diff` show only what changed, bad upstream
 * input is refused, and a run killed with kill -9 at random points resumes with no duplicate and no gap.
 *
 *   npx tsc -p tsconfig.build.json && npx hardhat test --no-compile test/e2e/mirror-npm.test.ts   (E2E_KEEP=1 keeps the temp dir)
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import { CID } from "multiformats/cid";
import { ensureVerdaccio, startVerdaccio, tarball, type Verdaccio } from "../../bench/cli/verdaccio";
import type { EmbeddedContentStore } from "../../src/content";
import { hamtEntries } from "../../src/mirror/hamt";
import { readEntry } from "../../src/mirror/entry";
import { lookupEntry } from "../../src/mirror/read";
import { freePort } from "../helpers/node";
import { requireBuilt } from "../helpers/dist";
import { seededRandom } from "../helpers/random";
import * as h from "./helpers";
import { collect, repositoryVersionsAt, withContentOf } from "./mirror-helpers";

const KEEP = process.env.E2E_KEEP === "1";


interface MirrorJson {
  repository: string;
  root: string;
  previous: string | null;
  version: string | null;
  tx: { hash: string; block: number } | null;
  packages: { visited: number; changed: number; skipped: number };
  versions: { stored: number; total: number };
  changes: { package: string; version: string; change: string }[];
  resumed: boolean;
}

describe("e2e: pkg mirror npm from a real verdaccio, then lock, fetch and build through the snapshot", function () {
  this.timeout(600_000);

  let root = "";
  let registry: Verdaccio | null = null;
  let node: h.NodeProcess | null = null;
  let env: NodeJS.ProcessEnv = {};
  let npmrc = "";
  let first: MirrorJson | null = null;

  const pkg = (args: string[], cwd = root, extra: h.EnvPatch = {}) => h.run("pkg", args, h.applyPatch(env, extra), { cwd, timeoutMs: 300_000 });
  const repo = (args: string[]) => h.run("repo", args, env, { cwd: root, timeoutMs: 120_000 });

  /** `npm publish` of a package directory this test writes. */
  async function npmPublish(manifest: Record<string, unknown>, files: Record<string, string> = {}): Promise<void> {
    const dir = path.join(root, "npm-src", `${String(manifest.name).replace("/", "+")}-${String(manifest.version)}`);
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
    await writeFile(path.join(dir, "index.js"), `module.exports = ${JSON.stringify(`${String(manifest.name)}@${String(manifest.version)}`)};\n`);
    for (const [file, text] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
      await writeFile(path.join(dir, file), text);
    }
    await npm(["publish", "--access", "public"], dir);
  }

  async function npm(args: string[], cwd = root): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = spawn("npm", [...args, "--registry", `${registry!.url}/`, "--userconfig", npmrc, "--no-audit", "--no-fund", "--loglevel=error"], {
        cwd,
        env: { ...process.env, npm_config_cache: path.join(root, "npm-cache") },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      child.stdout.on("data", (c: Buffer) => (out += c.toString()));
      child.stderr.on("data", (c: Buffer) => (out += c.toString()));
      child.once("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`npm ${args.join(" ")} exited ${code}:\n${out}`))));
    });
  }

  /** Publishes one version with a PUT (what npm publish sends), optionally with a forged integrity. */
  async function putVersion(name: string, version: string, options: { forgeIntegrity?: boolean; dependencies?: Record<string, string> } = {}): Promise<void> {
    const manifest = { name, version, license: "MIT", main: "index.js", dependencies: options.dependencies ?? {} };
    const tgz = tarball([
      { path: "package/package.json", content: `${JSON.stringify(manifest)}\n` },
      { path: "package/index.js", content: `module.exports = ${JSON.stringify(`${name}@${version}`)};\n` },
    ]);
    const integrity = `sha512-${createHash("sha512").update(options.forgeIntegrity ? Buffer.from("other bytes") : tgz).digest("base64")}`;
    const file = `${name}-${version}.tgz`;
    const response = await fetch(`${registry!.url}/${name}`, {
      method: "PUT",
      headers: { "content-type": "application/json", authorization: `Bearer ${registry!.token}` },
      body: JSON.stringify({
        _id: name,
        name,
        "dist-tags": { latest: version },
        versions: { [version]: { ...manifest, _id: `${name}@${version}`, dist: { tarball: `${registry!.url}/${name}/-/${file}`, integrity, shasum: createHash("sha1").update(tgz).digest("hex") } } },
        _attachments: { [file]: { content_type: "application/octet-stream", data: tgz.toString("base64"), length: tgz.length } },
      }),
    });
    if (!response.ok) throw new Error(`PUT ${name}@${version}: HTTP ${response.status} ${await response.text()}`);
  }

  const repositoryVersions = (name: string) => repositoryVersionsAt(env.PKG_RPC_URL!, node!.summary.registry, name);

  const withContent = <T>(work: (content: EmbeddedContentStore) => Promise<T>) => withContentOf(path.join(root, "data"), work);

  before(async function () {
    this.timeout(900_000);
    requireBuilt("dist/cli/pkg/mirror/npm.js");
    root = await mkdtemp(path.join(tmpdir(), "chainpkg-mirror-npm-"));
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

    // the upstream tree: scoped, deprecated, optional, peer, a bin, a git dependency npm itself would fetch elsewhere
    await npmPublish({ name: "@demo/util", version: "1.0.0", license: "MIT" });
    await npmPublish({ name: "@demo/util", version: "1.1.0", license: "MIT" });
    await npm(["deprecate", "@demo/util@1.0.0", "use 1.1.0"]);
    await npmPublish({ name: "left-pad-demo", version: "1.0.0", license: "WTFPL" });
    await npmPublish({ name: "left-pad-demo", version: "1.3.0", license: "WTFPL" });
    await npmPublish({ name: "opt-demo", version: "2.0.0", license: "ISC" });
    await npmPublish({ name: "peer-demo", version: "1.0.0", license: "MIT" });
    await npmPublish(
      {
        name: "mirror-app",
        version: "1.0.0",
        license: "MIT",
        bin: { "mirror-app": "bin/cli.js" },
        dependencies: { "@demo/util": "^1.0.0", "left-pad-demo": "^1.0.0", gitdep: "git+https://example.invalid/gitdep.git" },
        optionalDependencies: { "opt-demo": "^2.0.0" },
        peerDependencies: { "peer-demo": ">=1", "optional-peer": "^1" },
        peerDependenciesMeta: { "optional-peer": { optional: true } },
      },
      { "bin/cli.js": "#!/usr/bin/env node\nconsole.log('mirror-app');\n" },
    );
  });

  after(async function () {
    this.timeout(120_000);
    await pkg(["store", "status", "--shutdown"]).catch(() => undefined);
    await node?.stop();
    await registry?.stop();
    if (KEEP) console.log(`    kept ${root}`);
    else if (root !== "") await rm(root, { recursive: true, force: true });
  });

  it("mirrors a tree with --deps: one repository version, tarballs byte-identical, integrity as the registry's, metas as npm's fields", async () => {
    const run = await pkg(["mirror", "npm", "mirror-app", "--deps", "--registry", registry!.url, "--json"]);
    first = h.expectJsonSuccess<MirrorJson>(run);
    expect(first.repository).to.equal("npm");
    expect(first.version).to.match(/^\d{8}\.1$/);
    expect(first.previous).to.equal(null);
    expect(first.packages.visited).to.equal(5); // mirror-app and its four registry dependencies; not gitdep, not the optional peer
    expect(first.versions.stored).to.equal(7);
    expect(first.changes.filter((c) => c.change === "added").map((c) => `${c.package}@${c.version}`).sort()).to.deep.equal([
      "demo__util@1.0.0", "demo__util@1.1.0", "left-pad-demo@1.0.0", "left-pad-demo@1.3.0", "mirror-app@1.0.0", "opt-demo@2.0.0", "peer-demo@1.0.0",
    ]);
    expect((first as MirrorJson & { warnings?: string[] }).warnings?.join("\n")).to.match(/gitdep.*not a registry range/);

    // on chain: one repository version whose meta is the snapshot root
    expect(await repositoryVersions("npm")).to.deep.equal([{ version: first.version, meta: first.root, src: null, yanked: false }]);

    await withContent(async (content) => {
      const rootCid = CID.parse(first!.root);
      const app = (await lookupEntry(content, rootCid, "npm", "mirror-app"))!;
      expect(app.origin).to.deep.include({ name: "mirror-app" });
      expect((app.origin["dist-tags"] as Record<string, string>).latest).to.equal("1.0.0");
      const v = app.versions[0];
      const document = v.origin.document as Record<string, unknown>;
      expect(document.bin).to.deep.equal({ "mirror-app": "bin/cli.js" });
      // the tarball as verdaccio serves it, byte for byte, and its digests as the packument gives them
      const packument = (await (await fetch(`${registry!.url}/mirror-app`)).json()) as { versions: Record<string, { dist: { tarball: string; integrity: string; shasum: string } }> };
      const dist = packument.versions["1.0.0"].dist;
      const upstream = Buffer.from(await (await fetch(dist.tarball)).arrayBuffer());
      expect(v.origin.integrity).to.equal(dist.integrity);
      expect(v.origin.shasum).to.equal(dist.shasum);
      const stored = await collect(content.getBytes(CID.parse(v.origin.tarball as string)));
      expect(stored.equals(upstream)).to.equal(true);
      // the generated pkg.toml: license, and the registry dependencies as inputs (the optional peer and gitdep left out)
      const meta = (await collect(content.getBytes(CID.parse(v.meta)))).toString();
      expect(meta).to.contain('repository = "npm"').and.contain('name = "mirror-app"').and.contain('license = "MIT"');
      expect(meta).to.contain('"npm:demo__util" = "^1.0.0"').and.contain('"npm:left-pad-demo" = "^1.0.0"');
      expect(meta).to.contain('"npm:opt-demo" = "^2.0.0"').and.contain('"npm:peer-demo" = ">=1"');
      expect(meta).to.not.contain("gitdep").and.not.contain("optional-peer");
      // deprecated, not yanked: npm still installs it when nothing else fits
      const util = (await lookupEntry(content, rootCid, "npm", "demo__util"))!;
      expect(util.origin.name).to.equal("@demo/util");
      const old = util.versions.find((x) => x.version === "1.0.0")!;
      expect(old.yanked).to.equal(false);
      expect((old.origin.document as Record<string, unknown>).deprecated).to.equal("use 1.1.0");
    });
  });

  it("a second run changes nothing and sends nothing; a new upstream version makes one new snapshot, and `pkg mirror diff` lists only it", async () => {
    const again = h.expectJsonSuccess<MirrorJson>(await pkg(["mirror", "npm", "mirror-app", "--deps", "--registry", registry!.url, "--json"]));
    expect(again.version).to.equal(null);
    expect(again.tx).to.equal(null);
    expect(again.versions.stored).to.equal(0);
    expect(again.root).to.equal(first!.root);

    await npmPublish({ name: "left-pad-demo", version: "1.4.0", license: "WTFPL" });
    const dry = await pkg(["mirror", "npm", "mirror-app", "--deps", "--registry", registry!.url, "--dry-run"]);
    h.expectSuccess(dry);
    expect(dry.stdout).to.contain("added npm:left-pad-demo@1.4.0").and.contain("nothing stored or sent");
    const next = h.expectJsonSuccess<MirrorJson>(await pkg(["mirror", "npm", "mirror-app", "--deps", "--registry", registry!.url, "--json"]));
    expect(next.version).to.match(/^\d{8}\.2$/);
    expect(next.previous).to.equal(first!.root);
    expect(next.versions.stored).to.equal(1);

    const diff = h.expectJsonSuccess<{ packages: { added: string[]; removed: string[]; changed: string[] }; versions: { package: string; version: string; change: string }[] }>(
      await pkg(["mirror", "diff", first!.root, next.root, "--json"]),
    );
    expect(diff.packages).to.deep.equal({ added: [], removed: [], changed: ["left-pad-demo"] });
    expect(diff.versions).to.deep.equal([{ package: "left-pad-demo", version: "1.4.0", change: "added" }]);
    const human = await pkg(["mirror", "diff", first!.root, next.root]);
    expect(human.stdout.trim()).to.equal("added npm:left-pad-demo@1.4.0");
  });

  it("mirrored packages are locked, fetched and built like native ones; a native record claims a name and wins", async () => {
    h.expectJsonSuccess(await repo(["create", "apps", "--json"]));
    const dir = path.join(root, "app");
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, "pkg.toml"), [
      "[package]", 'repository = "apps"', 'name = "app"', 'version = "0.1.0"', 'license = "MIT"', 'src = ["build.sh"]', 'builder = "./build.sh"', "",
      "[inputs]", '"npm:mirror-app" = "^1.0.0"', "",
    ].join("\n"));
    await writeFile(path.join(dir, "build.sh"), '#!/bin/sh\nset -e\nmkdir -p "$out"\ncp "$mirror_app/package.json" "$out/mirror-app.json"\nfor p in $PKG_CLOSURE; do [ -f "$p/package.json" ] && echo "$p" >> "$out/closure.txt"; done\n');
    h.expectSuccess(await pkg(["lock"], dir));
    const lock = readFileSync(path.join(dir, "pkg.lock"), "utf8");
    for (const key of ["npm:mirror-app", "npm:demo__util", "npm:left-pad-demo", "npm:opt-demo", "npm:peer-demo"]) expect(lock).to.contain(`"${key}"`);
    expect(lock).to.match(/"npm:left-pad-demo"\]?\s*\n?[^[]*version = "1\.4\.0"/);
    const built = h.expectJsonSuccess<{ outputs: { out: string } }>(await pkg(["build", "--json"], dir));
    expect(JSON.parse(readFileSync(path.join(built.outputs.out, "mirror-app.json"), "utf8")).name).to.equal("mirror-app");

    const fetched = path.join(root, "fetched-app");
    h.expectJsonSuccess(await pkg(["fetch", "npm/mirror-app:1.0.0", "-o", fetched, "--json"]));
    expect(JSON.parse(await readFile(path.join(fetched, "package.json"), "utf8")).version).to.equal("1.0.0");
    expect(await readFile(path.join(fetched, "bin", "cli.js"), "utf8")).to.contain("mirror-app");
    const util = h.expectJsonSuccess<{ outputs: { out: string } }>(await pkg(["build", "npm/demo__util:1.1.0", "--json"]));
    expect(JSON.parse(readFileSync(path.join(util.outputs.out, "package.json"), "utf8")).name).to.equal("@demo/util");

    // a maintainer claims npm:peer-demo natively: from then on resolution sees only the native versions
    const claim = path.join(root, "claim");
    await mkdir(claim, { recursive: true });
    await writeFile(path.join(claim, "pkg.toml"), ["[package]", 'repository = "npm"', 'name = "peer-demo"', 'version = "9.0.0"', 'license = "MIT"', 'src = ["pkg.toml"]', ""].join("\n"));
    const claimed = h.expectJsonSuccess<{ meta: string; registered: boolean }>(await pkg(["publish", "--json"], claim));
    expect(claimed.registered, "the name was not registered on chain before").to.equal(true);
    const relocked = await pkg(["lock"], dir);
    h.expectSuccess(relocked);
    expect(relocked.stdout).to.contain("npm:peer-demo: 1.0.0 → 9.0.0");
    expect(readFileSync(path.join(dir, "pkg.lock"), "utf8")).to.contain(claimed.meta);
  });

  it("bad upstream input: a forged integrity and an unknown name are refused with their codes, and nothing is published", async () => {
    await putVersion("forged-demo", "1.0.0", { forgeIntegrity: true });
    const versionsBefore = await repositoryVersions("npm");
    h.expectHumanError(await pkg(["mirror", "npm", "forged-demo", "--registry", registry!.url]), { code: "ERR_MIRROR_INTEGRITY" });
    h.expectHumanError(await pkg(["mirror", "npm", "no-such-package-here", "--registry", registry!.url]), { code: "ERR_MIRROR_UNKNOWN_PACKAGE" });
    h.expectHumanError(await pkg(["mirror", "npm", "Bad Name", "--registry", registry!.url]), { code: "ERR_MIRROR_NAME" });
    h.expectHumanError(await pkg(["mirror", "diff", first!.root, "not-a-cid"]), { code: "ERR_CID_INVALID" });
    // a snapshot is not a repo.lock: the repository commands say so instead of parsing an index as one
    h.expectHumanError(await repo(["fetch", "npm", "-o", path.join(root, "npm-repo")]), { code: "ERR_REPO_IS_SNAPSHOT" });
    // a file (a version's pkg.toml) is not a snapshot
    const meta = (await withContent((content) => lookupEntry(content, CID.parse(first!.root), "npm", "mirror-app")))!.versions[0].meta;
    h.expectHumanError(await pkg(["mirror", "diff", first!.root, meta]), { code: "ERR_MIRROR_NOT_SNAPSHOT" });
    expect(await repositoryVersions("npm")).to.deep.equal(versionsBefore);
  });

  it("kill -9 at 20 random points: each run resumes, and the end is one snapshot equal to an uninterrupted import's", async function () {
    this.timeout(900_000);
    const names = Array.from({ length: 40 }, (_, i) => `kill-${String(i).padStart(2, "0")}`);
    for (const name of names) for (const version of ["1.0.0", "1.1.0", "2.0.0"]) await putVersion(name, version);
    const args = (repository: string) => ["mirror", "npm", ...names, "--registry", registry!.url, "--repository", repository, "--concurrency", "4", "--json"];

    const started = Date.now();
    const reference = h.expectJsonSuccess<MirrorJson>(await pkg(args("killref")));
    const fullMs = Date.now() - started;
    expect(reference.versions.stored).to.equal(120);

    const seed = Number(process.env.MIRROR_KILL_SEED ?? Date.now() % 1_000_000);
    const random = seededRandom(seed);
    let kills = 0;
    let resumed = 0;
    let rounds = 0;
    // every entry, but the metas (whose pkg.toml names the repository, which differs between the rounds) as their text
    // with the repository's name taken out
    const entries = async (content: EmbeddedContentStore, rootText: string, repository: string) => {
      const out = new Map<string, unknown>();
      for await (const { name, link } of hamtEntries(content, CID.parse(rootText))) {
        if (name === ".snapshot") continue;
        const entry = await readEntry(content, link.cid, name);
        const versions = [];
        for (const v of entry.versions) {
          const meta = (await collect(content.getBytes(CID.parse(v.meta)))).toString().replace(`repository = "${repository}"`, "repository = ?");
          versions.push({ ...v, meta });
        }
        out.set(name, { ...entry, versions });
      }
      return [...out.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
    };
    // rounds of one import each, into a fresh repository, killed at random points until one run completes
    while (kills < 20) {
      const repository = `killed${++rounds}`;
      let result: MirrorJson | null = null;
      for (let attempt = 0; result === null; attempt++) {
        expect(attempt, `round ${rounds} never completed (seed ${seed})`).to.be.below(40);
        const child = spawn(process.execPath, [h.BIN.pkg, ...args(repository)], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        let err = "";
        child.stdout.on("data", (c: Buffer) => (out += c.toString()));
        child.stderr.on("data", (c: Buffer) => (err += c.toString()));
        const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
        // anywhere in a full run's time, start and commit included; past the end the run completes the round
        const timer = setTimeout(() => child.kill("SIGKILL"), Math.floor(random() * fullMs * 1.1));
        const code = await exited;
        clearTimeout(timer);
        if (code === null) {
          kills++;
          continue;
        }
        expect(code, `${out}\n${err} (seed ${seed})`).to.equal(0);
        result = JSON.parse(out) as MirrorJson;
        if (result.resumed) resumed++;
      }
      // no duplicate: exactly one repository version, whatever point the kills hit (the commit included)
      const published = await repositoryVersions(repository);
      expect(published, `round ${rounds} (seed ${seed})`).to.have.length(1);
      // no gap: the same entries as the uninterrupted import (the snapshot records differ only by repository name)
      await withContent(async (content) => {
        const expected = await entries(content, reference.root, "killref");
        expect(expected).to.have.length(names.length);
        expect(await entries(content, published[0].meta, repository), `round ${rounds} (seed ${seed})`).to.deep.equal(expected);
      });
    }
    console.log(`      ${kills} kills in ${rounds} rounds, ${resumed} completing run(s) resumed from a checkpoint (seed ${seed})`);
  });
});
