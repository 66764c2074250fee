/**
 * The bulk paths of the embedded store: adding a directory from disk and writing a tree back
 * with the block worker threads (src/content/workers.ts). They take over from the main-thread
 * paths once an operation is big enough (8 MiB here), so these trees are that big. Every CID must
 * be what ipfs-unixfs-importer makes of the same bytes, and every block the workers read must be
 * verified exactly as getBlock verifies it.
 */
import { createHash } from "node:crypto";
import { chmod, mkdir, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { expect } from "chai";
import { importer } from "ipfs-unixfs-importer";
import { base32upper } from "multiformats/bases/base32";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { create as createDigest } from "multiformats/hashes/digest";
import { sha256 } from "multiformats/hashes/sha2";
import { isPkgError, type ErrorCode } from "../../../src/errors";
import { CHUNK_SIZE, MAX_CHILDREN_PER_NODE, importerOptions, openEmbeddedStore, type EmbeddedContentStore, type TreeEntry } from "../../../src/content";
import { blockFiles, corrupt, pseudoRandomBytes, tempDir } from "./helpers";
import { uniqueSuffix } from "../../helpers/random";

async function expectError(promise: Promise<unknown>, code: ErrorCode): Promise<Error & { details: Record<string, unknown> }> {
  try {
    await promise;
  } catch (error) {
    expect(isPkgError(error, code), `expected ${code}, got ${String(error)}`).to.equal(true);
    return error as Error & { details: Record<string, unknown> };
  }
  throw new Error(`expected ${code}, but it succeeded`);
}

/** Sizes around chunk and worker-range (8 chunks) boundaries, ~10 MB in all. */
const FILES: Array<[string, number]> = [
  ["empty", 0],
  ["one-byte", 1],
  ["a/chunk-minus-one", CHUNK_SIZE - 1],
  ["a/chunk", CHUNK_SIZE],
  ["a/chunk-plus-one", CHUNK_SIZE + 1],
  ["a/b/eight-chunks", 8 * CHUNK_SIZE],
  ["a/b/eight-chunks-plus-one", 8 * CHUNK_SIZE + 1],
  ["c/big", 17 * CHUNK_SIZE + 12_345],
  ["c/d/e/small", 5000],
];

function leafCid(bytes: Uint8Array): CID {
  return CID.createV1(raw.code, createDigest(sha256.code, createHash("sha256").update(bytes).digest()));
}

/** The importer alone, with our parameters and a blockstore that keeps nothing. */
async function referenceCid(entries: Array<{ path: string; content?: Uint8Array; link?: string }>): Promise<CID> {
  let root: CID | undefined;
  const discard = { put: async (cid: CID) => cid };
  for await (const entry of importer(entries, discard, importerOptions({ wrapWithDirectory: true }))) root = entry.cid;
  return root as CID;
}

describe("content: bulk add and get (block worker threads)", function () {
  this.timeout(120_000);
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let store: EmbeddedContentStore;
  let src: string;
  const contents = new Map(FILES.map(([path, size], i) => [path, pseudoRandomBytes(size, 1000 + i)]));

  before(async function () {
    dir = await tempDir("content-bulk-");
    src = join(dir.path, "src");
    for (const [path, bytes] of contents) {
      await mkdir(join(src, path, ".."), { recursive: true });
      await writeFile(join(src, path), bytes);
    }
    await mkdir(join(src, "empty-dir"));
    await symlink("c/big", join(src, "link"));
  });
  after(async function () {
    await dir.remove();
  });
  beforeEach(async function () {
    store = await openEmbeddedStore({ directory: join(dir.path, `store-${uniqueSuffix()}`) });
  });
  afterEach(async function () {
    await rm(store.directory, { recursive: true, force: true });
  });

  it("gives a directory from disk the importer's CID, the same as the tree given as bytes", async function () {
    const fromDisk = await store.putDirectory(src);
    const asBytes: TreeEntry[] = [...contents].map(([path, content]) => ({ path, content }));
    asBytes.push({ path: "empty-dir", directory: true }, { path: "link", symlink: "c/big" });
    const other = await openEmbeddedStore({ directory: join(dir.path, "other") });
    expect((await other.putTree(asBytes)).toString()).to.equal(fromDisk.toString());
    const reference = await referenceCid([
      ...[...contents].map(([path, content]) => ({ path, content })),
      { path: "empty-dir" },
      { path: "link", link: "c/big" },
    ]);
    expect(fromDisk.toString()).to.equal(reference.toString());
    // and the same with the files listed as sources on disk
    const asSources: TreeEntry[] = [...contents.keys()].map((path) => ({ path, source: join(src, path) }));
    asSources.push({ path: "empty-dir", directory: true }, { path: "link", symlink: "c/big" });
    expect((await store.putTree(asSources)).toString()).to.equal(fromDisk.toString());
  });

  it("stores every block once, complete, read-only, under its multihash, with no temporary files", async function () {
    await store.putDirectory(src);
    const files = await blockFiles(store);
    expect(files.every((file) => file.endsWith(".data"))).to.equal(true);
    for (const file of files) {
      const name = file.slice(file.lastIndexOf("/") + 1, -".data".length);
      const bytes = await readFile(file);
      expect(base32upper.encode((await sha256.digest(bytes)).bytes)).to.equal(name);
      expect((await stat(file)).mode & 0o222).to.equal(0);
      expect(file.split("/").at(-2)).to.equal(name.slice(-2));
    }
    // each leaf of each file is there
    for (const bytes of contents.values()) {
      for (let offset = 0; offset < Math.max(bytes.length, 1); offset += CHUNK_SIZE) {
        expect(await store.hasBlock(leafCid(bytes.subarray(offset, offset + CHUNK_SIZE)))).to.equal(true);
      }
    }
  });

  it("writes the tree back byte for byte", async function () {
    const root = await store.putDirectory(src);
    const out = join(dir.path, "out-roundtrip");
    await store.getTree(root, out);
    for (const [path, bytes] of contents) expect(Buffer.compare(await readFile(join(out, path)), Buffer.from(bytes)), path).to.equal(0);
    expect(await readdir(join(out, "empty-dir"))).to.deep.equal([]);
    expect((await readdir(out)).sort()).to.deep.equal(["a", "c", "empty", "empty-dir", "link", "one-byte"]);
  });

  it("writes a file of two DAG levels (more than 174 leaves) back byte for byte", async function () {
    const bytes = pseudoRandomBytes(MAX_CHILDREN_PER_NODE * CHUNK_SIZE + 3 * CHUNK_SIZE + 7, 77);
    const big = join(dir.path, "two-levels");
    await mkdir(big);
    await writeFile(join(big, "file"), bytes);
    const root = await store.putDirectory(big);
    const out = join(dir.path, "out-two-levels");
    await store.getTree(root, out);
    expect(Buffer.compare(await readFile(join(out, "file")), Buffer.from(bytes))).to.equal(0);
    await rm(big, { recursive: true });
  });

  it("refuses a corrupt leaf of a big file, naming it and its block file, and leaves nothing behind", async function () {
    const root = await store.putDirectory(src);
    const bytes = contents.get("c/big") as Uint8Array;
    const leaf = leafCid(bytes.subarray(9 * CHUNK_SIZE, 10 * CHUNK_SIZE));
    const file = await corrupt(store, leaf);
    const parent = join(dir.path, "parent-corrupt");
    await mkdir(parent);
    const error = await expectError(store.getTree(root, join(parent, "dest")), "ERR_CONTENT_INTEGRITY");
    expect(error.details.cid).to.equal(leaf.toString());
    expect(error.details.where).to.equal(file);
    expect(await readdir(parent)).to.deep.equal([]);
  });

  it("refuses a corrupt single-block file", async function () {
    const root = await store.putDirectory(src);
    const leaf = leafCid(contents.get("c/d/e/small") as Uint8Array);
    await corrupt(store, leaf);
    const error = await expectError(store.getTree(root, join(dir.path, "dest-small")), "ERR_CONTENT_INTEGRITY");
    expect(error.details.cid).to.equal(leaf.toString());
  });

  it("refuses a block file that holds the right bytes and more", async function () {
    const root = await store.putDirectory(src);
    const bytes = contents.get("a/b/eight-chunks") as Uint8Array;
    const leaf = leafCid(bytes.subarray(0, CHUNK_SIZE));
    const file = (await blockFiles(store)).find((path) => path.endsWith(`${base32upper.encode(leaf.multihash.bytes)}.data`)) as string;
    await chmod(file, 0o644);
    await writeFile(file, Buffer.concat([Buffer.from(bytes.subarray(0, CHUNK_SIZE)), Buffer.from("extra")]));
    const error = await expectError(store.getTree(root, join(dir.path, "dest-longer")), "ERR_CONTENT_INTEGRITY");
    expect(error.details.cid).to.equal(leaf.toString());
  });

  it("reports a missing leaf as ERR_CONTENT_NOT_FOUND, and fetches it when a gateway has it", async function () {
    const root = await store.putDirectory(src);
    const bytes = contents.get("c/big") as Uint8Array;
    const leaf = leafCid(bytes.subarray(3 * CHUNK_SIZE, 4 * CHUNK_SIZE));
    const file = (await blockFiles(store)).find((path) => path.endsWith(`${base32upper.encode(leaf.multihash.bytes)}.data`)) as string;
    await rm(file);
    const error = await expectError(store.getTree(root, join(dir.path, "dest-missing")), "ERR_CONTENT_NOT_FOUND");
    expect(error.message).to.contain(leaf.toString());

    const source = await openEmbeddedStore({ directory: join(dir.path, "gateway-source") });
    await source.putDirectory(src);
    const gatewayFetch = async (url: string | URL | Request): Promise<Response> => {
      const cid = CID.parse(String(url).split("/ipfs/")[1].split("?")[0]);
      return new Response(await source.getBlock(cid), { status: 200 });
    };
    const fetching = await openEmbeddedStore({ directory: store.directory, gateways: ["http://gateway.invalid"], fetch: gatewayFetch as typeof fetch });
    const out = join(dir.path, "out-fetched");
    await fetching.getTree(root, out);
    expect(Buffer.compare(await readFile(join(out, "c/big")), Buffer.from(bytes))).to.equal(0);
    expect(await store.hasBlock(leaf)).to.equal(true);
  });

  it("adds with fsync, and two adds of one tree at once leave every block whole", async function () {
    const synced = await openEmbeddedStore({ directory: store.directory, fsync: true });
    const [a, b] = await Promise.all([synced.putDirectory(src), store.putDirectory(src)]);
    expect(a.toString()).to.equal(b.toString());
    for (const file of await blockFiles(store)) {
      expect(file.endsWith(".data"), file).to.equal(true);
      const name = file.slice(file.lastIndexOf("/") + 1, -".data".length);
      expect(base32upper.encode((await sha256.digest(await readFile(file))).bytes)).to.equal(name);
    }
  });
});
