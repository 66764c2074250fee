/**
 * Instantiation against a real chain (a hardhat node over JSON-RPC) and a real content store (embedded, on
 * disk): packages published with builders and all three input kinds, locked by the resolver, turned into
 * derivations; read back from the store by CID; determinism, change propagation, name conflicts, locks that
 * do not fit, a package directory, and a repository lock.
 */
import { expect } from "chai";
import { appendFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { CID } from "multiformats/cid";
import { readDerivation, type Derivation } from "../../src/derivation";
import {
  ERR_INSTANTIATE_CYCLE,
  ERR_INSTANTIATE_INPUT_FAILED,
  ERR_INSTANTIATE_INPUT_NOT_LOCKED,
  ERR_INSTANTIATE_LOCK_MISMATCH,
  ERR_INSTANTIATE_META_MISMATCH,
  ERR_INSTANTIATE_NAME_CONFLICT,
  ERR_INSTANTIATE_STALE_LOCK,
  instantiate,
  instantiateDirectory,
  type InstantiateParams,
} from "../../src/instantiate";
import { writeLockfile, type Lockfile } from "../../src/lockfile";
import { serializeManifest, type Manifest } from "../../src/manifest";
import type { RepositoryLock } from "../../src/repolock";
import { lockRepository } from "../../src/repository";
import { instantiateRepository } from "../../src/repository/instantiate";
import { resolveLock } from "../../src/resolve";
import { rejectsWith } from "../helpers/errors";
import { createWorld, manifestOf, type TestPackage, type World } from "../helpers/registry";

type Files = Record<string, string>;

describe("instantiate (real node, real content store)", function () {
  this.timeout(240_000);
  let world: World;
  /** What was published, by `repo:name@version`. */
  const published = new Map<string, { meta: string; src: string }>();

  /** Publishes a package whose pkg.toml may have a builder and args, with the given source files. */
  async function publish(p: TestPackage & { builder?: Manifest["builder"]; args?: string[] }, files: Files = {}): Promise<void> {
    const manifest: Manifest = { ...manifestOf(p), builder: p.builder ?? null, args: p.args ?? [], src: ["README", ...Object.keys(files)] };
    const meta = (await world.content.putBytes(serializeManifest(manifest), { pin: true })).toString();
    const entries = Object.entries({ README: `${p.name} ${p.version}\n`, ...files }).map(([file, content]) => ({ path: file, content }));
    const src = (await world.content.putTree(entries, { pin: true })).toString();
    const key = { repository: manifest.repository, name: manifest.name };
    if (!(await world.client.getRepository(manifest.repository))) await world.client.createRepository(manifest.repository, false);
    if (!(await world.client.getPackage(key))) await world.client.registerPackage(key);
    await world.client.publish(key, manifest.version, meta, src);
    published.set(`${manifest.repository}:${manifest.name}@${manifest.version}`, { meta, src });
  }

  /** The root package `crates:hello` with these fields, locked by the resolver against the chain now. */
  async function locked(fields: Partial<TestPackage> & { builder?: Manifest["builder"]; args?: string[] }) {
    const manifest: Manifest = { ...manifestOf({ name: "hello", version: "1.0.0", ...fields }), builder: fields.builder ?? null, args: fields.args ?? [] };
    const manifestCid = (await world.content.putBytes(serializeManifest(manifest))).toString();
    const src = await world.content.putTree([{ path: "README", content: "hello\n" }]);
    const { lock } = await resolveLock({
      manifest,
      manifestCid,
      client: world.client,
      content: world.content,
      block: await world.client.blockNumber(),
      chain: { chainId: 31337, registry: world.registry },
    });
    return { manifest, lock, src, content: world.content } satisfies InstantiateParams;
  }

  const HELLO = {
    builder: { kind: "input", input: "cargo", path: "bin/cargo" } as const,
    args: ["build", "--release"],
    metaInputs: { "nixpkgs:cargo": "*", "flakes:meta-rustc": "*" },
    nativeInputs: { "nixpkgs:rustc": ">=1.36" },
    inputs: { "crates:dep": "0.2", "crates:other": "^1.0.0" },
  };

  before(async () => {
    world = await createWorld();
    await publish({ repository: "nixpkgs", name: "cargo", version: "1.80.0" }, { "bin/cargo": "#!/bin/sh\n" });
    await publish({ repository: "nixpkgs", name: "rustc", version: "1.80.0" }, { "bin/rustc": "#!/bin/sh\n" });
    await publish({ repository: "flakes", name: "meta-rustc", version: "0.1.0", nativeInputs: { "nixpkgs:rustc": "*" } });
    await publish({ name: "util", version: "1.0.0" });
    await publish({ name: "util", version: "1.1.0" });
    await publish({ name: "dep", version: "0.2.0", inputs: { "crates:util": "^1.0.0" } });
    await publish({ name: "other", version: "1.0.0" });
    await publish({ repository: "npm", name: "dep", version: "1.0.0" });
    await publish({ name: "out", version: "1.0.0" });
    await publish({ name: "tool", version: "1.0.0", builder: { kind: "source", path: "build.sh" }, args: ["--all"] }, { "build.sh": "#!/bin/sh\n" });
  });

  after(async () => world?.close());

  it("makes one derivation per locked package, bottom up, with every input kind and $cargo resolved to the cargo input", async () => {
    const params = await locked(HELLO);
    const { root, derivation, derivations } = await instantiate(params);
    expect([...derivations.keys()].sort()).to.deep.equal(
      ["crates:dep", "crates:other", "crates:util", "flakes:meta-rustc", "nixpkgs:cargo", "nixpkgs:rustc"],
    );
    const cid = (key: string) => derivations.get(key)!.cid.toString();
    expect(derivation.builder).to.deep.equal({ kind: "input", input: "cargo", path: "bin/cargo" });
    expect(derivation.args).to.deep.equal(["build", "--release"]);
    expect(derivation.name).to.equal("hello-1.0.0");
    expect(Object.keys(derivation.inputDrvs).sort()).to.deep.equal(["cargo", "dep", "meta-rustc", "other", "rustc"]);
    expect(derivation.inputDrvs.cargo.drv.toString()).to.equal(cid("nixpkgs:cargo"));
    expect(derivation.inputDrvs.cargo.kinds).to.deep.equal(["meta-input"]);
    expect(derivation.inputDrvs["meta-rustc"].kinds).to.deep.equal(["meta-input"]);
    expect(derivation.inputDrvs.rustc).to.deep.include({ kinds: ["native-input"], output: "out" });
    expect(derivation.inputDrvs.dep.kinds).to.deep.equal(["input"]);
    expect(derivation.inputDrvs.dep.drv.toString()).to.equal(cid("crates:dep"));
    // provenance and sources are the lock's, as links
    expect(derivation.package!.meta.toString()).to.equal(params.lock.package);
    expect(derivation.src!.toString()).to.equal(params.src.toString());
    expect(derivation.inputSrcs.map(String)).to.deep.equal([params.src.toString()]);
    // a dependency: source-only, its own input resolved through its own lock edges (util ^1 → 1.1.0)
    const dep = derivations.get("crates:dep")!.derivation;
    expect(dep.builder).to.deep.equal({ kind: "none" });
    expect(dep.src!.toString()).to.equal(published.get("crates:dep@0.2.0")!.src);
    expect(dep.package).to.deep.include({ repository: "crates", name: "dep", version: "0.2.0" });
    expect(dep.package!.meta.toString()).to.equal(published.get("crates:dep@0.2.0")!.meta);
    expect(dep.inputDrvs.util.drv.toString()).to.equal(cid("crates:util"));
    expect(derivations.get("crates:util")!.derivation.name).to.equal("util-1.1.0");
    // meta-rustc's native input is the same rustc derivation the root uses
    expect(derivations.get("flakes:meta-rustc")!.derivation.inputDrvs.rustc.drv.toString()).to.equal(cid("nixpkgs:rustc"));
    expect(root.toString()).to.match(/^bafyrei/);
  });

  it("stores every derivation: each reads back by CID, and the root is pinned with its closure", async () => {
    const { root, derivation, derivations } = await instantiate(await locked(HELLO));
    expect(JSON.stringify(await readDerivation(world.content, root))).to.equal(JSON.stringify(derivation));
    for (const { cid, derivation: d } of derivations.values()) {
      expect(JSON.stringify(await readDerivation(world.content, cid, { offline: true }))).to.equal(JSON.stringify(d));
    }
    const pins = (await world.content.pins()).map(String);
    expect(pins).to.include(root.toString());
    expect(await world.content.has(root)).to.equal(true); // every input derivation, source and meta is local
  });

  it("gives the same root for the same lock, every time", async () => {
    const params = await locked(HELLO);
    const first = await instantiate(params);
    const again = await instantiate({ ...params, lock: JSON.parse(JSON.stringify(params.lock)) as Lockfile });
    expect(again.root.toString()).to.equal(first.root.toString());
    for (const [key, d] of first.derivations) expect(again.derivations.get(key)!.cid.toString()).to.equal(d.cid.toString());
    const elsewhere = await instantiate({ ...params, system: "aarch64-darwin" });
    expect(elsewhere.root.toString()).to.not.equal(first.root.toString());
    expect(elsewhere.derivation.system).to.equal("aarch64-darwin");
  });

  it("changes the root and every dependent when a dependency's src changes, and nothing unrelated", async () => {
    const params = await locked(HELLO);
    const before = await instantiate(params);
    const newSrc = (await world.content.putTree([{ path: "README", content: "util, patched\n" }])).toString();
    const lock: Lockfile = JSON.parse(JSON.stringify(params.lock));
    lock.dependencies["crates:util"].src = newSrc;
    const after = await instantiate({ ...params, lock });
    expect(after.root.toString()).to.not.equal(before.root.toString());
    const changed = [...before.derivations.keys()].filter((key) => !after.derivations.get(key)!.cid.equals(before.derivations.get(key)!.cid));
    expect(changed.sort()).to.deep.equal(["crates:dep", "crates:util"]);
    expect(after.derivations.get("crates:util")!.derivation.src!.toString()).to.equal(newSrc);
  });

  it("names both inputs when two would be the same $name", async () => {
    const error = await rejectsWith(instantiate(await locked({ inputs: { "crates:dep": "0.2", "npm:dep": "1" } })), ERR_INSTANTIATE_NAME_CONFLICT);
    expect(error.message).to.contain("crates/dep:0.2.0").and.to.contain("npm/dep:1.0.0").and.to.contain("$dep");
    expect(error.details.inputs).to.deep.equal(["crates/dep:0.2.0", "npm/dep:1.0.0"]);
    // two versions of one package, one per table
    const versions = await rejectsWith(instantiate(await locked({ nativeInputs: { "crates:util": "1.0.0" }, inputs: { "crates:util": "^1.1.0" } })), ERR_INSTANTIATE_NAME_CONFLICT);
    expect(versions.message).to.contain("crates/util:1.0.0").and.to.contain("crates/util:1.1.0");
    // an input called like the output
    const out = await rejectsWith(instantiate(await locked({ inputs: { "crates:out": "*" } })), ERR_INSTANTIATE_NAME_CONFLICT);
    expect(out.message).to.contain("$out");
  });

  it("makes one input with several kinds of a package listed in two tables at one version", async () => {
    const { derivation } = await instantiate(await locked({ nativeInputs: { "crates:util": "^1.0.0" }, inputs: { "crates:util": "^1.1.0" } }));
    expect(derivation.inputDrvs.util.kinds).to.deep.equal(["input", "native-input"]);
  });

  it("keeps a ./ builder and a dependency's own builder and args", async () => {
    const params = await locked({ builder: { kind: "source", path: "README" }, nativeInputs: { "crates:tool": "*" } });
    const { derivation, derivations } = await instantiate(params);
    expect(derivation.builder).to.deep.equal({ kind: "source", path: "README" });
    const tool = derivations.get("crates:tool")!.derivation;
    expect(tool.builder).to.deep.equal({ kind: "source", path: "build.sh" });
    expect(tool.args).to.deep.equal(["--all"]);
  });

  it("refuses a lock that does not fit the pkg.toml files it locks", async () => {
    const params = await locked(HELLO);
    // the root declares an input the lock does not have
    const extra = { ...params.manifest, inputs: { ...params.manifest.inputs, "npm:dep": "1" } };
    const missing = await rejectsWith(instantiate({ ...params, manifest: extra }), ERR_INSTANTIATE_LOCK_MISMATCH);
    expect(missing.message).to.contain('"npm:dep"').and.to.contain("not in the lock");
    // a range the locked version is outside of
    const narrowed = { ...params.manifest, inputs: { ...params.manifest.inputs, "crates:dep": "^0.3.0" } };
    expect((await rejectsWith(instantiate({ ...params, manifest: narrowed }), ERR_INSTANTIATE_LOCK_MISMATCH)).message).to.contain("0.2.0");
    // a dependency's edges that its published pkg.toml does not declare
    const lock: Lockfile = JSON.parse(JSON.stringify(params.lock));
    lock.dependencies["crates:other"].inputs = ["crates:util"];
    const undeclared = await rejectsWith(instantiate({ ...params, lock }), ERR_INSTANTIATE_LOCK_MISMATCH);
    expect(undeclared.message).to.contain("crates/other:1.0.0").and.to.contain("does not declare");
    // a meta CID that is another package's pkg.toml
    const swapped: Lockfile = JSON.parse(JSON.stringify(params.lock));
    swapped.dependencies["crates:other"].meta = published.get("crates:util@1.1.0")!.meta;
    const meta = await rejectsWith(instantiate({ ...params, lock: swapped }), ERR_INSTANTIATE_META_MISMATCH);
    expect(meta.message).to.contain("crates/util:1.1.0");
  });

  it("instantiates a package directory with its pkg.lock, and refuses a pkg.lock made for another pkg.toml", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "chainpkg-instantiate-"));
    try {
      const manifest: Manifest = { ...manifestOf({ name: "hello", version: "1.0.0", ...HELLO }), builder: HELLO.builder, args: HELLO.args, src: ["README", "src/*.rs"] };
      const text = serializeManifest(manifest);
      await writeFile(path.join(dir, "pkg.toml"), text);
      await writeFile(path.join(dir, "README"), "hello\n");
      await mkdir(path.join(dir, "src"));
      await writeFile(path.join(dir, "src", "main.rs"), "fn main() {}\n");
      const manifestCid = (await world.content.putBytes(text)).toString();
      const { lock } = await resolveLock({
        manifest, manifestCid, client: world.client, content: world.content, block: await world.client.blockNumber(), chain: { chainId: 31337, registry: world.registry },
      });
      await writeLockfile(path.join(dir, "pkg.lock"), lock);
      const result = await instantiateDirectory({ dir, content: world.content });
      expect(result.meta.toString()).to.equal(lock.package);
      // the src CID is the one publish would compute for the same files
      const src = await world.content.putTree([{ path: "README", content: "hello\n" }, { path: "src/main.rs", content: "fn main() {}\n" }]);
      expect(result.src.toString()).to.equal(src.toString());
      const direct = await instantiate({ lock, manifest, src, content: world.content });
      expect(result.root.toString()).to.equal(direct.root.toString());
      // editing pkg.toml (even a comment) makes the lock stale
      await appendFile(path.join(dir, "pkg.toml"), "# edited\n");
      const stale = await rejectsWith(instantiateDirectory({ dir, content: world.content }), ERR_INSTANTIATE_STALE_LOCK);
      expect(stale.hint).to.contain("pkg lock");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("instantiates a repository lock: same derivations as through a pkg.lock, and each failure named", async () => {
    await publish({ name: "app", version: "1.0.0", inputs: { "crates:hello": "*" } });
    await publish({ name: "hello", version: "1.0.0", ...HELLO });
    const { lock } = await lockRepository({ client: world.client, name: "crates" });
    expect(Object.keys(lock.packages).sort()).to.deep.equal(["app", "dep", "hello", "other", "out", "tool", "util"]);
    const result = await instantiateRepository({ lock, content: world.content });
    expect([...result.derivations.keys()].sort()).to.deep.equal(["dep", "other", "out", "tool", "util"]);
    // hello needs nixpkgs and flakes packages the crates repository does not pin; app fails through it
    expect(result.failures.map((f) => [f.name, f.error.code])).to.deep.equal([
      ["app", ERR_INSTANTIATE_INPUT_FAILED],
      ["hello", ERR_INSTANTIATE_INPUT_NOT_LOCKED],
    ]);
    expect(result.failures[1].error.message).to.match(/crates\/hello:1\.0\.0: its meta-input (flakes:meta-rustc|nixpkgs:cargo) is not pinned/);
    expect(result.failures[0].error.message).to.contain("crates/hello:1.0.0");
    // a package version with the same inputs is the same derivation, however it was locked
    const viaPkgLock = await instantiate(await locked({ inputs: { "crates:dep": "0.2" } }));
    expect(result.derivations.get("dep")!.cid.toString()).to.equal(viaPkgLock.derivations.get("crates:dep")!.cid.toString());
    // pins: the tops only (dep is below nothing here, util is below dep)
    const pins = (await world.content.pins()).map(String);
    expect(pins).to.include(result.derivations.get("dep")!.cid.toString());
    expect(pins).to.not.include(result.derivations.get("util")!.cid.toString());
    const stored: Derivation = await readDerivation(world.content, result.derivations.get("util")!.cid);
    expect(stored.name).to.equal("util-1.1.0");
  });

  it("with resolve, locks a package's inputs of other repositories at the repo.lock's block, the repository's own pins kept", async () => {
    const { lock } = await lockRepository({ client: world.client, name: "crates" });
    await publish({ repository: "nixpkgs", name: "cargo", version: "1.81.0" }, { "bin/cargo": "#!/bin/sh\n" }); // after the lock's block
    const result = await instantiateRepository({ lock, content: world.content, pin: false, resolve: { client: world.client, chain: { chainId: 31337, registry: world.registry } } });
    expect(result.failures.map((f) => [f.name, f.error.code])).to.deep.equal([]);
    const drv = (name: string) => result.derivations.get(name)!;
    const hello = drv("hello").derivation;
    expect(Object.keys(hello.inputDrvs).sort()).to.deep.equal(["cargo", "dep", "meta-rustc", "other", "rustc"]);
    expect(hello.inputDrvs.dep.drv.toString()).to.equal(drv("dep").cid.toString());
    expect((await readDerivation(world.content, hello.inputDrvs.cargo.drv)).name).to.equal("cargo-1.80.0");
    expect(drv("app").derivation.inputDrvs.hello.drv.toString()).to.equal(drv("hello").cid.toString());
  });

  it("reports inputs outside a repository lock's ranges and cycles among its packages", async () => {
    const meta = async (m: Manifest) => (await world.content.putBytes(serializeManifest(m), { pin: true })).toString();
    const src = (await world.content.putTree([{ path: "README", content: "x\n" }])).toString();
    const a = manifestOf({ repository: "loop", name: "a", version: "1.0.0", inputs: { "loop:b": "*" } });
    const b = manifestOf({ repository: "loop", name: "b", version: "1.0.0", inputs: { "loop:a": "*" } });
    const c = manifestOf({ repository: "loop", name: "c", version: "1.0.0", inputs: { "loop:d": "^2.0.0" } });
    const d = manifestOf({ repository: "loop", name: "d", version: "1.0.0" });
    const lock: RepositoryLock = {
      name: "loop", block: 1, chainId: 31337, registry: world.registry,
      packages: Object.fromEntries(await Promise.all([a, b, c, d].map(async (m) => [m.name, { version: m.version, meta: await meta(m), src }] as const))),
    };
    const result = await instantiateRepository({ lock, content: world.content, pin: false });
    expect([...result.derivations.keys()]).to.deep.equal(["d"]);
    expect(result.failures.map((f) => [f.name, f.error.code])).to.deep.equal([
      ["a", ERR_INSTANTIATE_CYCLE],
      ["b", ERR_INSTANTIATE_CYCLE],
      ["c", ERR_INSTANTIATE_LOCK_MISMATCH],
    ]);
    expect(result.failures[0].error.message).to.contain("loop/a:1.0.0 -> loop/b:1.0.0 -> loop/a:1.0.0");
    expect(result.failures[2].error.message).to.contain('"^2.0.0"').and.to.contain("1.0.0");
    expect(CID.parse(result.derivations.get("d")!.cid.toString()).code).to.equal(0x71);
  });
});
