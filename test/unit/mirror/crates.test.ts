/**
 * The crates importer (src/mirror/crates.ts) over real crates: Debian's librust-*-dev packages ship the sources
 * of crates.io crates under /usr/share/cargo/registry/NAME-VERSION/. The test packs some of them into `.crate`
 * files (a gzip'd tar with the top directory NAME-VERSION/, as `cargo package` writes), writes a cargo index for
 * them (config.json and one line per version, generated from each Cargo.toml as crates.io does) and serves the
 * files from a node:http server on 127.0.0.1: the same index is read as a directory, as a sparse index, and with
 * file:// downloads, and must give the same entries. Hostile lines and archives are added to the same index.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { expect } from "chai";
import { CID } from "multiformats/cid";
import * as semver from "semver";
import { openEmbeddedStore, type EmbeddedContentStore } from "../../../src/content";
import { isPkgError, type ErrorCode } from "../../../src/errors";
import { readPublishedManifest } from "../../../src/manifest";
import {
  cargoLicense,
  cargoRequirement,
  crateDownloadUrl,
  crateIndexPath,
  crateInputs,
  createCratesSource,
  defaultCratesIndex,
  defaultOptionalDependencies,
  parseIndexLine,
  type IndexDependency,
  type IndexLine,
} from "../../../src/mirror/crates";
import { encodeEntry, type PackageEntry } from "../../../src/mirror/entry";
import type { ImportContext, MirrorSource } from "../../../src/mirror/source";
import { blockFiles, collect, tempDir } from "../content/helpers";
import { debianCrate, indexLineOf, packCrate, REGISTRY, serve, sha256, writeIndex, type PackedCrate, type TestServer } from "../../helpers/cargo-index";
import { skipBecause } from "../../helpers/skip";

/** The crates the index is built from, and the Debian packages that ship them (.ci/run installs these). */
const DEBIAN_CRATES: Record<string, string> = {
  serde: "librust-serde-dev",
  itoa: "librust-itoa-dev",
  memchr: "librust-memchr-dev",
  serde_json: "librust-serde-json-dev",
  ryu: "librust-ryu-dev",
  memoffset: "librust-memoffset-dev",
  autocfg: "librust-autocfg-dev",
};

async function expectError(promise: Promise<unknown>, code: ErrorCode): Promise<Error & { details: Record<string, unknown> }> {
  try {
    await promise;
  } catch (error) {
    expect(isPkgError(error, code), `expected ${code}, got ${String(error)}`).to.equal(true);
    return error as Error & { details: Record<string, unknown> };
  }
  throw new Error(`expected ${code}, but it succeeded`);
}

function dep(name: string, req: string, more: Partial<IndexDependency> = {}): IndexDependency {
  return { name, req, features: [], optional: false, default_features: true, target: null, kind: "normal", registry: null, package: null, ...more };
}

function line(name: string, deps: IndexDependency[], features: Record<string, string[]> = {}, features2: Record<string, string[]> = {}): IndexLine {
  return { name, vers: "1.0.0", deps, cksum: "0".repeat(64), features, features2, yanked: false, raw: {} };
}

