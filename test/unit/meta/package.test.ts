/**
 * The package flakes:meta-rustc (examples/toolchains/meta-rustc): its pkg.toml parses, and its build.sh,
 * run as the builder runs it ($out, $rustc, $gcc: directories with bin/rustc and bin/cc, as the
 * toolchains:* packages of src/builder/host.ts provide them), compiles a native `$out/bin/meta-rustc` that
 * passes cargo's probes to rustc.
 */
import { expect } from "chai";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { hostRustc } from "../../../src/meta/native";
import { parseManifest } from "../../../src/manifest";

const PKG_DIR = path.join(__dirname, "..", "..", "..", "examples", "toolchains", "meta-rustc");

describe("flakes:meta-rustc package", function () {
  this.timeout(120_000);

  it("pkg.toml: builder ./build.sh, toolchains:rustc and toolchains:gcc as native inputs, src holds both files", () => {
    const m = parseManifest(readFileSync(path.join(PKG_DIR, "pkg.toml"), "utf8"));
    expect(m.builder).to.deep.equal({ kind: "source", path: "build.sh" });
    expect(Object.keys(m.nativeInputs).sort()).to.deep.equal(["toolchains:gcc", "toolchains:rustc"]);
    expect([...m.src].sort()).to.deep.equal(["build.sh", "meta-rustc.rs"]);
  });

  it("build.sh compiles $out/bin/meta-rustc (and meta-cc, the same program) with $rustc/bin/rustc and $gcc/bin/cc; it passes cargo's probes to rustc", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "chainpkg-meta-pkg-"));
    try {
      // toolchains:rustc links the sysroot's real rustc (not rustup's proxy), toolchains:gcc the host's cc
      const sysroot = execFileSync(hostRustc(), ["--print", "sysroot"], { encoding: "utf8" }).trim();
      const rustc = path.join(dir, "rustc");
      const gcc = path.join(dir, "gcc");
      mkdirSync(path.join(rustc, "bin"), { recursive: true });
      mkdirSync(path.join(gcc, "bin"), { recursive: true });
      symlinkSync(path.join(sysroot, "bin", "rustc"), path.join(rustc, "bin", "rustc"));
      symlinkSync(["/usr/bin/cc", "/usr/bin/gcc"].find(existsSync)!, path.join(gcc, "bin", "cc"));
      const out = path.join(dir, "out");
      const r = spawnSync("/bin/sh", ["./build.sh"], { cwd: PKG_DIR, env: { PATH: "/usr/bin:/bin", HOME: dir, out, rustc, gcc }, encoding: "utf8" });
      expect(r.status, r.stderr).to.equal(0);
      const bin = path.join(out, "bin", "meta-rustc");
      expect(readFileSync(bin).subarray(0, 4).toString("latin1")).to.equal("\x7fELF");
      // a probe is exec'd: rustc's own answer, daemon or not
      const probe = spawnSync(bin, [path.join(rustc, "bin", "rustc"), "-vV"], { encoding: "utf8", env: { PATH: "/usr/bin:/bin", PKG_STORE_SOCKET: path.join(dir, "none.sock") } });
      expect(probe.status, probe.stderr).to.equal(0);
      expect(probe.stdout).to.match(/^rustc \d+\.\d+\.\d+/);
      expect(probe.stderr).to.equal("");
      const usage = spawnSync(bin, [], { encoding: "utf8" });
      expect(usage.status).to.equal(2);
      // meta-cc: the same program, which takes its tool from its name
      expect(readlinkSync(path.join(out, "bin", "meta-cc"))).to.equal("meta-rustc");
      const cc = spawnSync(path.join(out, "bin", "meta-cc"), [], { encoding: "utf8" });
      expect(cc.status).to.equal(2);
      expect(cc.stderr).to.match(/^usage: meta-cc <path-to-cc>/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
