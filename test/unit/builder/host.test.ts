/**
 * Host toolchains: the generated packages (pkg.toml parses, names real host programs and versions),
 * built with runBuild into store-like directories; then examples/hello built for real by
 * toolchains:cargo's wrapper (offline, crates only from the closure: examples/dep) with the host
 * rustc and gcc, and the produced $out/bin/hello run. Also: a crate missing from the closure fails
 * the build, RUSTC_WRAPPER is set to $meta-rustc/bin/meta-rustc when that input exists, and host.sh
 * refuses a toolchain whose version changed.
 */
import { spawnSync } from "node:child_process";
import { promises as fs } from "node:fs";
import path from "node:path";
import { expect } from "chai";
import {
  detectHostToolchain,
  HOST_TOOLS,
  hostToolchainManifest,
  writeHostToolchain,
  type HostTool,
} from "../../../src/builder/host";
import { ERR_BUILD_FAILED, runBuild, type BuildInput } from "../../../src/builder/run";
import { detectSandbox } from "../../../src/builder/sandbox";
import type { Derivation } from "../../../src/derivation";
import { parseManifest, type Manifest } from "../../../src/manifest";
import { rejectsWith } from "../../helpers/errors";
import { readOnly, request, tempDir } from "./helpers";

const ROOT = path.resolve(__dirname, "../../..");

/** A derivation as instantiate would make it from a pkg.toml (only what runBuild reads matters). */
function derivationOf(manifest: Manifest): Derivation {
  const builder = manifest.builder;
  return {
    format: 1,
    name: `${manifest.name}-${manifest.version}`,
    system: "x86_64-linux",
    builder:
      builder === null
        ? { kind: "none" }
        : builder.kind === "source"
          ? { kind: "source", path: builder.path }
          : { kind: "input", input: builder.input, path: builder.path },
    args: manifest.args,
    env: {},
    src: null,
    inputSrcs: [],
    inputDrvs: {},
    outputs: { out: { kind: "input-addressed" } },
    package: null,
  };
}

