/**
 * The rustc tool module and dep-info parsing, on argument lists as cargo 1.95 writes them.
 */
import { expect } from "chai";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseDepInfo } from "../../../src/meta/depinfo";
import { denormalise, normalise } from "../../../src/meta/plan/core";
import { profileDir, rustcTool } from "../../../src/meta/plan/rustc";

const WS = "/work/ws";
const LIB_ARGS = [
  "--crate-name", "util", "--edition=2021", "crates/util/src/lib.rs", "--error-format=json",
  "--json=diagnostic-rendered-ansi,artifacts,future-incompat", "--crate-type", "lib", "--emit=dep-info,metadata,link",
  "-C", "embed-bitcode=no", "-C", "debuginfo=2", "--check-cfg", "cfg(docsrs,test)", "--check-cfg", "cfg(feature, values())",
  "-C", "metadata=bd54fb9f2ff21171", "-C", "extra-filename=-ba68a939e4fdd541", "--out-dir", `${WS}/target/debug/deps`,
  "-C", `incremental=${WS}/target/debug/incremental`, "-L", `dependency=${WS}/target/debug/deps`,
  "--extern", `corelib=${WS}/target/debug/deps/libcorelib-83fc7375d01fd07e.rmeta`,
];

function plan(args: string[], env: NodeJS.ProcessEnv = { HOME: "/home/u" }) {
  const outcome = rustcTool.plan("/usr/bin/rustc", args, WS, env);
  if (outcome.kind !== "plan") throw new Error(`passed through: ${outcome.reason}`);
  return outcome.plan;
}

