import { expect } from "chai";
import { promises as fs, readFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import { FileFormatError } from "../../../src/errors/files";
import { skipBecause } from "../../helpers/skip";
import {
  ERR_MANIFEST_INVALID_BUILDER,
  ERR_MANIFEST_INVALID_SRC,
  ERR_MANIFEST_NOT_FOUND,
  ERR_MANIFEST_SRC_LOOP,
  ERR_MANIFEST_SRC_NOT_FOUND,
  ERR_MANIFEST_SRC_NO_MATCH,
  ERR_MANIFEST_SRC_OUTSIDE,
  ERR_MANIFEST_SRC_UNSUPPORTED,
  formatBuilder,
  listInputs,
  parseBuilder,
  parseManifest,
  readManifest,
  resolveSources,
  serializeManifest,
  type Manifest,
} from "../../../src/manifest";

const seedText = readFileSync(path.join(__dirname, "../../fixtures/files/seed/pkg.toml"), "utf8");

const seed: Manifest = {
  repository: "crates",
  name: "hello",
  version: "1.0.0",
  license: "ISC",
  src: ["Cargo.toml", "src/main.rs", "src/lib.rs"],
  builder: { kind: "input", input: "cargo", path: "bin/cargo" },
  args: ["build"],
  metaInputs: { "nixpkgs:cargo": "*", "flakes:meta-rustc": "*" },
  nativeInputs: { "nixpkgs:rustc": ">=1.36" },
  inputs: { "crates:dep": "0.2" },
};

async function rejection(promise: Promise<unknown>): Promise<FileFormatError> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(FileFormatError);
    return error as FileFormatError;
  }
  return expect.fail("expected a FileFormatError") as never;
}

