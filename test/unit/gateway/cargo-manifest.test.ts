/**
 * The index line the gateway writes for a natively published crate from its author-written Cargo.toml
 * (src/gateway/cargo-manifest.ts): lines in the format of cargo's registry index (key order pinned by exact
 * strings), requirements as cargo displays them, and the refusal of what `cargo package` would have had to rewrite.
 * When cargo is on PATH, the lines are cross-checked against cargo's own: `cargo package --workspace --offline`
 * packs a crate with path + version dependencies (resolved against cargo's local overlay of the workspace, no index
 * needed), and its normalised Cargo.toml and the index line cargo writes for its local registry must give the same
 * dependencies and features.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { expect } from "chai";
import { cargoIndexLine, normaliseCargoReq, type CargoIndexLineResult, type CargoManifestRefusal } from "../../../src/gateway/cargo-manifest";
import { unpackTarball } from "../../../src/mirror/tarball";
import { tempDir } from "../content/helpers";
import { skipBecause } from "../../helpers/skip";

const CKSUM = "3f".repeat(32);
const EXPECTED = { name: "demo", version: "1.2.3" };

/** A Cargo.toml of demo 1.2.3 (edition 2021), `more` after its [package] keys. */
function toml(more = "", packageMore = ""): string {
  return `[package]\nname = "demo"\nversion = "1.2.3"\nedition = "2021"\n${packageMore}\n${more}`;
}

function lineOf(text: string, expected = EXPECTED, yanked = false): string {
  const result: CargoIndexLineResult | CargoManifestRefusal = cargoIndexLine(text, expected, CKSUM, yanked);
  if (!("line" in result)) throw new Error(`refused: ${result.problem}`);
  expect(result).to.have.all.keys("line");
  return result.line;
}

function refusal(text: string, expected = EXPECTED): string {
  const result = cargoIndexLine(text, expected, CKSUM, false);
  if (!("problem" in result)) throw new Error(`expected a refusal, got ${result.line}`);
  expect(result).to.have.all.keys("problem");
  expect(result.problem).not.to.include("\n");
  return result.problem;
}

type Kind = "normal" | "build" | "dev";

/** A dependency of a line, keys in the index's order. */
function dep(name: string, req: string, more: { features?: string[]; optional?: boolean; default_features?: boolean; target?: string | null; kind?: Kind; package?: string } = {}) {
  return {
    name,
    req,
    features: more.features ?? [],
    optional: more.optional ?? false,
    default_features: more.default_features ?? true,
    target: more.target ?? null,
    kind: more.kind ?? "normal",
    ...(more.package !== undefined ? { package: more.package } : {}),
  };
}

/** A whole line of demo 1.2.3. */
function line(fields: { deps?: unknown[]; features?: Record<string, string[]>; features2?: Record<string, string[]>; links?: string; rust_version?: string; yanked?: boolean; name?: string } = {}) {
  return {
    name: fields.name ?? "demo",
    vers: "1.2.3",
    deps: fields.deps ?? [],
    cksum: CKSUM,
    features: fields.features ?? {},
    ...(fields.features2 !== undefined ? { features2: fields.features2 } : {}),
    yanked: fields.yanked ?? false,
    ...(fields.links !== undefined ? { links: fields.links } : {}),
    ...(fields.rust_version !== undefined ? { rust_version: fields.rust_version } : {}),
    v: fields.features2 !== undefined ? 2 : 1,
  };
}

