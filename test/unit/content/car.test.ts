import { createReadStream, createWriteStream } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { expect } from "chai";
import { CID } from "multiformats/cid";
import { isPkgError } from "../../../src/errors";
import { CHUNK_SIZE, openEmbeddedStore, type EmbeddedContentStore } from "../../../src/content";
import { collect, pseudoRandomBytes, tempDir } from "./helpers";

async function readCar(bytes: Uint8Array): Promise<{ roots: string[]; blocks: Array<{ cid: CID; bytes: Uint8Array }> }> {
  const { CarReader } = await import("@ipld/car/reader");
  const reader = await CarReader.fromBytes(bytes);
  const blocks: Array<{ cid: CID; bytes: Uint8Array }> = [];
  for await (const block of reader.blocks()) blocks.push({ cid: block.cid as CID, bytes: block.bytes });
  return { roots: (await reader.getRoots()).map(String), blocks };
}

describe("content: CAR export and import", function () {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let source: EmbeddedContentStore;
  let target: EmbeddedContentStore;
  let root: CID;
  const big = pseudoRandomBytes(3 * CHUNK_SIZE + 10, 21);

  beforeEach(async function () {
    dir = await tempDir();
    source = await openEmbeddedStore({ directory: join(dir.path, "source") });
    target = await openEmbeddedStore({ directory: join(dir.path, "target") });
    root = await source.putTree([
      { path: "big.bin", content: big },
      { path: "docs/readme.md", content: "# readme\n" },
      { path: "docs/copy.md", content: "# readme\n" }, // same block twice in the DAG
    ]);
  });
  afterEach(async function () {
    await dir.remove();
  });

  it("exports a CARv1 with the root in its header and every block once, in DFS order", async function () {
    const car = await readCar(await collect(source.exportCar(root)));
    expect(car.roots).to.deep.equal([root.toString()]);
    expect(car.blocks[0].cid.toString()).to.equal(root.toString());
    const cids = car.blocks.map((block) => block.cid.toString());
    expect(new Set(cids).size).to.equal(cids.length);
    // root, big.bin (root + 4 leaves), docs, readme (shared by both names)
    expect(cids).to.have.length(1 + 5 + 1 + 1);
    // DFS: big.bin's node comes right after the root and is followed by its own leaves
    const bigCid = await source.putBytes(big);
    expect(cids[1]).to.equal(bigCid.toString());
  });

  it("repeats shared blocks with dups and stops after the root with scope=block", async function () {
    const withDups = await readCar(await collect(source.exportCar(root, { dups: true })));
    expect(withDups.blocks).to.have.length(9);
    const rootOnly = await readCar(await collect(source.exportCar(root, { scope: "block" })));
    expect(rootOnly.blocks.map((block) => block.cid.toString())).to.deep.equal([root.toString()]);
  });

  it("imports a CAR file into another store, which then holds the whole DAG (and can pin it)", async function () {
    const file = join(dir.path, "tree.car");
    await pipeline(Readable.from(source.exportCar(root)), createWriteStream(file));
    expect(await target.has(root)).to.equal(false);
    const roots = await target.importCar(createReadStream(file), { pin: true });
    expect(roots.map(String)).to.deep.equal([root.toString()]);
    expect(await target.has(root)).to.equal(true);
    expect((await target.pins()).map(String)).to.deep.equal([root.toString()]);
    await target.getTree(root, join(dir.path, "out"));
    expect((await readdir(join(dir.path, "out"))).sort()).to.deep.equal(["big.bin", "docs"]);
  });

  it("verifies every block on import: a flipped byte in a CAR is rejected, naming the block", async function () {
    const bytes = await collect(source.exportCar(root));
    const car = await readCar(bytes);
    const victim = car.blocks[3];
    // flip a byte inside that block's data, located by searching the CAR for its bytes
    const at = bytes.indexOf(Buffer.from(victim.bytes)) + Math.floor(victim.bytes.length / 2);
    const damaged = Buffer.from(bytes);
    damaged[at] ^= 0xff;
    let error: unknown;
    try {
      await target.importCar([damaged]);
    } catch (caught) {
      error = caught;
    }
    expect(isPkgError(error, "ERR_CONTENT_INTEGRITY")).to.equal(true);
    expect((error as Error).message).to.contain(victim.cid.toString());
    expect(await target.hasBlock(victim.cid)).to.equal(false);
  });

  it("ends the stream with an error when a block of the DAG is missing", async function () {
    const partial = await openEmbeddedStore({ directory: join(dir.path, "partial") });
    const car = await readCar(await collect(source.exportCar(root)));
    for (const block of car.blocks.slice(0, 3)) await partial.putBlock(block.cid, block.bytes);
    let error: unknown;
    try {
      await collect(partial.exportCar(root));
    } catch (caught) {
      error = caught;
    }
    expect(isPkgError(error, "ERR_CONTENT_NOT_FOUND")).to.equal(true);
  });

  it("stops producing when the reader stops early", async function () {
    for await (const chunk of source.exportCar(root)) {
      expect(chunk.byteLength).to.be.greaterThan(0);
      break;
    }
    // and the store keeps working afterwards
    expect(await source.has(root)).to.equal(true);
  });
});
