import { createHash } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { expect } from "chai";
import { importer } from "ipfs-unixfs-importer";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { create as createDigest } from "multiformats/hashes/digest";
import { CHUNK_SIZE, MAX_CHILDREN_PER_NODE, importerOptions, openEmbeddedStore, type EmbeddedContentStore } from "../../../src/content";
import { chunked, ensureIpfsCid, ipfsCidV0, pseudoRandomBytes, tempDir } from "./helpers";
import { skipBecause } from "../../helpers/skip";

/** The importer with our parameters, storing nothing: just the root CID. */
async function rootCid(bytes: Uint8Array, overrides: Parameters<typeof importerOptions>[0] = {}): Promise<CID> {
  const discard = { put: async (cid: CID) => cid };
  let root: CID | undefined;
  for await (const entry of importer([{ content: chunked(bytes, 65_536) }], discard, importerOptions(overrides))) root = entry.cid;
  if (root === undefined) throw new Error("no root");
  return root;
}

// Sizes around every boundary of the layout: one chunk, two, a full first level of 174 leaves,
// and one byte more (a second tree level).
const SIZES = [0, 1, 11, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 12345, MAX_CHILDREN_PER_NODE * CHUNK_SIZE, MAX_CHILDREN_PER_NODE * CHUNK_SIZE + 1];

describe("content: CIDs match `ipfs add --cid-version=1 --raw-leaves`", function () {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let store: EmbeddedContentStore;

  before(async function () {
    dir = await tempDir();
    store = await openEmbeddedStore({ directory: join(dir.path, "store") });
  });
  after(async function () {
    await store.close();
    await dir.remove();
  });

  it("gives the known vector for 'hello world' (no newline)", async function () {
    const cid = await store.putBytes("hello world");
    expect(cid.toString()).to.equal("bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e");
  });

  it("gives the known CIDs of the empty file and the empty directory", async function () {
    expect((await store.putBytes(new Uint8Array(0))).toString()).to.equal("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku");
    expect((await store.putTree([])).toString()).to.equal("bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354");
  });

  it("makes a file of at most one chunk its own raw leaf: CIDv1(raw, sha2-256(bytes))", async function () {
    for (const size of [1, 1000, CHUNK_SIZE]) {
      const bytes = pseudoRandomBytes(size, size);
      const digest = createDigest(0x12, createHash("sha256").update(bytes).digest());
      const expected = CID.createV1(raw.code, digest);
      expect((await store.putBytes(bytes)).toString(), `size ${size}`).to.equal(expected.toString());
    }
  });

  it("gives the same CID however the bytes are delivered (one buffer or odd-sized stream pieces)", async function () {
    const bytes = pseudoRandomBytes(3 * CHUNK_SIZE + 777, 42);
    const whole = await store.putBytes(bytes);
    const streamed = await store.putBytes(chunked(bytes, 100_003));
    expect(streamed.toString()).to.equal(whole.toString());
    expect(whole.toString()).to.match(/^bafybei/);
  });

  describe("cross-checked with Debian's ipfs_cid (an independent Rust implementation)", function () {
    let tool: string | undefined;
    before(function () {
      this.timeout(180_000);
      tool = ensureIpfsCid();
      if (tool === undefined) skipBecause(this, "ipfs_cid unavailable (apt package ipfs-cid): no cross-check");
    });

    // ipfs_cid computes `ipfs add`'s default DAG (CIDv0, UnixFS leaves). Chunking and tree shape
    // are the parameters we share with `--cid-version=1 --raw-leaves`; leaf encoding and CID
    // version are the only differences. So our importer options with exactly those two switched
    // back must reproduce ipfs_cid's CIDs for every size.
    for (const size of SIZES) {
      it(`agrees on the DAG layout for a ${size}-byte file`, async function () {
        this.timeout(60_000);
        const bytes = pseudoRandomBytes(size, size + 7);
        const file = join(dir.path, `file-${size}`);
        await writeFile(file, bytes);
        const legacy = await rootCid(bytes, { cidVersion: 0, rawLeaves: false });
        expect(legacy.toString()).to.equal(ipfsCidV0(tool as string, file));
      });
    }

    it("agrees with the well-known CIDv0 of 'hello world'", async function () {
      const file = join(dir.path, "hello");
      await writeFile(file, "hello world");
      expect(ipfsCidV0(tool as string, file)).to.equal("Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD");
      expect((await rootCid(new TextEncoder().encode("hello world"), { cidVersion: 0, rawLeaves: false })).toString()).to.equal(
        "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD",
      );
    });
  });
});