describe("mirror: crates (requirements, features, paths)", function () {
  // The Cargo book, "Specifying Dependencies": each requirement and the comparators it means.
  const CARGO_EXAMPLES: [string, string][] = [
    ["1.2.3", ">=1.2.3, <2.0.0"],
    ["1.2", ">=1.2.0, <2.0.0"],
    ["1", ">=1.0.0, <2.0.0"],
    ["0.2.3", ">=0.2.3, <0.3.0"],
    ["0.2", ">=0.2.0, <0.3.0"],
    ["0.0.3", ">=0.0.3, <0.0.4"],
    ["0.0", ">=0.0.0, <0.1.0"],
    ["0", ">=0.0.0, <1.0.0"],
    ["^1.2.3", ">=1.2.3, <2.0.0"],
    ["^1.2", ">=1.2.0, <2.0.0"],
    ["^1", ">=1.0.0, <2.0.0"],
    ["^0.2.3", ">=0.2.3, <0.3.0"],
    ["^0.2", ">=0.2.0, <0.3.0"],
    ["^0.0.3", ">=0.0.3, <0.0.4"],
    ["^0.0", ">=0.0.0, <0.1.0"],
    ["^0", ">=0.0.0, <1.0.0"],
    ["~1.2.3", ">=1.2.3, <1.3.0"],
    ["~1.2", ">=1.2.0, <1.3.0"],
    ["~1", ">=1.0.0, <2.0.0"],
    ["*", ">=0.0.0"],
    ["1.*", ">=1.0.0, <2.0.0"],
    ["1.2.*", ">=1.2.0, <1.3.0"],
    [">= 1.2.0", ">=1.2.0"],
    ["> 1", ">=2.0.0"],
    ["< 2", "<2.0.0"],
    ["= 1.2.3", ">=1.2.3, <=1.2.3"],
    [">= 1.2, < 1.5", ">=1.2.0, <1.5.0"],
    ["=1.2", ">=1.2.0, <1.3.0"],
    ["<=1.2", "<1.3.0"],
  ];
  const PROBES = ["0.0.0", "0.0.3", "0.0.4", "0.0.9", "0.1.0", "0.2.0", "0.2.3", "0.2.9", "0.3.0", "0.9.9", "1.0.0", "1.1.9", "1.2.0", "1.2.2",
    "1.2.3", "1.2.4", "1.2.9", "1.3.0", "1.4.9", "1.5.0", "1.9.9", "2.0.0", "2.5.0", "3.0.0"];

  it("translates cargo's documented requirements into node-semver ranges that accept the same versions", function () {
    for (const [req, meaning] of CARGO_EXAMPLES) {
      const translated = cargoRequirement(req);
      expect(translated, req).to.have.property("range");
      const range = (translated as { range: string }).range;
      const expected = meaning.replace(/,/g, "");
      for (const version of PROBES) {
        expect(semver.satisfies(version, range), `${req} → ${range} on ${version}`).to.equal(semver.satisfies(version, expected));
      }
    }
  });

  it("writes a bare version as a caret range and keeps operators, wildcards and ANDs", function () {
    const table: [string, string][] = [
      ["1.2.3", "^1.2.3"],
      ["0.2", "^0.2"],
      ["1", "^1"],
      ["^1.0", "^1.0"],
      ["~0.4.1", "~0.4.1"],
      ["=1.0.152", "=1.0.152"],
      ["= 1.0.152", "=1.0.152"],
      ["*", "*"],
      ["1.*", "1.*"],
      ["0.3.x", "0.3.x"],
      [">=0.2.22, <0.3", ">=0.2.22 <0.3"],
      ["  >= 1.2 ,< 1.5 ", ">=1.2 <1.5"],
      ["1.0.0-alpha.1", "^1.0.0-alpha.1"],
    ];
    for (const [req, range] of table) expect(cargoRequirement(req), req).to.deep.equal({ range });
    expect(semver.satisfies("1.0.0-alpha.2", (cargoRequirement("1.0.0-alpha.1") as { range: string }).range)).to.equal(true);
  });

  it("refuses what cargo does not accept", function () {
    for (const req of ["", ",", "1.2,", "1.2 1.3", "~> 1.2", "01.2", "1.2.3+build", "latest", "1.2.3.4", ">=", "1 || 2", "v1.2"]) {
      expect(cargoRequirement(req), JSON.stringify(req)).to.have.property("problem");
    }
  });

  it("enables the optional dependencies the default feature reaches (implicit features, dep:, x/feat, x?/feat)", function () {
    // rand 0.8.5: default = std, std_rng; std enables rand_chacha/std (the optional rand_chacha), getrandom (a
    // feature) and libc (an optional dependency's implicit feature); serde and log are enabled by nothing
    const rand = line("rand", [
      dep("log", "^0.4.4", { optional: true }),
      dep("rand_chacha", "^0.3.0", { optional: true, default_features: false }),
      dep("rand_core", "^0.6.0"),
      dep("serde", "^1.0.103", { optional: true, features: ["derive"] }),
      dep("libc", "^0.2.22", { optional: true, default_features: false, target: "cfg(unix)" }),
      dep("bincode", "^1.2.1", { kind: "dev" }),
    ], {
      alloc: ["rand_core/alloc"],
      default: ["std", "std_rng"],
      getrandom: ["rand_core/getrandom"],
      serde1: ["serde", "rand_core/serde1"],
      std: ["rand_core/std", "rand_chacha/std", "alloc", "getrandom", "libc"],
      std_rng: ["rand_chacha"],
    });
    expect([...defaultOptionalDependencies(rand)].sort()).to.deep.equal(["libc", "rand_chacha"]);
    expect(crateInputs(rand, "crates")).to.deep.equal({
      inputs: { "crates:libc": "^0.2.22", "crates:rand_chacha": "^0.3.0", "crates:rand_core": "^0.6.0" },
      nativeInputs: {},
      dependencies: ["rand_chacha", "rand_core", "libc"],
      notes: [],
    });

    // format v2 (features2): `dep:` hides the implicit feature, `x?/feat` enables nothing by itself
    const v2 = line("v2", [
      dep("a", "1", { optional: true }),
      dep("b", "1", { optional: true }),
      dep("c", "1", { optional: true }),
      dep("d", "1", { optional: true }),
    ], { default: ["fast"], fast: ["b"] }, { b: ["dep:a"], extra: ["dep:d"], weak: ["c?/x"], default2: ["c"] });
    expect([...defaultOptionalDependencies(v2)].sort()).to.deep.equal(["a"]);
    expect([...defaultOptionalDependencies(line("none", [dep("a", "1", { optional: true })], { a: [] }))]).to.deep.equal([]);
    expect([...defaultOptionalDependencies(line("weak", [dep("a", "1", { optional: true }), dep("b", "1", { optional: true })],
      {}, { default: ["a?/std", "b/std"] }))]).to.deep.equal(["b"]);
  });

  it("makes normal dependencies inputs and build dependencies native inputs, by the crates' own names", function () {
    const crate = line("Self-Named", [
      dep("itoa", "1.0"),
      dep("itoa", "1.0", { kind: "build" }),
      dep("autocfg", "1", { kind: "build" }),
      dep("winapi", "0.3", { target: "cfg(windows)" }),
      dep("winapi", "0.2", { target: "cfg(windows-old)" }),
      dep("json", "1", { package: "Serde_JSON" }),
      dep("quickcheck", "1", { kind: "dev" }),
      dep("self-named", "1", { kind: "build" }),
      dep("private", "1", { registry: "https://user:secret@example.invalid/index" }),
    ]);
    const inputs = crateInputs(crate, "crates");
    expect(inputs).to.deep.equal({
      inputs: { "crates:itoa": "^1.0", "crates:winapi": "^0.3 || ^0.2", "crates:serde_json": "^1" },
      nativeInputs: { "crates:itoa": "^1.0", "crates:autocfg": "^1" },
      dependencies: ["itoa", "autocfg", "winapi", "Serde_JSON"],
      notes: ["dependency private is from another registry (\"https://example.invalid/index\"): not an input"],
    });
    expect(crateInputs(line("x", [dep("y", "~> 1")]), "crates")).to.have.property("problem").that.includes("y");
  });

  it("finds index files and download URLs by cargo's rules", function () {
    expect(["a", "ab", "abc", "cargo", "Serde_JSON"].map(crateIndexPath)).to.deep.equal(["1/a", "2/ab", "3/a/abc", "ca/rg/cargo", "se/rd/serde_json"]);
    const v = { name: "Serde_JSON", vers: "1.0.87", cksum: "ab".repeat(32) };
    expect(crateDownloadUrl("https://example.invalid/api/v1/crates", v)).to.equal("https://example.invalid/api/v1/crates/Serde_JSON/1.0.87/download");
    expect(crateDownloadUrl("https://example.invalid/dl/", v)).to.equal("https://example.invalid/dl/Serde_JSON/1.0.87/download");
    expect(crateDownloadUrl("https://example.invalid/{prefix}/{lowerprefix}/{crate}/{crate}-{version}.crate?sum={sha256-checksum}", v))
      .to.equal(`https://example.invalid/Se/rd/se/rd/Serde_JSON/Serde_JSON-1.0.87.crate?sum=${"ab".repeat(32)}`);
    expect(crateDownloadUrl("file:///x/{prefix}/{crate}", { ...v, name: "abc" })).to.equal("file:///x/3/a/abc");
  });

  it("reads the license of Cargo.toml, the old '/' syntax as OR", function () {
    expect(cargoLicense('[package]\nname = "x"\nlicense = "MIT/Apache-2.0"\n')).to.equal("MIT OR Apache-2.0");
    expect(cargoLicense('[package]\nlicense = "Unlicense / MIT"\n')).to.equal("Unlicense OR MIT");
    expect(cargoLicense('[package]\nlicense = "MIT OR Apache-2.0"\n')).to.equal("MIT OR Apache-2.0");
    expect(cargoLicense('[package]\nlicense-file = "LICENSE"\n')).to.equal("NOASSERTION");
    expect(cargoLicense('[package]\nlicense = "Some custom thing"\n')).to.equal("NOASSERTION");
    expect(cargoLicense("[package\n")).to.equal("NOASSERTION");
    expect(cargoLicense(null)).to.equal("NOASSERTION");
  });

  it("checks index lines field by field", function () {
    const good = '{"name":"x","vers":"1.0.0","deps":[{"name":"y","req":"^1","features":[],"optional":false,"default_features":true,"target":null,"kind":"normal"}],"cksum":"' + "a".repeat(64) + '","features":{},"yanked":false}';
    expect(parseIndexLine(good)).to.not.have.property("problem");
    const bad = ["not json", "[1]", '{"vers":"1.0.0"}', good.replace('"1.0.0"', '"1.0"'), good.replace('"deps":[', '"deps":[1,'), good.replace(/"cksum":"a+"/, '"cksum":"zz"'),
      good.replace('"yanked":false', '"yanked":"no"'), good.replace('"yanked":false', '"yanked":false,"v":3'), good.replace('"name":"x"', '"name":"../x"'),
      good.replace('"kind":"normal"', '"kind":"sideways"'), good.replace('"features":{}', '"features":{"a":"b"}')];
    for (const text of bad) expect(parseIndexLine(text), text).to.have.property("problem");
  });
});

