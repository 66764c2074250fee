/**
 * Build variants (issue #5): `pkg build --name N --arg=...` appends args to pkg.toml's for the package's
 * own derivation and records the build as its own [[build]]; the name remembers its args. Run as the
 * built binary (bin/pkg.js over dist/) with a real daemon and content store, no chain, as build-cli.test.ts.
 */
import { expect } from "chai";
import { readFileSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { parseBuildfile, type BuildRecord } from "../../../src/buildfile";
import { makeSandbox, pkg, writeScriptPackage, type Sandbox } from "./helpers";
import { requireBuilt } from "../../helpers/dist";

/** A package whose builder writes its arguments ("$@") into $out/args; pkg.toml's own args are ["base"]. */
async function writePackage(s: Sandbox, dir: string): Promise<void> {
  await writeScriptPackage(s, dir, { script: 'mkdir -p $out\necho "$@" > $out/args', src: ["build.sh"], args: ["base"] });
}

describe("pkg build variants (--name with --arg; built binary, no chain)", function () {
  this.timeout(300_000);
  let s: Sandbox;
  let dir: string;
  before(function () {
    this.timeout(600_000); // builds dist/ when it is missing
    requireBuilt("dist/cli/pkg/build.js");
  });
  beforeEach(async () => {
    s = await makeSandbox();
    dir = path.join(s.dir, "hello");
    await writePackage(s, dir);
  });
  afterEach(async () => {
    pkg(s, ["store", "status", "--shutdown"], s.dir);
    await s.cleanup();
  });

  const build = (args: string[], env: NodeJS.ProcessEnv = {}) => {
    const r = pkg(s, ["build", "--json", ...args], dir, env);
    expect(r.code, r.stderr + r.stdout).to.equal(0);
    return JSON.parse(r.stdout) as { drv: string; outputs: { out: string }; built: boolean; buildFileChanged: boolean };
  };
  const records = (): BuildRecord[] => parseBuildfile(readFileSync(path.join(dir, "pkg.build.toml"), "utf8")).builds;
  const argsOf = (out: string) => readFileSync(path.join(out, "args"), "utf8");

  it("two variants: two records, two derivations, each output built with its own args", () => {
    const plain = build([]);
    const release = build(["--name", "release", "--arg=--release", "--arg=--features", "--arg=a,b"]);
    expect(release.drv).to.not.equal(plain.drv);
    expect(argsOf(plain.outputs.out)).to.equal("base\n");
    expect(argsOf(release.outputs.out)).to.equal("base --release --features a,b\n");
    const [d, r] = records();
    expect(records().map((b) => b.name)).to.deep.equal(["default", "release"]);
    expect(d).to.include({ metadrv: plain.drv });
    expect(d.args).to.deep.equal(["base"]);
    expect(r).to.include({ metadrv: release.drv });
    expect(r.args).to.deep.equal(["base", "--release", "--features", "a,b"]);
    expect(r.metadrv).to.not.equal(d.metadrv);
    expect(r.output).to.not.equal(d.output);
  });

  it("--name again reuses the remembered args (a no-op); --arg replaces them; other records are kept in order", () => {
    build([]);
    const first = build(["--name", "release", "--arg=--release"]);
    build(["--name", "dev", "--arg=--dev"]);
    const before = records();
    // remembered: the same derivation, nothing built, nothing written
    const again = build(["--name", "release"]);
    expect(again).to.include({ drv: first.drv, built: false, buildFileChanged: false });
    expect(records()).to.deep.equal(before);
    // -L declines the fast path: the full command answers from its own cache entry, the same way
    const fresh = pkg(s, ["build", "--json", "-L", "--name", "release"], dir);
    expect(JSON.parse(fresh.stdout)).to.include({ drv: first.drv, built: false });
    // replaced: another derivation; only that record changes, in place
    const changed = build(["--name", "release", "--arg=--release", "--arg=--lto"]);
    expect(changed.drv).to.not.equal(first.drv);
    expect(argsOf(changed.outputs.out)).to.equal("base --release --lto\n");
    const after = records();
    expect(after.map((b) => b.name)).to.deep.equal(["default", "release", "dev"]);
    expect(after[0]).to.deep.equal(before[0]);
    expect(after[2]).to.deep.equal(before[2]);
    expect(after[1].args).to.deep.equal(["base", "--release", "--lto"]);
    // and remembered from now on
    expect(build(["--name", "release"])).to.include({ drv: changed.drv, built: false });
    // rebuilding one variant leaves the others' records untouched
    expect(build(["--name", "dev"]).drv).to.equal(before[2].metadrv);
    expect(records()).to.deep.equal(after);
  });

  it("remembered args survive a change of pkg.toml's args (read back from the pkg.toml the record was built from)", async () => {
    build(["--name", "release", "--arg=--release"]);
    const manifest = path.join(dir, "pkg.toml");
    await writeFile(manifest, (await readFile(manifest, "utf8")).replace('args = ["base"]', 'args = ["other", "base2"]'));
    const meta = await s.content.putBytes(await readFile(manifest));
    const lock = path.join(dir, "pkg.lock");
    await writeFile(lock, (await readFile(lock, "utf8")).replace(/bafkrei[a-z2-7]+/, meta.toString()));
    const r = build(["--name", "release"]);
    expect(argsOf(r.outputs.out)).to.equal("other base2 --release\n");
    expect(records()[0].args).to.deep.equal(["other", "base2", "--release"]);
  });

  it("the default no-op still takes the fast path; a variant's no-op too; --arg declines it; variants never answer for each other", () => {
    const trace = (args: string[]) => pkg(s, ["build", ...args], dir, { PKG_TRACE_FASTPATH: "1" });
    build([]);
    build(["--name", "release", "--arg=--release"]);
    // writing the release record changed the directory: one full build of default, then no-ops
    build([]);
    const noop = trace([]);
    expect(noop.stderr).to.equal("fastpath: no-op\n");
    expect(argsOf(noop.stdout.trim())).to.equal("base\n");
    const declined = trace(["--arg=--release"]);
    expect(declined.code, declined.stderr).to.equal(0);
    expect(declined.stderr.split("\n")[0]).to.equal("fastpath: full (arguments)");
    // --arg on the default name makes it another variant: built from its own derivation, not the cached one
    expect(argsOf(declined.stdout.trim())).to.equal("base --release\n");
    expect(records()[0].args).to.deep.equal(["base", "--release"]);
    // and a remembered variant answers the fast path with its own output
    build(["--name", "release"]);
    const rel = trace(["--name", "release"]);
    expect(rel.stderr).to.equal("fastpath: no-op\n");
    expect(argsOf(rel.stdout.trim())).to.equal("base --release\n");
  });
});
