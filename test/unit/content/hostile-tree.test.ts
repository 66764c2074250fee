/**
 * Hostile published trees, crafted block by block (dag-pb + UnixFS, as a publisher can write them) into a real
 * embedded store, then materialised by getTree and fetchPackage: nothing is ever written through a symlink,
 * nothing outside the destination, and every refusal names the package, its CID and the entry inside the tree.
 * Also the src glob over a symlink loop (src/files/sources.ts).
 *
 *   npx hardhat test test/unit/content/hostile-tree.test.ts
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { lstat, mkdir, readdir, readFile, readlink, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { expect } from "chai";
import { UnixFS } from "ipfs-unixfs";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { isPkgError, type ErrorCode } from "../../../src/errors";
import { openEmbeddedStore, type EmbeddedContentStore } from "../../../src/content";
import {
  ERR_FETCH_CORRUPT_TREE,
  ERR_FETCH_DESTINATION_DIRECTORY_NOT_FOUND,
  ERR_FETCH_DESTINATION_UNWRITABLE,
  fetchPackage,
  removeStaleStaging,
} from "../../../src/fetch";
import { expandSourcePatterns } from "../../../src/files/sources";
import { parsePackageSpec } from "../../../src/ids";
import type { PackageRecord } from "../../../src/chain/registry";
import { tempDir } from "./helpers";
import { DAG_PB, encodePbNode } from "../../helpers/dag-pb";
import { skipBecause } from "../../helpers/skip";

async function expectError(promise: Promise<unknown>, code: ErrorCode): Promise<Error & { details: Record<string, unknown> }> {
  expect(code, "an error code").to.match(/^ERR_/);
  try {
    await promise;
  } catch (error) {
    expect(isPkgError(error, code), `expected ${code}, got ${(error as Error)?.constructor?.name} ${(error as { code?: string }).code}: ${String(error)}`).to.equal(true);
    return error as Error & { details: Record<string, unknown> };
  }
  throw new Error(`expected ${code}, but it succeeded`);
}

/** Everything under `dir`, relative, symlinks marked `-> target`: what a test compares before and after. */
async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (at: string, prefix: string): Promise<void> => {
    for (const name of (await readdir(at)).sort()) {
      const full = join(at, name);
      const rel = prefix === "" ? name : `${prefix}/${name}`;
      const stats = await lstat(full);
      if (stats.isSymbolicLink()) out.push(`${rel} -> ${await readlink(full)}`);
      else if (stats.isDirectory()) {
        out.push(`${rel}/`);
        await walk(full, rel);
      } else out.push(`${rel} (${(await readFile(full)).toString("utf8")})`);
    }
  };
  await walk(dir, "");
  return out;
}