describe("meta-rustc: rustc arguments", () => {
  it("a library compile: outputs, dep-info, externs, incremental removed, roots normalised", () => {
    const p = plan(LIB_ARGS);
    expect(p.label).to.equal("util");
    expect(p.labelHash).to.equal("ba68a939e4fdd541");
    expect(p.outDir).to.equal(`${WS}/target/debug/deps`);
    expect(p.depInfo).to.equal(`${WS}/target/debug/deps/util-ba68a939e4fdd541.d`);
    expect(p.outputStems).to.deep.equal(["libutil-ba68a939e4fdd541", "util-ba68a939e4fdd541"]);
    expect(p.externs).to.deep.equal([["corelib", `${WS}/target/debug/deps/libcorelib-83fc7375d01fd07e.rmeta`]]);
    expect(p.keyFiles).to.deep.equal([`${WS}/crates/util/src/lib.rs`]);
    expect(p.runArgs.some((a) => a.startsWith("incremental="))).to.equal(false);
    expect(p.runArgs.length).to.equal(LIB_ARGS.length - 2);
    expect(p.normArgs).to.include("dependency=@@PKG_TARGET@@/deps").and.include("@@PKG_TARGET@@/deps");
    expect(p.normArgs.join(" ")).not.to.include(WS);
    expect(p.roots.map(([, t]) => t)).to.deep.equal(["@@PKG_TARGET@@", "@@PKG_CWD@@", "@@PKG_HOME@@"]);
  });

  it("a build script's compile: the profile dir is above build/<pkg>-<hash>", () => {
    expect(profileDir(`${WS}/target/debug/build/corelib-0123`)).to.equal(`${WS}/target/debug`);
    expect(profileDir(`${WS}/target/release/deps`)).to.equal(`${WS}/target/release`);
    const args = ["--crate-name", "build_script_build", "--edition=2021", "crates/corelib/build.rs", "--crate-type", "bin", "--emit=dep-info,link",
      "-C", "extra-filename=-aa11", "--out-dir", `${WS}/target/debug/build/corelib-aa11`];
    const p = plan(args);
    expect(p.normArgs).to.include("@@PKG_TARGET@@/build/corelib-aa11");
    expect(p.outputStems).to.include("build_script_build-aa11");
  });

  it("environment: CARGO_* (not the jobserver), OUT_DIR, RUSTC_BOOTSTRAP", () => {
    const p = plan(LIB_ARGS, { CARGO_PKG_NAME: "util", CARGO_MAKEFLAGS: "-j", OUT_DIR: "/x", RUSTC_BOOTSTRAP: "1", PATH: "/bin", HOME: "/h" });
    expect(p.envNames).to.deep.equal(["CARGO_PKG_NAME", "OUT_DIR", "RUSTC_BOOTSTRAP"]);
  });

  it("native libraries named by -l are hashed where -L native= holds them", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "chainpkg-meta-l-"));
    try {
      mkdirSync(path.join(dir, "out"));
      writeFileSync(path.join(dir, "out", "libfoo.a"), "archive");
      const p = plan([...LIB_ARGS, "-L", `native=${dir}/out`, "-l", "static=foo", "-l", "dylib=m"]);
      expect(p.externs).to.deep.include(["lib:foo", `${dir}/out/libfoo.a`]);
      expect(p.externs.some(([n]) => n === "lib:m")).to.equal(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("passes through cargo's probes and what it does not understand, saying why", () => {
    const reason = (args: string[]) => {
      const o = rustcTool.plan("/usr/bin/rustc", args, WS, {});
      return o.kind === "pass" ? o.reason : null;
    };
    expect(reason(["-vV"])).to.match(/probe/);
    expect(reason(["-", "--crate-name", "___", "--print=file-names", "--crate-type", "bin"])).to.match(/stdin|probe/);
    expect(reason(["--print", "sysroot"])).to.match(/probe/);
    expect(reason(LIB_ARGS.filter((a) => a !== "--emit=dep-info,metadata,link").concat("--emit=metadata,link"))).to.match(/dep-info/);
    expect(reason([...LIB_ARGS, "-o", "x"])).to.match(/-o/);
    expect(reason(LIB_ARGS.map((a) => (a === "--emit=dep-info,metadata,link" ? "--emit=dep-info=/tmp/x.d,link" : a)))).to.match(/path/);
    expect(reason(LIB_ARGS.filter((a, i) => a !== "extra-filename=-ba68a939e4fdd541" && LIB_ARGS[i + 1] !== "extra-filename=-ba68a939e4fdd541"))).to.match(/extra-filename/);
  });

  it("normalise and denormalise are inverse over the roots", () => {
    const roots: Array<[string, "@@PKG_TARGET@@" | "@@PKG_CWD@@"]> = [[`${WS}/target/debug`, "@@PKG_TARGET@@"], [WS, "@@PKG_CWD@@"]];
    const text = `{"artifact":"${WS}/target/debug/deps/libutil.rmeta"} ${WS}/src/lib.rs`;
    expect(normalise(text, roots)).to.equal('{"artifact":"@@PKG_TARGET@@/deps/libutil.rmeta"} @@PKG_CWD@@/src/lib.rs');
    expect(denormalise(normalise(text, roots), roots)).to.equal(text);
  });
});

describe("meta-rustc: dep-info", () => {
  it("every prerequisite once, escaped spaces, env-dep reads", () => {
    const d = parseDepInfo(
      [
        "/t/deps/util-1.d: crates/util/src/lib.rs crates/util/src/with\\ space.rs /t/build/x/out/gen.rs",
        "",
        "/t/deps/libutil-1.rlib: crates/util/src/lib.rs crates/util/src/with\\ space.rs /t/build/x/out/gen.rs",
        "",
        "crates/util/src/lib.rs:",
        "crates/util/src/with\\ space.rs:",
        "",
        "# env-dep:CARGO_PKG_VERSION=0.1.0",
        "# env-dep:OUT_DIR=/t/build/x/out",
        "# env-dep:MAYBE_UNSET",
        "",
      ].join("\n"),
    );
    expect(d.files).to.deep.equal(["crates/util/src/lib.rs", "crates/util/src/with space.rs", "/t/build/x/out/gen.rs"]);
    expect(d.env).to.deep.equal([["CARGO_PKG_VERSION", "0.1.0"], ["MAYBE_UNSET", null], ["OUT_DIR", "/t/build/x/out"]]);
  });
});
