/**
 * The package flakes:meta-rustc (examples/toolchains/meta-rustc): its committed bundle is what
 * bundle.ts makes of the shim's sources today, its pkg.toml parses, and its build.sh, run as the builder
 * runs it ($out, $node), writes a `$out/bin/meta-rustc` that runs on that node and wraps rustc.
 */
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { bundleShim, PACKAGE_BUNDLES } from "../../../src/build/meta/bundle";
import { parseManifest } from "../../../src/manifest";

const PKG_DIR = path.join(__dirname, "..", "..", "..", "examples", "toolchains", "meta-rustc");

describe("flakes:meta-rustc package", function () {
  this.timeout(60_000);

  it("meta-rustc.js is up to date with src/build/meta/shim (regenerate: npx ts-node --transpile-only src/build/meta/bundle.ts)", () => {
    expect(readFileSync(PACKAGE_BUNDLES.rustc, "utf8")).to.equal(bundleShim("rustc"));
  });

  it("the bundle loads nothing but node:* modules", () => {
    const requires = [...bundleShim("rustc").matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
    expect(requires.filter((r) => !r.startsWith("node:") && !r.startsWith("./"))).to.deep.equal([]);
  });

  it("pkg.toml: builder ./build.sh, toolchains:node as a native input, src holds both files", () => {
    const m = parseManifest(readFileSync(path.join(PKG_DIR, "pkg.toml"), "utf8"));
    expect(m.builder).to.deep.equal({ kind: "source", path: "build.sh" });
    expect(Object.keys(m.nativeInputs)).to.deep.equal(["toolchains:node"]);
    expect([...m.src].sort()).to.deep.equal(["build.sh", "meta-rustc.js"]);
  });

  it("build.sh writes $out/bin/meta-rustc with #!$node/bin/node; it passes cargo's probes to rustc", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "chainpkg-meta-pkg-"));
    try {
      const node = path.join(dir, "node");
      mkdirSync(path.join(node, "bin"), { recursive: true });
      symlinkSync(process.execPath, path.join(node, "bin", "node"));
      const out = path.join(dir, "out");
      const r = spawnSync("/bin/sh", ["./build.sh"], { cwd: PKG_DIR, env: { PATH: "/usr/bin:/bin", out, node }, encoding: "utf8" });
      expect(r.status, r.stderr).to.equal(0);
      const bin = path.join(out, "bin", "meta-rustc");
      expect(readFileSync(bin, "utf8").split("\n")[0]).to.equal(`#!${node}/bin/node`);
      const probe = spawnSync(bin, ["rustc", "-vV"], { encoding: "utf8", env: { PATH: `${path.join(process.env.HOME ?? "/root", ".cargo", "bin")}:/usr/bin:/bin`, HOME: process.env.HOME } });
      expect(probe.status, probe.stderr).to.equal(0);
      expect(probe.stdout).to.match(/^rustc \d+\.\d+\.\d+/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
