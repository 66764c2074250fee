/**
 * End to end: `pkg mirror nixpkgs` of a channel's package list (test/fixtures/mirror/nixpkgs/packages.json, and a
 * brotli'd copy written here) into a real `pkg node` and the embedded content store. Then a mirrored attribute is
 * fetched and locked by `pkg` like a native package; a second channel (one attribute gone, one version bumped)
 * makes one new snapshot where the gone attribute's versions are yanked, and `pkg mirror diff` lists exactly that;
 * a file that is not a channel file is refused with nothing published.
 *
 *   npx tsc -p tsconfig.build.json && npx hardhat test --no-compile test/e2e/mirror-nixpkgs.test.ts   (E2E_KEEP=1 keeps the temp dir)
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { brotliCompressSync } from "node:zlib";
import { expect } from "chai";
import { CID } from "multiformats/cid";
import type { EmbeddedContentStore } from "../../src/content";
import { canonicalJson, type JsonObject } from "../../src/mirror/entry";
import { lookupEntry } from "../../src/mirror/read";
import { requireBuilt } from "../helpers/dist";
import { freePort } from "../helpers/node";
import * as h from "./helpers";
import { collect, repositoryVersionsAt, withContentOf } from "./mirror-helpers";

const KEEP = process.env.E2E_KEEP === "1";
const FIXTURE = path.join(h.ROOT, "test", "fixtures", "mirror", "nixpkgs", "packages.json");

interface MirrorJson {
  repository: string;
  kind: string;
  root: string;
  previous: string | null;
  version: string | null;
  tx: { hash: string; block: number } | null;
  packages: { visited: number; changed: number; skipped: number };
  versions: { stored: number; total: number };
  changes: { package: string; version: string; change: string }[];
  resumed: boolean;
  warnings?: string[];
}


const byPackageVersion = (a: { package: string; version: string }, b: { package: string; version: string }) =>
  a.package === b.package ? (a.version < b.version ? -1 : 1) : a.package < b.package ? -1 : 1;

describe("e2e: pkg mirror nixpkgs from a channel file, then fetch and lock through the snapshot", function () {
  this.timeout(300_000);

  let root = "";
  let node: h.NodeProcess | null = null;
  let env: NodeJS.ProcessEnv = {};
  let channel: { version: number; packages: Record<string, JsonObject> } = { version: 2, packages: {} };
  let first: MirrorJson | null = null;

  const pkg = (args: string[], cwd = root) => h.run("pkg", args, env, { cwd, timeoutMs: 120_000 });
  const repo = (args: string[]) => h.run("repo", args, env, { cwd: root, timeoutMs: 120_000 });

  const repositoryVersions = (name: string) => repositoryVersionsAt(env.PKG_RPC_URL!, node!.summary.registry, name);

  const withContent = <T>(work: (content: EmbeddedContentStore) => Promise<T>) => withContentOf(path.join(root, "data"), work);

  before(async function () {
    this.timeout(600_000);
    requireBuilt("dist/cli/pkg/mirror/nixpkgs.js");
    channel = JSON.parse(await readFile(FIXTURE, "utf8")) as typeof channel;
    root = await mkdtemp(path.join(tmpdir(), "chainpkg-mirror-nixpkgs-"));
    const port = await freePort();
    env = h.baseEnvironment({
      PKG_RPC_URL: `http://127.0.0.1:${port}`,
      PKG_DATA_DIR: path.join(root, "data"),
      PKG_CONFIG: path.join(root, "config.toml"),
      XDG_RUNTIME_DIR: path.join(root, "run"),
    });
    node = await h.startNode(port, env, root);
  });

  after(async function () {
    this.timeout(120_000);
    if (root !== "") await pkg(["store", "status", "--shutdown"]).catch(() => undefined);
    await node?.stop();
    if (KEEP) console.log(`    kept ${root}`);
    else if (root !== "") await rm(root, { recursive: true, force: true });
  });

  it("mirrors the channel: one repository version; the brotli'd copy of the same channel changes nothing", async () => {
    const attrs = Object.keys(channel.packages);
    expect(attrs).to.have.length(21);
    first = h.expectJsonSuccess<MirrorJson>(await pkg(["mirror", "nixpkgs", FIXTURE, "--json"]));
    expect(first.repository).to.equal("nixpkgs");
    expect(first.kind).to.equal("nixpkgs");
    expect(first.version).to.match(/^\d{8}\.1$/);
    expect(first.previous).to.equal(null);
    // aspellDicts."or" (a quoted segment) cannot be a package name: skipped, and said; SDL2 is s_-_d_l2
    expect(first.packages).to.deep.equal({ visited: 21, changed: 20, skipped: 1 });
    expect(first.versions).to.deep.equal({ stored: 20, total: 20 });
    expect(first.changes.every((c) => c.change === "added")).to.equal(true);
    expect(first.changes.map((c) => `${c.package}@${c.version}`)).to.include.members(["hello@2.12.1", "gcc@13.2.0", "python311_packages.requests@2.31.0"]);
    const warnings = first.warnings ?? [];
    expect(warnings).to.have.length(1);
    expect(warnings.some((w) => w.startsWith('skipping aspellDicts."or":'))).to.equal(true);
    expect(await repositoryVersions("nixpkgs")).to.deep.equal([{ version: first.version, meta: first.root, src: null, yanked: false }]);

    await withContent(async (content) => {
      const hello = (await lookupEntry(content, CID.parse(first!.root), "nixpkgs", "hello"))!;
      expect(hello.kind).to.equal("nixpkgs");
      expect(hello.origin).to.deep.equal({ attr: "hello" });
      expect(hello.versions.map((v) => [v.version, v.yanked, v.origin.version])).to.deep.equal([["2.12.1", false, "2.12.1"]]);
      const meta = (await collect(content.getBytes(CID.parse(hello.versions[0].meta)))).toString();
      expect(meta).to.contain('repository = "nixpkgs"').and.contain('name = "hello"').and.contain('license = "GPL-3.0-or-later"');
      expect(await lookupEntry(content, CID.parse(first!.root), "nixpkgs", "sdl2")).to.equal(null);
      expect((await lookupEntry(content, CID.parse(first!.root), "nixpkgs", "s_-_d_l2"))?.origin).to.deep.equal({ attr: "SDL2" });
    });

    const br = path.join(root, "packages.json.br");
    await writeFile(br, brotliCompressSync(await readFile(FIXTURE)));
    const again = h.expectJsonSuccess<MirrorJson>(await pkg(["mirror", "nixpkgs", br, "--json"]));
    expect(again.version).to.equal(null);
    expect(again.tx).to.equal(null);
    expect(again.root).to.equal(first.root); // every entry the same bytes: the brotli'd file reads as the plain one
    expect(again.versions.stored).to.equal(0);
    expect(again.changes).to.deep.equal([]);
    expect(await repositoryVersions("nixpkgs")).to.have.length(1);
  });

  it("`pkg fetch` of a mirrored attribute gives its record; a native package's input on it locks it from the snapshot", async () => {
    const fetched = path.join(root, "fetched-hello");
    h.expectJsonSuccess(await pkg(["fetch", "nixpkgs/hello:2.12.1", "-o", fetched, "--json"]));
    expect(await readFile(path.join(fetched, "nixpkgs.json"), "utf8")).to.equal(canonicalJson(channel.packages.hello));
    expect(await readFile(path.join(fetched, "pkg.toml"), "utf8")).to.contain('name = "hello"').and.contain('version = "2.12.1"');

    h.expectJsonSuccess(await repo(["create", "apps", "--json"]));
    const dir = path.join(root, "greeter");
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, "pkg.toml"), [
      "[package]", 'repository = "apps"', 'name = "greeter"', 'version = "0.1.0"', 'license = "MIT"', 'src = ["pkg.toml"]', "",
      "[inputs]", '"nixpkgs:hello" = "*"', "",
    ].join("\n"));
    const locked = h.expectJsonSuccess<{ lock: { dependencies: Record<string, { version: string; meta: string; src: string }> } }>(await pkg(["lock", "--json"], dir));
    expect(Object.keys(locked.lock.dependencies)).to.deep.equal(["nixpkgs:hello"]);
    const hello = locked.lock.dependencies["nixpkgs:hello"];
    expect(hello.version).to.equal("2.12.1");
    await withContent(async (content) => {
      const entry = (await lookupEntry(content, CID.parse(first!.root), "nixpkgs", "hello"))!;
      expect({ meta: hello.meta, src: hello.src }).to.deep.equal({ meta: entry.versions[0].meta, src: entry.versions[0].src });
    });
    // the lock checks against the chain as it is written
    h.expectSuccess(await pkg(["fetch"], dir));
  });

  it("a second channel (gcc gone, hello bumped) makes one new snapshot: gcc yanked, hello 2.12.2 added, and `pkg mirror diff` lists just that", async () => {
    const next = structuredClone(channel);
    Object.assign(next.packages.hello, { name: "hello-2.12.2", version: "2.12.2" });
    (next.packages.hello.meta as JsonObject).name = "hello-2.12.2";
    delete next.packages.gcc;
    const file = path.join(root, "next-packages.json");
    await writeFile(file, JSON.stringify(next));

    const second = h.expectJsonSuccess<MirrorJson>(await pkg(["mirror", "nixpkgs", file, "--json"]));
    expect(second.version).to.match(/^\d{8}\.2$/);
    expect(second.previous).to.equal(first!.root);
    // the 20 attributes listed, and gcc: the previous snapshot's package the listing no longer has
    expect(second.packages).to.deep.equal({ visited: 21, changed: 2, skipped: 1 });
    expect(second.versions).to.deep.equal({ stored: 1, total: 21 });
    expect(second.changes.sort(byPackageVersion)).to.deep.equal([
      { package: "gcc", version: "13.2.0", change: "yanked" },
      { package: "hello", version: "2.12.2", change: "added" },
    ]);
    expect((second.warnings ?? []).some((w) => w.includes('"gcc"') && w.includes("yanked"))).to.equal(true);
    const published = await repositoryVersions("nixpkgs");
    expect(published).to.have.length(2);
    expect(published.map((v) => v.meta)).to.have.members([first!.root, second.root]);

    await withContent(async (content) => {
      const rootCid = CID.parse(second.root);
      const gcc = (await lookupEntry(content, rootCid, "nixpkgs", "gcc"))!;
      const before = (await lookupEntry(content, CID.parse(first!.root), "nixpkgs", "gcc"))!;
      expect(gcc.versions).to.deep.equal(before.versions.map((v) => ({ ...v, yanked: true })));
      const hello = (await lookupEntry(content, rootCid, "nixpkgs", "hello"))!;
      expect(hello.versions.map((v) => [v.version, v.yanked])).to.deep.equal([["2.12.2", false], ["2.12.1", false]]);
    });

    const diff = h.expectJsonSuccess<{ packages: { added: string[]; removed: string[]; changed: string[] }; versions: MirrorJson["changes"] }>(
      await pkg(["mirror", "diff", first!.root, second.root, "--json"]),
    );
    expect(diff.packages).to.deep.equal({ added: [], removed: [], changed: ["gcc", "hello"] });
    expect(diff.versions.sort(byPackageVersion)).to.deep.equal([
      { package: "gcc", version: "13.2.0", change: "yanked" },
      { package: "hello", version: "2.12.2", change: "added" },
    ]);
    const human = h.expectSuccess(await pkg(["mirror", "diff", first!.root, second.root]));
    expect(human.stdout.trim().split("\n").sort()).to.deep.equal(["added nixpkgs:hello@2.12.2", "yanked nixpkgs:gcc@13.2.0"]);
  });

  it("a file that is not a channel file (format version 3, not JSON) is ERR_MIRROR_BAD_SOURCE, and nothing is published", async () => {
    const before = await repositoryVersions("nixpkgs");
    const v3 = path.join(root, "v3-packages.json");
    await writeFile(v3, JSON.stringify({ ...channel, version: 3 }));
    h.expectHumanError(await pkg(["mirror", "nixpkgs", v3]), { code: "ERR_MIRROR_BAD_SOURCE", message: [v3, '"version" is 3, not 2'] });
    const notJson = path.join(root, "not-json.json");
    await writeFile(notJson, "hello, world\n");
    h.expectHumanError(await pkg(["mirror", "nixpkgs", notJson, "hello"]), { code: "ERR_MIRROR_BAD_SOURCE", message: [notJson] });
    const json = h.expectJsonError(await pkg(["mirror", "nixpkgs", notJson, "--json"]), { code: "ERR_MIRROR_BAD_SOURCE" });
    expect(json.details).to.include({ file: notJson });
    const notBrotli = path.join(root, "garbage.json.br");
    await writeFile(notBrotli, Buffer.from([0x8b, 0x00, 0xff, 0x13, 0x37, 0x00, 0x42]));
    h.expectHumanError(await pkg(["mirror", "nixpkgs", notBrotli]), { code: "ERR_MIRROR_BAD_SOURCE", message: ["brotli"] });
    expect(await repositoryVersions("nixpkgs")).to.deep.equal(before);
  });
});
