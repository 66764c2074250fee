import { spawn } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { expect } from "chai";
import { base32upper } from "multiformats/bases/base32";
import { equals } from "multiformats/bytes";
import { sha256 } from "multiformats/hashes/sha2";
import { CHUNK_SIZE, openEmbeddedStore } from "../../../src/content";
import { collect, pseudoRandomBytes, tempDir } from "./helpers";

const WORKER = join(__dirname, "workers", "put-same.ts");

/** Reads every complete block file and checks its bytes against the multihash in its name. */
async function verifyAllBlocks(storeDir: string): Promise<{ verified: number; bad: string[]; temporaries: string[] }> {
  const root = join(storeDir, "blocks");
  let verified = 0;
  const bad: string[] = [];
  const temporaries: string[] = [];
  for (const shard of await readdir(root).catch(() => [] as string[])) {
    for (const name of await readdir(join(root, shard)).catch(() => [] as string[])) {
      if (!name.endsWith(".data")) {
        temporaries.push(name);
        continue;
      }
      const bytes = await readFile(join(root, shard, name)).catch(() => undefined);
      if (bytes === undefined) continue;
      const multihash = base32upper.decode(name.slice(0, -".data".length));
      const digest = await sha256.digest(bytes);
      if (equals(digest.bytes, multihash)) verified++;
      else bad.push(`${name} (${bytes.length} bytes)`);
    }
  }
  return { verified, bad, temporaries };
}

function runWorker(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--require", "ts-node/register/transpile-only", WORKER, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (data: Buffer) => (out += data.toString()));
    child.stderr.on("data", (data: Buffer) => (err += data.toString()));
    child.on("exit", (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`worker exited ${code}: ${err}`))));
  });
}

describe("content: concurrent writers of the same blocks", function () {
  this.timeout(180_000);
  let dir: Awaited<ReturnType<typeof tempDir>>;

  beforeEach(async function () {
    dir = await tempDir();
  });
  afterEach(async function () {
    await dir.remove();
  });

  it("never corrupts a block when many puts of one content race in one process (two store handles)", async function () {
    const storeDir = join(dir.path, "store");
    const [a, b] = await Promise.all([openEmbeddedStore({ directory: storeDir }), openEmbeddedStore({ directory: storeDir })]);
    const bytes = pseudoRandomBytes(16 * CHUNK_SIZE + 3, 77);
    const cids = await Promise.all(Array.from({ length: 24 }, (_, i) => (i % 2 === 0 ? a : b).putBytes(bytes)));
    expect(new Set(cids.map(String)).size).to.equal(1);
    const result = await verifyAllBlocks(storeDir);
    expect(result.bad).to.deep.equal([]);
    expect(result.temporaries).to.deep.equal([]);
    expect(result.verified).to.equal(18); // 17 leaves + 1 root
    expect(Buffer.compare(await collect(a.getBytes(cids[0])), Buffer.from(bytes))).to.equal(0);
  });

  it("never exposes a partial block while several processes write the same content", async function () {
    const storeDir = join(dir.path, "store");
    const size = 32 * CHUNK_SIZE + 1000;
    const startAt = Date.now() + 4000; // after every worker has loaded
    const workers = Array.from({ length: 3 }, () => runWorker([storeDir, String(size), "1234", "3", String(startAt)]));

    // While they write, keep reading whatever block files exist: a reader must only ever see a
    // complete, correct block (or none), which is what atomic rename-into-place guarantees.
    let done = false;
    const all = Promise.all(workers).finally(() => (done = true));
    const problems: string[] = [];
    let reads = 0;
    while (!done) {
      const result = await verifyAllBlocks(storeDir);
      problems.push(...result.bad);
      reads += result.verified;
      await new Promise((resolve) => setImmediate(resolve));
    }
    const outputs = await all;
    expect(problems).to.deep.equal([]);
    expect(reads).to.be.greaterThan(0);
    expect(new Set(outputs).size).to.equal(1);

    const final = await verifyAllBlocks(storeDir);
    expect(final.bad).to.deep.equal([]);
    expect(final.temporaries).to.deep.equal([]);
    const store = await openEmbeddedStore({ directory: storeDir });
    const bytes = pseudoRandomBytes(size, 1234);
    expect(Buffer.compare(await collect(store.getBytes((await store.putBytes(bytes)).toV1())), Buffer.from(bytes))).to.equal(0);
    expect((await store.putBytes(bytes)).toString()).to.equal(outputs[0]);
  });
});
