import { expect } from "chai";
import { serializeManifest } from "../../src/manifest";
import { parseLockfile, serializeLockfile, type Lockfile } from "../../src/lockfile";
import {
  ERR_RESOLVE_CYCLE,
  ERR_RESOLVE_LOCK_MISMATCH,
  ERR_RESOLVE_NO_MATCH,
  ERR_RESOLVE_UNKNOWN_PACKAGE,
  resolveLock,
  type ResolveParams,
} from "../../src/resolve";
import { rejectsWith } from "../helpers/errors";
import { createWorld, manifestOf, publishTestPackage, type TestPackage, type World } from "../helpers/registry";

describe("resolveLock (real node, real content store)", function () {
  this.timeout(180_000);
  let world: World;

  before(async () => {
    world = await createWorld();
    // crates:dep 0.2.0, 0.2.1 (yanked), 0.3.0; crates:util 1.0.0, 1.1.0; crates:dep depends on util
    for (const p of [
      { name: "util", version: "1.0.0" },
      { name: "util", version: "1.1.0" },
      { name: "util", version: "2.0.0-beta.1" },
      { name: "dep", version: "0.2.0", inputs: { "crates:util": "^1.0.0" } },
      { name: "dep", version: "0.2.1", inputs: { "crates:util": "^1.0.0" } },
      { name: "dep", version: "0.3.0", inputs: { "crates:util": "^1.1.0" } },
      { name: "cc", version: "1.0.0", nativeInputs: { "crates:util": "1.0.0" } },
      { name: "meta-tool", repository: "flakes", version: "0.1.0" },
    ] as TestPackage[]) {
      await publishTestPackage(world, p);
    }
    await world.client.setYanked({ repository: "crates", name: "dep" }, "0.2.1", true);
  });

  after(async () => world?.close());

  async function resolve(root: TestPackage, extra: Partial<ResolveParams> = {}) {
    const manifest = manifestOf(root);
    const manifestCid = (await world.content.putBytes(serializeManifest(manifest))).toString();
    const block = extra.block ?? (await world.client.blockNumber());
    return resolveLock({
      manifest,
      manifestCid,
      client: world.client,
      content: world.content,
      block,
      chain: { chainId: 31337, registry: world.registry },
      ...extra,
    });
  }


  const hello = (inputs: Record<string, string>, more: Partial<TestPackage> = {}): TestPackage => ({ name: "hello", version: "1.0.0", inputs, ...more });

  it("picks the highest non-yanked version in range, transitively and for every input kind", async () => {
    const { lock, warnings, levels } = await resolve(
      hello({ "crates:dep": "0.2" }, { nativeInputs: { "crates:cc": "*" }, metaInputs: { "flakes:meta-tool": "*" } }),
    );
    expect(warnings).to.deep.equal([]);
    expect(levels).to.equal(2); // hello's inputs, then util (the inputs of dep and cc)
    expect(lock.inputs).to.deep.equal(["crates:dep"]);
    expect(lock.nativeInputs).to.deep.equal(["crates:cc"]);
    expect(lock.metaInputs).to.deep.equal(["flakes:meta-tool"]);
    expect(lock.dependencies["crates:dep"].version).to.equal("0.2.0"); // 0.2.1 is yanked
    // dep asks ^1.0.0 (→ 1.1.0), cc asks exactly 1.0.0: two versions of util, keyed by version
    expect(Object.keys(lock.dependencies).sort()).to.deep.equal(
      ["crates:cc", "crates:dep", "crates:util@1.0.0", "crates:util@1.1.0", "flakes:meta-tool"].sort(),
    );
    expect(lock.dependencies["crates:dep"].inputs).to.deep.equal(["crates:util@1.1.0"]);
    expect(lock.dependencies["crates:cc"].nativeInputs).to.deep.equal(["crates:util@1.0.0"]);
    // what the lock records is what the chain holds
    const onChain = await world.client.getPackage({ repository: "crates", name: "dep" });
    const v020 = onChain!.versions.find((v) => v.version === "0.2.0")!;
    expect([lock.dependencies["crates:dep"].meta, lock.dependencies["crates:dep"].src]).to.deep.equal([v020.meta, v020.src]);
    // and the lock is a valid lock file
    expect(parseLockfile(serializeLockfile(lock))).to.deep.equal(lock);
  });

  it("shares one version between dependents whose ranges allow it", async () => {
    const { lock } = await resolve(hello({ "crates:dep": "^0.3.0", "crates:util": ">=1.0.0 <3.0.0" }));
    expect(Object.keys(lock.dependencies).sort()).to.deep.equal(["crates:dep", "crates:util"]);
    expect(lock.dependencies["crates:util"].version).to.equal("1.1.0"); // not the 2.0.0 pre-release
  });

  it("gives the same lock at the recorded block after newer versions appear", async () => {
    const first = await resolve(hello({ "crates:dep": "*" }));
    await publishTestPackage(world, { name: "dep", version: "0.4.0", inputs: { "crates:util": "^1.0.0" } });
    const again = await resolve(hello({ "crates:dep": "*" }), { block: first.lock.block });
    expect(serializeLockfile(again.lock)).to.equal(serializeLockfile(first.lock));
    const now = await resolve(hello({ "crates:dep": "*" }));
    expect(now.lock.dependencies["crates:dep"].version).to.equal("0.4.0");
  });

  it("keeps previous lock entries that still satisfy, and re-resolves them on update", async () => {
    const old = (await resolve(hello({ "crates:dep": "*" }), { block: (await world.client.blockNumber()) - 1 })).lock; // before 0.4.0
    expect(old.dependencies["crates:dep"].version).to.equal("0.3.0");
    const kept = await resolve(hello({ "crates:dep": "*" }), { previous: old });
    expect(kept.lock.dependencies["crates:dep"].version).to.equal("0.3.0");
    const updated = await resolve(hello({ "crates:dep": "*" }), { previous: old, update: ["crates:dep"] });
    expect(updated.lock.dependencies["crates:dep"].version).to.equal("0.4.0");
    const all = await resolve(hello({ "crates:dep": "*" }), { previous: old, update: "all" });
    expect(all.lock.dependencies["crates:dep"].version).to.equal("0.4.0");
    // a range that no longer fits the kept version moves off it
    const narrowed = await resolve(hello({ "crates:dep": "^0.2.0" }), { previous: old });
    expect(narrowed.lock.dependencies["crates:dep"].version).to.equal("0.2.0");
  });

  it("keeps a locked version that was yanked since, with a warning", async () => {
    const locked = (await resolve(hello({ "crates:util": "^2.0.0-beta.1" }))).lock;
    expect(locked.dependencies["crates:util"].version).to.equal("2.0.0-beta.1");
    await world.client.setYanked({ repository: "crates", name: "util" }, "2.0.0-beta.1", true);
    const again = await resolve(hello({ "crates:util": "^2.0.0-beta.1" }), { previous: locked });
    expect(again.lock.dependencies["crates:util"].version).to.equal("2.0.0-beta.1");
    expect(again.warnings.join("\n")).to.match(/crates\/util:2\.0\.0-beta\.1 is yanked/);
    // a fresh resolution never picks it
    const error = await rejectsWith(resolve(hello({ "crates:util": "^2.0.0-beta.1" })), ERR_RESOLVE_NO_MATCH);
    expect(error.message).to.contain("yanked: 2.0.0-beta.1");
  });

  it("refuses a lock whose CIDs differ from the registry's", async () => {
    const good = (await resolve(hello({ "crates:dep": "^0.3.0" }))).lock;
    const forged: Lockfile = structuredClone(good);
    forged.dependencies["crates:dep"].src = forged.dependencies["crates:util"].src;
    await rejectsWith(resolve(hello({ "crates:dep": "^0.3.0" }), { previous: forged }), ERR_RESOLVE_LOCK_MISMATCH);
  });

  it("names every dependent when no version satisfies, and unknown packages", async () => {
    const error = await rejectsWith(resolve(hello({ "crates:dep": "^9.0.0" })), ERR_RESOLVE_NO_MATCH);
    expect(error.message).to.match(/no version of crates:dep satisfies "\^9\.0\.0" \(needed by crates\/hello:1\.0\.0/);
    expect(error.message).to.contain("available: 0.4.0, 0.3.0, 0.2.0");
    const unknown = await rejectsWith(resolve(hello({ "crates:nope": "*" })), ERR_RESOLVE_UNKNOWN_PACKAGE);
    expect(unknown.message).to.contain("crates:nope is not in the registry (needed by crates/hello:1.0.0");
  });

  it("reports cycles with their path", async () => {
    await publishTestPackage(world, { name: "ping", version: "1.0.0", inputs: { "crates:pong": "*" } });
    await publishTestPackage(world, { name: "pong", version: "1.0.0", inputs: { "crates:ping": "*" } });
    const error = await rejectsWith(resolve(hello({ "crates:ping": "*" })), ERR_RESOLVE_CYCLE);
    expect(error.message).to.contain("crates/ping:1.0.0 → crates/pong:1.0.0 → crates/ping:1.0.0");
  });

  it("reads the registry once per graph level, not once per package", async () => {
    // a chain of depth 6 with 5 leaves per level
    for (let level = 5; level >= 0; level--) {
      const inputs: Record<string, string> = {};
      for (let j = 0; j < 5; j++) {
        const name = `l${level}-${j}`;
        await publishTestPackage(world, { name, version: "1.0.0", inputs: level < 5 ? { [`crates:l${level + 1}-${j}`]: "*" } : {} });
        inputs[`crates:${name}`] = "*";
      }
      if (level === 0) {
        const block = await world.client.blockNumber();
        const before = world.client.provider.requests;
        const { lock, levels } = await resolve(hello(inputs), { block });
        expect(levels).to.equal(6);
        expect(Object.keys(lock.dependencies)).to.have.length(30);
        expect(world.client.provider.requests - before).to.equal(6);
      }
    }
  });
});