describe("build/host: host toolchains and the cargo wrapper", function () {
  this.timeout(300_000);
  let root: string;
  let store: string;
  let count = 0;
  /** The package directory of each toolchain, and its built output. */
  const built: Partial<Record<HostTool, BuildInput>> = {};

  before(async function () {
    root = await tempDir("chainpkg-host-test-");
    store = path.join(root, "store");
  });
  after(async () => {
    spawnSync("chmod", ["-R", "u+w", root]);
    await fs.rm(root, { recursive: true, force: true });
  });

  async function copyPackage(from: string, name: string): Promise<string> {
    const to = path.join(store, "paths", `${String(++count).padStart(4, "0")}-src-${name}`);
    await fs.cp(from, to, { recursive: true });
    await fs.rm(path.join(to, "pkg.toml"), { force: true });
    await readOnly(to);
    return to;
  }

  async function readManifest(dir: string): Promise<Manifest> {
    const file = path.join(dir, "pkg.toml");
    return parseManifest(await fs.readFile(file, "utf8"), file);
  }

  it("generates a package per host toolchain: real programs (not rustup proxies), versions, host.sh", async () => {
    for (const tool of HOST_TOOLS) {
      const toolchain = await detectHostToolchain(tool);
      const manifest = parseManifest(await hostToolchainManifest(tool, toolchain), `${tool}/pkg.toml`);
      expect(manifest).to.include({ repository: "toolchains", name: tool, version: toolchain.version });
      expect(manifest.builder).to.deep.include({ kind: "source", path: "host.sh" });
      for (const target of [...Object.values(toolchain.links), ...Object.values(toolchain.wrappers)]) {
        expect(path.isAbsolute(target)).to.equal(true);
        expect(await fs.realpath(target)).to.equal(target);
        expect(target).to.not.match(/\.cargo\/bin\//); // rustup's proxies pick a toolchain from the environment
      }
      expect(manifest.args.some((a) => a.startsWith("version:"))).to.equal(true);
      expect(await hostToolchainManifest(tool)).to.equal(await hostToolchainManifest(tool, toolchain)); // deterministic
    }
    const gcc = await detectHostToolchain("gcc");
    expect(Object.keys(gcc.links)).to.include.members(["cc", "ld", "ar", "as"]);
    expect(Object.keys((await detectHostToolchain("cargo")).wrappers)).to.deep.equal(["cargo"]);
  });

  it("builds toolchains:rustc, cargo, gcc and node with runBuild: bin/ links (cargo: a wrapper)", async () => {
    for (const tool of HOST_TOOLS) {
      const dir = path.join(root, "packages", tool);
      await writeHostToolchain(tool, dir);
      const manifest = await readManifest(dir);
      const src = await copyPackage(dir, tool);
      const req = request(root, derivationOf(manifest), {
        src,
        buildDir: path.join(root, "builds", tool),
        outputs: { out: path.join(store, "tmp", `b-${tool}`, `${tool}-${manifest.version}`) },
        sandbox: "auto",
      });
      const result = await runBuild(req);
      const out = path.join(store, "paths", `${String(++count).padStart(4, "0")}-${tool}-${manifest.version}`);
      await fs.rename(result.outputs.out!, out); // as the store does: built in tmp/, renamed into paths/
      await readOnly(out);
      built[tool] = { path: out, drv: `bafy-${tool}` };
    }
    const bin = (tool: HostTool, name: string) => path.join(built[tool]!.path, "bin", name);
    expect(spawnSync(bin("rustc", "rustc"), ["--version"]).stdout.toString()).to.match(/^rustc \d+\.\d+\.\d+/);
    expect(spawnSync(bin("gcc", "cc"), ["--version"]).status).to.equal(0);
    expect(spawnSync(bin("node", "node"), ["-e", "console.log(6*7)"]).stdout.toString()).to.equal("42\n");
    expect(await fs.readFile(bin("cargo", "cargo"), "utf8")).to.match(/^#!\/bin\/sh\n/);
    expect(await fs.readlink(path.join(built.cargo!.path, "libexec", "cargo"))).to.match(/\/bin\/cargo$/);
  });

  async function helloBuild(name: string, closureCrates: boolean, extra: Record<string, BuildInput> = {}) {
    const hello = await readManifest(path.join(ROOT, "examples", "hello"));
    const helloSrc = await copyPackage(path.join(ROOT, "examples", "hello"), `hello-${name}`);
    const depSrc = await copyPackage(path.join(ROOT, "examples", "dep"), `dep-${name}`);
    const inputs: Record<string, BuildInput> = {
      cargo: built.cargo!,
      rustc: built.rustc!,
      gcc: built.gcc!,
      ...(closureCrates ? { dep: { path: depSrc, drv: "bafy-dep" } } : {}),
      ...extra,
    };
    const lines: string[] = [];
    const req = request(root, derivationOf(hello), {
      src: helloSrc,
      inputs,
      closure: Object.values(inputs).map((i) => i.path),
      buildDir: path.join(root, "builds", `hello-${name}`),
      outputs: { out: path.join(store, "tmp", `b-hello-${name}`, "hello-1.0.0") },
      cores: 2,
      sandbox: "auto",
      log: (line) => lines.push(line),
    });
    return { req, lines, hello };
  }

  it("builds examples/hello with cargo + rustc + gcc, offline, dep from the closure; $out/bin/hello runs", async () => {
    expect(built.cargo, "the toolchains were built").to.not.equal(undefined);
    const { req, lines, hello } = await helloBuild("ok", true);
    expect(hello.builder).to.deep.include({ kind: "input", input: "cargo", path: "bin/cargo" });
    const result = await runBuild(req).catch((error: { details?: { log?: string[] } }) => {
      console.log(lines.join("\n"));
      throw error;
    });
    expect(result.sandbox).to.equal((await detectSandbox()).available ? "namespaces" : "none");
    const exe = path.join(result.outputs.out!, "bin", "hello");
    const run = spawnSync(exe, [], { encoding: "utf8" });
    expect(run.stdout).to.equal("hello from crates:dep\n");
    expect(await fs.readdir(result.outputs.out!)).to.deep.equal(["bin"]); // --no-track: no .crates.toml
    expect(lines.join("\n")).to.match(/Compiling dep v0\.2\.0/);
    const config = await fs.readFile(path.join(req.buildDir, "home", ".cargo", "config.toml"), "utf8");
    expect(config).to.contain('replace-with = "pkg-closure"').and.contain("offline = true");
    expect(await fs.readdir(path.join(req.buildDir, "home", ".cargo", "pkg-vendor"))).to.deep.equal(["dep-0.2.0"]);
    expect((await fs.stat(path.join(req.buildDir, "tmp", "cargo-target"))).isDirectory()).to.equal(true);
  });

  it("a crate missing from the closure fails the build (no registry, no network)", async () => {
    const { req } = await helloBuild("nodep", false);
    const error = await rejectsWith(runBuild(req), ERR_BUILD_FAILED);
    expect(error.message).to.contain("hello-1.0.0");
    expect((error.details.log as string[]).join("\n")).to.match(/dep/);
  });

  it("sets RUSTC_WRAPPER to $meta-rustc/bin/meta-rustc when the build has that input", async () => {
    const meta = path.join(store, "paths", "9999-meta-rustc");
    await fs.mkdir(path.join(meta, "bin"), { recursive: true });
    // a stand-in meta-rustc: records its invocation in the build's TMPDIR, then runs the real rustc
    await fs.writeFile(
      path.join(meta, "bin", "meta-rustc"),
      '#!/bin/sh\necho "$1 ${meta_rustc:-unset} $(tr "\\0" "\\n" < /proc/$$/environ | sed -n "s/^meta-rustc=//p")" >> "$TMPDIR/meta-rustc.log"\nexec "$@"\n',
      { mode: 0o755 },
    );
    await readOnly(meta);
    const { req } = await helloBuild("meta", true, { "meta-rustc": { path: meta, drv: "bafy-meta-rustc" } });
    const result = await runBuild(req);
    expect(spawnSync(path.join(result.outputs.out!, "bin", "hello"), [], { encoding: "utf8" }).stdout).to.equal("hello from crates:dep\n");
    const log = (await fs.readFile(path.join(req.buildDir, "tmp", "meta-rustc.log"), "utf8")).trim().split("\n");
    expect(log.length).to.be.at.least(2); // rustc -vV, dep, hello, …
    expect(log[0]).to.equal(`rustc ${meta} ${meta}`); // $meta-rustc itself reaches cargo's children too
  });

  it("host.sh refuses a toolchain whose version changed since the package was generated", async () => {
    const dir = path.join(root, "packages", "rustc-old");
    await writeHostToolchain("rustc", dir);
    const manifest = await readManifest(dir);
    const drv = derivationOf(manifest);
    drv.args = drv.args.map((a) => (a.startsWith("version:rustc=") ? "version:rustc=rustc 0.0.1 (old)" : a));
    const req = request(path.join(root, "old"), drv, { src: await copyPackage(dir, "rustc-old") });
    const error = await rejectsWith(runBuild(req), ERR_BUILD_FAILED);
    expect((error.details.log as string[]).join("\n")).to.contain("regenerate");
  });
});
