/**
 * The nixpkgs importer on a channel file in the real format (test/fixtures/mirror/nixpkgs/packages.json, the
 * shape of channels.nixos.org's packages.json.br), plain and brotli'd, into a real embedded content store:
 * names, the version mapping, licenses, origins, snapshots accumulating, and hostile files.
 */
import { readFile, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { brotliCompressSync } from "node:zlib";
import { expect } from "chai";
import { CID } from "multiformats/cid";
import * as semver from "semver";
import { openEmbeddedStore, type EmbeddedContentStore } from "../../../src/content";
import { isPkgError, type ErrorCode, type PkgError } from "../../../src/errors";
import { checkVersion } from "../../../src/ids";
import { readPublishedManifest } from "../../../src/manifest";
import { canonicalJson, encodeEntry, type JsonObject, type PackageEntry } from "../../../src/mirror/entry";
import { createNixpkgsSource, nixToSemver, nixVersionComponents } from "../../../src/mirror/nixpkgs";
import type { ImportContext, MirrorSource } from "../../../src/mirror/source";
import { tempDir } from "../content/helpers";

const FIXTURE = join(__dirname, "../../fixtures/mirror/nixpkgs/packages.json");

// ---- Nix's own order (nix: src/libstore/names.cc, compareVersions), to check the mapping against

function componentLess(c1: string, c2: string): boolean {
  const n1 = /^[0-9]+$/.test(c1) ? Number(c1) : null;
  const n2 = /^[0-9]+$/.test(c2) ? Number(c2) : null;
  if (n1 !== null && n2 !== null) return n1 < n2;
  if (c1 === "" && n2 !== null) return true;
  if (c1 === "pre" && c2 !== "pre") return true;
  if (c2 === "pre") return false;
  if (n2 !== null) return true;
  if (n1 !== null) return false;
  return c1 < c2;
}

function nixCompare(a: string, b: string): number {
  const ca = nixVersionComponents(a);
  const cb = nixVersionComponents(b);
  for (let i = 0; i < Math.max(ca.length, cb.length); i++) {
    if (componentLess(ca[i] ?? "", cb[i] ?? "")) return -1;
    if (componentLess(cb[i] ?? "", ca[i] ?? "")) return 1;
  }
  return 0;
}

function mapped(nix: string): string {
  const result = nixToSemver(nix);
  if ("problem" in result) throw new Error(`${nix}: ${result.problem}`);
  return result.version;
}

// ---- a run of the importer as the engine drives it

interface Run {
  entries: Map<string, PackageEntry | null>;
  /** Attributes the importer failed (the engine logs them and goes on; their previous entry stays). */
  errors: Map<string, PkgError>;
  logs: string[];
  stored: number;
}

async function importAll(source: MirrorSource, store: EmbeddedContentStore, previous = new Map<string, PackageEntry | null>(), dryRun = false): Promise<Run> {
  const run: Run = { entries: new Map(), errors: new Map(), logs: [], stored: 0 };
  const context: ImportContext = {
    content: store,
    repository: "nixpkgs",
    dryRun,
    log: (line) => run.logs.push(line),
    onVersion: () => run.stored++,
  };
  const attrs: string[] = [];
  for await (const attr of source.listAll!()) attrs.push(attr);
  // the engine also visits the previous snapshot's packages (so that those gone from the channel are yanked)
  for (const attr of previous.keys()) if (!attrs.includes(attr)) attrs.push(attr);
  for (const attr of attrs) {
    const named = source.packageName(attr);
    if ("problem" in named) {
      run.logs.push(`skipping ${attr}: ${named.problem}`);
      run.entries.set(attr, null);
      continue;
    }
    try {
      const result = await source.importPackage(attr, previous.get(attr) ?? null, context);
      expect(result.dependencies).to.deep.equal([]);
      run.entries.set(attr, result.entry);
    } catch (error) {
      if (!isPkgError(error, "ERR_MIRROR_BAD_SOURCE") && !isPkgError(error, "ERR_MIRROR_UNKNOWN_PACKAGE")) throw error;
      run.logs.push(`skipping ${attr}: ${error.message}`);
      run.errors.set(attr, error);
      run.entries.set(attr, previous.get(attr) ?? null);
    }
  }
  return run;
}

async function expectError(promise: Promise<unknown>, code: ErrorCode): Promise<Error & { details: Record<string, unknown> }> {
  try {
    await promise;
  } catch (error) {
    expect(isPkgError(error, code), `expected ${code}, got ${String(error)}`).to.equal(true);
    return error as Error & { details: Record<string, unknown> };
  }
  throw new Error(`expected ${code}, but it succeeded`);
}

describe("mirror: nixpkgs", function () {
  describe("versions: Nix → semver", function () {
    const TABLE: [string, string][] = [
      ["2.12.1", "2.12.1"], // hello
      ["13.2.0", "13.2.0"], // gcc
      ["5.9", "5.9.0"], // zsh
      ["5", "5.0.0"],
      ["1.2.3.4", "1.2.3-4"],
      ["7.6.4.1", "7.6.4-1"], // libreoffice
      ["unstable-2023-01-01", "0.0.0-unstable.2023.1.1"], // the pre-2024 convention
      ["0-unstable-2024-02-03", "0.0.0-unstable.2024.2.3"], // the current one
      ["0.9.0-unstable-2024-05-01", "0.9.0-unstable.2024.5.1"],
      ["2023-05-01", "2023.5.1"], // nix-env's split of `foo-unstable-2023-05-01`
      ["20240101", "20240101.0.0"],
      ["", "0.0.0-0"], // a derivation without a version
      ["1.0rc1", "1.0.0-rc.1"],
      ["6.10-rc7", "6.10.0-rc.7"], // linux_testing
      ["1.1.1w", "1.1.1-w"], // openssl_1_1
      ["2024a", "2024.0.0-a"], // tzdata
      ["0.03-1", "0.3.1"], // aspell dictionaries
      ["2.4pre20211006_53e4794", "2.4.0-pre.20211006.53.e.4794"], // nixUnstable of 2021
      ["1.0.0-beta.2", "1.0.0-beta.2"], // already semver
      ["3.0.0+git20240101", "3.0.0-git.20240101"],
      ["2.0_beta3", "2.0.0-beta.3"],
      ["r1234", "0.0.0-r.1234"],
      ["75dpi-1.0.3", "75.0.0-dpi.1.0.3"], // nix-env's split of font-adobe-75dpi-1.0.3
    ];

    it("maps real Nix versions to exact semver versions the registry accepts", function () {
      for (const [nix, expected] of TABLE) {
        expect(mapped(nix), nix).to.equal(expected);
        expect(semver.valid(expected), expected).to.equal(expected);
        expect(checkVersion(expected), expected).to.equal(null);
      }
    });

    it("keeps Nix's order for numeric series, dates, unstable snapshots, pre and letter suffixes", function () {
      const series = [
        ["0.9", "0.10", "1.0", "1.0.1", "1.2", "1.9.9", "1.10", "1.10.1", "2.0", "2.12.1", "10.0", "2023.1.1"],
        ["2022-05-01", "2022-12-31", "2023-01-01", "2024-02-29"],
        ["unstable-2022-01-01", "unstable-2023-06-30", "0-unstable-2023-07-01", "0-unstable-2024-02-03", "0.1", "1.0"],
        ["1.0pre1", "1.0pre2", "1.0", "1.0.1"],
        ["1.1.1v", "1.1.1w", "1.1.2", "3.0.13"],
        ["2023c", "2024a", "2024b"],
        ["7.6.3.2", "7.6.4.1", "7.6.5.2", "24.2.0.3"],
      ];
      for (const versions of series) {
        for (let i = 1; i < versions.length; i++) {
          const [a, b] = [versions[i - 1], versions[i]];
          expect(nixCompare(a, b), `Nix: ${a} < ${b}`).to.equal(-1);
          expect(semver.lt(mapped(a), mapped(b)), `mapped: ${a} (${mapped(a)}) < ${b} (${mapped(b)})`).to.equal(true);
        }
      }
    });

    it("sorts what follows the third number before the bare release (the documented trade-off)", function () {
      for (const [release, more] of [["1.2.3", "1.2.3.1"], ["1.0", "1.0rc1"], ["1.2.3", "1.2.3-unstable-2024-01-01"], ["1.0", "1.0a"]]) {
        expect(nixCompare(release, more), `Nix: ${release} < ${more}`).to.equal(-1);
        expect(semver.gt(mapped(release), mapped(more)), `mapped: ${release} > ${more}`).to.equal(true);
      }
    });

    it("refuses numbers of more than 15 digits and results over 64 characters", function () {
      expect(nixToSemver("1.2.1234567890123456")).to.have.property("problem").that.matches(/more than 15 digits/);
      expect(nixToSemver(`1.${"1.".repeat(40)}1`)).to.have.property("problem").that.matches(/longer than 64/);
      expect(nixToSemver("x".repeat(2000))).to.have.property("problem");
    });
  });

  describe("importing a channel", function () {
    let dir: Awaited<ReturnType<typeof tempDir>>;
    let store: EmbeddedContentStore;
    let channel: { version: number; packages: Record<string, JsonObject> };

    beforeEach(async function () {
      dir = await tempDir("nixpkgs-test-");
      store = await openEmbeddedStore({ directory: join(dir.path, "store") });
      channel = JSON.parse(await readFile(FIXTURE, "utf8")) as typeof channel;
    });
    afterEach(async function () {
      await store.close();
      await dir.remove();
    });

    async function write(name: string, content: string | Uint8Array): Promise<string> {
      const file = join(dir.path, name);
      await writeFile(file, content);
      return file;
    }

    async function license(entry: PackageEntry | null | undefined): Promise<string> {
      const manifest = await readPublishedManifest(store.getBytes(CID.parse(entry!.versions[0].meta)), "meta");
      return manifest.license;
    }

    it("imports every attribute: names, versions, licenses, origins, the pkg.toml and the src tree", async function () {
      const source = createNixpkgsSource({ file: FIXTURE, repository: "nixpkgs" });
      expect(source.kind).to.equal("nixpkgs");
      const listed: string[] = [];
      for await (const attr of source.listAll!()) listed.push(attr);
      expect(listed).to.deep.equal(Object.keys(channel.packages).sort());

      const run = await importAll(source, store);
      const names = Object.fromEntries([...run.entries].map(([attr, entry]) => [attr, entry === null ? null : `${entry.name}@${entry.versions.map((v) => v.version).join(",")}`]));
      expect(names).to.deep.equal({
        hello: "hello@2.12.1",
        "python311Packages.requests": "python311_packages.requests@2.31.0",
        gcc: "gcc@13.2.0",
        ripgrep: "ripgrep@14.1.0",
        zsh: "zsh@5.9.0",
        nano: "nano@7.2.0",
        vscode: "vscode@1.87.2",
        SDL2: "s_-_d_l2@2.30.1", // a legacy upper-case first letter: `x_-`
        "xorg.libX11": "xorg.lib_x11@1.8.7",
        "haskellPackages.QuickCheck": "haskell_packages._quick_check@2.14.3",
        libpng: "libpng@1.6.43",
        stdenv: "stdenv@0.0.0-0",
        libreoffice: "libreoffice@7.6.4-1",
        linux_testing: "linux_.testing@6.10.0-rc.7",
        sqlite: "sqlite@3.45.1",
        'aspellDicts."or"': null, // a quoted attribute path
        tzdata: "tzdata@2024.0.0-a",
        openssl_1_1: "openssl_.1_.1@1.1.1-w",
        "tmuxPlugins.resurrect": "tmux_plugins.resurrect@2022.5.1",
        "tmuxPlugins.catppuccin": "tmux_plugins.catppuccin@0.0.0-unstable.2024.2.3",
        curl: "curl@8.6.0",
      });
      expect(run.stored).to.equal(20);
      expect(run.logs.filter((l) => l.startsWith("skipping"))).to.have.length(1);
      expect(run.logs.find((l) => l.startsWith('skipping aspellDicts."or":'))).to.include("characters outside");
      expect(run.errors.size).to.equal(0);

      // every entry is one the snapshot can hold
      for (const entry of run.entries.values()) if (entry !== null) encodeEntry(entry);

      const hello = run.entries.get("hello")!;
      expect(hello.kind).to.equal("nixpkgs");
      expect(hello.origin).to.deep.equal({ attr: "hello" });
      const record = channel.packages.hello;
      const { meta: _meta, ...rest } = record;
      expect(hello.versions[0].yanked).to.equal(false);
      expect(hello.versions[0].origin).to.deep.equal({ attr: "hello", ...rest, meta: record.meta });
      expect(hello.versions[0].origin.version).to.equal("2.12.1");

      const manifest = await readPublishedManifest(store.getBytes(CID.parse(hello.versions[0].meta)), "meta");
      expect(manifest).to.include({ repository: "nixpkgs", name: "hello", version: "2.12.1", license: "GPL-3.0-or-later", builder: null });
      expect(manifest.inputs).to.deep.equal({});
      expect(await store.pins()).to.have.length.greaterThan(0);

      const out = join(dir.path, "hello-src");
      await store.getTree(CID.parse(hello.versions[0].src), out, { directory: true });
      expect(await readFile(join(out, "nixpkgs.json"), "utf8")).to.equal(canonicalJson(record));

      // the Nix version reads back from the origin; outputs are kept as the channel gives them
      expect(run.entries.get("stdenv")!.versions[0].origin.version).to.equal("");
      expect(run.entries.get("tmuxPlugins.catppuccin")!.versions[0].origin.version).to.equal("0-unstable-2024-02-03");
      expect(run.entries.get("libpng")!.versions[0].origin.outputs).to.deep.equal({ out: null, dev: null, man: null });
      expect(run.entries.get("curl")!.versions[0].origin).to.include({ outputName: "out", system: "x86_64-linux", name: "curl-8.6.0" });
    });

    it("licenses: an object's spdxId, a list's ids AND'ed, strings through the channel's shortNames, NOASSERTION otherwise", async function () {
      const run = await importAll(createNixpkgsSource({ file: FIXTURE, repository: "nixpkgs" }), store);
      const licenses: Record<string, string> = {};
      for (const [attr, entry] of run.entries) if (entry !== null) licenses[attr] = await license(entry);
      expect(licenses).to.deep.include({
        hello: "GPL-3.0-or-later",
        "python311Packages.requests": "Apache-2.0",
        ripgrep: "Unlicense AND MIT", // a list: parts licensed differently (nixpkgs manual)
        libreoffice: "LGPL-3.0-only AND MPL-2.0",
        zsh: "NOASSERTION", // "MIT-like": a string no license object of the channel names
        nano: "GPL-3.0-or-later", // "gpl3Plus": the shortName of hello's license object
        vscode: "NOASSERTION", // unfree: no spdxId
        tzdata: "NOASSERTION", // [ bsd3 publicDomain ]: one part has no SPDX id
        stdenv: "NOASSERTION", // no meta.license
        libpng: "libpng-2.0",
        sqlite: "blessing",
      });
      // the upstream value is in the origin either way
      expect((run.entries.get("zsh")!.versions[0].origin.meta as JsonObject).license).to.equal("MIT-like");
      expect((run.entries.get("vscode")!.versions[0].origin.meta as JsonObject).license).to.deep.include({ shortName: "unfree", free: false });
    });

    it("a brotli'd channel and the plain one give identical entries (and a .br served decoded is read as JSON)", async function () {
      const plain = await readFile(FIXTURE);
      const br = await write("packages.json.br", brotliCompressSync(plain));
      const decoded = await write("decoded-packages.json.br", plain);
      const a = await importAll(createNixpkgsSource({ file: FIXTURE, repository: "nixpkgs" }), store);
      const b = await importAll(createNixpkgsSource({ file: br, repository: "nixpkgs" }), store);
      const c = await importAll(createNixpkgsSource({ file: decoded, repository: "nixpkgs" }), store);
      expect([...b.entries]).to.deep.equal([...a.entries]);
      expect([...c.entries]).to.deep.equal([...a.entries]);
    });

    it("a second channel: a bumped version is added, a vanished attribute is yanked, unchanged ones are reused", async function () {
      const first = await importAll(createNixpkgsSource({ file: FIXTURE, repository: "nixpkgs" }), store);

      const next = structuredClone(channel);
      const hello = next.packages.hello;
      Object.assign(hello, { name: "hello-2.12.2", version: "2.12.2" });
      (hello.meta as JsonObject).name = "hello-2.12.2";
      delete next.packages.gcc;
      (next.packages.ripgrep.meta as JsonObject).description = "Fast line-oriented search tool"; // meta only: silently kept
      next.packages.zsh.outputs = { out: null, man: null }; // same version, other outputs: kept, logged
      const second = await importAll(createNixpkgsSource({ file: await write("next.json", JSON.stringify(next)), repository: "nixpkgs" }), store, first.entries);

      expect(second.stored).to.equal(1);
      const helloEntry = second.entries.get("hello")!;
      expect(helloEntry.versions.map((v) => [v.version, v.yanked])).to.deep.equal([["2.12.2", false], ["2.12.1", false]]);
      expect(helloEntry.versions[1]).to.deep.equal(first.entries.get("hello")!.versions[0]);
      expect(helloEntry.versions[0].origin.version).to.equal("2.12.2");

      const gcc = second.entries.get("gcc")!;
      expect(gcc.versions.map((v) => [v.version, v.yanked])).to.deep.equal([["13.2.0", true]]);
      expect({ ...gcc.versions[0], yanked: false }).to.deep.equal(first.entries.get("gcc")!.versions[0]);
      expect(second.logs.some((l) => l.includes('"gcc"') && l.includes("yanked"))).to.equal(true);

      expect(second.entries.get("ripgrep")).to.deep.equal(first.entries.get("ripgrep"));
      expect(second.entries.get("zsh")).to.deep.equal(first.entries.get("zsh"));
      expect(second.logs.filter((l) => l.includes("published already"))).to.have.length(1);
      expect(second.logs.find((l) => l.includes("published already"))).to.include('"zsh"').and.include("outputs");
      for (const attr of ["curl", "python311Packages.requests", "tmuxPlugins.catppuccin"]) {
        expect(second.entries.get(attr), attr).to.deep.equal(first.entries.get(attr));
      }

      // a third channel where gcc is back: its version is un-yanked; hello's older version stays
      const third = await importAll(createNixpkgsSource({ file: FIXTURE, repository: "nixpkgs" }), store, second.entries);
      expect(third.stored).to.equal(0);
      expect(third.entries.get("gcc")).to.deep.equal(first.entries.get("gcc"));
      expect(third.entries.get("hello")!.versions.map((v) => v.version)).to.deep.equal(["2.12.2", "2.12.1"]);
    });

    it("the same semver from another Nix version (unstable-X → 0-unstable-X) keeps the published one", async function () {
      const first = await importAll(createNixpkgsSource({ file: FIXTURE, repository: "nixpkgs" }), store);
      const next = structuredClone(channel);
      next.packages["tmuxPlugins.catppuccin"].version = "unstable-2024-02-03";
      const second = await importAll(createNixpkgsSource({ file: await write("next.json", JSON.stringify(next)), repository: "nixpkgs" }), store, first.entries);
      expect(second.entries.get("tmuxPlugins.catppuccin")).to.deep.equal(first.entries.get("tmuxPlugins.catppuccin"));
      expect(second.logs.find((l) => l.includes("catppuccin"))).to.include("published already").and.include("Nix version");
    });

    it("a dry run stores nothing: new versions have meta and src empty", async function () {
      const run = await importAll(createNixpkgsSource({ file: FIXTURE, repository: "nixpkgs" }), store, new Map(), true);
      expect(run.stored).to.equal(0);
      expect(await store.pins()).to.deep.equal([]);
      const hello = run.entries.get("hello")!;
      expect(hello.versions).to.have.length(1);
      expect(hello.versions[0]).to.include({ version: "2.12.1", meta: "", src: "" });
    });

    it("the packages-info.nix format: version \"2\", outputs as a list, fields absent", async function () {
      const file = await write("info.json", JSON.stringify({
        version: "2",
        packages: {
          flare: { meta: {}, name: "flare-1.14", outputName: "out", outputs: ["out"], pname: "flare-1.14", system: "x86_64-linux", version: "" },
          "python313Packages.networkx": { meta: { license: { spdxId: "BSD-3-Clause", shortName: "bsd3" } }, name: "python3.13-networkx-3.5", outputs: ["out", "dist"], pname: "networkx", version: "3.5" },
          bare: { name: "bare" },
        },
      }));
      const run = await importAll(createNixpkgsSource({ file, repository: "nixpkgs" }), store);
      expect(run.entries.get("flare")!.versions[0].version).to.equal("0.0.0-0");
      expect(run.entries.get("python313Packages.networkx")!.versions[0]).to.deep.include({ version: "3.5.0" });
      expect(await license(run.entries.get("python313Packages.networkx"))).to.equal("BSD-3-Clause");
      expect(run.entries.get("bare")!.versions[0].origin).to.deep.equal({ attr: "bare", version: "", name: "bare" });
      expect(run.logs).to.deep.equal([]);
    });

    describe("hostile files", function () {
      async function refused(content: string | Uint8Array, field: string | null, name = "packages.json"): Promise<Error & { details: Record<string, unknown> }> {
        const file = await write(name, content);
        const source = createNixpkgsSource({ file, repository: "nixpkgs" });
        const error = await expectError((async () => {
          for await (const _ of source.listAll!()) break;
        })(), "ERR_MIRROR_BAD_SOURCE");
        expect(error.details.file).to.equal(file);
        expect(error.message).to.include(file);
        if (field !== null) expect(error.details.field).to.equal(field);
        return error;
      }

      it("refuses what is not a channel file as a whole, naming the file and the field", async function () {
        await refused("hello, world", null);
        await refused("[]", null);
        await refused("", null);
        await refused('{"version":2,"packages":{"hello":{"name":"hello-2.12.1"', null); // truncated
        await refused('{"version":2,"packages":{"hello":{"name":"hello-2.12.1",}}}', 'packages["hello"]'); // a record not JSON
        await refused('{"version":2,"packages":{"hello":{"name":"hello"}}} trailing', null);
        expect((await refused('{"version":3,"packages":{}}', "version")).message).to.include('"version" is 3, not 2');
        await refused('{"version":"two","packages":{}}', "version");
        await refused('{"packages":{}}', "version");
        await refused('{"version":2}', "packages");
        await refused('{"version":2,"packages":[]}', "packages");
        await refused('{"version":2,"packages":"hello"}', "packages");
        await refused('{"version":2,"version":2,"packages":{}}', "version");
        await refused('{"version":2,"packages":{"a":{"name":"a"},"a":{"name":"a"}}}', 'packages["a"]');
        await refused(Buffer.concat([Buffer.from('{"version":2,"packages":{"a":{"name":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}}}')]), 'packages["a"]');
        expect((await refused("this is not brotli at all", null, "bad.json.br")).message).to.include("brotli");
      });

      it("fails only the attributes whose record has the wrong shape (ERR_MIRROR_BAD_SOURCE naming the file and the field)", async function () {
        const deep = `${"[".repeat(40)}${"]".repeat(40)}`;
        const file = await write("packages.json", `{"version":2,"packages":{
          "ok":{"name":"ok-1.0","pname":"ok","version":"1.0","system":"x86_64-linux","outputName":"out","outputs":{"out":null},"meta":{}},
          "noname":{"pname":"noname","version":"1.0"},
          "nullname":{"name":null,"pname":null,"version":null,"system":null,"meta":null},
          "numversion":{"name":"n-1","version":1},
          "metalist":{"name":"m-1","version":"1","meta":[]},
          "outputs":{"name":"o-1","version":"1","outputs":{"out":5}},
          "notobject":"hello-1.0",
          "deep":{"name":"d-1","version":"1","meta":{"x":${deep}}},
          "longversion":{"name":"l","version":"1.2.1234567890123456789"}
        }}`);
        const run = await importAll(createNixpkgsSource({ file, repository: "nixpkgs" }), store);
        expect(run.entries.get("ok")!.versions[0].version).to.equal("1.0.0");
        const expected: Record<string, [string, string]> = {
          noname: ['packages["noname"]', "has no name"],
          nullname: ['packages["nullname"].name', "is not a string"],
          numversion: ['packages["numversion"].version', "is not a string"],
          metalist: ['packages["metalist"].meta', "is not an object"],
          outputs: ['packages["outputs"].outputs', "is neither an object of store paths (or nulls) nor a list of output names"],
          notobject: ['packages["notobject"]', "is not an object"],
          deep: ['packages["deep"]', "is nested more than 32 levels deep"],
          longversion: ['packages["longversion"].version', "cannot be a registry version: the version \"1.2.1234567890123456789\" has a number of more than 15 digits"],
        };
        for (const [attr, [field, text]] of Object.entries(expected)) {
          expect(run.entries.get(attr), attr).to.equal(null);
          const error = run.errors.get(attr)!;
          expect(error.code, attr).to.equal("ERR_MIRROR_BAD_SOURCE");
          expect(error.details).to.deep.equal({ file, field, attr });
          expect(error.message).to.equal(`${file}: ${field} ${text}`);
          expect(run.logs).to.include(`skipping ${attr}: ${error.message}`);
        }
        expect(run.errors.size).to.equal(Object.keys(expected).length);
        // a bad record fails its attribute, and the engine keeps the previous entry as it was
        const previous = new Map([["numversion", run.entries.get("ok")!]]);
        const again = await importAll(createNixpkgsSource({ file, repository: "nixpkgs" }), store, previous);
        expect(again.entries.get("numversion")).to.deep.equal(run.entries.get("ok"));
      });

      it("bounds the file: over 1 GiB on disk, or decompressing to more than the limit", async function () {
        const huge = join(dir.path, "huge.json");
        await writeFile(huge, "{");
        await truncate(huge, 1024 * 1024 * 1024 + 1); // sparse: nothing is written
        const source = createNixpkgsSource({ file: huge, repository: "nixpkgs" });
        const error = await expectError(source.importPackage("hello", null, {} as ImportContext), "ERR_MIRROR_BAD_SOURCE");
        expect(error.message).to.include("over the limit");

        const bomb = await write("bomb.json.br", brotliCompressSync(Buffer.alloc(4 * 1024 * 1024, 0x20)));
        const bounded = createNixpkgsSource({ file: bomb, repository: "nixpkgs", maxBytes: 1024 * 1024 });
        expect((await expectError(bounded.importPackage("hello", null, {} as ImportContext), "ERR_MIRROR_BAD_SOURCE")).message).to.include("decompresses to more than 1048576 bytes");
      });

      it("a file that cannot be read is ERR_MIRROR_UPSTREAM; an attribute the channel lacks, ERR_MIRROR_UNKNOWN_PACKAGE", async function () {
        const source = createNixpkgsSource({ file: join(dir.path, "missing.json.br"), repository: "nixpkgs" });
        await expectError(source.importPackage("hello", null, {} as ImportContext), "ERR_MIRROR_UPSTREAM");
        const fixture = createNixpkgsSource({ file: FIXTURE, repository: "nixpkgs" });
        const error = await expectError(fixture.importPackage("helo", null, {} as ImportContext), "ERR_MIRROR_UNKNOWN_PACKAGE");
        expect(error.details).to.deep.equal({ attr: "helo", file: FIXTURE });
      });
    });
  });
});