describe("manifest (pkg.toml)", () => {
  describe("parseManifest", () => {
    it("reads the seed's pkg.toml, unquoted repo:name keys included", () => {
      expect(parseManifest(seedText)).to.deep.equal(seed);
    });

    it("reads the same file with standard quoted keys, CRLF line ends and a BOM", () => {
      const quoted = seedText.replace(/^([a-z]+:[a-z-]+) =/gm, '"$1" =');
      expect(quoted).to.contain('"nixpkgs:cargo" =');
      expect(parseManifest(quoted)).to.deep.equal(seed);
      expect(parseManifest(`\uFEFF${quoted.replace(/\n/g, "\r\n")}`)).to.deep.equal(seed);
    });

    it("does not rewrite a repo:name lookalike inside a multi-line string", () => {
      const text = seedText.replace('args = ["build"]', 'args = ["""\nnot:a_key = "x"\n"""]');
      expect(parseManifest(text).args).to.deep.equal(['not:a_key = "x"\n']);
    });

    it("defaults: no builder, no args, no inputs", () => {
      const m = parseManifest('[package]\nrepository = "npm"\nname = "left-pad"\nversion = "1.3.0"\nlicense = "WTFPL"\nsrc = ["index.js"]\n');
      expect(m.builder).to.equal(null);
      expect(m.args).to.deep.equal([]);
      expect(listInputs(m)).to.deep.equal([]);
    });

    it("accepts the same package as a native input and an input (as Nix does when cross compiling)", () => {
      const text = `${seedText}\n"nixpkgs:rustc" = "^1.70"\n`;
      const m = parseManifest(text);
      expect(m.inputs["nixpkgs:rustc"]).to.equal("^1.70");
      expect(m.nativeInputs["nixpkgs:rustc"]).to.equal(">=1.36");
    });

    it("accepts a ./ builder and a bare $input builder", () => {
      expect(parseManifest(seedText.replace("$cargo/bin/cargo", "./build.sh")).builder).to.deep.equal({ kind: "source", path: "build.sh" });
      expect(parseManifest(seedText.replace("$cargo/bin/cargo", "$cargo")).builder).to.deep.equal({ kind: "input", input: "cargo", path: "" });
    });
  });

  describe("serializeManifest", () => {
    it("writes standard TOML in a fixed order with inputs sorted", () => {
      expect(serializeManifest(seed)).to.equal(`[package]
repository = "crates"
name = "hello"
version = "1.0.0"
license = "ISC"
src = [
  "Cargo.toml",
  "src/main.rs",
  "src/lib.rs",
]
builder = "$cargo/bin/cargo"
args = ["build"]

[meta-inputs]
"flakes:meta-rustc" = "*"
"nixpkgs:cargo" = "*"

[native-inputs]
"nixpkgs:rustc" = ">=1.36"

[inputs]
"crates:dep" = "0.2"
`);
    });

    it("escapes strings so that any argument survives", () => {
      const m: Manifest = { ...seed, args: ['say "hi"', "back\\slash", "tab\there", "line\nbreak", "del\u007f", "ünï©ødé 🦀"] };
      const text = serializeManifest(m);
      expect(text).to.contain('"say \\"hi\\""').and.contain('"del\\u007F"');
      expect(parseManifest(text).args).to.deep.equal(m.args);
    });

    it("refuses an invalid object instead of writing it, naming the field", () => {
      expect(() => serializeManifest({ ...seed, version: "1.0" })).to.throw(FileFormatError, /^pkg\.toml: \[package\]\.version: "1\.0" is not a semver version$/);
      expect(() => serializeManifest({ ...seed, args: ["a\u0000b"] })).to.throw(FileFormatError, /NUL/);
      expect(() => serializeManifest({ ...seed, args: ["\ud800"] })).to.throw(FileFormatError, /surrogate/);
    });
  });

  describe("builders", () => {
    it("parses and formats both forms", () => {
      for (const text of ["$cargo/bin/cargo", "$cargo", "./build.sh", "./scripts/build"]) {
        const builder = parseBuilder(text);
        expect(builder).not.to.have.property("problem");
        expect(formatBuilder(builder as never)).to.equal(text);
      }
    });

    it("rejects what a build could not run", () => {
      for (const text of ["make", "/usr/bin/make", "$Cargo/bin", "$cargo/", "$cargo//x", "./", "./a/../b", "./*.sh", "${cargo}/bin"]) {
        expect(parseBuilder(text), text).to.have.property("problem");
      }
    });
  });

  it("listInputs flattens the three tables in order", () => {
    expect(listInputs(seed).map((i) => `${i.kind} ${i.key} ${i.range}`)).to.deep.equal([
      "meta-input flakes:meta-rustc *",
      "meta-input nixpkgs:cargo *",
      "native-input nixpkgs:rustc >=1.36",
      "input crates:dep 0.2",
    ]);
  });

  describe("readManifest", () => {
    let dir: string;
    beforeEach(async () => {
      dir = await fs.mkdtemp(path.join(os.tmpdir(), "pkg-manifest-"));
    });
    afterEach(async () => {
      await fs.rm(dir, { recursive: true, force: true });
    });

    it("reads a file, or the pkg.toml of a directory", async () => {
      await fs.writeFile(path.join(dir, "pkg.toml"), seedText);
      expect(await readManifest(path.join(dir, "pkg.toml"))).to.deep.equal(seed);
      expect(await readManifest(dir)).to.deep.equal(seed);
    });

    it("names the path in errors", async () => {
      const file = path.join(dir, "pkg.toml");
      await fs.writeFile(file, seedText.replace('"1.0.0"', '"1.0"'));
      const error = await rejection(readManifest(dir));
      expect(error.message.startsWith(`${file}:4: [package].version:`)).to.equal(true);
    });

    it("reports a missing file with its own code", async () => {
      const error = await rejection(readManifest(path.join(dir, "nope", "pkg.toml")));
      expect(error.code).to.equal(ERR_MANIFEST_NOT_FOUND);
    });
  });

  describe("resolveSources", () => {
    let root: string;
    let dir: string;
    const manifest = (src: string[], builder: Manifest["builder"] = null): Manifest => ({ ...seed, src, builder, args: [] });

    async function write(rel: string, content = rel): Promise<void> {
      await fs.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
      await fs.writeFile(path.join(dir, rel), content);
    }

    beforeEach(async () => {
      root = await fs.mkdtemp(path.join(os.tmpdir(), "pkg-src-"));
      dir = path.join(root, "pkg");
      for (const f of ["Cargo.toml", "build.sh", "src/main.rs", "src/lib.rs", "src/util/mod.rs", "src/util/x.txt", ".env", "src/.hidden.rs", ".cargo/config.toml", "README.md"]) {
        await write(f);
      }
      await fs.writeFile(path.join(root, "secret.txt"), "outside");
    });
    afterEach(async () => {
      await fs.rm(root, { recursive: true, force: true });
    });

    it("expands literal files and directories, sorted, without dot-entries under a directory", async () => {
      expect(await resolveSources(manifest(["src", "Cargo.toml"]), dir)).to.deep.equal([
        "Cargo.toml",
        "src/lib.rs",
        "src/main.rs",
        "src/util/mod.rs",
        "src/util/x.txt",
      ]);
    });

    it("expands *, ? and ** within segments", async () => {
      expect(await resolveSources(manifest(["src/**/*.rs"]), dir)).to.deep.equal(["src/lib.rs", "src/main.rs", "src/util/mod.rs"]);
      expect(await resolveSources(manifest(["src/*.rs"]), dir)).to.deep.equal(["src/lib.rs", "src/main.rs"]);
      expect(await resolveSources(manifest(["src/????.rs"]), dir)).to.deep.equal(["src/main.rs"]);
      expect(await resolveSources(manifest(["*.toml", "*.md"]), dir)).to.deep.equal(["Cargo.toml", "README.md"]);
    });

    it("never lets a wildcard match a dotfile, but a literal or dot pattern can", async () => {
      const all = await resolveSources(manifest(["**"]), dir);
      expect(all).to.deep.equal(["Cargo.toml", "README.md", "build.sh", "src/lib.rs", "src/main.rs", "src/util/mod.rs", "src/util/x.txt"]);
      expect(await resolveSources(manifest([".cargo/config.toml", ".env"]), dir)).to.deep.equal([".cargo/config.toml", ".env"]);
      expect(await resolveSources(manifest(["src/.*"]), dir)).to.deep.equal(["src/.hidden.rs"]);
    });

    it("de-duplicates files matched by several patterns", async () => {
      expect(await resolveSources(manifest(["src/main.rs", "src/*.rs", "src"]), dir)).to.deep.equal([
        "src/lib.rs",
        "src/main.rs",
        "src/util/mod.rs",
        "src/util/x.txt",
      ]);
    });

    it("errors on a missing literal path and on a glob that matches nothing", async () => {
      const missing = await rejection(resolveSources(manifest(["Cargo.toml", "src/gone.rs"]), dir));
      expect(missing.code).to.equal(ERR_MANIFEST_SRC_NOT_FOUND);
      expect(missing.details.field).to.equal("[package].src[1]");
      expect(missing.message).to.equal(`${path.join(dir, "pkg.toml")}: [package].src[1]: "src/gone.rs" does not exist`);
      expect((await rejection(resolveSources(manifest(["*.py"]), dir))).code).to.equal(ERR_MANIFEST_SRC_NO_MATCH);
    });

    it("follows a symlink that stays inside the package", async () => {
      await fs.symlink("src/main.rs", path.join(dir, "main-link.rs"));
      await fs.symlink("src/util", path.join(dir, "util-link"));
      expect(await resolveSources(manifest(["main-link.rs", "util-link"]), dir)).to.deep.equal([
        "main-link.rs",
        "util-link/mod.rs",
        "util-link/x.txt",
      ]);
    });

    it("rejects a symlinked file whose real path leaves the package, by name or by glob", async () => {
      await fs.symlink(path.join(root, "secret.txt"), path.join(dir, "src", "secret.txt"));
      const literal = await rejection(resolveSources(manifest(["src/secret.txt"]), dir));
      expect(literal.code).to.equal(ERR_MANIFEST_SRC_OUTSIDE);
      expect((await rejection(resolveSources(manifest(["src/*.txt"]), dir))).code).to.equal(ERR_MANIFEST_SRC_OUTSIDE);
      expect((await rejection(resolveSources(manifest(["src"]), dir))).code).to.equal(ERR_MANIFEST_SRC_OUTSIDE);
    });

    it("rejects a path through a symlinked directory that leaves the package", async () => {
      await fs.symlink(root, path.join(dir, "up"));
      const error = await rejection(resolveSources(manifest(["up/secret.txt"]), dir));
      expect(error.code).to.equal(ERR_MANIFEST_SRC_OUTSIDE);
      expect((await rejection(resolveSources(manifest(["**/*.txt"]), dir))).code).to.equal(ERR_MANIFEST_SRC_OUTSIDE);
    });

    it("reports a broken symlink as missing", async () => {
      await fs.symlink("nowhere", path.join(dir, "dangling"));
      expect((await rejection(resolveSources(manifest(["dangling"]), dir))).code).to.equal(ERR_MANIFEST_SRC_NOT_FOUND);
    });

    it("detects a symlink loop instead of walking forever", async () => {
      await fs.symlink("..", path.join(dir, "src", "util", "back"));
      expect((await rejection(resolveSources(manifest(["src/**/*.rs"]), dir))).code).to.equal(ERR_MANIFEST_SRC_LOOP);
      expect((await rejection(resolveSources(manifest(["src"]), dir))).code).to.equal(ERR_MANIFEST_SRC_LOOP);
    });

    it("rejects a file that is neither a regular file nor a directory", async function () {
      try {
        execFileSync("mkfifo", [path.join(dir, "pipe")]);
      } catch (error) {
        skipBecause(this, `mkfifo failed: ${(error as Error).message.split("\n")[0]}`);
      }
      expect((await rejection(resolveSources(manifest(["pipe"]), dir))).code).to.equal(ERR_MANIFEST_SRC_UNSUPPORTED);
    });

    it("requires a ./ builder to be among the files", async () => {
      expect(await resolveSources(manifest(["build.sh"], { kind: "source", path: "build.sh" }), dir)).to.deep.equal(["build.sh"]);
      const error = await rejection(resolveSources(manifest(["src"], { kind: "source", path: "build.sh" }), dir));
      expect(error.code).to.equal(ERR_MANIFEST_INVALID_BUILDER);
    });

    it("re-checks patterns of objects that did not come from parseManifest", async () => {
      expect((await rejection(resolveSources(manifest(["../secret.txt"]), dir))).code).to.equal(ERR_MANIFEST_INVALID_SRC);
    });
  });
});

