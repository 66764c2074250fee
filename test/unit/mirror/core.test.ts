/**
 * The parts of src/mirror/ every importer shares, against hostile input: names (reversible, injective), archives
 * (paths that leave, links, bombs), entries (forged fields, another package's entry), snapshot records and the
 * reader that answers resolution from a snapshot (a native record wins; a forged index is refused).
 */
import { expect } from "chai";
import fc from "fast-check";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { pack } from "tar-stream";
import { openEmbeddedStore, type EmbeddedContentStore } from "../../../src/content";
import type { PackageRecord, VersionRecord } from "../../../src/chain/registry";
import { decodeEntry, encodeEntry, type PackageEntry } from "../../../src/mirror/entry";
import { hamtUpdate, linkSize } from "../../../src/mirror/hamt";
import { decodeName, encodeName } from "../../../src/mirror/names";
import { nativeRecord, withSnapshots } from "../../../src/mirror/read";
import { encodeSnapshotRecord, nextSnapshotVersion, readSnapshotRecord, SNAPSHOT_FORMAT, SNAPSHOT_RECORD } from "../../../src/mirror/snapshot";
import { unpackTarball } from "../../../src/mirror/tarball";
import { rejectsWith, throwsWith } from "../../helpers/errors";
import { tempDir } from "../content/helpers";

const CID_A = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";
const CID_B = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";

async function tgz(entries: { name: string; type?: "file" | "symlink" | "directory"; linkname?: string; body?: string }[]): Promise<Buffer> {
  const archive = pack();
  // entries are queued, not awaited: the archive is read below, and an unread pack stream never flushes
  for (const e of entries) {
    if (e.type === "file" || e.type === undefined) archive.entry({ name: e.name }, e.body ?? "");
    else archive.entry({ name: e.name, type: e.type, linkname: e.linkname });
  }
  archive.finalize();
  const parts: Buffer[] = [];
  for await (const chunk of archive) parts.push(chunk as Buffer);
  return gzipSync(Buffer.concat(parts));
}

function entry(name: string, versions: Partial<PackageEntry["versions"][number]>[] = [{}]): PackageEntry {
  return {
    format: 1,
    kind: "npm",
    name,
    origin: { name },
    versions: versions.map((v, i) => ({ version: `1.0.${i}`, meta: CID_A, src: CID_B, yanked: false, origin: {}, ...v })),
  };
}

describe("mirror: names", () => {
  it("maps npm names reversibly: scopes, underscores and upper case escaped; results pass the one name rule", () => {
    expect(encodeName("left-pad")).to.deep.equal({ name: "left-pad" });
    expect(encodeName("@types/node")).to.deep.equal({ name: "types__node" });
    expect(encodeName("string_decoder")).to.deep.equal({ name: "string_.decoder" });
    expect(encodeName("@types/babel__core")).to.deep.equal({ name: "types__babel_._.core" });
    expect(encodeName("jQuery")).to.deep.equal({ name: "j_query" });
    expect(encodeName("JSONStream")).to.deep.equal({ name: "j_-_s_o_n_stream" }); // legacy names in upper case
    expect(encodeName("Base64")).to.deep.equal({ name: "b_-ase64" });
    for (const upstream of ["left-pad", "@types/node", "string_decoder", "@types/babel__core", "jQuery", "a.b-c", "JSONStream", "Base64", "J"]) {
      expect(decodeName((encodeName(upstream) as { name: string }).name)).to.equal(upstream);
    }
  });

  it("never gives two upstream names one package name (a package named like a scope cannot shadow it)", () => {
    const names = fc.stringMatching(/^(@[a-zA-Z0-9._-]{1,8}\/)?[a-zA-Z0-9._-]{1,12}$/);
    fc.assert(
      fc.property(names, names, (a, b) => {
        const ea = encodeName(a);
        const eb = encodeName(b);
        if ("name" in ea && "name" in eb && a !== b) expect(ea.name).to.not.equal(eb.name);
        if ("name" in ea) expect(decodeName(ea.name)).to.equal(a);
      }),
      { numRuns: 2000 },
    );
    expect((encodeName("types__node") as { name: string }).name).to.not.equal((encodeName("@types/node") as { name: string }).name);
    // every name of up to 4 characters over the escapes' own alphabet: no two share a package name
    const alphabet = ["a", "A", "b", "B", "_", ".", "-", "1"];
    const seen = new Map<string, string>();
    let level = [""];
    for (let length = 1; length <= 4; length++) {
      level = level.flatMap((prefix) => alphabet.map((ch) => prefix + ch));
      for (const upstream of level) {
        const encoded = encodeName(upstream);
        if (!("name" in encoded)) continue;
        expect(seen.get(encoded.name), `${upstream} and ${seen.get(encoded.name)} → ${encoded.name}`).to.equal(undefined);
        seen.set(encoded.name, upstream);
        expect(decodeName(encoded.name)).to.equal(upstream);
      }
    }
    expect(seen.size).to.be.greaterThan(1000);
  });

  it("refuses what cannot be a package name, saying why", () => {
    expect(encodeName("a/b")).to.have.property("problem").that.contains("outside a scope");
    expect(encodeName("@/x")).to.have.property("problem");
    expect(encodeName("has space")).to.have.property("problem").that.contains("characters");
    expect(encodeName("_private")).to.have.property("problem"); // `_.private` starts with '_', as npm refuses it too
    expect(decodeName("j_-")).to.equal("J");
    expect(decodeName("ja_-b")).to.equal(null); // `_-` only after the first character
    expect(decodeName("1_-a")).to.equal(null);
    expect(encodeName("x".repeat(65))).to.have.property("problem").that.contains("64");
    expect(decodeName("a_")).to.equal(null);
    expect(decodeName("a_!")).to.equal(null);
    expect(decodeName("a__b__c")).to.equal(null);
  });
});

