import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { expect } from "chai";
import type { CID } from "multiformats/cid";
import { isPkgError } from "../../../src/errors";
import {
  CHUNK_SIZE,
  fetchBlock,
  fetchCar,
  listenGateway,
  openEmbeddedStore,
  type EmbeddedContentStore,
  type RunningGateway,
} from "../../../src/content";
import { collect, corrupt, pseudoRandomBytes, tempDir } from "./helpers";

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected an error");
}

describe("content: trustless gateway between store nodes", function () {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let nodeA: EmbeddedContentStore;
  let gateway: RunningGateway;
  let root: CID;
  let fileCid: CID;
  const file = pseudoRandomBytes(4 * CHUNK_SIZE + 1, 31);

  beforeEach(async function () {
    dir = await tempDir();
    nodeA = await openEmbeddedStore({ directory: join(dir.path, "a") });
    root = await nodeA.putTree([
      { path: "lib/data.bin", content: file },
      { path: "README", content: "node A's tree\n" },
    ]);
    fileCid = await nodeA.putBytes(file);
    gateway = await listenGateway(nodeA);
  });
  afterEach(async function () {
    await gateway.close();
    await dir.remove();
  });

  describe("server", function () {
    it("listens on 127.0.0.1 only", function () {
      expect(gateway.url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect((gateway.server.address() as AddressInfo).address).to.equal("127.0.0.1");
    });

    it("serves the exact block bytes for ?format=raw with the spec's headers", async function () {
      const response = await fetch(`${gateway.url}/ipfs/${root.toString()}?format=raw`);
      expect(response.status).to.equal(200);
      expect(response.headers.get("content-type")).to.equal("application/vnd.ipld.raw");
      expect(response.headers.get("content-disposition")).to.equal(`attachment; filename="${root.toString()}.bin"`);
      expect(response.headers.get("x-content-type-options")).to.equal("nosniff");
      expect(response.headers.get("etag")).to.equal(`"${root.toString()}.raw"`);
      const body = new Uint8Array(await response.arrayBuffer());
      expect(Buffer.compare(body, await nodeA.getBlock(root))).to.equal(0);
    });

    it("negotiates by Accept when there is no format parameter, and lets ?format win over Accept", async function () {
      const byAccept = await fetch(`${gateway.url}/ipfs/${root.toString()}`, { headers: { accept: "application/vnd.ipld.raw" } });
      expect(byAccept.status).to.equal(200);
      expect(byAccept.headers.get("content-location")).to.equal(`/ipfs/${root.toString()}?format=raw`);
      await byAccept.arrayBuffer();
      const both = await fetch(`${gateway.url}/ipfs/${root.toString()}?format=car`, { headers: { accept: "application/vnd.ipld.raw" } });
      expect(both.headers.get("content-type")).to.match(/^application\/vnd\.ipld\.car; version=1/);
      await both.arrayBuffer();
    });

    it("answers 404 for a CID it does not hold, 400 for a bad CID, a missing format, or a path on a block", async function () {
      const other = await openEmbeddedStore({ directory: join(dir.path, "other") });
      const missing = await other.putBytes("not on node A");
      expect((await fetch(`${gateway.url}/ipfs/${missing.toString()}?format=raw`)).status).to.equal(404);
      expect((await fetch(`${gateway.url}/ipfs/${missing.toString()}?format=raw`, { method: "HEAD" })).status).to.equal(404);
      expect((await fetch(`${gateway.url}/ipfs/not-a-cid?format=raw`)).status).to.equal(400);
      expect((await fetch(`${gateway.url}/ipfs/${root.toString()}`)).status).to.equal(400);
      expect((await fetch(`${gateway.url}/ipfs/${root.toString()}?format=html`)).status).to.equal(400);
      expect((await fetch(`${gateway.url}/ipfs/${root.toString()}/README?format=raw`)).status).to.equal(400);
      expect((await fetch(`${gateway.url}/ipfs/${missing.toString()}?format=raw`, { headers: { "cache-control": "only-if-cached" } })).status).to.equal(412);
      expect((await fetch(`${gateway.url}/ipfs/${root.toString()}?format=raw`, { method: "POST" })).status).to.equal(405);
    });

    it("answers HEAD without a body and If-None-Match with 304", async function () {
      const head = await fetch(`${gateway.url}/ipfs/${root.toString()}?format=raw`, { method: "HEAD" });
      expect(head.status).to.equal(200);
      expect(Number(head.headers.get("content-length"))).to.equal((await nodeA.getBlock(root)).byteLength);
      const cached = await fetch(`${gateway.url}/ipfs/${root.toString()}?format=raw`, { headers: { "if-none-match": `"${root.toString()}.raw"` } });
      expect(cached.status).to.equal(304);
    });

    it("answers the probe CID bafkqaaa with an empty block", async function () {
      const response = await fetch(`${gateway.url}/ipfs/bafkqaaa?format=raw`);
      expect(response.status).to.equal(200);
      expect((await response.arrayBuffer()).byteLength).to.equal(0);
    });

    it("serves a CAR of the whole DAG that another store imports and verifies", async function () {
      const nodeB = await openEmbeddedStore({ directory: join(dir.path, "b") });
      const roots = await nodeB.importCar(fetchCar(gateway.url, root));
      expect(roots.map(String)).to.deep.equal([root.toString()]);
      expect(await nodeB.has(root)).to.equal(true);
    });

    it("answers 500, not corrupt bytes, when its own copy of a block is corrupt", async function () {
      await corrupt(nodeA, root);
      const response = await fetch(`${gateway.url}/ipfs/${root.toString()}?format=raw`);
      expect(response.status).to.equal(500);
      expect(await response.text()).to.contain(root.toString());
    });
  });

  describe("fetching", function () {
    it("lets node B read node A's tree through the gateway, block by block, and keeps the blocks", async function () {
      const nodeB = await openEmbeddedStore({ directory: join(dir.path, "b"), gateways: [gateway.url] });
      expect(await nodeB.has(root)).to.equal(false);
      await nodeB.getTree(root, join(dir.path, "out"));
      expect((await readdir(join(dir.path, "out"))).sort()).to.deep.equal(["README", "lib"]);
      expect(Buffer.compare(await readFile(join(dir.path, "out", "lib", "data.bin")), Buffer.from(file))).to.equal(0);
      // every block was stored locally: the same read now works with the gateway gone
      await gateway.close();
      expect(await nodeB.has(root)).to.equal(true);
      const offlineB = await openEmbeddedStore({ directory: join(dir.path, "b") });
      expect(Buffer.compare(await collect(offlineB.getBytes(fileCid)), Buffer.from(file))).to.equal(0);
      gateway = await listenGateway(nodeA);
    });

    it("pins through the gateway: fetches the missing blocks, then records the pin", async function () {
      const nodeB = await openEmbeddedStore({ directory: join(dir.path, "b"), gateways: [gateway.url] });
      await nodeB.pin(root);
      expect(await nodeB.has(root)).to.equal(true);
      expect((await nodeB.pins()).map(String)).to.deep.equal([root.toString()]);
    });

    it("does not fetch when asked to stay offline", async function () {
      const nodeB = await openEmbeddedStore({ directory: join(dir.path, "b"), gateways: [gateway.url] });
      const error = await errorOf(collect(nodeB.getBytes(fileCid, { offline: true })));
      expect(isPkgError(error, "ERR_CONTENT_NOT_FOUND")).to.equal(true);
      expect(await nodeB.hasBlock(fileCid)).to.equal(false);
    });

    it("skips a gateway that lies and takes the block from the next one", async function () {
      const liar = await startLiar();
      try {
        const nodeB = await openEmbeddedStore({ directory: join(dir.path, "b"), gateways: [liar.url, gateway.url] });
        expect(Buffer.compare(await collect(nodeB.getBytes(fileCid)), Buffer.from(file))).to.equal(0);
        expect(liar.requests()).to.be.greaterThan(0);
      } finally {
        await liar.close();
      }
    });

    it("fails with ERR_CONTENT_INTEGRITY naming the CID when every gateway lies", async function () {
      const liar = await startLiar();
      try {
        const error = await errorOf(fetchBlock([liar.url], root));
        expect(isPkgError(error, "ERR_CONTENT_INTEGRITY")).to.equal(true);
        expect((error as Error).message).to.contain(root.toString());
        const nodeB = await openEmbeddedStore({ directory: join(dir.path, "b"), gateways: [liar.url] });
        expect(isPkgError(await errorOf(nodeB.getTree(root, join(dir.path, "out"))), "ERR_CONTENT_INTEGRITY")).to.equal(true);
        expect(await readdir(dir.path)).to.not.include("out");
        expect(await nodeB.hasBlock(root)).to.equal(false);
      } finally {
        await liar.close();
      }
    });

    it("reports ERR_CONTENT_NOT_FOUND when no gateway has the block", async function () {
      const other = await openEmbeddedStore({ directory: join(dir.path, "other") });
      const missing = await other.putBytes("nobody has this");
      const error = await errorOf(fetchBlock([gateway.url], missing));
      expect(isPkgError(error, "ERR_CONTENT_NOT_FOUND")).to.equal(true);
    });
  });
});

/** A real HTTP server that answers every block request with the wrong bytes. */
async function startLiar(): Promise<{ url: string; requests(): number; close(): Promise<void> }> {
  let count = 0;
  const server: Server = createServer((_req, res) => {
    count++;
    res.writeHead(200, { "content-type": "application/vnd.ipld.raw" });
    res.end(Buffer.from("these are not the bytes you are looking for"));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => count,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
