/**
 * Build outputs keep their executable bits through the content store: putDirectory with
 * `preserveMode` records each file's executable bit as UnixFS 1.5 mode metadata (0o755 / 0o644 only,
 * whatever else the disk says), getTree restores it; without the option nothing changes (the CID of
 * a tree is the one `ipfs add` gives: the same bytes with other modes give the same CID).
 */
import { spawnSync } from "node:child_process";
import { promises as fs } from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { exporter } from "ipfs-unixfs-exporter";
import type { CID } from "multiformats/cid";
import { CHUNK_SIZE, openEmbeddedStore, type EmbeddedContentStore } from "../../../src/content";
import { readOnly, tempDir } from "./helpers";

describe("content: executable bits of build outputs (preserveMode)", function () {
  let root: string;
  let store: EmbeddedContentStore;
  beforeEach(async () => {
    root = await tempDir("chainpkg-content-mode-");
    store = await openEmbeddedStore({ directory: path.join(root, "store") });
  });
  afterEach(async () => {
    await store.close();
    await fs.chmod(path.join(root, "out"), 0o755).catch(() => undefined);
    spawnSync("chmod", ["-R", "u+w", root]);
    await fs.rm(root, { recursive: true, force: true });
  });

  const blocks = () => ({ get: (cid: CID) => (async function* () { yield await store.getBlock(cid); })() });

  async function output(dir: string): Promise<void> {
    await fs.mkdir(path.join(dir, "bin"), { recursive: true });
    await fs.mkdir(path.join(dir, "share"), { recursive: true });
    await fs.writeFile(path.join(dir, "bin", "hello"), "#!/bin/sh\necho hello\n", { mode: 0o755 });
    await fs.writeFile(path.join(dir, "bin", "big"), Buffer.alloc(CHUNK_SIZE * 2 + 5, 7), { mode: 0o700 });
    await fs.writeFile(path.join(dir, "share", "doc.txt"), "documentation\n", { mode: 0o600 });
    await fs.symlink("../bin/hello", path.join(dir, "share", "link"));
  }

  it("records the executable bit and getTree restores it; the rest of the mode does not matter", async () => {
    const out = path.join(root, "out");
    await output(out);
    const cid = await store.putDirectory(out, { preserveMode: true });

    // the same tree, read-only as in the store, gives the same CID
    const copy = path.join(root, "copy");
    await output(copy);
    await fs.chmod(path.join(copy, "bin", "hello"), 0o555);
    await fs.chmod(path.join(copy, "share", "doc.txt"), 0o444);
    await readOnly(copy);
    expect((await store.putDirectory(copy, { preserveMode: true })).toString()).to.equal(cid.toString());

    const modes: Record<string, number | undefined> = {};
    for (const name of ["bin/hello", "bin/big", "share/doc.txt"]) {
      const entry = await exporter(`${cid.toString()}/${name}`, blocks());
      if (entry.type !== "file") throw new Error(`${name} is a ${entry.type}`);
      modes[name] = entry.unixfs.mode;
    }
    expect(modes).to.deep.equal({ "bin/hello": 0o755, "bin/big": 0o755, "share/doc.txt": 0o644 });

    const back = path.join(root, "back");
    await store.getTree(cid, back);
    expect((await fs.stat(path.join(back, "bin", "hello"))).mode & 0o111).to.not.equal(0);
    expect((await fs.stat(path.join(back, "bin", "big"))).mode & 0o111).to.not.equal(0);
    expect((await fs.stat(path.join(back, "share", "doc.txt"))).mode & 0o111).to.equal(0);
    expect(await fs.readlink(path.join(back, "share", "link"))).to.equal("../bin/hello");
    expect(spawnSync(path.join(back, "bin", "hello")).stdout.toString()).to.equal("hello\n");
    expect((await fs.readFile(path.join(back, "bin", "big"))).length).to.equal(CHUNK_SIZE * 2 + 5);
  });

  it("changing only an executable bit changes the CID with preserveMode, and never without it", async () => {
    const out = path.join(root, "out");
    await output(out);
    const plain = await store.putDirectory(out);
    const moded = await store.putDirectory(out, { preserveMode: true });
    expect(moded.toString()).to.not.equal(plain.toString());
    await fs.chmod(path.join(out, "share", "doc.txt"), 0o755);
    expect((await store.putDirectory(out)).toString()).to.equal(plain.toString());
    expect((await store.putDirectory(out, { preserveMode: true })).toString()).to.not.equal(moded.toString());
  });

  it("without preserveMode the tree's CID is unchanged: no metadata, as ipfs add", async function () {
    const out = path.join(root, "out");
    await fs.mkdir(out);
    await fs.writeFile(path.join(out, "run"), "#!/bin/sh\n", { mode: 0o755 });
    await fs.writeFile(path.join(out, "data"), "data\n", { mode: 0o644 });
    const cid = await store.putDirectory(out);
    const entry = await exporter(`${cid.toString()}/run`, blocks());
    expect(entry.type).to.equal("raw"); // a bare raw leaf: no UnixFS node to carry a mode
    // The same bytes with other modes: the same CID (Debian's ipfs_cid cannot cross-check a tree: it takes one file;
    // the file CIDs are cross-checked with it in test/unit/content).
    const other = path.join(root, "other");
    await fs.mkdir(other);
    await fs.writeFile(path.join(other, "run"), "#!/bin/sh\n", { mode: 0o600 });
    await fs.writeFile(path.join(other, "data"), "data\n", { mode: 0o755 });
    await fs.chmod(path.join(other, "run"), 0o600);
    await fs.chmod(path.join(other, "data"), 0o755);
    expect((await store.putDirectory(other)).toString()).to.equal(cid.toString());
  });
});
