/**
 * End to end: `pkg mirror crates` from a directory index built here out of Debian's real crate sources
 * (/usr/share/cargo/registry: itoa, memchr, serde_json, serde, ryu; test/helpers/cargo-index.ts), with the
 * `.crate`s served over HTTP on 127.0.0.1, into a real `pkg node` and the embedded content store. Then a native
 * crate, crates:app, depends on the mirrored itoa and memchr: `pkg lock` locks them from the snapshot, `pkg build`
 * compiles them with this machine's cargo and rustc (published as toolchains:*; toolchains:cargo vendors the
 * closure's crates as crates-io), and the binary runs. A second run and `pkg mirror diff` show only what changed;
 * `pkg fetch` and `pkg build` of a mirrored version give the crate's files; bad upstream input is refused.
 *
 * Skipped when cargo, rustc, gcc or Debian's crates are missing, except under CI=true, where that fails.
 *
 *   npx tsc -p tsconfig.build.json && npx hardhat test --no-compile test/e2e/mirror-crates.test.ts   (E2E_KEEP=1 keeps the temp dir)
 */
import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import { CID } from "multiformats/cid";
import { writeHostToolchains } from "../../src/builder/host";
import { openEmbeddedStore, type EmbeddedContentStore } from "../../src/content";
import { lookupEntry } from "../../src/mirror/read";
import {
  debianCrate,
  debianCrateVersion,
  filesOf,
  indexLineOf,
  packCrate,
  repackAs,
  serve,
  sha256,
  writeIndex,
  type PackedCrate,
  type TestServer,
} from "../helpers/cargo-index";
import { requireBuilt } from "../helpers/dist";
import { freePort } from "../helpers/node";
import { skipBecause } from "../helpers/skip";
import * as h from "./helpers";
import { collect, repositoryVersionsAt, withContentOf } from "./mirror-helpers";

const KEEP = process.env.E2E_KEEP === "1";

/** The crates the index is built from, and the Debian packages that ship them. */
const DEBIAN_CRATES: Record<string, string> = {
  itoa: "librust-itoa-dev",
  memchr: "librust-memchr-dev",
  serde_json: "librust-serde-json-dev",
  serde: "librust-serde-dev",
  ryu: "librust-ryu-dev",
};

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
  warnings?: string[];
}

interface DiffJson {
  packages: { added: string[]; removed: string[]; changed: string[] };
  versions: { package: string; version: string; change: string }[];
}


const byPackageVersion = (a: { package: string; version: string }, b: { package: string; version: string }) =>
  a.package === b.package ? (a.version < b.version ? -1 : 1) : a.package < b.package ? -1 : 1;