/** A pid that was alive a moment ago and is gone now. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  return Number(child.stdout);
}

describe("hostile published trees: getTree and fetchPackage never write through a symlink", function () {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let store: EmbeddedContentStore;
  /** Where a hostile link points: outside every destination. */
  let outside: string;

  async function putNode(bytes: Uint8Array): Promise<CID> {
    const cid = CID.createV1(DAG_PB, await sha256.digest(bytes));
    await store.putBlock(cid, bytes);
    return cid;
  }
  const symlinkNode = (target: string) => putNode(encodePbNode(new UnixFS({ type: "symlink", data: new TextEncoder().encode(target) }).marshal(), []));
  /** A directory listing these entries in this order (names may repeat: a publisher writes what it likes). */
  const directoryNode = (entries: Array<[string, CID]>) =>
    putNode(encodePbNode(new UnixFS({ type: "directory" }).marshal(), entries.map(([name, cid]) => ({ name, cid, size: 0 }))));
  const file = (text: string) => store.putBytes(text);

  const META = '[package]\nrepository = "evil"\nname = "pkg"\nversion = "1.0.0"\nlicense = "MIT"\nsrc = ["lib.rs"]\n';

  /** A registry that knows one package, evil/pkg 1.0.0, with these CIDs (fetchPackage's registry, wired by hand). */
  function registry(meta: CID, src: CID) {
    const record: PackageRecord = {
      key: { repository: "evil", name: "pkg" },
      id: "0x01",
      repositoryId: "0x02",
      owner: "0x0000000000000000000000000000000000000003",
      versions: [{ version: "1.0.0", meta: meta.toString(), src: src.toString(), yanked: false }],
    };
    return { getPackage: async () => record };
  }

  async function fetchInto(src: CID, destination: string) {
    const meta = await file(META);
    return fetchPackage({ spec: parsePackageSpec("evil/pkg:1.0.0"), destination, client: registry(meta, src), content: store });
  }

  beforeEach(async function () {
    dir = await tempDir("hostile-tree-");
    store = await openEmbeddedStore({ directory: join(dir.path, "store") });
    outside = join(dir.path, "outside");
    await mkdir(outside);
    await writeFile(join(outside, "keep.txt"), "mine");
  });
  afterEach(async function () {
    await store.close();
    await dir.remove();
  });

  describe("getTree (src/content/read.ts writeTree)", function () {
    it("creates a symlink of the tree as a symlink (legit content) and writes nothing where it points", async function () {
      const root = await directoryNode([["lib.rs", await file("fn main() {}\n")], ["link", await symlinkNode(join(outside, "new.txt"))]]);
      const out = join(dir.path, "out");
      await store.getTree(root, out);
      expect(await readlink(join(out, "link"))).to.equal(join(outside, "new.txt"));
      expect(await snapshot(outside)).to.deep.equal(["keep.txt (mine)"]);
    });

    for (const order of ["symlink first", "directory first"] as const) {
      it(`a name listed twice, a symlink to outside and a directory with a file (${order}): refused by its path in the tree, nothing written outside`, async function () {
        const link = await symlinkNode(outside);
        const sub = await directoryNode([["pwned.txt", await file("owned")]]);
        const entries: Array<[string, CID]> = order === "symlink first" ? [["a", link], ["a", sub]] : [["a", sub], ["a", link]];
        const root = await directoryNode([["sub", await directoryNode(entries)]]);
        const out = join(dir.path, "out");
        const error = await expectError(store.getTree(root, out), "ERR_CONTENT_PATH");
        expect(error.details.path).to.equal("sub/a");
        expect(error.message).to.contain('"sub/a"').and.contain("more than once");
        expect(error.message).not.to.contain(dir.path);
        expect(await snapshot(outside)).to.deep.equal(["keep.txt (mine)"]);
        expect(existsSync(out)).to.equal(false);
        expect((await readdir(dir.path)).sort(), "no temporary left").to.deep.equal(["outside", "store"]);
      });
    }

    it("a name listed twice, a dangling symlink and a file: the file is never created through the link", async function () {
      const target = join(outside, "created-through-link.txt");
      const root = await directoryNode([["pkg.toml", await symlinkNode(target)], ["pkg.toml", await file("owned")]]);
      await expectError(store.getTree(root, join(dir.path, "out")), "ERR_CONTENT_PATH");
      expect(existsSync(target)).to.equal(false);
    });

    it('an entry named ".." is refused by its path inside the tree, not the temporary directory', async function () {
      const root = await directoryNode([["sub", await directoryNode([["..", await file("up")]])]]);
      const error = await expectError(store.getTree(root, join(dir.path, "out")), "ERR_CONTENT_PATH");
      expect(error.details.path).to.equal("sub/..");
      expect(error.message).not.to.match(/\.tmp|partial/);
    });

    it("{ directory: true } refuses a root that is a symlink or a file before writing anything", async function () {
      for (const [root, kind] of [[await symlinkNode(outside), "symlink"], [await file("just a file"), "file"]] as const) {
        const out = join(dir.path, `out-${kind}`);
        const error = await expectError(store.getTree(root, out, { directory: true }), "ERR_CONTENT_NOT_DIRECTORY");
        expect(error.details.kind).to.equal(kind);
        expect(existsSync(out)).to.equal(false);
      }
    });

    it("a destination under a file is the destination's fault (ERR_CONTENT_WRITE with the OS reason), not the content's", async function () {
      await writeFile(join(dir.path, "a-file"), "x");
      const error = await expectError(store.getTree(await directoryNode([["x", await file("y")]]), join(dir.path, "a-file", "sub")), "ERR_CONTENT_WRITE");
      expect(error.message).to.contain("a-file is not a directory");
    });
  });

  describe("fetchPackage (src/fetch.ts)", function () {
    it("a src whose pkg.toml is a dangling symlink: refused (exit 8) naming package and CID; its target is never created", async function () {
      const target = join(outside, "planted.txt");
      const src = await directoryNode([["lib.rs", await file("x")], ["pkg.toml", await symlinkNode(target)]]);
      const destination = join(dir.path, "fetched");
      const error = await expectError(fetchInto(src, destination), ERR_FETCH_CORRUPT_TREE);
      expect(error.message).to.contain("evil/pkg:1.0.0").and.contain(src.toString()).and.contain("a pkg.toml that is a symlink");
      expect(existsSync(target), "fetch created the link's target").to.equal(false);
      expect(existsSync(destination)).to.equal(false);
      expect((await readdir(dir.path)).sort(), "no staging left").to.deep.equal(["outside", "store"]);
    });

    it("a src whose pkg.toml links to an existing file: refused, the file neither read into the package nor changed", async function () {
      const src = await directoryNode([["pkg.toml", await symlinkNode(join(outside, "keep.txt"))]]);
      await expectError(fetchInto(src, join(dir.path, "fetched")), ERR_FETCH_CORRUPT_TREE);
      expect(await snapshot(outside)).to.deep.equal(["keep.txt (mine)"]);
    });

    for (const name of ["pkg.lock", "pkg.build.toml"]) {
      it(`a src whose ${name} is a symlink (pkg lock and build would read and write it): refused`, async function () {
        const src = await directoryNode([[name, await symlinkNode(join(outside, name))]]);
        const error = await expectError(fetchInto(src, join(dir.path, "fetched")), ERR_FETCH_CORRUPT_TREE);
        expect(error.message).to.contain(`a ${name} that is a symlink`);
      });
    }

    it("a src whose root is a symlink to a directory: refused; nothing is written into that directory", async function () {
      const src = await symlinkNode(outside);
      const destination = join(dir.path, "fetched");
      const error = await expectError(fetchInto(src, destination), ERR_FETCH_CORRUPT_TREE);
      expect(error.message).to.contain("evil/pkg:1.0.0").and.contain(src.toString()).and.contain("a symlink, not a directory");
      expect(await snapshot(outside)).to.deep.equal(["keep.txt (mine)"]);
      expect(existsSync(destination)).to.equal(false);
    });

    it("a src whose root is a file: refused with a clear error, no ENOTDIR", async function () {
      const src = await file("not a tree");
      const error = await expectError(fetchInto(src, join(dir.path, "fetched")), ERR_FETCH_CORRUPT_TREE);
      expect(error.message).to.contain("a file, not a directory").and.not.contain("ENOTDIR");
    });

    it('a src with an entry ".." names the package, the CID and the entry, never a temporary path', async function () {
      const src = await directoryNode([["..", await file("x")]]);
      const error = await expectError(fetchInto(src, join(dir.path, "fetched")), ERR_FETCH_CORRUPT_TREE);
      expect(error.message).to.contain("evil/pkg:1.0.0").and.contain(src.toString()).and.contain('".."');
      expect(error.message).not.to.match(/partial|\.tmp/);
    });

    it("a legit tree fetches: its symlinks stay symlinks, pkg.toml is the published meta", async function () {
      const src = await directoryNode([["lib.rs", await file("x")], ["link", await symlinkNode("lib.rs")]]);
      const destination = join(dir.path, "fetched");
      await fetchInto(src, destination);
      expect(await snapshot(destination)).to.deep.equal(["lib.rs (x)", "link -> lib.rs", `pkg.toml (${META})`]);
    });

    it("-o a-file/sub: ERR_FETCH_DESTINATION_DIRECTORY_NOT_FOUND (exit 4) naming the file, no raw ENOTDIR", async function () {
      await writeFile(join(dir.path, "a-file"), "x");
      const src = await directoryNode([["lib.rs", await file("x")]]);
      const error = await expectError(fetchInto(src, join(dir.path, "a-file", "sub")), ERR_FETCH_DESTINATION_DIRECTORY_NOT_FOUND);
      expect(error.message).to.equal(`cannot create ${join(dir.path, "a-file", "sub")}: ${join(dir.path, "a-file")} is not a directory`);
    });

    it("-o /proc/new: the destination cannot be created, with the OS reason (not blamed on the content)", async function () {
      if (!existsSync("/proc/self")) skipBecause(this, "no /proc here");
      const src = await directoryNode([["lib.rs", await file("x")]]);
      const error = await expectError(fetchInto(src, "/proc/chainpkg-test-new"), ERR_FETCH_DESTINATION_UNWRITABLE);
      expect(error.message).to.match(/^cannot create \/proc\/chainpkg-test-new: E[A-Z]+: /);
      expect(error.message).not.to.contain("UnixFS");
    });

    it("a staging directory left by a killed fetch (dead pid) is removed by the next fetch into the same place; a live one is kept", async function () {
      const dead = join(dir.path, `.fetched.partial-${deadPid()}-0123456789ab`);
      const live = join(dir.path, ".fetched.partial-1-0123456789ab"); // pid 1 is always alive
      const other = join(dir.path, ".other.partial-999999-0123456789ab");
      for (const d of [dead, live, other]) await mkdir(join(d, "package"), { recursive: true });
      await fetchInto(await directoryNode([["lib.rs", await file("x")]]), join(dir.path, "fetched"));
      expect(existsSync(dead), "the dead fetch's staging directory").to.equal(false);
      expect(existsSync(live), "a live fetch's staging directory").to.equal(true);
      expect(existsSync(other), "another destination's").to.equal(true);
      expect(await removeStaleStaging(dir.path, "fetched")).to.deep.equal([]);
    });
  });

  describe("src globs (src/files/sources.ts)", function () {
    it('a glob over a symlink loop names the loop, not "** does not exist"', async function () {
      const pkg = join(dir.path, "pkg");
      await mkdir(join(pkg, "src"), { recursive: true });
      await writeFile(join(pkg, "src", "lib.rs"), "x");
      await symlink("loop", join(pkg, "src", "loop"));
      expect(await expandSourcePatterns(pkg, ["**"])).to.deep.include({ kind: "loop", path: "src/loop" });
      await symlink("b", join(pkg, "a"));
      await symlink("a", join(pkg, "b"));
      expect(await expandSourcePatterns(pkg, ["a"])).to.deep.include({ kind: "loop", path: "a" });
    });
  });
});