// ---------------------------------------------------------------------------------------------

interface Recorded extends ImportContext {
  logs: string[];
  stored: number;
}

function contextFor(content: EmbeddedContentStore, options: { dryRun?: boolean } = {}): Recorded {
  const recorded: Recorded = {
    content,
    repository: "crates",
    dryRun: options.dryRun ?? false,
    logs: [],
    stored: 0,
    log: (text) => recorded.logs.push(text),
    onVersion: () => recorded.stored++,
  };
  return recorded;
}

/** The lines of an index file, as the test wrote them. */
async function indexLines(dir: string, name: string): Promise<string[]> {
  return (await readFile(join(dir, ...crateIndexPath(name).split("/")), "utf8")).split("\n").filter((l) => l !== "");
}

describe("mirror: crates (importing Debian's real crates from an index)", function () {
  this.timeout(120_000);
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let server: TestServer;
  let store: EmbeddedContentStore;
  const packed = new Map<string, PackedCrate>(); // `${name}@${version}` → crate
  const lines = new Map<string, string[]>(); // crate → index lines
  let www: string;
  let httpIndex: string;
  let fileIndex: string;
  /** The hostile crate's versions and what was served for them. */
  let hostile: { good: PackedCrate; badSum: PackedCrate; bogusSum: string; truncated: Buffer; wrongTop: PackedCrate };

  before(async function () {
    const missing = Object.keys(DEBIAN_CRATES).filter((name) => debianCrate(name) === null);
    if (missing.length > 0) {
      const packages = missing.map((name) => DEBIAN_CRATES[name]).join(" ");
      if (process.env.CI === "true") throw new Error(`Debian's crates ${missing.join(", ")} are missing: .ci/run installs them (apt-get install ${packages})`);
      skipBecause(this, `Debian's crates ${missing.join(", ")} are not installed (apt-get install ${packages})`);
    }
    dir = await tempDir("crates-test-");
    www = join(dir.path, "www");
    server = await serve(www);
    const add = async (crate: PackedCrate, line: string): Promise<void> => {
      packed.set(`${crate.name}@${crate.version}`, crate);
      lines.set(crate.name, [...(lines.get(crate.name) ?? []), line]);
      const file = join(www, "crates", crate.name, crate.version, "download");
      await mkdir(join(file, ".."), { recursive: true });
      await writeFile(file, crate.bytes);
    };
    for (const name of Object.keys(DEBIAN_CRATES)) {
      const source = debianCrate(name)!;
      const crate = await packCrate(source, name, source.slice(REGISTRY.length + name.length + 2));
      await add(crate, indexLineOf(crate));
    }
    // itoa gets an older version, yanked: the same sources with the version rewritten in Cargo.toml
    const itoa = [...packed.values()].find((c) => c.name === "itoa")!;
    const v = semver.parse(itoa.version)!;
    const older = v.patch > 0 ? `${v.major}.${v.minor}.${v.patch - 1}` : v.minor > 0 ? `${v.major}.${v.minor - 1}.0` : `${Math.max(v.major - 1, 0)}.99.0`;
    const olderCrate = await packCrate(itoa.dir, "itoa", older, { cargoToml: itoa.cargoToml.replace(/^version = ".*"$/m, `version = "${older}"`) });
    await add(olderCrate, indexLineOf(olderCrate, true));

    // the hostile crate: one good version, then a checksum mismatch, a truncated archive, a wrong top directory, bad lines
    const hostileToml = itoa.cargoToml.replace(/^name = ".*"$/m, 'name = "hostile"');
    const good = await packCrate(itoa.dir, "hostile", "0.1.0", { cargoToml: hostileToml });
    await add(good, indexLineOf(good));
    const badSum = await packCrate(itoa.dir, "hostile", "0.1.1", { cargoToml: hostileToml });
    const bogusSum = sha256(Buffer.from("not the crate"));
    await add(badSum, indexLineOf({ ...badSum, cksum: bogusSum }));
    const full = await packCrate(itoa.dir, "hostile", "0.1.2", { cargoToml: hostileToml });
    const truncated = full.bytes.subarray(0, Math.floor(full.bytes.length / 2));
    await add({ ...full, bytes: truncated, cksum: sha256(truncated) }, indexLineOf({ ...full, cksum: sha256(truncated) }));
    const wrongTop = await packCrate(itoa.dir, "hostile", "0.1.3", { cargoToml: hostileToml, top: "package" });
    await add(wrongTop, indexLineOf(wrongTop));
    hostile = { good, badSum, bogusSum, truncated, wrongTop };
    const hostileLines = lines.get("hostile")!;
    hostileLines.push(
      indexLineOf({ ...good, version: "0.1.4" }), // listed, but its .crate is not there (404)
      "{not json",
      JSON.stringify({ name: "hostile", vers: "0.2.0" }),
      indexLineOf({ ...good, name: "itoa", version: "9.9.9" }),
      indexLineOf({ ...good, version: "1.0" }),
      indexLineOf({ ...good, version: "0.1.0+again" }),
      JSON.stringify({ ...JSON.parse(indexLineOf({ ...good, version: "0.3.0" })), v: 3 }),
    );
    // a crate of many versions, for the parallel downloads
    for (let i = 0; i < 8; i++) {
      const version = await packCrate(itoa.dir, "many", `0.${i}.0`, { cargoToml: itoa.cargoToml.replace(/^name = ".*"$/m, 'name = "many"') });
      await add(version, indexLineOf(version));
    }
    // a crate whose download answers HTTP 500, and one whose sparse index file does
    const broken = await packCrate(itoa.dir, "broken-dl", "0.1.0", { cargoToml: hostileToml });
    await add(broken, indexLineOf(broken));
    server.overrides.set("/crates/broken-dl/0.1.0/download", 500);
    lines.set("flaky", [indexLineOf({ ...good, name: "flaky" })]);
    server.overrides.set("/index/fl/ak/flaky", 500);

    httpIndex = join(www, "index");
    await writeIndex(httpIndex, `${server.url}/crates`, lines);
    await mkdir(join(httpIndex, ".git"), { recursive: true });
    await writeFile(join(httpIndex, ".git", "HEAD"), "ref: refs/heads/master\n");
    fileIndex = join(dir.path, "file-index");
    await writeIndex(fileIndex, `${pathToFileURL(join(www, "crates")).toString()}/{crate}/{version}/download`, lines);
  });

  after(async function () {
    await server?.close();
    await dir?.remove();
  });

  beforeEach(async function () {
    store = await openEmbeddedStore({ directory: join(dir.path, `store-${Date.now()}-${Math.random().toString(36).slice(2)}`) });
    server.requests.length = 0;
  });

  afterEach(async function () {
    await store?.close();
  });

  function crate(name: string): PackedCrate {
    const found = [...packed.values()].filter((c) => c.name === name).sort((a, b) => semver.rcompare(a.version, b.version));
    return found[0];
  }

  /** Imports the crates, following `dependencies` as `--deps` does; the entries by name. */
  async function importAll(source: MirrorSource, names: string[], context: Recorded, previous = new Map<string, PackageEntry>()): Promise<Map<string, PackageEntry>> {
    const entries = new Map<string, PackageEntry>();
    const queue = [...names];
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      if (entries.has(name)) continue;
      const result = await source.importPackage(name, previous.get(name) ?? null, context);
      expect(result.entry, name).to.not.equal(null);
      entries.set(name, result.entry!);
      queue.push(...result.dependencies);
    }
    return entries;
  }

  async function treeFile(cid: string, file: string): Promise<Buffer> {
    const out = join(dir.path, `tree-${Date.now()}-${Math.random().toString(36).slice(2)}`);
    await store.getTree(CID.parse(cid), out, { directory: true });
    return readFile(join(out, file));
  }

  it("imports serde_json and its dependencies, serde, memchr and memoffset from a directory index with HTTP downloads", async function () {
    const source = createCratesSource({ index: httpIndex, repository: "crates" });
    const context = contextFor(store);
    const first = await source.importPackage("serde_json", null, context);
    expect([...first.dependencies].sort()).to.deep.equal(["itoa", "ryu", "serde"]); // indexmap is optional and not default
    const entries = await importAll(source, ["serde_json", "memchr", "memoffset"], context);
    expect([...entries.keys()].sort()).to.deep.equal(["autocfg", "itoa", "memchr", "memoffset", "ryu", "serde", "serde_json"]);
    expect(context.logs).to.deep.equal([]);
    expect(context.stored).to.equal(9); // serde_json twice (the first call above), itoa's two versions, one of each other

    for (const [name, entry] of entries) {
      expect(entry.kind).to.equal("crates");
      expect(entry.name).to.equal(name);
      expect(entry.origin).to.deep.equal({ name });
      const fileLines = await indexLines(httpIndex, name);
      expect(entry.versions.map((v) => v.origin.line).sort()).to.deep.equal([...fileLines].sort()); // byte for byte
      encodeEntry(entry); // a valid entry
      for (const version of entry.versions) {
        const c = packed.get(`${name}@${version.version}`)!;
        expect(Buffer.compare(await collect(store.getBytes(CID.parse(version.origin.crate as string))), c.bytes), `${name} .crate`).to.equal(0);
        expect((await treeFile(version.src, "Cargo.toml")).toString()).to.equal(c.cargoToml);
        expect(Buffer.compare(await treeFile(version.src, "src/lib.rs"), await readFile(join(c.dir, "src/lib.rs")))).to.equal(0);
        const meta = await readPublishedManifest(store.getBytes(CID.parse(version.meta)), `${name} meta`);
        expect(meta).to.include({ repository: "crates", name, version: version.version, builder: null });
        expect(meta.src).to.deep.equal(["**"]);
      }
    }

    const itoa = entries.get("itoa")!;
    expect(itoa.versions.map((v) => [v.version, v.yanked])).to.deep.equal(
      [...packed.values()].filter((c) => c.name === "itoa").sort((a, b) => semver.rcompare(a.version, b.version)).map((c, i) => [c.version, i > 0]),
    );
    const meta = async (name: string) => readPublishedManifest(store.getBytes(CID.parse(entries.get(name)!.versions[0].meta)), name);
    const json = await meta("serde_json");
    expect(Object.keys(json.inputs).sort()).to.deep.equal(["crates:itoa", "crates:ryu", "crates:serde"]);
    for (const name of ["itoa", "ryu", "serde"]) expect(semver.satisfies(crate(name).version, json.inputs[`crates:${name}`]), name).to.equal(true);
    expect(json.nativeInputs).to.deep.equal({});
    expect(json.license).to.equal("MIT OR Apache-2.0");
    expect((await meta("serde")).inputs).to.deep.equal({}); // serde_derive is optional, enabled by `derive` only
    const memchr = await meta("memchr");
    expect(memchr.inputs).to.deep.equal({}); // libc, core, compiler_builtins: optional, not default
    expect(memchr.license).to.equal(cargoLicense(crate("memchr").cargoToml));
    expect(memchr.license).to.not.include("/");
    const memoffset = await meta("memoffset");
    expect(memoffset.inputs).to.deep.equal({});
    expect(Object.keys(memoffset.nativeInputs)).to.deep.equal(["crates:autocfg"]); // a build dependency
  });

  it("downloads a crate's new versions a few at a time", async function () {
    server.delayMs = 100;
    server.maxInFlight = 0;
    try {
      const result = await createCratesSource({ index: httpIndex, repository: "crates" }).importPackage("many", null, contextFor(store));
      expect(result.entry!.versions.map((v) => v.version)).to.deep.equal(Array.from({ length: 8 }, (_, i) => `0.${7 - i}.0`)); // newest first, as entries keep them
    } finally {
      server.delayMs = 0;
    }
    expect(server.requests.filter((r) => r.startsWith("/crates/many/"))).to.have.length(8);
    expect(server.maxInFlight).to.be.within(2, 4);
  });

  it("gives the same entries from a sparse index over HTTP and from file:// downloads", async function () {
    const names = ["serde_json", "memchr", "memoffset"];
    const direct = await importAll(createCratesSource({ index: httpIndex, repository: "crates" }), names, contextFor(store));
    const sparse = await importAll(createCratesSource({ index: `sparse+${server.url}/index/`, repository: "crates" }), names, contextFor(store));
    expect(server.requests).to.include("/index/config.json");
    expect(server.requests).to.include("/index/se/rd/serde_json");
    expect(server.requests).to.include("/index/3/r/ryu");
    const files = await importAll(createCratesSource({ index: fileIndex, repository: "crates" }), names, contextFor(store));
    for (const [name, entry] of direct) {
      expect(Buffer.from(encodeEntry(sparse.get(name)!)).toString(), `${name} sparse`).to.equal(Buffer.from(encodeEntry(entry)).toString());
      expect(Buffer.from(encodeEntry(files.get(name)!)).toString(), `${name} file://`).to.equal(Buffer.from(encodeEntry(entry)).toString());
    }
  });

  it("reuses what the previous entry holds: no download, no new block, the same bytes; a yank changes only that version", async function () {
    const source = createCratesSource({ index: httpIndex, repository: "crates" });
    const first = await importAll(source, ["serde_json", "memchr"], contextFor(store));
    const blocks = (await blockFiles(store)).length;
    server.requests.length = 0;
    const context = contextFor(store);
    const again = await importAll(source, ["serde_json", "memchr"], context, first);
    expect(server.requests.filter((r) => r.startsWith("/crates/"))).to.deep.equal([]);
    expect((await blockFiles(store)).length).to.equal(blocks);
    expect(context.stored).to.equal(0);
    expect(context.logs).to.deep.equal([]);
    for (const [name, entry] of first) expect(Buffer.from(encodeEntry(again.get(name)!)).toString(), name).to.equal(Buffer.from(encodeEntry(entry)).toString());

    // upstream yanks itoa's newest version, unyanks the older one, drops serde's only line and deletes ryu
    const changed = new Map(lines);
    const [newest, older] = [crate("itoa"), [...packed.values()].find((c) => c.name === "itoa" && c.version !== crate("itoa").version)!];
    changed.set("itoa", [indexLineOf(older), indexLineOf(newest, true)]);
    changed.set("serde", []);
    changed.delete("ryu");
    const changedIndex = join(dir.path, "changed-index");
    await writeIndex(changedIndex, `${server.url}/crates`, changed);
    const yanking = createCratesSource({ index: changedIndex, repository: "crates" });
    const logs = contextFor(store);
    const later = new Map<string, PackageEntry>();
    for (const name of ["itoa", "serde", "ryu", "serde_json"]) later.set(name, (await yanking.importPackage(name, first.get(name)!, logs)).entry!);
    expect(server.requests.filter((r) => r.startsWith("/crates/"))).to.deep.equal([]);
    expect(logs.stored).to.equal(0);
    const itoa = later.get("itoa")!;
    const before = first.get("itoa")!;
    expect(itoa.versions.map((v) => [v.version, v.yanked])).to.deep.equal([[newest.version, true], [older.version, false]]);
    for (const [i, v] of itoa.versions.entries()) {
      expect(v.meta).to.equal(before.versions[i].meta);
      expect(v.src).to.equal(before.versions[i].src);
      expect(v.origin).to.deep.equal({ ...before.versions[i].origin, line: changed.get("itoa")![i === 0 ? 1 : 0] });
    }
    for (const name of ["serde", "ryu"]) {
      expect(later.get(name)!.versions.map((v) => ({ ...v, yanked: false })), name).to.deep.equal(first.get(name)!.versions);
      expect(later.get(name)!.versions.every((v) => v.yanked), name).to.equal(true);
    }
    expect(logs.logs.some((l) => l.includes("serde") && l.includes("gone from the index"))).to.equal(true);
    expect(logs.logs.some((l) => l.includes("ryu") && l.includes("gone from the index"))).to.equal(true);
    expect(encodeEntry(later.get("serde_json")!)).to.deep.equal(encodeEntry(first.get("serde_json")!));
  });

  it("decides a dry run without downloading or storing", async function () {
    const context = contextFor(store, { dryRun: true });
    const result = await createCratesSource({ index: httpIndex, repository: "crates" }).importPackage("itoa", null, context);
    expect(result.entry!.versions.map((v) => [v.version, v.meta, v.src, v.origin.line])).to.deep.equal(
      (await indexLines(httpIndex, "itoa")).map((l) => [JSON.parse(l).vers, "", "", l]).sort((a, b) => semver.rcompare(a[0], b[0])),
    );
    expect(server.requests.filter((r) => r.startsWith("/crates/"))).to.deep.equal([]);
    expect(await blockFiles(store).catch(() => [])).to.deep.equal([]);
    expect(context.stored).to.equal(0);
  });

  it("refuses a version whose .crate does not match its cksum, and a damaged archive; skips bad lines; keeps the good version", async function () {
    const context = contextFor(store);
    const result = await createCratesSource({ index: httpIndex, repository: "crates" }).importPackage("hostile", null, context);
    expect(result.entry!.versions.map((v) => v.version)).to.deep.equal(["0.1.0"]);
    expect(context.stored).to.equal(1);
    const integrity = context.logs.filter((l) => l.includes("[ERR_MIRROR_INTEGRITY]"));
    expect(integrity).to.have.length(1);
    expect(integrity[0]).to.include("hostile").and.include("0.1.1").and.include(hostile.bogusSum).and.include(hostile.badSum.cksum);
    const archive = context.logs.filter((l) => l.includes("[ERR_MIRROR_BAD_ARCHIVE]"));
    expect(archive.map((l) => l.slice(0, l.indexOf(" refused")))).to.deep.equal(["crates hostile@0.1.2", "crates hostile@0.1.3"]);
    const missing = context.logs.filter((l) => l.includes("[ERR_MIRROR_UPSTREAM]"));
    expect(missing).to.have.length(1);
    expect(missing[0]).to.include("hostile@0.1.4").and.include("/crates/hostile/0.1.4/download").and.include("not there");
    const skipped = context.logs.filter((l) => l.includes("skipped"));
    expect(skipped).to.have.length(6);
    expect(skipped.join("\n")).to.include("not JSON").and.include("has no cksum").and.include('"itoa"').and.include('version "1.0"').and.include("build metadata").and.include("v3");
    // nothing of the refused versions was stored
    const other = await openEmbeddedStore({ directory: join(dir.path, `other-${Date.now()}`) });
    try {
      for (const bytes of [hostile.badSum.bytes, hostile.truncated, hostile.wrongTop.bytes]) {
        const cid = await other.putBytes(bytes);
        expect(await store.has(cid)).to.equal(false);
      }
    } finally {
      await other.close();
    }
    expect((await store.pins()).map(String)).to.include(result.entry!.versions[0].origin.crate);
  });

  it("says which crate is unknown, and which request failed", async function () {
    const direct = createCratesSource({ index: httpIndex, repository: "crates" });
    const sparse = createCratesSource({ index: `sparse+${server.url}/index`, repository: "crates" });
    for (const source of [direct, sparse]) {
      const unknown = await expectError(source.importPackage("nosuchcrate", null, contextFor(store)), "ERR_MIRROR_UNKNOWN_PACKAGE");
      expect(unknown.message).to.include("nosuchcrate");
      const failed = await expectError(source.importPackage("broken-dl", null, contextFor(store)), "ERR_MIRROR_UPSTREAM");
      expect(failed.message).to.include("HTTP 500").and.include("/crates/broken-dl/0.1.0/download");
      expect(failed.details).to.include({ status: 500 });
    }
    const index = await expectError(sparse.importPackage("flaky", null, contextFor(store)), "ERR_MIRROR_UPSTREAM");
    expect(index.message).to.include("HTTP 500").and.include("/index/fl/ak/flaky");
    await expectError(direct.importPackage("bad/name", null, contextFor(store)), "ERR_MIRROR_UNKNOWN_PACKAGE");
  });

  it("refuses an index that is not one, and download URLs that are not http(s) or a local file of a directory index", async function () {
    await expectError(createCratesSource({ index: join(dir.path, "nowhere"), repository: "crates" }).importPackage("itoa", null, contextFor(store)), "ERR_MIRROR_BAD_SOURCE");
    const ftp = join(dir.path, "ftp-index");
    await writeIndex(ftp, "ftp://example.invalid/{crate}", lines);
    const error = await expectError(createCratesSource({ index: ftp, repository: "crates" }).importPackage("itoa", null, contextFor(store)), "ERR_MIRROR_BAD_SOURCE");
    expect(error.message).to.include("ftp://");
    const dotdot = join(dir.path, "dotdot-index");
    await writeIndex(dotdot, `${pathToFileURL(www).toString()}/crates/../crates/{crate}/{version}/download`, lines);
    await expectError(createCratesSource({ index: dotdot, repository: "crates" }).importPackage("itoa", null, contextFor(store)), "ERR_MIRROR_BAD_SOURCE");
    // a remote index may not make the importer read local files
    await writeIndex(join(www, "local"), `${pathToFileURL(join(www, "crates")).toString()}/{crate}/{version}/download`, lines);
    const local = await expectError(createCratesSource({ index: `sparse+${server.url}/local/`, repository: "crates" }).importPackage("itoa", null, contextFor(store)), "ERR_MIRROR_BAD_SOURCE");
    expect(local.message).to.include("only a directory index");
    expect(() => createCratesSource({ index: "https://example.invalid/crates-index.git", repository: "crates" })).to.throw(/neither a directory nor a sparse index/);
  });

  it("names packages by the lowercase crate name, and lists a directory index", async function () {
    const source = createCratesSource({ index: httpIndex, repository: "crates" });
    expect(source.kind).to.equal("crates");
    expect(source.packageName("Serde_JSON")).to.deep.equal({ name: "serde_json" });
    for (const bad of ["", "a/b", "_x", "-x", "x".repeat(65), "caf\u00e9", "a.b"]) expect(source.packageName(bad), bad).to.have.property("problem");
    const names: string[] = [];
    for await (const name of source.listAll!()) names.push(name);
    expect(names.sort()).to.deep.equal([...lines.keys()].sort());
    expect(createCratesSource({ index: `sparse+${server.url}/index/`, repository: "crates" }).listAll).to.equal(undefined);
  });
});