describe("mirror: archives", () => {
  it("strips the top directory and keeps files and empty directories", async () => {
    const bytes = await tgz([
      { name: "package/package.json", body: "{}" },
      { name: "package/lib/index.js", body: "x" },
      { name: "package/empty/", type: "directory" },
    ]);
    const unpacked = await unpackTarball(bytes, "t");
    expect(unpacked.top).to.equal("package");
    expect(unpacked.entries.map((e) => e.path)).to.deep.equal(["empty", "lib/index.js", "package.json"]);
  });

  it("refuses paths that leave the archive, and skips links (npm does not unpack them)", async () => {
    await rejectsWith(unpackTarball(await tgz([{ name: "package/../../etc/passwd", body: "x" }]), "t"), "ERR_MIRROR_BAD_ARCHIVE");
    await rejectsWith(unpackTarball(await tgz([{ name: "/etc/passwd", body: "x" }]), "t"), "ERR_MIRROR_BAD_ARCHIVE");
    const linked = await unpackTarball(await tgz([{ name: "package/a", body: "a" }, { name: "package/link", type: "symlink", linkname: "/etc/passwd" }]), "t");
    expect(linked.entries.map((e) => e.path)).to.deep.equal(["a"]);
    expect(linked.skipped).to.deep.equal(["package/link (symlink)"]);
  });

  it("stops a bomb at the size and entry limits, and refuses what is not gzip'd tar", async () => {
    const big = await tgz([{ name: "package/big", body: "0".repeat(100_000) }]);
    expect(big.length).to.be.below(1000);
    await rejectsWith(unpackTarball(big, "t", { maxBytes: 50_000 }), "ERR_MIRROR_BAD_ARCHIVE");
    await rejectsWith(unpackTarball(await tgz(Array.from({ length: 20 }, (_, i) => ({ name: `package/${i}`, body: "x" }))), "t", { maxEntries: 10 }), "ERR_MIRROR_BAD_ARCHIVE");
    await rejectsWith(unpackTarball(Buffer.from("not gzip at all"), "t"), "ERR_MIRROR_BAD_ARCHIVE");
    await rejectsWith(unpackTarball(gzipSync(Buffer.from("gzip, but not tar ".repeat(100))), "t"), "ERR_MIRROR_BAD_ARCHIVE");
  });
});

describe("mirror: entries and snapshot records", () => {
  it("encodes canonically: the same entry in any key or version order gives the same bytes, newest first", () => {
    const a = entry("x", [{ version: "1.0.0" }, { version: "2.0.0" }, { version: "1.10.0" }]);
    const b = { ...a, origin: { name: "x" }, versions: [...a.versions].reverse() };
    expect(Buffer.from(encodeEntry(a)).equals(encodeEntry(b))).to.equal(true);
    expect(decodeEntry(encodeEntry(a), "x").versions.map((v) => v.version)).to.deep.equal(["2.0.0", "1.10.0", "1.0.0"]);
  });

  it("refuses forged entries field by field", () => {
    const bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
    const good = JSON.parse(new TextDecoder().decode(encodeEntry(entry("x")))) as Record<string, unknown> & { versions: Record<string, unknown>[] };
    throwsWith(() => decodeEntry(bytes(good), "x", "y"), "ERR_MIRROR_BAD_ENTRY"); // another package's entry
    throwsWith(() => decodeEntry(bytes({ ...good, name: "../x" }), "x"), "ERR_MIRROR_BAD_ENTRY");
    throwsWith(() => decodeEntry(bytes({ ...good, format: 2 }), "x"), "ERR_MIRROR_BAD_ENTRY");
    throwsWith(() => decodeEntry(bytes({ ...good, versions: [{ ...good.versions[0], meta: "/etc/passwd" }] }), "x"), "ERR_MIRROR_BAD_ENTRY");
    throwsWith(() => decodeEntry(bytes({ ...good, versions: [{ ...good.versions[0], version: "latest" }] }), "x"), "ERR_MIRROR_BAD_ENTRY");
    throwsWith(() => decodeEntry(bytes({ ...good, versions: [good.versions[0], good.versions[0]] }), "x"), "ERR_MIRROR_BAD_ENTRY");
    throwsWith(() => decodeEntry(bytes({ ...good, versions: [{ ...good.versions[0], yanked: "no" }] }), "x"), "ERR_MIRROR_BAD_ENTRY");
    throwsWith(() => decodeEntry(new TextEncoder().encode("{"), "x"), "ERR_MIRROR_BAD_ENTRY");
  });

  it("names snapshot versions by day and count, ordered as releases", () => {
    const day = new Date("2026-12-05T10:00:00Z");
    expect(nextSnapshotVersion([], day)).to.equal("20261205.1");
    expect(nextSnapshotVersion(["20261204.7", "20261205.1", "20261205.9", "1.0.0"], day)).to.equal("20261205.10");
  });
});

