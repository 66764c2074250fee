/**
 * The gateway's packer of native versions (src/gateway/pack.ts): the bytes of a packed tree depend on the tree
 * alone — pinned here, because every client's package-lock.json and Cargo.lock pins them — and are a gzip'd tar
 * the system's own tar reads back with the modes and mtime promised.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { expect } from "chai";
import fc from "fast-check";
import { extract } from "tar-stream";
import { Readable } from "node:stream";
import { UnixFS } from "ipfs-unixfs";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { openEmbeddedStore, type EmbeddedContentStore } from "../../../src/content";
import { DAG_PB, encodePbNode } from "../../helpers/dag-pb";
import { createPackCache, gzipStored, packOrSkip, packTree, PACK_FORMAT, PACK_MTIME, treeFiles, tarFiles } from "../../../src/gateway/pack";
import { tempDir } from "../content/helpers";

const LONG = `lib/${"deeply-nested-directory/".repeat(6)}a-file-name-long-enough-for-pax.js`;

/** A tree with an executable, a long path, a symlink and an empty directory (the last two are left out). */
const TREE = [
  { path: "package.json", content: '{"name":"packed","version":"1.0.0"}\n' },
  { path: "bin/run", content: "#!/bin/sh\necho packed\n", mode: 0o755 },
  { path: "lib/a.js", content: "module.exports = 1;\n" },
  { path: "Zed.txt", content: "capital letters sort first\n" },
  { path: LONG, content: "long\n" },
  { path: "link", symlink: "lib/a.js" },
  { path: "empty", directory: true as const },
];

/**
 * sha256 of TREE packed under `package/` in PACK_FORMAT 1. If this changes, every lock that pinned a native
 * version served by a gateway breaks: bump PACK_FORMAT and say so, never just update the constant.
 */
const PINNED_SHA256 = "ae54829ba68ce83d2f019dabbe42c41a885d89de82245225611bfd7e6515e089";

async function untar(bytes: Buffer): Promise<{ name: string; mode: number; mtime: number; uid: number; gid: number; uname: string; body: string }[]> {
  const out: { name: string; mode: number; mtime: number; uid: number; gid: number; uname: string; body: string }[] = [];
  const tar = extract();
  const done = new Promise<void>((resolve, reject) => {
    tar.on("entry", (header, stream, next) => {
      const parts: Buffer[] = [];
      stream.on("data", (c: unknown) => parts.push(c as Buffer));
      stream.on("end", () => {
        out.push({ name: header.name, mode: header.mode ?? 0, mtime: header.mtime?.getTime() ?? 0, uid: header.uid ?? -1, gid: header.gid ?? -1, uname: header.uname ?? "", body: Buffer.concat(parts).toString() });
        next();
      });
    });
    tar.on("finish", resolve);
    tar.on("error", reject);
  });
  Readable.from([gunzipSync(bytes)]).pipe(tar);
  await done;
  return out;
}