describe("gateway: cargo index line from an author-written Cargo.toml", function () {
  describe("normaliseCargoReq (cargo's VersionReq display)", function () {
    const CASES: [string, string][] = [
      ["0.2", "^0.2"],
      ["1.0.5", "^1.0.5"],
      ["1", "^1"],
      [">= 1, < 2", ">=1, <2"],
      [" >=1.2 ,<1.8.0 ", ">=1.2, <1.8.0"],
      ["=1.2.3", "=1.2.3"],
      ["~1.2", "~1.2"],
      ["^0.1.2", "^0.1.2"],
      ["*", "*"],
      ["1.*", "1.*"],
      ["1.2.x", "1.2.*"],
      ["1.X.*", "1.*"],
      [">=0.1.*", ">=0.1"],
      [">= 0.1.0+meta , < 1", ">=0.1.0, <1"],
      ["1.0.0-alpha.1", "^1.0.0-alpha.1"],
      ["=1.0.0-rc.1+build.5", "=1.0.0-rc.1"],
    ];
    for (const [req, shown] of CASES) {
      it(`${JSON.stringify(req)} → ${JSON.stringify(shown)}`, function () {
        expect(normaliseCargoReq(req)).to.equal(shown);
      });
    }

    it("throws on what cargo cannot parse", function () {
      for (const req of ["", "v1", "01", "1.0 2.0", "1, *", "1.*.3", "x.1", "1.0.0-", "1.0.0-01", "1.0.0+", ">", "1.2.3.4", "99999999999999999999"]) {
        expect(() => normaliseCargoReq(req), req).to.throw(/not one cargo can parse/);
      }
      expect(() => normaliseCargoReq(Array(33).fill("1").join(", "))).to.throw(/more than 32 comparators/);
      expect(normaliseCargoReq(Array(32).fill(">=1").join(","))).to.equal(Array(32).fill(">=1").join(", "));
    });
  });

  describe("lines", function () {
    it("a crate with no dependencies: exactly the index's keys, in order, v 1", function () {
      expect(lineOf(toml())).to.equal(`{"name":"demo","vers":"1.2.3","deps":[],"cksum":"${CKSUM}","features":{},"yanked":false,"v":1}`);
    });

    it("renamed, target, build and dev dependencies, features2, links and rust-version: exactly, keys in order", function () {
      const text = toml(
        [
          "[dependencies]",
          'web = { package = "reqwest", version = "0.11", default-features = false, features = ["json"] }',
          'serde = { version = "1", optional = true }',
          "[build-dependencies]",
          'cc = "1.0"',
          "[target.'cfg(unix)'.dev-dependencies]",
          'nix = "0.27"',
          "[features]",
          'default = ["std"]',
          "std = []",
          'serde = ["dep:serde"]',
        ].join("\n"),
        'links = "z"\nrust-version = "1.70"',
      );
      expect(lineOf(text, EXPECTED, true)).to.equal(
        '{"name":"demo","vers":"1.2.3","deps":[' +
          '{"name":"web","req":"^0.11","features":["json"],"optional":false,"default_features":false,"target":null,"kind":"normal","package":"reqwest"},' +
          '{"name":"serde","req":"^1","features":[],"optional":true,"default_features":true,"target":null,"kind":"normal"},' +
          '{"name":"cc","req":"^1.0","features":[],"optional":false,"default_features":true,"target":null,"kind":"build"},' +
          '{"name":"nix","req":"^0.27","features":[],"optional":false,"default_features":true,"target":"cfg(unix)","kind":"dev"}],' +
          `"cksum":"${CKSUM}","features":{"default":["std"],"std":[]},"features2":{"serde":["dep:serde"]},"yanked":true,"links":"z","rust_version":"1.70","v":2}`,
      );
    });

    const CASES: { title: string; text: string; expected: ReturnType<typeof line>; as?: { name: string; version: string } }[] = [
      {
        title: "string and table dependencies, requirements as cargo displays them",
        text: toml(
          [
            "[dependencies]",
            'serde = "1.0"',
            'libc = { version = "0.2", default-features = false, features = ["extra_traits"] }',
            'rand = { version = ">= 0.8, < 0.9", optional = true }',
            'exact = "=1.2.3"',
            'tilde = "~1.2"',
            'any = "*"',
            'old = { version = "1.x", default_features = false }',
          ].join("\n"),
        ),
        expected: line({
          deps: [
            dep("serde", "^1.0"),
            dep("libc", "^0.2", { default_features: false, features: ["extra_traits"] }),
            dep("rand", ">=0.8, <0.9", { optional: true }),
            dep("exact", "=1.2.3"),
            dep("tilde", "~1.2"),
            dep("any", "*"),
            dep("old", "1.*", { default_features: false }),
          ],
        }),
      },
      {
        title: "a renamed dependency: the Cargo.toml key as name, the crate as package",
        text: toml('[dependencies]\nweb = { package = "reqwest", version = "0.11" }\n[dependencies.json]\npackage = "serde_json"\nversion = "1"\noptional = true\n'),
        expected: line({ deps: [dep("web", "^0.11", { package: "reqwest" }), dep("json", "^1", { optional: true, package: "serde_json" })] }),
      },
      {
        title: "build and dev dependencies: normal, then build, then dev, each in file order",
        text: toml('[dev-dependencies]\ntempfile = "3"\nproptest = "1"\n[build-dependencies]\ncc = "1.0"\n[dependencies]\nlog = "0.4"\n'),
        expected: line({ deps: [dep("log", "^0.4"), dep("cc", "^1.0", { kind: "build" }), dep("tempfile", "^3", { kind: "dev" }), dep("proptest", "^1", { kind: "dev" })] }),
      },
      {
        title: "build_dependencies and dev_dependencies (the underscored spellings, before edition 2024)",
        text: toml('[dev_dependencies]\ntempfile = "3"\n[build_dependencies]\ncc = "1.0"\n'),
        expected: line({ deps: [dep("cc", "^1.0", { kind: "build" }), dep("tempfile", "^3", { kind: "dev" })] }),
      },
      {
        title: "target dependencies after the untargeted ones, with their cfg or triple",
        text: toml(
          [
            "[target.'cfg(unix)'.dependencies]",
            'nix = "0.27"',
            "[target.x86_64-pc-windows-msvc.dev-dependencies]",
            'winapi = { version = "0.3", features = ["winuser"] }',
            "[dependencies]",
            'log = "0.4"',
            '[target."cfg(windows)".build-dependencies]',
            'embed = "1"',
          ].join("\n"),
        ),
        expected: line({
          deps: [
            dep("log", "^0.4"),
            dep("nix", "^0.27", { target: "cfg(unix)" }),
            dep("winapi", "^0.3", { target: "x86_64-pc-windows-msvc", kind: "dev", features: ["winuser"] }),
            dep("embed", "^1", { target: "cfg(windows)", kind: "build" }),
          ],
        }),
      },
      {
        title: "path and git dependencies with a version: the version; dev ones without a version left out (as cargo publish does)",
        text: toml(
          [
            "[dependencies]",
            'local = { path = "../local", version = "0.3.1" }',
            'remote = { git = "https://example.com/remote.git", branch = "main", version = "2" }',
            "[dev-dependencies]",
            'helper = { path = "../helper" }',
            'fixture = { git = "https://example.com/fixture.git", package = "fixture-data" }',
            'bench = { path = "../bench", version = "0.1" }',
            "[target.'cfg(unix)'.dev-dependencies]",
            'unixhelper = { path = "../unixhelper" }',
          ].join("\n"),
        ),
        expected: line({ deps: [dep("local", "^0.3.1"), dep("remote", "^2"), dep("bench", "^0.1", { kind: "dev" })] }),
      },
      {
        title: "features using dep: or ?/ go to features2, and v is 2",
        text: toml(
          [
            "[dependencies]",
            'serde = { version = "1", optional = true }',
            'tokio = { version = "1", optional = true }',
            "[features]",
            'default = ["std"]',
            "std = []",
            'serde = ["dep:serde"]',
            'rt = ["std", "tokio?/rt"]',
            'full = ["rt", "tokio/full"]',
          ].join("\n"),
        ),
        expected: line({
          deps: [dep("serde", "^1", { optional: true }), dep("tokio", "^1", { optional: true })],
          features: { default: ["std"], std: [], full: ["rt", "tokio/full"] },
          features2: { serde: ["dep:serde"], rt: ["std", "tokio?/rt"] },
        }),
      },
      {
        title: "links and rust-version",
        text: toml("", 'links = "git2"\nrust-version = "1.70.0"'),
        expected: line({ links: "git2", rust_version: "1.70.0" }),
      },
      {
        title: "the name as the Cargo.toml spells it, matched case-insensitively",
        text: toml().replace('name = "demo"', 'name = "Demo"'),
        expected: line({ name: "Demo" }),
      },
      {
        title: "an edition 2024 crate with the dashed spellings, metadata tables and dates left alone",
        text: toml('[dev-dependencies]\nx = { version = "1", default-features = false }\n[package.metadata.docs]\nworkspace = true\nwhen = 1979-05-27\n').replace('edition = "2021"', 'edition = "2024"'),
        expected: line({ deps: [dep("x", "^1", { kind: "dev", default_features: false })] }),
      },
    ];
    for (const c of CASES) {
      it(c.title, function () {
        expect(JSON.parse(lineOf(c.text, c.as))).to.deep.equal(c.expected);
      });
    }

    it("yanked, and the cksum given", function () {
      const parsed = JSON.parse(lineOf(toml(), EXPECTED, true)) as Record<string, unknown>;
      expect(parsed.yanked).to.equal(true);
      expect(parsed.cksum).to.equal(CKSUM);
    });

    it("a feature called __proto__ is a feature like any other", function () {
      expect(lineOf(toml('[features]\n"__proto__" = ["dep:x"]\n[dependencies]\nx = { version = "1", optional = true }\n'))).to.include('"features":{},"features2":{"__proto__":["dep:x"]}');
    });
  });

  describe("refusals", function () {
    it("a name or version other than the chain's", function () {
      expect(refusal(toml(), { name: "other", version: "1.2.3" })).to.equal('[package] name is "demo", not "other" as the chain says');
      expect(refusal(toml(), { name: "demo", version: "1.2.4" })).to.equal('[package] version is "1.2.3", not "1.2.4" as the chain says');
      expect(refusal(toml().replace('version = "1.2.3"', 'version = "1.2.3+build"'))).to.match(/^\[package\] version is "1\.2\.3\+build", not "1\.2\.3"/);
      expect(refusal(toml().replace('version = "1.2.3"\n', ""))).to.match(/^\[package\] has no version/);
      expect(refusal(toml().replace('name = "demo"\n', ""))).to.equal("[package] has no name");
      expect(refusal('[workspace]\nmembers = ["a"]\n')).to.match(/no \[package\] table/);
    });

    it("what is inherited from a workspace: version.workspace, other fields, [lints], package.workspace", function () {
      expect(refusal(toml().replace('version = "1.2.3"', "version.workspace = true"))).to.match(/^\[package\] version\.workspace = true: inherited from a workspace/);
      expect(refusal(toml().replace('edition = "2021"', "edition = { workspace = true }"))).to.match(/^\[package\] edition\.workspace = true/);
      expect(refusal(toml("[lints]\nworkspace = true\n"))).to.match(/^\[lints\] workspace = true/);
      expect(refusal(toml("", 'workspace = "../.."'))).to.match(/^\[package\] workspace: the crate points at its workspace root/);
    });

    it("publish = false (or an empty list of registries): the author asked for no registry", function () {
      expect(refusal(toml("", "publish = false"))).to.match(/^\[package\] publish = false/);
      expect(refusal(toml("", "publish = []"))).to.match(/^\[package\] publish = false/);
      expect(cargoIndexLine(toml("", "publish = true"), { name: "demo", version: "1.2.3" }, "00", false)).to.have.property("line");
    });

    it("a path or git dependency without a version (not a dev one)", function () {
      expect(refusal(toml('[dependencies]\nfoo = { path = "../foo" }\n'))).to.equal("[dependencies] foo: a path dependency without a version (cargo publish would refuse it)");
      expect(refusal(toml('[build-dependencies]\nfoo = { path = "../foo" }\n'))).to.equal("[build-dependencies] foo: a path dependency without a version (cargo publish would refuse it)");
      expect(refusal(toml('[dependencies]\nfoo = { git = "https://example.com/foo.git", tag = "v1" }\n'))).to.equal(
        "[dependencies] foo: a git dependency without a version (cargo publish would refuse it)",
      );
      expect(refusal(toml("[target.'cfg(unix)'.dependencies]\nfoo = { path = \"../foo\" }\n"))).to.equal(
        "[target.'cfg(unix)'.dependencies] foo: a path dependency without a version (cargo publish would refuse it)",
      );
    });

    it("a dependency with neither a version nor a path or git", function () {
      expect(refusal(toml('[dependencies]\nfoo = { features = ["x"] }\n'))).to.equal("[dependencies] foo: no version (cargo publish would refuse a dependency without one)");
      expect(refusal(toml('[dev-dependencies]\nfoo = { optional = false }\n'))).to.match(/^\[dev-dependencies\] foo: no version/);
    });

    it("a workspace dependency", function () {
      expect(refusal(toml("[dependencies]\nfoo = { workspace = true }\n"))).to.match(/^\[dependencies\] foo: `workspace = true` inherits it from the workspace/);
      expect(refusal(toml('[dev-dependencies]\nfoo = { workspace = true, features = ["x"] }\n'))).to.match(/^\[dev-dependencies\] foo: `workspace = true`/);
    });

    it("a dependency on another registry", function () {
      expect(refusal(toml('[dependencies]\nfoo = { version = "1", registry = "my-registry" }\n'))).to.equal("[dependencies] foo: a dependency on another registry cannot be served by this gateway");
      expect(refusal(toml('[dependencies]\nfoo = { version = "1", registry-index = "sparse+https://example.com/index/" }\n'))).to.match(/another registry cannot be served/);
    });

    it("a requirement cargo cannot parse", function () {
      expect(refusal(toml('[dependencies]\nfoo = "1.0 2.0"\n'))).to.equal('[dependencies] foo: version requirement "1.0 2.0" is not one cargo can parse (expected a comma after "^1.0", found "2")');
      expect(refusal(toml('[dependencies]\nfoo = { version = "latest" }\n'))).to.match(/^\[dependencies\] foo: version requirement "latest" is not one cargo can parse/);
    });

    it("fields of the wrong type, named", function () {
      const WRONG: [string, RegExp][] = [
        [toml('[dependencies]\nfoo = { version = "1", features = "std" }\n'), /^\[dependencies\] foo: `features` must be an array of strings$/],
        [toml('[dependencies]\nfoo = { version = "1", features = ["std", 1] }\n'), /^\[dependencies\] foo: `features` must be an array of strings$/],
        [toml('[dependencies]\nfoo = { version = "1", optional = "yes" }\n'), /^\[dependencies\] foo: `optional` must be a boolean$/],
        [toml('[dependencies]\nfoo = { version = "1", default-features = 0 }\n'), /^\[dependencies\] foo: `default-features` must be a boolean$/],
        [toml('[dependencies]\nfoo = { version = 1 }\n'), /^\[dependencies\] foo: `version` must be a string$/],
        [toml('[dependencies]\nfoo = { version = "1", package = ["bar"] }\n'), /^\[dependencies\] foo: `package` must be a string$/],
        [toml('[dependencies]\nfoo = { version = "1", path = 3 }\n'), /^\[dependencies\] foo: `path` must be a string$/],
        [toml("[dependencies]\nfoo = 1\n"), /^\[dependencies\] foo: must be a version requirement \(a string\) or a table$/],
        ['dependencies = "serde"\n' + toml(), /^\[dependencies\] must be a table$/],
        ['target = "x"\n' + toml(), /^\[target\] must be a table$/],
        [toml('[target]\nunix = "x"\n'), /^\[target\.unix\] must be a table$/],
        [toml('[features]\nstd = "alloc"\n'), /^\[features\] std must be an array of strings$/],
        [toml("[features]\nstd = [1]\n"), /^\[features\] std must be an array of strings$/],
        ['features = ["std"]\n' + toml(), /^\[features\] must be a table$/],
        [toml().replace('version = "1.2.3"', "version = 1.2"), /^\[package\]: `version` must be a string$/],
        [toml("", "links = 1"), /^\[package\]: `links` must be a string$/],
        [toml("", "rust-version = 1.7"), /^\[package\]: `rust-version` must be a string$/],
        [toml("", 'rust-version = "1.70-nightly"'), /^\[package\] rust-version "1\.70-nightly" is not a Rust version/],
        ['package = "demo"\n', /no \[package\] table/],
      ];
      for (const [text, problem] of WRONG) expect(refusal(text), text).to.match(problem);
    });

    it("what cargo itself refuses: an optional dev-dependency, underscored tables or keys in edition 2024", function () {
      expect(refusal(toml('[dev-dependencies]\nfoo = { version = "1", optional = true }\n'))).to.match(/^\[dev-dependencies\] foo: a dev-dependency cannot be optional/);
      const edition2024 = (more: string): string => toml(more).replace('edition = "2021"', 'edition = "2024"');
      expect(refusal(edition2024('[dev_dependencies]\nfoo = "1"\n'))).to.equal("[dev_dependencies]: unsupported as of the 2024 edition (cargo wants [dev-dependencies])");
      expect(refusal(edition2024("[target.'cfg(unix)'.build_dependencies]\nfoo = \"1\"\n"))).to.match(/^\[target\.'cfg\(unix\)'\.build_dependencies\]: unsupported as of the 2024 edition/);
      expect(refusal(edition2024('[dependencies]\nfoo = { version = "1", default_features = false }\n'))).to.match(/^\[dependencies\] foo: `default_features` is unsupported as of the 2024 edition/);
    });

    it("a TOML syntax error, with its line", function () {
      expect(refusal('[package]\nname = "demo"\nversion = 1.2.\n')).to.match(/^Cargo\.toml is not valid TOML: line 3: /);
      expect(refusal(toml('[dependencies]\nfoo = "1"\nfoo = "2"\n'))).to.match(/^Cargo\.toml is not valid TOML: line \d+: /);
    });

    it("hostile keys stay on one line", function () {
      const problem = refusal(toml(`[dependencies]\n"evil\\nkey${"x".repeat(300)}" = { path = "../x" }\n`));
      expect(problem).to.match(/^\[dependencies\] "evil\\nkeyx+…": a path dependency without a version/);
      expect(problem.length).to.be.below(250);
    });
  });

  describe("cross-check with cargo (cargo package --workspace --offline)", function () {
    const A_TOML = [
      "[package]",
      'name = "A_x"',
      'version = "1.0.0"',
      'edition = "2021"',
      'description = "cross-check"',
      'license = "MIT"',
      'rust-version = "1.70"',
      "",
      "[dependencies]",
      'zed = { path = "../b", version = "0.*", package = "b" }',
      'c = { path = "../c", version = ">= 0.1.0+meta , < 1", package = "c", optional = true }',
      'd = { path = "../d", version = "0.1.x", default_features = false, features = ["x"] }',
      "",
      "[build-dependencies]",
      'b = { path = "../b", version = "~0.1" }',
      "",
      "[dev-dependencies]",
      'f = { path = "../f" }',
      "",
      "[target.'cfg(unix)'.dependencies]",
      'e = { path = "../e", version = ">=0.1.*" }',
      "",
      "[target.x86_64-unknown-linux-gnu.dev-dependencies]",
      'f = { path = "../f", version = "=0.1.2" }',
      "",
      "[features]",
      'default = ["d/x"]',
      'extra = ["dep:c", "c?/x"]',
      "",
    ].join("\n");
    let dir: Awaited<ReturnType<typeof tempDir>> | undefined;
    let packageDir = "";
    let crate: Buffer;

    before(async function () {
      this.timeout(120_000);
      const version = spawnSync("cargo", ["--version"], { encoding: "utf8" });
      if (version.error !== undefined || version.status !== 0) skipBecause(this, "cargo is not on PATH: no cross-check with cargo");
      dir = await tempDir("cargo-manifest-");
      await writeFile(join(dir.path, "Cargo.toml"), '[workspace]\nmembers = ["a"]\nresolver = "2"\n');
      for (const name of ["b", "c", "d", "e", "f"]) {
        await mkdir(join(dir.path, name, "src"), { recursive: true });
        await writeFile(join(dir.path, name, "src", "lib.rs"), "");
        await writeFile(join(dir.path, name, "Cargo.toml"), `[package]\nname = "${name}"\nversion = "0.1.2"\nedition = "2021"\ndescription = "x"\nlicense = "MIT"\n\n[features]\nx = []\n`);
      }
      await mkdir(join(dir.path, "a", "src"), { recursive: true });
      await writeFile(join(dir.path, "a", "src", "lib.rs"), "");
      await writeFile(join(dir.path, "a", "Cargo.toml"), A_TOML);
      const packed = spawnSync("cargo", ["package", "--workspace", "--no-verify", "--allow-dirty", "--offline"], {
        cwd: dir.path,
        encoding: "utf8",
        timeout: 110_000,
        env: { ...process.env, CARGO_TARGET_DIR: join(dir.path, "target"), CARGO_TERM_COLOR: "never" },
      });
      const file = join(dir.path, "target", "package", "A_x-1.0.0.crate");
      if (packed.status !== 0 || !existsSync(file)) {
        const why = (packed.stderr ?? "").trim().split("\n").filter((l) => l.trim() !== "").slice(-2).join(" / ");
        skipBecause(this, `${version.stdout.trim()} could not package path dependencies offline (it may need an index): ${why || String(packed.error)}`);
      }
      packageDir = join(dir.path, "target", "package");
      crate = await readFile(file);
    });

    after(async function () {
      await dir?.remove();
    });

    const sorted = (deps: Record<string, unknown>[]): string[] => deps.map((d) => JSON.stringify(d)).sort();
    const allFeatures = (parsed: Record<string, unknown>): Record<string, unknown> => ({ ...(parsed.features as object), ...((parsed.features2 as object | null) ?? {}) });

    it("cargo's normalised Cargo.toml (path stripped, path-only dev-dependency dropped) gives the same line", async function () {
      const unpacked = await unpackTarball(crate, "A_x-1.0.0.crate");
      const entry = unpacked.entries.find((e) => e.path === "Cargo.toml");
      if (entry === undefined || !("content" in entry)) throw new Error("the .crate has no Cargo.toml");
      const normalised = Buffer.from(entry.content as Uint8Array).toString("utf8");
      expect(normalised).not.to.include('"../');
      const ours = JSON.parse(lineOf(A_TOML, { name: "a_x", version: "1.0.0" })) as Record<string, unknown>;
      const cargos = JSON.parse(lineOf(normalised, { name: "a_x", version: "1.0.0" })) as Record<string, unknown>;
      // cargo writes each dependency table sorted by key; this module keeps file order
      expect(sorted(cargos.deps as Record<string, unknown>[])).to.deep.equal(sorted(ours.deps as Record<string, unknown>[]));
      expect({ ...cargos, deps: null }).to.deep.equal({ ...ours, deps: null });
      expect(ours.deps).to.have.length(6);
      expect(ours.rust_version).to.equal("1.70");
      expect(ours.v).to.equal(2);
    });

    it("the index line cargo writes for its local registry has the same name, version, cksum, dependencies and features", async function () {
      const root = join(packageDir, "tmp-registry", "index");
      const files = existsSync(root) ? ((await readdir(root, { recursive: true })) as string[]).filter((f) => f.endsWith("a_x")) : [];
      if (files.length !== 1) skipBecause(this, "this cargo wrote no local registry index line for the crate (target/package/tmp-registry)");
      const cargos = JSON.parse((await readFile(join(root, files[0]), "utf8")).trim()) as Record<string, unknown>;
      const cksum = createHash("sha256").update(crate).digest("hex");
      const ours = JSON.parse(lineOf(A_TOML, { name: "a_x", version: "1.0.0" }).replace(CKSUM, cksum)) as Record<string, unknown>;
      expect([ours.name, ours.vers, ours.cksum]).to.deep.equal([cargos.name, cargos.vers, cargos.cksum]);
      // cargo's own line also has registry, public, artifact, … and `package: null`: the index's fields only
      const cargoDeps = (cargos.deps as Record<string, unknown>[]).map((d) => {
        const { name, req, features, optional, default_features, target, kind } = d;
        return { name, req, features, optional, default_features, target, kind, ...(d.package !== null ? { package: d.package } : {}) };
      });
      expect(sorted(ours.deps as Record<string, unknown>[])).to.deep.equal(sorted(cargoDeps));
      expect(allFeatures(ours)).to.deep.equal(allFeatures(cargos));
    });
  });
});