describe("mirror: reading packages through a snapshot", function () {
  this.timeout(60_000);
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let content: EmbeddedContentStore;

  before(async () => {
    dir = await tempDir("mirror-core-");
    content = await openEmbeddedStore({ directory: join(dir.path, "store") });
  });
  after(async () => {
    await content.close();
    await dir.remove();
  });

  /** An index of these entries (each under the name given, which a forger may choose) with a snapshot record. */
  async function index(entries: [string, PackageEntry][]): Promise<string> {
    const changes = new Map();
    for (const [name, e] of entries) {
      const cid = await content.putBytes(encodeEntry(e));
      changes.set(name, { cid, size: await linkSize(content, cid) });
    }
    const record = await content.putBytes(encodeSnapshotRecord({ format: SNAPSHOT_FORMAT, kind: "npm", repository: "npm", source: "test", packages: entries.length, versions: 1, previous: null }));
    changes.set(SNAPSHOT_RECORD, { cid: record, size: await linkSize(content, record) });
    return (await hamtUpdate(content, null, changes)).root.toString();
  }

  /** A registry client holding `native` packages and one repository version of `npm` whose meta is `root`. */
  function client(root: string, native: Record<string, VersionRecord[]> = {}) {
    const calls = { versions: 0 };
    const base = {
      async getPackages(keys: { repository: string; name: string }[]): Promise<(PackageRecord | null)[]> {
        return keys.map((key) => {
          const versions = native[`${key.repository}:${key.name}`];
          return versions ? { key, id: "0x", repositoryId: "0x", owner: "0x1", versions } : null;
        });
      },
      async getPackage(key: { repository: string; name: string }) {
        return (await this.getPackages([key]))[0];
      },
      async getRepositoryVersions(name: string): Promise<VersionRecord[]> {
        calls.versions++;
        return name === "npm" ? [{ version: "20261205.1", meta: root, src: null, yanked: false }] : [];
      },
    };
    return { reader: withSnapshots(base, content), calls };
  }

  it("answers a package the chain does not hold from the snapshot; a native record wins; other repositories are untouched", async () => {
    const root = await index([["left-pad", entry("left-pad", [{ version: "1.3.0" }])]]);
    const { reader, calls } = client(root, { "npm:claimed": [{ version: "9.0.0", meta: CID_A, src: CID_B, yanked: false }] });
    const [mirrored, missing, claimed, other] = await reader.getPackages([
      { repository: "npm", name: "left-pad" },
      { repository: "npm", name: "absent" },
      { repository: "npm", name: "claimed" },
      { repository: "crates", name: "left-pad" },
    ]);
    expect(mirrored!.versions).to.deep.equal([{ version: "1.3.0", meta: CID_A, src: CID_B, yanked: false }]);
    expect(nativeRecord(mirrored)).to.equal(null);
    expect(missing).to.equal(null);
    expect(claimed!.versions[0].version).to.equal("9.0.0");
    expect(nativeRecord(claimed)).to.equal(claimed);
    expect(other).to.equal(null);
    await reader.getPackage({ repository: "npm", name: "left-pad" });
    expect(calls.versions, "one repository read per repository and block").to.equal(2);
  });

  it("refuses an index whose entry under one name is another package's, and a version meta that is no snapshot", async () => {
    const forged = await index([["left-pad", entry("evil", [{ version: "6.6.6" }])]]);
    await rejectsWith(client(forged).reader.getPackages([{ repository: "npm", name: "left-pad" }]), "ERR_MIRROR_BAD_ENTRY");
    const lock = (await content.putBytes("name = \"npm\"\n")).toString();
    expect(await client(lock).reader.getPackages([{ repository: "npm", name: "left-pad" }])).to.deep.equal([null]);
    await rejectsWith(readSnapshotRecord(content, (await content.putBytes("x")) as never), "ERR_MIRROR_NOT_SNAPSHOT");
  });
});