describe("gateway: packing a native version's tree", function () {
  this.timeout(60_000);
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let content: EmbeddedContentStore;
  let src = "";

  before(async () => {
    dir = await tempDir("gateway-pack-");
    content = await openEmbeddedStore({ directory: join(dir.path, "store") });
    src = (await content.putTree(TREE)).toString();
  });
  after(async () => {
    await content.close();
    await dir.remove();
  });

  it("packs regular files in byte order of their paths, with fixed owner, mtime and modes", async () => {
    const packed = await packTree(content, src, "package");
    const entries = await untar(packed.bytes);
    expect(entries.map((e) => e.name)).to.deep.equal(["package/Zed.txt", "package/bin/run", "package/lib/a.js", `package/${LONG}`, "package/package.json"]);
    expect(entries.map((e) => e.mode)).to.deep.equal([0o644, 0o755, 0o644, 0o644, 0o644]);
    for (const e of entries) expect([e.mtime, e.uid, e.gid, e.uname]).to.deep.equal([PACK_MTIME.getTime(), 0, 0, ""]);
    expect(entries[1].body).to.equal("#!/bin/sh\necho packed\n");
  });

  it("gives the same bytes every time, pinned: a changed byte would break every lock", async () => {
    const first = await packTree(content, src, "package");
    const again = await packTree(content, (await content.putTree([...TREE].reverse())).toString(), "package");
    expect(again.bytes.equals(first.bytes)).to.equal(true);
    expect(PACK_FORMAT).to.equal(1);
    expect(first.sha256).to.equal(PINNED_SHA256);
    expect(first.sha256).to.equal(createHash("sha256").update(first.bytes).digest("hex"));
    expect(first.integrity).to.equal(`sha512-${createHash("sha512").update(first.bytes).digest("base64")}`);
    expect(first.shasum).to.equal(createHash("sha1").update(first.bytes).digest("hex"));
  });

  it("is read by the system's tar as it is by npm and cargo", async function () {
    if (spawnSync("tar", ["--version"], { stdio: "ignore" }).status !== 0) this.skip();
    const packed = await packTree(content, src, "crate-1.0.0");
    const file = join(dir.path, "crate.tgz");
    await writeFile(file, packed.bytes);
    const listed = spawnSync("tar", ["-tvzf", file, "--numeric-owner", "--utc"], { encoding: "utf8" });
    expect(listed.status, listed.stderr).to.equal(0);
    const lines = listed.stdout.trim().split("\n");
    expect(lines).to.have.length(5);
    expect(lines[1]).to.match(/^-rwxr-xr-x 0\/0 +\d+ 1985-10-26 08:15 crate-1\.0\.0\/bin\/run$/);
    expect(lines[4]).to.match(/^-rw-r--r-- 0\/0 +\d+ 1985-10-26 08:15 crate-1\.0\.0\/package\.json$/);
  });

  it("writes gzip in stored blocks that zlib reads back, for any length", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 * 65535 + 7 }), fc.integer(), (length, seed) => {
        const data = Buffer.alloc(length);
        for (let i = 0; i < length; i++) data[i] = (seed + i * 31) & 0xff;
        const gz = gzipStored(data);
        expect(gunzipSync(gz).equals(data)).to.equal(true);
        expect(gz.length).to.equal(18 + Math.max(1, Math.ceil(length / 65535)) * 5 + length);
      }),
      { numRuns: 40 },
    );
  });

  it("refuses a tree over its limits before holding it", async () => {
    const big = (await content.putTree([{ path: "a", content: Buffer.alloc(5000) }, { path: "b", content: Buffer.alloc(5000) }])).toString();
    for (const limits of [{ maxBytes: 6000, maxEntries: 10 }, { maxBytes: 1e6, maxEntries: 1 }]) {
      const error = await treeFiles(content, big, limits).then(() => null, (e: unknown) => e as { code?: string; message: string });
      expect(error?.code, JSON.stringify(limits)).to.equal("ERR_GATEWAY_PACK_TOO_LARGE");
      expect(error?.message).to.contain(big);
    }
    expect((await treeFiles(content, big, { maxBytes: 10_000, maxEntries: 2 })).map((f) => f.path)).to.deep.equal(["a", "b"]);
  });

  it("refuses a forged directory listing `..`, a name with a slash, or one name twice: such a version is not served", async () => {
    const putNode = async (bytes: Uint8Array): Promise<CID> => {
      const cid = CID.createV1(DAG_PB, await sha256.digest(bytes));
      await content.putBlock(cid, bytes);
      return cid;
    };
    const directory = (entries: Array<[string, CID]>) => putNode(encodePbNode(new UnixFS({ type: "directory" }).marshal(), entries.map(([name, cid]) => ({ name, cid, size: 0 }))));
    const file = await content.putBytes("x");
    const inner = await directory([["escaped", file]]);
    for (const [label, entries] of [
      ["..", [["..", inner]]],
      ["a slash", [["a/b", file]]],
      ["twice", [["a", file], ["a", file]]],
    ] as Array<[string, Array<[string, CID]>]>) {
      const root = (await directory(entries)).toString();
      const error = await treeFiles(content, root).then(() => null, (e: unknown) => e as { code?: string; message: string });
      expect(error?.code, label).to.equal("ERR_CONTENT_PATH");
      const said: string[] = [];
      expect(await packOrSkip(createPackCache(content).digests(root, "package"), (problem) => said.push(problem)), label).to.equal(null);
      expect(said, label).to.have.length(1);
    }
  });

  it("packs once per tree while cached, keeps the digests when the bytes are dropped, and packs again to the same bytes", async () => {
    let reads = 0;
    const counting = { getBlock: (...args: Parameters<EmbeddedContentStore["getBlock"]>) => (reads++, content.getBlock(...args)) };
    const cache = createPackCache(counting, 1); // holds the bytes of one packing at a time
    const [a, b] = await Promise.all([cache.get(src, "package"), cache.get(src, "package")]);
    expect(a).to.equal(b);
    const once = reads;
    expect(once).to.be.greaterThan(0);
    await cache.get(src, "package");
    expect(reads).to.equal(once);
    await cache.get(src, "other-1.0.0"); // drops the first one's bytes
    const dropped = reads;
    expect(await cache.digests(src, "package")).to.deep.equal({ sha256: a.sha256, integrity: a.integrity, shasum: a.shasum, size: a.bytes.length });
    expect(reads, "digests of a dropped packing come without packing again").to.equal(dropped);
    const again = await cache.get(src, "package");
    expect(reads).to.be.greaterThan(dropped);
    expect(again.bytes.equals(a.bytes)).to.equal(true);
    expect((await tarFiles([], "x")).length).to.equal(1024); // an empty tar: two zero blocks
  });
});
