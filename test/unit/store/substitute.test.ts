/**
 * Substitution: realise fetches an output by the CID a substituter names instead of building it,
 * verifies the fetched tree's CID, and builds when that fails. Real daemons in this process (store A
 * builds, store B substitutes from the same content store), real builder, real content store.
 */
import { expect } from "chai";
import { stat, readFile } from "node:fs/promises";
import path from "node:path";
import { connectStore, type StoreClient } from "../../../src/daemon/client";
import { runDaemon, type RunningDaemon } from "../../../src/daemon/daemon";
import { openEmbeddedStore } from "../../../src/content";
import { listenGateway } from "../../../src/content/gateway";
import { scriptDerivation, withDaemon, type Sandbox } from "./helpers";

interface Realised {
  outputs: Record<string, string>;
  built: boolean;
  substituted?: boolean;
  cids: Record<string, string>;
}

const HELLO = "mkdir -p $out/bin; printf '#!/bin/sh\\necho hi\\n' > $out/bin/hi; chmod +x $out/bin/hi; echo data > $out/data";

describe("store substitution (in process, real daemons, real builder)", function () {
  this.timeout(120_000);
  const fixture = withDaemon();
  let s: Sandbox;
  let client: StoreClient;
  // Store B: a second daemon with its own store, sharing store A's content store (the blocks).
  let b: RunningDaemon;
  let bClient: StoreClient;
  let bLog: string[];
  beforeEach(async () => {
    ({ s, client } = fixture);
    bLog = [];
    b = await runDaemon({ root: path.join(s.dir, "store-b"), socket: path.join(s.dir, "run-b", "store.sock"), content: s.content, cores: 2, log: () => {} });
    bClient = await connectStore({ root: path.join(s.dir, "store-b"), socket: b.socket, start: false });
  });
  afterEach(async () => {
    bClient.close();
    await b.close();
  });

  const realiseB = (drv: string) => bClient.request<Realised>("realise", { drv }, (e) => (e.event === "log" ? bLog.push(String(e.text)) : undefined));

  it("substitutes a built output in another store: same CID, exec bits kept, builder never ran, verify clean", async () => {
    const drv = (await scriptDerivation(s.content, { name: "hello-1.0.0", script: HELLO })).toString();
    const a = await client.request<Realised>("realise", { drv });
    expect(a.built).to.equal(true);
    await bClient.request("add-substitute", { drv, cid: a.cids.out, source: "test" });
    const r = await realiseB(drv);
    expect(r).to.deep.include({ built: false, substituted: true });
    expect(r.cids.out).to.equal(a.cids.out);
    expect(b.realiser.stats().started).to.equal(0);
    expect(path.basename(r.outputs.out)).to.equal(path.basename(a.outputs.out));
    expect(b.store.queryOutput(drv, "out")!.cid).to.equal(a.cids.out);
    expect((await stat(path.join(r.outputs.out, "bin/hi"))).mode & 0o777).to.equal(0o555);
    expect((await stat(path.join(r.outputs.out, "data"))).mode & 0o777).to.equal(0o444);
    expect(await readFile(path.join(r.outputs.out, "data"), "utf8")).to.equal("data\n");
    expect((await bClient.request<{ problems: unknown[] }>("verify")).problems).to.deep.equal([]);
    // Valid now: a second request neither substitutes nor builds.
    expect(await realiseB(drv)).to.deep.include({ built: false, outputs: r.outputs });
  });

  it("a substitute whose tree recomputes to another CID is not registered: it builds, with a warning", async () => {
    const drv = (await scriptDerivation(s.content, { name: "hello-1.0.0", script: HELLO })).toString();
    // A tree added without modes (as `ipfs add` would): fetchable, but not an output's canonical form.
    const wrong = (await s.content.putTree([{ path: "data", content: "wrong\n" }])).toString();
    await bClient.request("add-substitute", { drv, cid: wrong });
    const r = await realiseB(drv);
    expect(r.built).to.equal(true);
    expect(r.substituted).to.equal(undefined);
    expect(r.cids.out).to.not.equal(wrong);
    expect(b.store.queryOutput(drv, "out")!.cid).to.equal(r.cids.out);
    expect(await readFile(path.join(r.outputs.out, "data"), "utf8")).to.equal("data\n");
    expect(bLog.some((l) => l.startsWith("warning: cannot substitute hello-1.0.0") && l.includes(wrong))).to.equal(true);
    expect((await bClient.request<{ problems: unknown[] }>("verify")).problems).to.deep.equal([]);
  });

  it("a substitute whose blocks are missing and unfetchable (no gateways) builds instead", async () => {
    const drv = (await scriptDerivation(s.content, { name: "hello-1.0.0", script: HELLO })).toString();
    // Its CID is computed in another content store: B's has none of its blocks and no gateway to ask.
    const other = await openEmbeddedStore({ directory: path.join(s.dir, "other-ipfs") });
    let missing: string;
    try {
      missing = (await other.putTree([{ path: "data", content: "elsewhere\n", mode: 0o644 }])).toString();
    } finally {
      await other.close();
    }
    expect(await s.content.has((await import("multiformats/cid")).CID.parse(missing))).to.equal(false);
    await bClient.request("add-substitute", { drv, cid: missing });
    const r = await realiseB(drv);
    expect(r.built).to.equal(true);
    expect(await readFile(path.join(r.outputs.out, "data"), "utf8")).to.equal("data\n");
    expect(bLog.some((l) => l.startsWith("warning: cannot substitute"))).to.equal(true);
  });

  it("fetches a substitute whose blocks (and derivation) only a trustless gateway on 127.0.0.1 has: verified, registered, never built", async () => {
    const drv = (await scriptDerivation(s.content, { name: "hello-1.0.0", script: HELLO })).toString();
    const a = await client.request<Realised>("realise", { drv });
    // Store C: its own content store, empty, whose only way to the blocks is store A's content served over HTTP.
    const gateway = await listenGateway(s.content);
    const cContent = await openEmbeddedStore({ directory: path.join(s.dir, "ipfs-c"), gateways: [gateway.url] });
    const c = await runDaemon({ root: path.join(s.dir, "store-c"), socket: path.join(s.dir, "run-c", "store.sock"), content: cContent, cores: 2, log: () => {} });
    const cClient = await connectStore({ root: path.join(s.dir, "store-c"), socket: c.socket, start: false });
    try {
      const { CID } = await import("multiformats/cid");
      expect(await cContent.has(CID.parse(a.cids.out))).to.equal(false);
      await cClient.request("add-substitute", { drv, cid: a.cids.out, source: "gateway-test" });
      const r = await cClient.request<Realised>("realise", { drv });
      expect(r).to.deep.include({ built: false, substituted: true });
      expect(r.cids.out).to.equal(a.cids.out);
      expect(c.realiser.stats().started).to.equal(0);
      expect(await readFile(path.join(r.outputs.out, "data"), "utf8")).to.equal("data\n");
      expect((await stat(path.join(r.outputs.out, "bin/hi"))).mode & 0o777).to.equal(0o555);
      // the blocks are local now (fetched, each verified against its CID), and the store checks clean
      expect(await cContent.has(CID.parse(a.cids.out))).to.equal(true);
      expect((await cClient.request<{ problems: unknown[] }>("verify")).problems).to.deep.equal([]);
    } finally {
      cClient.close();
      await c.close();
      await cContent.close();
      await gateway.close();
    }
  });

  it("does not realise the inputs of a substituted derivation, except those its output references", async () => {
    const tool = (await scriptDerivation(s.content, { name: "tool-1.0.0", script: "mkdir $out; echo tool > $out/t" })).toString();
    const lib = (await scriptDerivation(s.content, { name: "lib-1.0.0", script: "mkdir $out; echo lib > $out/l" })).toString();
    const { CID } = await import("multiformats/cid");
    const app = (
      await scriptDerivation(s.content, {
        name: "app-1.0.0",
        script: 'mkdir $out; cat $tool/t > $out/all; echo "$lib" > $out/ref',
        inputs: { tool: CID.parse(tool), lib: CID.parse(lib) },
      })
    ).toString();
    const a = await client.request<Realised>("realise", { drv: app });
    const aLib = await client.request<Realised>("realise", { drv: lib });
    await bClient.request("add-substitute", { drv: app, cid: a.cids.out });
    await bClient.request("add-substitute", { drv: lib, cid: aLib.cids.out });
    const r = await realiseB(app);
    expect(r).to.deep.include({ built: false, substituted: true, cids: a.cids });
    expect(b.realiser.stats().started).to.equal(0);
    // tool is a build-time input only: never realised in B. lib is referenced: substituted, and a reference.
    expect(await bClient.request("query", { drv: tool })).to.equal(null);
    const libOut = (await bClient.request<{ outputs: { out: string } }>("query", { drv: lib })).outputs.out;
    expect(path.basename(libOut)).to.equal(path.basename(aLib.outputs.out));
    expect(b.store.db.prepare("SELECT ref FROM refs WHERE path = ?").pluck().all(r.outputs.out)).to.deep.equal([libOut]);
    expect((await bClient.request<{ problems: unknown[] }>("verify")).problems).to.deep.equal([]);
  });

  it("add-substitute rejects a CID that is not one", async () => {
    const err = await bClient.request("add-substitute", { drv: "nope", cid: "bafy" }).then(() => null, (e: { code: string }) => e);
    expect(err?.code).to.equal("ERR_STORE_BAD_CID");
  });
});