describe("mirror: crates (crates.io itself)", function () {
  this.timeout(15 * 60_000);

  it("imports itoa and memchr from the index cargo uses by default", async function () {
    if (process.env.PKG_TEST_REAL_REGISTRIES !== "1") skipBecause(this, "set PKG_TEST_REAL_REGISTRIES=1 to import from crates.io (network)");
    const dir = await tempDir("crates-real-");
    const store = await openEmbeddedStore({ directory: join(dir.path, "store") });
    try {
      const source = createCratesSource({ index: await defaultCratesIndex(), repository: "crates" });
      const context = contextFor(store);
      for (const name of ["itoa", "memchr"]) {
        const { entry, dependencies } = await source.importPackage(name, null, context);
        expect(entry!.versions.length, name).to.be.greaterThan(10);
        expect(entry!.versions.every((v) => v.origin.crate !== ""), name).to.equal(true);
        encodeEntry(entry!);
        if (name === "itoa") expect(dependencies).to.deep.equal([]);
        const newest = entry!.versions.find((v) => !v.yanked)!;
        const out = join(dir.path, name);
        await store.getTree(CID.parse(newest.src), out, { directory: true });
        expect((await readFile(join(out, "Cargo.toml"), "utf8"))).to.include(`name = "${name}"`);
        const again = await source.importPackage(name, entry, context);
        expect(encodeEntry(again.entry!)).to.deep.equal(encodeEntry(entry!));
      }
      expect(context.logs.filter((l) => l.includes("refused"))).to.deep.equal([]);
    } finally {
      await store.close();
      await dir.remove();
    }
  });
});
