import { execFileSync } from "node:child_process";
import { mkdir, readdir, readFile, readlink, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { expect } from "chai";
import { exporter } from "ipfs-unixfs-exporter";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { sha256 } from "multiformats/hashes/sha2";
import { isPkgError, type ErrorCode } from "../../../src/errors";
import { CHUNK_SIZE, defaultContentDir, openEmbeddedStore, type EmbeddedContentStore } from "../../../src/content";
import { blockFiles, chunked, collect, corrupt, pseudoRandomBytes, tempDir } from "./helpers";

async function expectError(promise: Promise<unknown>, code: ErrorCode): Promise<Error & { details: Record<string, unknown> }> {
  try {
    await promise;
  } catch (error) {
    expect(isPkgError(error, code), `expected ${code}, got ${String(error)}`).to.equal(true);
    return error as Error & { details: Record<string, unknown> };
  }
  throw new Error(`expected ${code}, but it succeeded`);
}

describe("content: embedded store", function () {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let store: EmbeddedContentStore;

  beforeEach(async function () {
    dir = await tempDir();
    store = await openEmbeddedStore({ directory: join(dir.path, "store") });
  });
  afterEach(async function () {
    await store.close();
    await dir.remove();
  });

  describe("bytes", function () {
    it("round-trips a multi-block file through a stream, never holding it whole", async function () {
      const bytes = pseudoRandomBytes(5 * CHUNK_SIZE + 99, 1);
      const cid = await store.putBytes(chunked(bytes, 70_000));
      const pieces: number[] = [];
      for await (const piece of store.getBytes(cid)) pieces.push(piece.byteLength);
      expect(pieces.length).to.be.greaterThan(1);
      expect(Math.max(...pieces)).to.be.at.most(CHUNK_SIZE);
      expect(Buffer.compare(await collect(store.getBytes(cid)), Buffer.from(bytes))).to.equal(0);
    });

    it("stores each distinct block once (deduplication by multihash)", async function () {
      const block = pseudoRandomBytes(CHUNK_SIZE, 9);
      const twice = new Uint8Array(2 * CHUNK_SIZE);
      twice.set(block, 0);
      twice.set(block, CHUNK_SIZE);
      await store.putBytes(twice);
      // one leaf + one root node
      expect(await blockFiles(store)).to.have.length(2);
    });

    it("writes blocks read-only and leaves no temporary files behind", async function () {
      await store.putBytes(pseudoRandomBytes(3 * CHUNK_SIZE, 3));
      const files = await blockFiles(store);
      expect(files.every((file) => file.endsWith(".data"))).to.equal(true);
      for (const file of files) expect((await stat(file)).mode & 0o222).to.equal(0);
    });

    it("refuses to read a directory as a file", async function () {
      const root = await store.putTree([{ path: "a", content: "x" }]);
      await expectError(collect(store.getBytes(root)), "ERR_CONTENT_UNSUPPORTED");
    });

    it("reports a block that is not there as ERR_CONTENT_NOT_FOUND naming the CID", async function () {
      const other = await openEmbeddedStore({ directory: join(dir.path, "other") });
      const cid = await other.putBytes(pseudoRandomBytes(2 * CHUNK_SIZE, 4));
      const error = await expectError(collect(store.getBytes(cid)), "ERR_CONTENT_NOT_FOUND");
      expect(error.message).to.contain(cid.toString());
      expect(await store.has(cid)).to.equal(false);
      expect(await other.has(cid)).to.equal(true);
    });

    it("checks putBlock bytes against the CID", async function () {
      const good = await store.putBytes("hello world");
      const other = await openEmbeddedStore({ directory: join(dir.path, "other") });
      await expectError(other.putBlock(good, new TextEncoder().encode("hello worlD")), "ERR_CONTENT_INTEGRITY");
      expect(await other.hasBlock(good)).to.equal(false);
      await other.putBlock(good, new TextEncoder().encode("hello world"));
      expect(new TextDecoder().decode(await other.getBlock(good))).to.equal("hello world");
    });
  });

  describe("trees", function () {
    it("round-trips a directory from disk: files, nested and empty directories, symlinks, hidden files", async function () {
      const src = join(dir.path, "src");
      await mkdir(join(src, "bin"), { recursive: true });
      await mkdir(join(src, "share", "empty"), { recursive: true });
      await writeFile(join(src, "bin", "hello"), "#!/bin/sh\necho hello\n");
      await writeFile(join(src, ".hidden"), "dotfile");
      await writeFile(join(src, "share", "big.bin"), pseudoRandomBytes(2 * CHUNK_SIZE + 5, 5));
      await symlink("bin/hello", join(src, "link"));
      const root = await store.putDirectory(src);
      const out = join(dir.path, "out");
      await store.getTree(root, out);
      expect((await readdir(out, { recursive: true })).sort()).to.deep.equal(
        [".hidden", "bin", "bin/hello", "link", "share", "share/big.bin", "share/empty"].sort(),
      );
      expect(await readFile(join(out, "bin", "hello"), "utf8")).to.equal("#!/bin/sh\necho hello\n");
      expect(Buffer.compare(await readFile(join(out, "share", "big.bin")), Buffer.from(pseudoRandomBytes(2 * CHUNK_SIZE + 5, 5)))).to.equal(0);
      expect(await readlink(join(out, "link"))).to.equal("bin/hello");
      expect((await readdir(dir.path)).filter((name) => name.endsWith(".tmp"))).to.deep.equal([]);
    });

    it("gives a tree from entries the same CID as the same tree from disk", async function () {
      const src = join(dir.path, "src");
      await mkdir(join(src, "d", "e"), { recursive: true });
      await writeFile(join(src, "d", "f.txt"), "F");
      await writeFile(join(src, "g.txt"), "G");
      await writeFile(join(dir.path, "g-source"), "G");
      const fromDisk = await store.putDirectory(src);
      const fromEntries = await store.putTree([
        { path: "g.txt", source: join(dir.path, "g-source") },
        { path: "d/e", directory: true },
        { path: "d/f.txt", content: "F" },
      ]);
      expect(fromEntries.toString()).to.equal(fromDisk.toString());
    });

    it("shards a directory past 256 KiB of links into a HAMT and reads it back", async function () {
      this.timeout(60_000);
      const names = Array.from({ length: 4000 }, (_, i) => `entry-${String(i).padStart(6, "0")}-with-a-longish-name.txt`);
      const root = await store.putTree(names.map((name, i) => ({ path: `many/${name}`, content: `${i}` })));
      const storage = { get: (cid: CID) => (async function* () { yield await store.getBlock(cid); })() };
      const many = await exporter(`${root.toString()}/many`, storage);
      expect(many.type === "directory" && many.unixfs.type).to.equal("hamt-sharded-directory");
      await store.getTree(root, join(dir.path, "out"));
      const written = await readdir(join(dir.path, "out", "many"));
      expect(written.sort()).to.deep.equal(names);
      expect(await readFile(join(dir.path, "out", "many", names[1234]), "utf8")).to.equal("1234");
    });

    it("writes a single-file CID to the destination as a file", async function () {
      const cid = await store.putBytes(pseudoRandomBytes(CHUNK_SIZE * 2, 6));
      await store.getTree(cid, join(dir.path, "file.bin"));
      expect((await stat(join(dir.path, "file.bin"))).size).to.equal(CHUNK_SIZE * 2);
    });

    it("rejects unsafe or conflicting paths by name", async function () {
      for (const path of ["/abs", "../up", "a/../b", "a//b", "./a", ""]) {
        const error = await expectError(store.putTree([{ path, content: "x" }]), "ERR_CONTENT_PATH");
        expect(error.details.path).to.equal(path);
      }
      await expectError(store.putTree([{ path: "a", content: "1" }, { path: "a", content: "2" }]), "ERR_CONTENT_PATH");
      await expectError(store.putTree([{ path: "a", content: "1" }, { path: "a/b", content: "2" }]), "ERR_CONTENT_PATH");
    });

    it("refuses special files (here a FIFO) instead of adding something else", async function () {
      const src = join(dir.path, "src");
      await mkdir(src);
      execFileSync("mkfifo", [join(src, "pipe")]);
      await expectError(store.putDirectory(src), "ERR_CONTENT_UNSUPPORTED");
    });

    it("refuses to overwrite an existing destination", async function () {
      const root = await store.putTree([{ path: "a", content: "x" }]);
      await mkdir(join(dir.path, "taken"));
      await expectError(store.getTree(root, join(dir.path, "taken")), "ERR_CONTENT_DESTINATION_EXISTS");
    });
  });

  describe("integrity", function () {
    it("names the corrupted block's CID when a byte flips on disk, and reading it fails", async function () {
      const bytes = pseudoRandomBytes(3 * CHUNK_SIZE, 11);
      const cid = await store.putBytes(bytes);
      // the second leaf
      const leaf = CID.createV1(raw.code, await sha256.digest(bytes.subarray(CHUNK_SIZE, 2 * CHUNK_SIZE)));
      const file = await corrupt(store, leaf);
      const error = await expectError(collect(store.getBytes(cid)), "ERR_CONTENT_INTEGRITY");
      expect(error.message).to.contain(leaf.toString());
      expect(error.details.cid).to.equal(leaf.toString());
      expect(error.details.where).to.equal(file);
    });

    it("leaves nothing at the destination (nor a temporary beside it) when a block is corrupt", async function () {
      const entries = Array.from({ length: 40 }, (_, i) => ({ path: `dir${i % 4}/file${i}`, content: pseudoRandomBytes(1000 + i * 5000, i) }));
      const root = await store.putTree(entries);
      const victim = await store.putBytes(entries[23].content);
      await corrupt(store, victim);
      const parent = join(dir.path, "parent");
      await mkdir(parent);
      const error = await expectError(store.getTree(root, join(parent, "dest")), "ERR_CONTENT_INTEGRITY");
      expect(error.message).to.contain(victim.toString());
      expect(await readdir(parent)).to.deep.equal([]);
    });

    it("detects a corrupted directory node too", async function () {
      const root = await store.putTree([{ path: "a/b", content: "c" }]);
      await corrupt(store, root);
      const error = await expectError(store.getTree(root, join(dir.path, "dest")), "ERR_CONTENT_INTEGRITY");
      expect(error.message).to.contain(root.toString());
      expect(await readdir(dir.path)).to.deep.equal(["store"]);
    });
  });

  describe("pins", function () {
    it("records pins on disk, so they survive reopening the store", async function () {
      const a = await store.putBytes("pinned a");
      const b = await store.putTree([{ path: "x", content: "pinned b" }], { pin: true });
      await store.pin(a);
      await store.close();
      const reopened = await openEmbeddedStore({ directory: store.directory });
      expect((await reopened.pins()).map(String).sort()).to.deep.equal([a.toString(), b.toString()].sort());
      await reopened.unpin(a);
      await reopened.unpin(a); // not pinned any more: no error
      const again = await openEmbeddedStore({ directory: store.directory });
      expect((await again.pins()).map(String)).to.deep.equal([b.toString()]);
      store = again;
    });

    it("pins CIDv0 and CIDv1 of the same node as one pin", async function () {
      const root = await store.putTree([{ path: "x", content: "y" }]);
      await store.pin(root.toV0());
      await store.pin(root);
      expect((await store.pins()).map(String)).to.deep.equal([root.toString()]);
    });

    it("refuses to pin a DAG whose blocks are not all present (offline)", async function () {
      const other = await openEmbeddedStore({ directory: join(dir.path, "other") });
      const cid = await other.putBytes(pseudoRandomBytes(2 * CHUNK_SIZE, 8));
      await expectError(store.pin(cid, { offline: true }), "ERR_CONTENT_NOT_FOUND");
      expect(await store.pins()).to.deep.equal([]);
    });
  });

  describe("defaultContentDir", function () {
    it("follows XDG_DATA_HOME, ignoring unset or relative values", function () {
      expect(defaultContentDir({ XDG_DATA_HOME: "/data" }, "/home/u")).to.equal("/data/chainpkg/ipfs");
      expect(defaultContentDir({}, "/home/u")).to.equal("/home/u/.local/share/chainpkg/ipfs");
      expect(defaultContentDir({ XDG_DATA_HOME: "relative" }, "/home/u")).to.equal("/home/u/.local/share/chainpkg/ipfs");
    });
  });
});
