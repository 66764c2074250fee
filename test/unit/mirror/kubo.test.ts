/**
 * A snapshot index is a UnixFS directory any IPFS node reads: a real Kubo (scripts/engines.sh) resolves
 * `/ipfs/ROOT/NAME` to the entry, and `ipfs add` of the same files as a HAMT-sharded directory gives the same
 * root, before and after an in-place update (so Kubo's collapse rules and ours agree). Skipped where the engines
 * cannot be built; CI builds them.
 */
import { expect } from "chai";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { CID } from "multiformats/cid";
import { openEmbeddedStore, type EmbeddedContentStore } from "../../../src/content";
import { hamtUpdate, linkSize, type HamtLink } from "../../../src/mirror/hamt";
import { requireEngine, run, startKubo, type KuboNode } from "../../helpers/engines";

describe("mirror: a snapshot index read by a real Kubo", function () {
  this.timeout(300_000);
  let dir = "";
  let content: EmbeddedContentStore;
  let kubo: KuboNode | null = null;
  let adder: NodeJS.ProcessEnv = {};
  let ipfsBin = "";

  before(async function () {
    const ipfs = requireEngine(this, "ipfs");
    dir = await mkdtemp(path.join(tmpdir(), "chainpkg-mirror-kubo-"));
    content = await openEmbeddedStore({ directory: path.join(dir, "store") });
    kubo = await startKubo(ipfs, path.join(dir, "kubo"));
    // a second repo, with no daemon, for `ipfs add`: a running daemon keeps the config it started with, and here
    // every directory is sharded however small (Kubo's default switches at 256 KiB), as our indexes always are
    adder = { IPFS_PATH: path.join(dir, "adder"), IPFS_TELEMETRY: "off" };
    run(ipfs, ["init", "--profile", "test", "--empty-repo"], adder);
    run(ipfs, ["config", "--json", "Import.UnixFSHAMTDirectorySizeThreshold", '"1B"'], adder);
    ipfsBin = ipfs;
  });
  after(async () => {
    await kubo?.stop();
    await content?.close();
    if (dir !== "") await rm(dir, { recursive: true, force: true });
  });

  /** The files as a directory on disk, added by Kubo: its root CID. */
  async function kuboAdd(files: Map<string, string>, name: string): Promise<string> {
    const at = path.join(dir, name);
    await mkdir(at, { recursive: true });
    for (const [file, text] of files) await writeFile(path.join(at, file), text);
    return run(ipfsBin, ["add", "-r", "-Q", "--hidden", "--cid-version=1", "--raw-leaves", at], adder).trim();
  }

  async function index(root: CID | null, changes: Map<string, string | null>): Promise<CID> {
    const links = new Map<string, HamtLink | null>();
    for (const [name, text] of changes) {
      if (text === null) links.set(name, null);
      else {
        const cid = await content.putBytes(text);
        links.set(name, { cid, size: await linkSize(content, cid) });
      }
    }
    return (await hamtUpdate(content, root, links)).root;
  }

  it("Kubo adds the same files to the same root, resolves ROOT/NAME to the entry, and agrees after deletes", async () => {
    const files = new Map<string, string>();
    for (let i = 0; i < 1500; i++) files.set(`pkg-${i}`, `{"name":"pkg-${i}","n":${i}}`);
    files.set(".snapshot", '{"format":"test"}');
    const ours = await index(null, files);
    expect(await kuboAdd(files, "v1")).to.equal(ours.toString());

    // the index travels as a CAR (what `pkg store export` writes); Kubo resolves paths through the shards
    const car = path.join(dir, "index.car");
    const chunks: Uint8Array[] = [];
    for await (const chunk of content.exportCar(ours)) chunks.push(chunk);
    await writeFile(car, Buffer.concat(chunks));
    kubo!.ipfs(["dag", "import", car]);
    expect(kubo!.ipfs(["cat", `/ipfs/${ours}/pkg-1234`])).to.equal('{"name":"pkg-1234","n":1234}');
    expect(kubo!.ipfs(["cat", `/ipfs/${ours}/.snapshot`])).to.equal('{"format":"test"}');

    // an update in place: some entries changed, some removed, some added — Kubo, adding the new set from scratch,
    // gets our root (sub-shards that lost entries collapse the same way)
    const changes = new Map<string, string | null>();
    for (let i = 0; i < 1500; i += 7) changes.set(`pkg-${i}`, null);
    for (let i = 3; i < 1500; i += 50) changes.set(`pkg-${i}`, `{"name":"pkg-${i}","n":${i},"changed":true}`);
    for (let i = 1500; i < 1520; i++) changes.set(`pkg-${i}`, `{"name":"pkg-${i}","n":${i}}`);
    const next = new Map(files);
    for (const [name, text] of changes) {
      if (text === null) next.delete(name);
      else next.set(name, text);
    }
    const updated = await index(ours, changes);
    expect(await kuboAdd(next, "v2")).to.equal(updated.toString());
  });
});
