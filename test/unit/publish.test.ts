/**
 * publishPackage against a real node and content store, on hostile input (security issue 10): a version that
 * differs from a published one only in build metadata, an oversized pkg.toml, and a hostile meta published
 * with another client. Each is refused with a clear one-line error, before any transaction where the CLI can
 * tell, and by the registry itself where it cannot.
 */
import { expect } from "chai";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { ERR_CHAIN_VERSION_EXISTS } from "../../src/chain/errors";
import { ERR_MANIFEST_TOO_LARGE, serializeManifest } from "../../src/manifest";
import { ERR_PUBLISH_VERSION_EXISTS, publishPackage } from "../../src/publish";
import { ERR_RESOLVE_BAD_META, resolveLock } from "../../src/resolve";
import { rejectsWith } from "../helpers/errors";
import { createWorld, manifestOf, publishTestPackage, type World } from "../helpers/registry";

describe("publishPackage: hostile input (real node, real content store)", function () {
  this.timeout(180_000);
  let world: World;
  let dir: string;

  before(async () => {
    world = await createWorld();
    await world.client.createRepository("crates", false);
    dir = path.join(world.dir, "pkg");
    await mkdir(dir);
    await writeFile(path.join(dir, "README"), "hello\n");
  });

  after(async () => world?.close());

  /** Writes ./pkg.toml as text: serializeManifest itself refuses the oversized values these tests need. */
  async function writeManifest(version: string, license = "MIT"): Promise<void> {
    const text = serializeManifest(manifestOf({ name: "hello", version }));
    await writeFile(path.join(dir, "pkg.toml"), text.replace('license = "MIT"', `license = ${JSON.stringify(license)}`));
  }

  const publish = () => publishPackage({ dir, client: world.client, content: world.content });

  async function versionsOnChain(): Promise<string[]> {
    return ((await world.client.getPackage({ repository: "crates", name: "hello" }))?.versions ?? []).map((v) => v.version);
  }

  it("refuses 1.0.0+build next to 1.0.0 before sending anything, with one line naming both", async () => {
    await writeManifest("1.0.0");
    await publish();
    for (const version of ["1.0.0+build", "1.0.0+1.0.0"]) {
      await writeManifest(version);
      const block = await world.client.blockNumber();
      const error = await rejectsWith(publish(), ERR_PUBLISH_VERSION_EXISTS);
      expect(error.message).to.equal(
        `crates/hello:${version} is the version 1.0.0 under semver, and crates/hello:1.0.0 is already published; ` +
          "versions that differ only in build metadata (+...) are one version",
      );
      expect(error.details).to.include({ existing: "1.0.0" });
      expect(error.hint).to.match(/^bump \[package\]\.version/);
      expect(await world.client.blockNumber(), "no transaction").to.equal(block);
    }
    // a new version with build metadata is fine; then neither its bare form nor another build of it is
    await writeManifest("1.1.0+linux");
    await publish();
    for (const version of ["1.1.0", "1.1.0+windows"]) {
      await writeManifest(version);
      const error = await rejectsWith(publish(), ERR_PUBLISH_VERSION_EXISTS);
      expect(error.message).to.contain("crates/hello:1.1.0+linux is already published");
    }
    expect(await versionsOnChain()).to.deep.equal(["1.1.0+linux", "1.0.0"]);
  });

  it("is refused by the registry too, for a client that does not check (ERR_CHAIN_VERSION_EXISTS)", async () => {
    const meta = (await world.content.putBytes("whatever", { pin: true })).toString();
    const error = await rejectsWith(world.client.publish({ repository: "crates", name: "hello" }, "1.0.0+evil", meta, meta), ERR_CHAIN_VERSION_EXISTS);
    expect(error.message).to.contain("1.0.0+evil is 1.0.0 under semver");
    expect(error.details).to.include({ version: "1.0.0+evil", withoutBuild: "1.0.0" });
    expect(await versionsOnChain()).to.deep.equal(["1.1.0+linux", "1.0.0"]);
  });

  it("refuses a pkg.toml with a 5 MB license before anything is stored or sent", async () => {
    await writeManifest("2.0.0", "MIT OR ".repeat(750_000) + "MIT");
    expect((await readFile(path.join(dir, "pkg.toml"))).length).to.be.above(5_000_000);
    const block = await world.client.blockNumber();
    const error = await rejectsWith(publish(), ERR_MANIFEST_TOO_LARGE);
    expect(error.message).to.match(/pkg\.toml: a pkg\.toml of \d+ bytes or more is over the limit of 64 KiB$/);
    expect(await world.client.blockNumber()).to.equal(block);
    // under the file's limit, the license's own limit (1 KiB)
    await writeManifest("2.0.0", "MIT OR ".repeat(200) + "MIT");
    const field = await rejectsWith(publish(), ERR_MANIFEST_TOO_LARGE);
    expect(field.message).to.match(/pkg\.toml:\d+: \[package\]\.license: is 1403 bytes long \(at most 1024\): "MIT OR MIT/);
    expect(field.message.length).to.be.below(200);
    expect(await versionsOnChain()).to.deep.equal(["1.1.0+linux", "1.0.0"]);
  });

  it("refuses a hostile meta published with another client when it is read back, with a short error", async () => {
    // 1 MB of pkg.toml: valid TOML, published straight to the chain
    const hostile = `${serializeManifest(manifestOf({ name: "hostile", version: "1.0.0" }))}# ${"x".repeat(1024 * 1024)}\n`;
    const meta = (await world.content.putBytes(hostile, { pin: true })).toString();
    const src = (await world.content.putTree([{ path: "README", content: "x\n" }], { pin: true })).toString();
    await world.client.registerPackage({ repository: "crates", name: "hostile" });
    await world.client.publish({ repository: "crates", name: "hostile" }, "1.0.0", meta, src);
    await publishTestPackage(world, { name: "fine", version: "1.0.0" });

    const root = manifestOf({ name: "root", version: "1.0.0", inputs: { "crates:hostile": "*", "crates:fine": "*" } });
    const manifestCid = (await world.content.putBytes(serializeManifest(root))).toString();
    const error = await rejectsWith(
      resolveLock({
        manifest: root,
        manifestCid,
        client: world.client,
        content: world.content,
        block: await world.client.blockNumber(),
        chain: { chainId: 31337, registry: world.registry },
      }),
      ERR_RESOLVE_BAD_META,
    );
    expect(error.message).to.contain(`crates/hostile:1.0.0 (meta ${meta}): a pkg.toml of`).and.contain("over the limit of 64 KiB");
    expect(error.message).not.to.match(/\n/);
    expect(error.message.length).to.be.below(400);
  });
});