describe("e2e: a mirrored crate is locked, fetched and built by pkg like native ones", function () {
  this.timeout(300_000);

  let root = "";
  let www = "";
  let index = "";
  let server: TestServer | null = null;
  let node: h.NodeProcess | null = null;
  let env: NodeJS.ProcessEnv = {};
  /** The index's lines, crate → lines (what writeIndex writes). */
  const lines = new Map<string, string[]>();
  /** Every .crate served, `${name}@${version}` → crate. */
  const packed = new Map<string, PackedCrate>();
  let first: MirrorJson | null = null;
  let second: MirrorJson | null = null;
  /** The root of the newest snapshot published. */
  let latest = "";

  const pkg = (args: string[], cwd = root) => h.run("pkg", args, env, { cwd, timeoutMs: 240_000 });
  const repo = (args: string[]) => h.run("repo", args, env, { cwd: root, timeoutMs: 120_000 });
  const mirror = async (names: string[], more: string[] = []): Promise<MirrorJson> => {
    const result = h.expectJsonSuccess<MirrorJson>(await pkg(["mirror", "crates", index, ...names, ...more, "--json"]));
    if (result.version !== null) latest = result.root;
    return result;
  };

  /** Serves a crate's .crate at /crates/NAME/VERSION/download and adds its line to the index's lines. */
  async function add(crate: PackedCrate, line = indexLineOf(crate)): Promise<void> {
    packed.set(`${crate.name}@${crate.version}`, crate);
    lines.set(crate.name, [...(lines.get(crate.name) ?? []), line]);
    const file = path.join(www, "crates", crate.name, crate.version, "download");
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, crate.bytes);
  }

  /** The newest Debian crate of that name, as packed. */
  function debian(name: string): PackedCrate {
    return [...packed.values()].find((c) => c.name === name && c.dir === debianCrate(name) && c.version === debianCrateVersion(name, c.dir))!;
  }

  const repositoryVersions = (name: string) => repositoryVersionsAt(env.PKG_RPC_URL!, node!.summary.registry, name);

  const withContent = <T>(work: (content: EmbeddedContentStore) => Promise<T>) => withContentOf(path.join(root, "data"), work);

  before(async function () {
    this.timeout(600_000);
    const tools = ["cargo", "rustc", "gcc"].filter((tool) => spawnSync(tool, ["--version"], { stdio: "ignore" }).status !== 0);
    const missing = Object.keys(DEBIAN_CRATES).filter((name) => debianCrate(name) === null);
    if (tools.length > 0 || missing.length > 0) {
      const reasons = [
        ...(tools.length > 0 ? [`${tools.join(", ")} not on PATH`] : []),
        ...(missing.length > 0 ? [`Debian's crates ${missing.join(", ")} are not installed (apt-get install ${missing.map((n) => DEBIAN_CRATES[n]).join(" ")}; .ci/run does)`] : []),
      ].join("; ");
      if (process.env.CI === "true") throw new Error(`${reasons}: required under CI=true`);
      skipBecause(this, reasons);
    }
    requireBuilt("dist/cli/pkg/mirror/crates.js");
    root = await mkdtemp(path.join(tmpdir(), "chainpkg-mirror-crates-"));
    www = path.join(root, "www");
    index = path.join(root, "index");
    server = await serve(www);

    for (const name of Object.keys(DEBIAN_CRATES)) {
      const dir = debianCrate(name)!;
      await add(await packCrate(dir, name, debianCrateVersion(name, dir)));
    }
    // itoa gets an older version from the same sources (1.0.1 → 1.0.0), listed before the newer one as crates.io does
    const itoa = debian("itoa");
    const older = await repackAs(itoa, "1.0.0");
    await add(older);
    lines.set("itoa", [indexLineOf(older), indexLineOf(itoa)]);
    await writeIndex(index, `${server.url}/crates`, lines);

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
    await server?.close();
    if (KEEP) console.log(`    kept ${root}`);
    else if (root !== "") await rm(root, { recursive: true, force: true });
  });

  it("mirrors itoa and memchr: one repository version, each .crate byte-identical and each index line byte for byte", async () => {
    expect(debian("itoa").version).to.equal("1.0.1"); // the versions below are Debian's (bookworm)
    server!.requests.length = 0;
    first = await mirror(["itoa", "memchr"]);
    expect(first.repository).to.equal("crates");
    expect(first.version).to.match(/^\d{8}\.1$/);
    expect(first.previous).to.equal(null);
    expect(first.packages).to.deep.equal({ visited: 2, changed: 2, skipped: 0 });
    expect(first.versions).to.deep.equal({ stored: 3, total: 3 });
    expect(first.warnings ?? []).to.deep.equal([]);
    const memchr = debian("memchr");
    expect(first.changes.map((c) => `${c.change} ${c.package}@${c.version}`).sort()).to.deep.equal(
      ["added itoa@1.0.0", "added itoa@1.0.1", `added memchr@${memchr.version}`],
    );
    expect(server!.requests.filter((r) => r.startsWith("/crates/")).sort()).to.deep.equal(
      ["/crates/itoa/1.0.0/download", "/crates/itoa/1.0.1/download", `/crates/memchr/${memchr.version}/download`],
    );
    expect(await repositoryVersions("crates")).to.deep.equal([{ version: first.version, meta: first.root, src: null, yanked: false }]);

    await withContent(async (content) => {
      const rootCid = CID.parse(first!.root);
      expect(await lookupEntry(content, rootCid, "crates", "serde")).to.equal(null); // not asked for, not followed
      for (const name of ["itoa", "memchr"]) {
        const entry = (await lookupEntry(content, rootCid, "crates", name))!;
        expect(entry.kind).to.equal("crates");
        expect(entry.origin).to.deep.equal({ name });
        expect(entry.versions.map((v) => v.origin.line).sort()).to.deep.equal([...lines.get(name)!].sort());
        for (const v of entry.versions) {
          const crate = packed.get(`${name}@${v.version}`)!;
          expect((await collect(content.getBytes(CID.parse(v.origin.crate as string)))).equals(crate.bytes), `${name}@${v.version} .crate`).to.equal(true);
          expect(v.yanked).to.equal(false);
          const meta = (await collect(content.getBytes(CID.parse(v.meta)))).toString();
          expect(meta).to.contain('repository = "crates"').and.contain(`name = "${name}"`).and.contain(`version = "${v.version}"`);
        }
      }
    });
  });

  it("a second run downloads and publishes nothing; a yank and a new version make one snapshot, and `pkg mirror diff` lists only them", async () => {
    server!.requests.length = 0;
    const again = await mirror(["itoa", "memchr"]);
    expect(again.version).to.equal(null);
    expect(again.tx).to.equal(null);
    expect(again.root).to.equal(first!.root);
    expect(again.versions.stored).to.equal(0);
    expect(again.changes).to.deep.equal([]);
    expect(server!.requests.filter((r) => r.startsWith("/crates/"))).to.deep.equal([]);
    expect(await repositoryVersions("crates")).to.have.length(1);

    // upstream yanks itoa 1.0.0 (its line rewritten, same cksum) and publishes memchr 2.5.1
    const itoa = debian("itoa");
    const memchr = debian("memchr");
    const newer = await repackAs(memchr, "2.5.1");
    await add(newer);
    lines.set("itoa", [indexLineOf(packed.get("itoa@1.0.0")!, true), indexLineOf(itoa)]);
    await writeIndex(index, `${server!.url}/crates`, lines);

    server!.requests.length = 0;
    second = await mirror(["itoa", "memchr"]);
    expect(second.version).to.match(/^\d{8}\.2$/);
    expect(second.previous).to.equal(first!.root);
    expect(second.versions).to.deep.equal({ stored: 1, total: 4 });
    expect(second.warnings ?? [], "a yank is no change of the .crate: nothing to say").to.deep.equal([]);
    expect(second.changes.sort(byPackageVersion)).to.deep.equal([
      { package: "itoa", version: "1.0.0", change: "yanked" },
      { package: "memchr", version: "2.5.1", change: "added" },
    ]);
    expect(server!.requests.filter((r) => r.startsWith("/crates/"))).to.deep.equal(["/crates/memchr/2.5.1/download"]);

    const diff = h.expectJsonSuccess<DiffJson>(await pkg(["mirror", "diff", first!.root, second.root, "--json"]));
    expect(diff.packages).to.deep.equal({ added: [], removed: [], changed: ["itoa", "memchr"] });
    expect(diff.versions.sort(byPackageVersion)).to.deep.equal([
      { package: "itoa", version: "1.0.0", change: "yanked" },
      { package: "memchr", version: "2.5.1", change: "added" },
    ]);
    const human = await pkg(["mirror", "diff", first!.root, second.root]);
    h.expectSuccess(human);
    expect(human.stdout.trim().split("\n").sort()).to.deep.equal(["added crates:memchr@2.5.1", "yanked crates:itoa@1.0.0"]);
  });

  it("--deps follows serde_json's dependencies: serde and ryu are added, itoa is reused as it is", async () => {
    const before = (await repositoryVersions("crates")).length;
    const third = await mirror(["serde_json"], ["--deps"]);
    expect(third.version).to.match(/^\d{8}\.3$/);
    expect(third.packages).to.deep.equal({ visited: 4, changed: 3, skipped: 0 }); // serde_json, itoa, ryu, serde
    expect(third.changes.map((c) => `${c.change} ${c.package}`).sort()).to.deep.equal(["added ryu", "added serde", "added serde_json"]);
    expect(third.versions.stored).to.equal(3);
    expect(await repositoryVersions("crates")).to.have.length(before + 1);
    const diff = h.expectJsonSuccess<DiffJson>(await pkg(["mirror", "diff", second!.root, third.root, "--json"]));
    expect(diff.packages).to.deep.equal({ added: ["ryu", "serde", "serde_json"], removed: [], changed: [] });
    await withContent(async (content) => {
      const json = (await lookupEntry(content, CID.parse(third.root), "crates", "serde_json"))!;
      const meta = (await collect(content.getBytes(CID.parse(json.versions[0].meta)))).toString();
      expect(meta).to.contain('"crates:itoa" = "^1.0"').and.contain('"crates:ryu"').and.contain('"crates:serde"');
    });
  });

  it("crates:app, a native crate depending on the mirrored itoa and memchr, locks them and builds with cargo; the binary runs", async function () {
    this.timeout(600_000);
    h.expectJsonSuccess(await repo(["create", "toolchains", "--json"]));
    const toolchains = path.join(root, "host-toolchains");
    const written = await writeHostToolchains(toolchains);
    for (const tool of ["cargo", "rustc", "gcc"]) {
      expect(written.map((t) => t.tool)).to.include(tool);
      h.expectJsonSuccess(await pkg(["publish", "--json"], path.join(toolchains, tool)));
    }

    const dir = path.join(root, "app");
    await mkdir(path.join(dir, "src"), { recursive: true });
    await writeFile(path.join(dir, "pkg.toml"), [
      "# crates:app, native, built by cargo from crates:itoa and crates:memchr, which are mirrored",
      "[package]", 'repository = "crates"', 'name = "app"', 'version = "0.1.0"', 'license = "MIT"',
      'src = ["Cargo.toml", "src/main.rs"]', 'builder = "$cargo/bin/cargo"',
      'args = ["install", "--offline", "--no-track", "--path", ".", "--root", "$out"]', "",
      "[meta-inputs]", '"toolchains:cargo" = "*"', "",
      "[native-inputs]", '"toolchains:gcc" = "*"', '"toolchains:rustc" = "*"', "",
      "[inputs]", '"crates:itoa" = "1"', '"crates:memchr" = "2"', "",
    ].join("\n"));
    await writeFile(path.join(dir, "Cargo.toml"), [
      "[package]", 'name = "app"', 'version = "0.1.0"', 'edition = "2021"', 'license = "MIT"', "",
      "[dependencies]", 'itoa = "1"', 'memchr = "2"', "",
    ].join("\n"));
    await writeFile(path.join(dir, "src", "main.rs"), [
      "fn main() {",
      "    let mut buffer = itoa::Buffer::new();",
      "    let text = buffer.format(1_234_567u64 * 3);",
      "    let at = memchr::memchr(b'7', text.as_bytes());",
      '    println!("itoa {} memchr {:?}", text, at);',
      "}",
      "",
    ].join("\n"));

    const locked = h.expectJsonSuccess<{ lock: { dependencies: Record<string, { version: string; meta: string }> } }>(await pkg(["lock", "--json"], dir));
    const deps = locked.lock.dependencies;
    expect(Object.keys(deps).sort()).to.deep.equal(["crates:itoa", "crates:memchr", "toolchains:cargo", "toolchains:gcc", "toolchains:rustc"]);
    expect(deps["crates:itoa"].version).to.equal("1.0.1");
    expect(deps["crates:memchr"].version).to.equal("2.5.1"); // the version the second run mirrored
    await withContent(async (content) => {
      const rootCid = CID.parse(latest);
      for (const name of ["itoa", "memchr"]) {
        const entry = (await lookupEntry(content, rootCid, "crates", name))!;
        expect(deps[`crates:${name}`].meta, name).to.equal(entry.versions.find((v) => v.version === deps[`crates:${name}`].version)!.meta);
      }
    });

    const built = h.expectJsonSuccess<{ outputs: { out: string }; built: boolean }>(await pkg(["build", "--json"], dir));
    expect(built.built).to.equal(true);
    const ran = spawnSync(path.join(built.outputs.out, "bin", "app"), { encoding: "utf8" });
    expect(ran.status, ran.stderr).to.equal(0);
    expect(ran.stdout).to.equal("itoa 3703701 memchr Some(1)\n");
  });

  it("`pkg fetch` of a mirrored version gives the crate's files as Debian ships them; `pkg build` of it gives them as its output", async () => {
    const itoa = debian("itoa");
    const fetched = path.join(root, "fetched-itoa");
    h.expectJsonSuccess(await pkg(["fetch", "crates/itoa:1.0.1", "-o", fetched, "--json"]));
    const upstream = await filesOf(itoa.dir);
    const got = (await h.listTree(fetched)).filter((p) => !p.endsWith("/"));
    // the crate's files, and the generated pkg.toml
    expect(got.filter((p) => p !== "pkg.toml")).to.deep.equal(upstream.map((f) => f.path).sort());
    for (const file of upstream) expect((await readFile(path.join(fetched, file.path))).equals(await readFile(file.full)), file.path).to.equal(true);
    expect(await readFile(path.join(fetched, "pkg.toml"), "utf8")).to.contain('name = "itoa"').and.contain('version = "1.0.1"');

    const built = h.expectJsonSuccess<{ outputs: { out: string } }>(await pkg(["build", "crates/itoa:1.0.1", "--json"]));
    expect(await readFile(path.join(built.outputs.out, "Cargo.toml"), "utf8")).to.equal(itoa.cargoToml);
    expect((await readFile(path.join(built.outputs.out, "src", "lib.rs"))).equals(await readFile(path.join(itoa.dir, "src", "lib.rs")))).to.equal(true);
  });

  it("bad upstream input: an unknown crate, a dl of another scheme and a forged cksum are refused, and nothing is published", async () => {
    const before = await repositoryVersions("crates");
    h.expectHumanError(await pkg(["mirror", "crates", index, "nosuchcrate"]), { code: "ERR_MIRROR_UNKNOWN_PACKAGE", message: ["nosuchcrate"] });

    const ftp = path.join(root, "ftp-index");
    await writeIndex(ftp, "ftp://example.invalid/{crate}/{version}", lines);
    h.expectHumanError(await pkg(["mirror", "crates", ftp, "itoa"]), { code: "ERR_MIRROR_BAD_SOURCE", message: ["ftp://"] });

    // forged: one version, its .crate not the one its cksum names. The version is refused (ERR_MIRROR_INTEGRITY,
    // said as a warning) and never stored; with no version left, the crate gets no entry and nothing is published.
    const itoa = debian("itoa");
    const forged = await packCrate(itoa.dir, "forged", "0.1.0", { cargoToml: itoa.cargoToml.replace(/^name = ".*"$/m, 'name = "forged"') });
    const bogus = sha256(Buffer.from("not the crate"));
    await add(forged, indexLineOf({ ...forged, cksum: bogus }));
    await writeIndex(index, `${server!.url}/crates`, lines);
    // a crate the user named with no version left fails the run (exit 8); through --deps it would be skipped, said
    const refused = h.expectJsonError(await pkg(["mirror", "crates", index, "forged", "--json"]), { code: "ERR_MIRROR_INTEGRITY" });
    expect(refused.message).to.include("forged@0.1.0").and.include(bogus);
    expect(await repositoryVersions("crates")).to.deep.equal(before);
    await withContent(async (content) => {
      expect(await lookupEntry(content, CID.parse(latest), "crates", "forged")).to.equal(null);
      const other = await openEmbeddedStore({ directory: path.join(root, "other-store") });
      try {
        expect(await content.has(await other.putBytes(forged.bytes)), "the refused .crate is not stored").to.equal(false);
      } finally {
        await other.close();
      }
    });

    // mixed: a good version and a forged one: the good one is mirrored, the forged one said and left out
    const good = await packCrate(itoa.dir, "mixed", "0.1.0", { cargoToml: itoa.cargoToml.replace(/^name = ".*"$/m, 'name = "mixed"') });
    const bad = await packCrate(itoa.dir, "mixed", "0.1.1", { cargoToml: itoa.cargoToml.replace(/^name = ".*"$/m, 'name = "mixed"') });
    await add(good);
    await add(bad, indexLineOf({ ...bad, cksum: bogus }));
    await writeIndex(index, `${server!.url}/crates`, lines);
    const mixed = await mirror(["mixed"]);
    expect(mixed.changes).to.deep.equal([{ package: "mixed", version: "0.1.0", change: "added" }]);
    expect(mixed.warnings!.filter((w) => w.includes("[ERR_MIRROR_INTEGRITY]"))).to.have.length(1);
    expect(mixed.warnings!.find((w) => w.includes("[ERR_MIRROR_INTEGRITY]"))).to.include("mixed@0.1.1").and.include(bogus).and.include(bad.cksum);
    expect(await repositoryVersions("crates")).to.have.length(before.length + 1);
  });
});