describe("pkg.toml: [origin] (a version published through the gateway)", () => {
  const base = '[package]\nrepository = "npm"\nname = "left-pad"\nversion = "1.3.0"\nlicense = "WTFPL"\nsrc = ["**"]\n';
  const artifact = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";

  it("reads and writes it back byte for byte", () => {
    const text = `${base}\n[origin]\nregistry = "npm"\nname = "@demo/left-pad"\nartifact = "${artifact}"\nintegrity = "sha512-abc+/="\nshasum = "0123abcd"\n`;
    const m = parseManifest(text);
    expect(m.origin).to.deep.equal({ registry: "npm", name: "@demo/left-pad", artifact, integrity: "sha512-abc+/=", shasum: "0123abcd" });
    expect(serializeManifest(m)).to.equal(text);
    expect(parseManifest(base).origin).to.equal(undefined);
  });

  it("refuses an unknown registry, a non-CID artifact, an unknown key and a missing field, naming the line", () => {
    const cases: [string, string, RegExp][] = [
      [`[origin]\nregistry = "pypi"\nname = "x"\nartifact = "${artifact}"\n`, "ERR_MANIFEST_INVALID_TYPE", /\[origin\]\.registry/],
      [`[origin]\nregistry = "npm"\nname = "x"\nartifact = "../../etc/passwd"\n`, "ERR_MANIFEST_INVALID_TYPE", /\[origin\]\.artifact/],
      [`[origin]\nregistry = "npm"\nname = "x"\nartifact = "${artifact}"\ntarball = "y"\n`, "ERR_MANIFEST_UNKNOWN_KEY", /\[origin\]\.tarball/],
      [`[origin]\nregistry = "npm"\nartifact = "${artifact}"\n`, "ERR_MANIFEST_MISSING_FIELD", /\[origin\]\.name/],
      [`[origin]\nregistry = "npm"\nname = "a b"\nartifact = "${artifact}"\n`, "ERR_MANIFEST_INVALID_TYPE", /\[origin\]\.name/],
    ];
    for (const [origin, code, field] of cases) {
      let error: unknown = null;
      try {
        parseManifest(`${base}\n${origin}`, "pkg.toml");
      } catch (e) {
        error = e;
      }
      expect(error, origin).to.be.instanceOf(FileFormatError);
      expect((error as FileFormatError).code, origin).to.equal(code);
      expect((error as FileFormatError).message, origin).to.match(field).and.match(/^pkg\.toml:\d+:/);
    }
  });
});
