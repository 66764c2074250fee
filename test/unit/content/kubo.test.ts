/**
 * The kubo backend against a real Kubo daemon (scripts/engines.sh builds it from the Go module proxy), with a
 * repo of its own and its API on 127.0.0.1. Its CIDs for `add --cid-version=1 --raw-leaves` must match the
 * embedded store's, for files and for trees (HAMT-sharded directories included).
 */
import { chmod, mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { expect } from "chai";
import { base32upper } from "multiformats/bases/base32";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { sha256 } from "multiformats/hashes/sha2";
import { isPkgError } from "../../../src/errors";
import {
  CHUNK_SIZE,
  MAX_CHILDREN_PER_NODE,
  openEmbeddedStore,
  openKuboStore,
  type EmbeddedContentStore,
  type KuboContentStore,
} from "../../../src/content";
import { collect, pseudoRandomBytes, tempDir } from "./helpers";
import { requireEngine, startKubo, type KuboNode } from "../../helpers/engines";

describe("content: kubo backend (against a real Kubo daemon)", function () {
  this.timeout(120_000);
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let node: KuboNode;
  let kubo: KuboContentStore;
  let embedded: EmbeddedContentStore;

  before(async function () {
    this.timeout(40 * 60_000); // the first run on a machine builds Kubo
    const ipfs = requireEngine(this, "ipfs");
    dir = await tempDir("content-kubo-");
    node = await startKubo(ipfs, join(dir.path, "kubo-repo"));
    kubo = openKuboStore({ url: node.api });
    embedded = await openEmbeddedStore({ directory: join(dir.path, "embedded") });
  });
  after(async function () {
    await node?.stop();
    await dir?.remove();
  });

  it("talks to a server bound to 127.0.0.1", function () {
    expect(node.api).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(JSON.parse(node.ipfs(["version", "--enc=json"])).Version).to.match(/^0\.\d+\.\d+/);
  });

  describe("identical CIDs from both backends", function () {
    const sizes = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 7 * CHUNK_SIZE + 3, MAX_CHILDREN_PER_NODE * CHUNK_SIZE + 1];
    for (const size of sizes) {
      it(`for a ${size}-byte file`, async function () {
        const bytes = pseudoRandomBytes(size, size + 99);
        const [fromKubo, fromEmbedded] = [await kubo.putBytes(bytes), await embedded.putBytes(bytes)];
        expect(fromKubo.toString()).to.equal(fromEmbedded.toString());
      });
    }

    it("for 'hello world': the known vector", async function () {
      expect((await kubo.putBytes("hello world")).toString()).to.equal("bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e");
    });

    it("for a directory tree from disk (nested, empty directory, hidden file, multi-block file)", async function () {
      const src = join(dir.path, "tree");
      await mkdir(join(src, "src", "nested", "deeper"), { recursive: true });
      await mkdir(join(src, "empty"), { recursive: true });
      await writeFile(join(src, "README.md"), "# a package\n");
      await writeFile(join(src, ".hidden"), "dot");
      await writeFile(join(src, "src", "main.rs"), 'fn main() { println!("hi"); }\n');
      await writeFile(join(src, "src", "nested", "deeper", "blob.bin"), pseudoRandomBytes(3 * CHUNK_SIZE + 17, 5));
      await writeFile(join(src, "src", "nested", "ünïcode name.txt"), "names are UTF-8");
      const [fromKubo, fromEmbedded] = [await kubo.putDirectory(src), await embedded.putDirectory(src)];
      expect(fromKubo.toString()).to.equal(fromEmbedded.toString());
      expect(fromKubo.toString()).to.match(/^bafybei/);
    });

    it("for a tree given as entries, and for the empty tree", async function () {
      const entries = () => [
        { path: "bin/tool", content: "#!/bin/sh\n" },
        { path: "lib/libx.so", content: pseudoRandomBytes(CHUNK_SIZE + 1, 8) },
        { path: "share/doc", directory: true as const },
      ];
      expect((await kubo.putTree(entries())).toString()).to.equal((await embedded.putTree(entries())).toString());
      expect((await kubo.putTree([])).toString()).to.equal((await embedded.putTree([])).toString());
    });

    for (const width of [999, 5000]) {
      it(`for a wide flat directory (${width} entries${width > 1000 ? ": a HAMT shard" : ""})`, async function () {
        const entries = () => Array.from({ length: width }, (_, i) => ({ path: `wide/entry-${String(i).padStart(4, "0")}.txt`, content: `${i}\n` }));
        const root = await kubo.putTree(entries());
        expect(root.toString()).to.equal((await embedded.putTree(entries())).toString());
        if (width > 1000) {
          const wide = JSON.parse(node.ipfs(["files", "stat", "--enc=json", `/ipfs/${root.toString()}/wide`])) as { Type: string };
          expect(wide.Type).to.equal("directory");
          const block = node.ipfs(["dag", "get", `${root.toString()}/wide`]);
          expect(JSON.parse(block).Data["/"].bytes, "the directory is a HAMT shard (UnixFS type 5)").to.be.a("string");
        }
      });
    }
  });

  describe("reads, writes and pins through kubo", function () {
    it("reads back bytes and trees, verified block by block", async function () {
      const bytes = pseudoRandomBytes(5 * CHUNK_SIZE + 1, 61);
      const cid = await kubo.putBytes(bytes);
      expect(Buffer.compare(await collect(kubo.getBytes(cid)), Buffer.from(bytes))).to.equal(0);
      const root = await kubo.putTree([
        { path: "a/b.bin", content: bytes },
        { path: "c.txt", content: "c" },
      ]);
      const out = join(dir.path, "kubo-out");
      await kubo.getTree(root, out);
      expect(Buffer.compare(await readFile(join(out, "a", "b.bin")), Buffer.from(bytes))).to.equal(0);
      expect(await readFile(join(out, "c.txt"), "utf8")).to.equal("c");
      expect(await kubo.has(root)).to.equal(true);
    });

    it("puts single blocks, checked against their CID first", async function () {
      const bytes = new TextEncoder().encode("a block put through block/put");
      const cid = CID.createV1(raw.code, await sha256.digest(bytes));
      await kubo.putBlock(cid, bytes);
      expect(await kubo.hasBlock(cid)).to.equal(true);
      expect(Buffer.compare(await kubo.getBlock(cid), bytes)).to.equal(0);
      let error: unknown;
      try {
        await kubo.putBlock(cid, new TextEncoder().encode("other bytes"));
      } catch (caught) {
        error = caught;
      }
      expect(isPkgError(error, "ERR_CONTENT_INTEGRITY")).to.equal(true);
    });

    it("pins and unpins recursively, and adds with pin: true", async function () {
      const a = await kubo.putBytes(pseudoRandomBytes(2 * CHUNK_SIZE, 71));
      const b = await kubo.putTree([{ path: "x", content: "pinned at add" }], { pin: true });
      await kubo.pin(a);
      const pinned = (await kubo.pins()).map(String);
      expect(pinned).to.include(a.toString());
      expect(pinned).to.include(b.toString());
      await kubo.unpin(a);
      await kubo.unpin(a); // not pinned any more: no error, as in the embedded store
      expect((await kubo.pins()).map(String)).to.not.include(a.toString());
    });

    it("moves a DAG between backends as a CAR, verified on both sides", async function () {
      const root = await embedded.putTree([
        { path: "only-in-embedded.bin", content: pseudoRandomBytes(2 * CHUNK_SIZE + 9, 81) },
        { path: "note", content: "exported from the embedded store" },
      ]);
      const roots = await kubo.importCar(embedded.exportCar(root), { pin: true });
      expect(roots.map(String)).to.deep.equal([root.toString()]);
      expect((await kubo.pins()).map(String)).to.include(root.toString());
      const back = await openEmbeddedStore({ directory: join(dir.path, "roundtrip") });
      await back.importCar(kubo.exportCar(root));
      expect(await back.has(root)).to.equal(true);
    });

    it("does not trust the daemon: a block corrupted in its repo is an integrity error naming the CID", async function () {
      const bytes = pseudoRandomBytes(2 * CHUNK_SIZE, 91);
      const cid = await kubo.putBytes(bytes);
      const leaf = CID.createV1(raw.code, await sha256.digest(bytes.subarray(0, CHUNK_SIZE)));
      // Kubo keeps blocks in flatfs: <repo>/blocks/<shard>/<base32 multihash, no multibase prefix>.data
      const key = `${base32upper.baseEncode(leaf.multihash.bytes)}.data`;
      const blocksDir = join(node.repo, "blocks");
      let file: string | undefined;
      for (const shard of await readdir(blocksDir)) {
        const candidate = join(blocksDir, shard, key);
        if (await stat(candidate).then(() => true, () => false)) file = candidate;
      }
      expect(file, "leaf block file in the Kubo repo").to.not.equal(undefined);
      await chmod(file as string, 0o644);
      const stored = await readFile(file as string);
      stored[100] ^= 0x40;
      await writeFile(file as string, stored);

      let error: unknown;
      try {
        await collect(kubo.getBytes(cid));
      } catch (caught) {
        error = caught;
      }
      expect(isPkgError(error, "ERR_CONTENT_INTEGRITY")).to.equal(true);
      expect((error as Error).message).to.contain(leaf.toString());
      const out = join(dir.path, "corrupt-out");
      let treeError: unknown;
      try {
        await kubo.getTree(cid, out);
      } catch (caught) {
        treeError = caught;
      }
      expect(isPkgError(treeError, "ERR_CONTENT_INTEGRITY")).to.equal(true);
      expect(await stat(out).then(() => true, () => false)).to.equal(false);
    });

    it("reports an unreachable daemon as ERR_CONTENT_BACKEND", async function () {
      const nowhere = openKuboStore({ url: "http://127.0.0.1:9" });
      let error: unknown;
      try {
        await nowhere.putBytes("x");
      } catch (caught) {
        error = caught;
      }
      expect(isPkgError(error, "ERR_CONTENT_BACKEND")).to.equal(true);
    });
  });
});
