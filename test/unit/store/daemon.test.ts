/**
 * The store daemon in this process, over its real unix socket, with a real store and content store on
 * disk and the real builder (src/builder/run.ts): realise, inputs, one build for many clients, rebuild,
 * query / add-path / get-path, gc, verify, and errors as one line with a code and a hint.
 */
import { expect } from "chai";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { lstat, readFile, stat, writeFile, mkdir } from "node:fs/promises";
import path from "node:path";
import { connectStore, type StoreClient } from "../../../src/daemon/client";
import { DAEMON_PROTOCOL_VERSION, runDaemon, type RunningDaemon } from "../../../src/daemon/daemon";
import { addRoot, removeRoot } from "../../../src/store/store";
import { makeSandbox, scriptDerivation, sourceDerivation, withDaemon, type Sandbox } from "./helpers";
import { rejection } from "../../helpers/errors";
import { requireBuilt } from "../../helpers/dist";
import { letTimePass, waitFor } from "../../helpers/wait";

interface Realised {
  outputs: Record<string, string>;
  built: boolean;
  subderivations: string[];
  cids: Record<string, string>;
  matched?: boolean;
}

describe("store daemon (in process, real socket, real builder)", function () {
  this.timeout(120_000);
  const fixture = withDaemon();
  let s: Sandbox;
  let daemon: RunningDaemon;
  let client: StoreClient;
  beforeEach(() => ({ s, daemon, client } = fixture));

  it("realises a source builder: output registered, read-only, content CID recorded, verify clean", async () => {
    const drv = await scriptDerivation(s.content, { name: "hello-1.0.0", script: 'mkdir -p $out/bin; echo hi > $out/bin/hello; echo "built it"' });
    const logs: string[] = [];
    const progress: string[] = [];
    const r = await client.request<Realised>("realise", { drv: drv.toString() }, (e) => (e.event === "log" ? logs.push(String(e.text)) : progress.push(`${String(e.phase)} ${String(e.name)}`)));
    expect(progress).to.deep.equal(["build hello-1.0.0", "built hello-1.0.0"]);
    expect(r.built).to.equal(true);
    expect(path.basename(r.outputs.out)).to.match(/^[a-z2-7]{32}-hello-1\.0\.0$/);
    expect(await readFile(path.join(r.outputs.out, "bin/hello"), "utf8")).to.equal("hi\n");
    expect((await stat(r.outputs.out)).mode & 0o777).to.equal(0o555);
    expect((await stat(path.join(r.outputs.out, "bin/hello"))).mode & 0o777).to.equal(0o444);
    expect(logs).to.include("built it");
    expect(r.cids.out).to.match(/^bafy/);
    const again = await client.request<Realised>("realise", { drv: drv.toString() });
    expect(again).to.deep.include({ built: false, outputs: r.outputs });
    expect(await client.request("query", { drv: drv.toString() })).to.deep.equal({ outputs: r.outputs });
    const verify = await client.request<{ ok: boolean; problems: unknown[] }>("verify");
    expect(verify.problems).to.deep.equal([]);
    expect((await stat(s.socket)).mode & 0o777).to.equal(0o600);
    expect((await stat(path.dirname(s.socket))).mode & 0o777).to.equal(0o700);
  });

  it("a diamond (two inputs sharing one): the shared input's progress and log reach the client once", async () => {
    const shared = await scriptDerivation(s.content, { name: "shared-1.0.0", script: 'mkdir $out; echo "shared log line"' });
    const left = await scriptDerivation(s.content, { name: "left-1.0.0", script: "mkdir $out", inputs: { shared } });
    const right = await scriptDerivation(s.content, { name: "right-1.0.0", script: "mkdir $out", inputs: { shared } });
    const top = await scriptDerivation(s.content, { name: "top-1.0.0", script: "mkdir $out", inputs: { left, right } });
    const logs: string[] = [];
    const progress: string[] = [];
    await client.request<Realised>("realise", { drv: top.toString() }, (e) => (e.event === "log" ? logs.push(String(e.text)) : progress.push(`${String(e.phase)} ${String(e.name)}`)));
    expect(progress.filter((p) => p.endsWith("shared-1.0.0"))).to.deep.equal(["build shared-1.0.0", "built shared-1.0.0"]);
    expect(logs.filter((l) => l === "shared log line")).to.have.length(1);
    expect(progress.filter((p) => p.startsWith("build "))).to.have.length(4);
  });

  it("realises inputs first and passes them as $name; a none builder's output is its src", async () => {
    const lib = await sourceDerivation(s.content, "lib-0.1.0", { "lib.txt": "library\n" });
    const tool = await scriptDerivation(s.content, { name: "tool-1.0.0", script: "mkdir $out; echo tool > $out/t" });
    const app = await scriptDerivation(s.content, {
      name: "app-1.0.0",
      script: 'mkdir $out; cat $lib/lib.txt $tool/t > $out/all; echo "$lib" > $out/ref',
      inputs: { lib, tool },
    });
    const r = await client.request<Realised>("realise", { drv: app.toString() });
    expect(await readFile(path.join(r.outputs.out, "all"), "utf8")).to.equal("library\ntool\n");
    const libOut = (await client.request<{ outputs: { out: string } }>("query", { drv: lib.toString() })).outputs.out;
    expect(await readFile(path.join(r.outputs.out, "ref"), "utf8")).to.equal(`${libOut}\n`);
    // the reference to $lib was found by scanning; $tool is not referenced
    const refs = daemon.store.db.prepare("SELECT ref FROM refs WHERE path = ?").pluck().all(r.outputs.out);
    expect(refs).to.deep.equal([libOut]);
  });

  it("finds references anywhere in big files (across the scan's 1 MiB pieces) and in symlink targets", async () => {
    const a = await sourceDerivation(s.content, "a-1.0.0", { "a.txt": "a\n" });
    const b = await sourceDerivation(s.content, "b-1.0.0", { "b.txt": "b\n" });
    const c = await sourceDerivation(s.content, "c-1.0.0", { "c.txt": "c\n" });
    // $a's path straddles the first 1 MiB boundary; $b is a symlink target; $c is not referenced
    const big = await scriptDerivation(s.content, {
      name: "big-1.0.0",
      inputs: { a, b, c },
      script: [
        "mkdir $out",
        'pre="$(dirname "$a")/"',
        'head -c $((1048576 - 16 - ${#pre})) /dev/zero > $out/big', // the hash starts 16 bytes before 1 MiB
        'printf "%s" "$a" >> $out/big',
        "head -c 3000000 /dev/zero >> $out/big",
        'ln -s "$b/b.txt" $out/link',
      ].join("\n"),
    });
    const r = await client.request<Realised>("realise", { drv: big.toString() });
    const out = async (d: typeof a) => (await client.request<{ outputs: { out: string } }>("query", { drv: d.toString() })).outputs.out;
    const refs = daemon.store.db.prepare("SELECT ref FROM refs WHERE path = ? ORDER BY ref").pluck().all(r.outputs.out);
    expect(refs).to.deep.equal([await out(a), await out(b)].sort());
  });

  it("gives eight clients asking for one derivation at once one build", async () => {
    const drv = await scriptDerivation(s.content, { name: "slow-1.0.0", script: "sleep 1; mkdir $out; date +%s%N > $out/stamp" });
    const clients = await Promise.all(Array.from({ length: 8 }, () => connectStore({ root: s.storeDir, socket: s.socket, start: false })));
    const results = await Promise.all(clients.map((c) => c.request<Realised>("realise", { drv: drv.toString() })));
    for (const c of clients) c.close();
    expect(new Set(results.map((r) => r.outputs.out)).size).to.equal(1);
    expect(results.filter((r) => r.built).length).to.equal(1);
    expect(daemon.realiser.stats().started).to.equal(1);
  });

  it("gives eight client processes asking for one derivation at once one build", async function () {
    this.timeout(600_000); // builds dist/ when it is missing
    const [client] = requireBuilt("dist/src/daemon/client.js");
    const drv = await scriptDerivation(s.content, { name: "shared-1.0.0", script: "sleep 1; mkdir $out; echo once > $out/x" });
    const program = `require(${JSON.stringify(client)}).connectStore({ root: process.argv[1], socket: process.argv[2], start: false })
      .then((c) => c.request("realise", { drv: process.argv[3] })).then((r) => { console.log(JSON.stringify(r)); process.exit(0); },
      (e) => { console.error(e.message); process.exit(1); });`;
    const runs = await Promise.all(Array.from({ length: 8 }, () => new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ["-e", program, s.storeDir, s.socket, drv.toString()], (error, stdout) => (error ? reject(error) : resolve(stdout)));
    })));
    const results = runs.map((out) => JSON.parse(out) as Realised);
    expect(new Set(results.map((r) => r.outputs.out)).size).to.equal(1);
    expect(results.filter((r) => r.built).length).to.equal(1);
    expect(daemon.realiser.stats().started).to.equal(1);
  });

  it("an output deleted by hand is realised again, not handed out", async () => {
    const drv = await scriptDerivation(s.content, { name: "fragile-1.0.0", script: "mkdir $out; echo x > $out/x" });
    const first = await client.request<Realised>("realise", { drv: drv.toString() });
    await daemon.store.removeTree(first.outputs.out);
    const again = await client.request<Realised>("realise", { drv: drv.toString() });
    expect(again.built).to.equal(true);
    expect(await readFile(path.join(again.outputs.out, "x"), "utf8")).to.equal("x\n");
    expect((await client.request<{ ok: boolean }>("verify")).ok).to.equal(true);
  });

  it("rebuild: matched for a deterministic build, not for one that is not; the registered path is untouched", async () => {
    const same = await scriptDerivation(s.content, { name: "same-1.0.0", script: "mkdir $out; echo same > $out/x" });
    const first = await client.request<Realised>("realise", { drv: same.toString() });
    const again = await client.request<Realised>("realise", { drv: same.toString(), rebuild: true });
    expect(again.matched).to.equal(true);
    expect(again.outputs).to.deep.equal(first.outputs);
    const random = await scriptDerivation(s.content, { name: "random-1.0.0", script: "mkdir $out; od -An -N8 -tx8 /dev/urandom > $out/x" });
    const r1 = await client.request<Realised>("realise", { drv: random.toString() });
    const before = await readFile(path.join(r1.outputs.out, "x"), "utf8");
    const r2 = await client.request<Realised>("realise", { drv: random.toString(), rebuild: true });
    expect(r2.matched).to.equal(false);
    expect(await readFile(path.join(r1.outputs.out, "x"), "utf8")).to.equal(before);
    expect((await client.request<{ ok: boolean }>("verify")).ok).to.equal(true);
  });

  it("add-path and get-path go through the content store", async () => {
    const dir = path.join(s.dir, "thing");
    await mkdir(dir);
    await writeFile(path.join(dir, "a"), "A");
    const added = await client.request<{ path: string; cid: string }>("add-path", { path: dir });
    expect(await readFile(path.join(added.path, "a"), "utf8")).to.equal("A");
    const got = await client.request<{ path: string }>("get-path", { cid: added.cid, name: "thing" });
    expect(got.path).to.equal(added.path);
  });

  it("gc keeps roots and what they reference, removes the rest, and survives a root added from another process", async () => {
    const lib = await sourceDerivation(s.content, "lib-0.1.0", { "lib.txt": "library\n" });
    const app = await scriptDerivation(s.content, { name: "app-1.0.0", script: 'mkdir $out; echo "$lib" > $out/ref', inputs: { lib } });
    const other = await scriptDerivation(s.content, { name: "other-1.0.0", script: "mkdir $out; echo x > $out/x" });
    const appOut = (await client.request<Realised>("realise", { drv: app.toString() })).outputs.out;
    const otherOut = (await client.request<Realised>("realise", { drv: other.toString() })).outputs.out;
    const libOut = (await client.request<{ outputs: { out: string } }>("query", { drv: lib.toString() })).outputs.out;
    addRoot("profile:test:1", appOut, s.storeDir);
    const dry = await client.request<{ removed: string[] }>("gc", { dryRun: true });
    expect(dry.removed).to.include(otherOut);
    expect(await lstat(otherOut).then(() => true)).to.equal(true);
    const gc = await client.request<{ removed: string[]; freedBytes: number }>("gc");
    expect(gc.removed).to.include(otherOut);
    expect(gc.removed).to.not.include(appOut);
    expect(gc.removed).to.not.include(libOut); // referenced by the root
    expect(gc.freedBytes).to.be.greaterThan(0);
    expect(await lstat(otherOut).then(() => true, () => false)).to.equal(false);
    expect(await lstat(libOut).then(() => true, () => false)).to.equal(true);
    expect((await client.request<{ ok: boolean }>("verify")).ok).to.equal(true);
    // an unregistered path cannot become a root
    expect(() => addRoot("profile:test:2", otherOut, s.storeDir)).to.throw().with.property("code", "ERR_STORE_PATH_NOT_FOUND");
    removeRoot("profile:test:1", s.storeDir);
    const all = await client.request<{ removed: string[] }>("gc");
    expect(all.removed).to.include.members([appOut, libOut]);
    // realised again after gc: built again
    expect((await client.request<Realised>("realise", { drv: app.toString() })).built).to.equal(true);
  });

  it("gc while a build runs keeps what the build uses (temporary roots) and the build completes", async () => {
    const lib = await sourceDerivation(s.content, "lib-0.2.0", { "lib.txt": "library\n" });
    const app = await scriptDerivation(s.content, { name: "app-2.0.0", script: "sleep 1; mkdir $out; cat $lib/lib.txt > $out/copy", inputs: { lib } });
    const building = client.request<Realised>("realise", { drv: app.toString() });
    await waitFor(() => daemon.realiser.building().includes(app.toString()), { what: "app's builder to run" });
    const gc = await client.request<{ removed: string[] }>("gc");
    expect(gc.removed).to.deep.equal([]); // lib's source and app's src are in use
    const r = await building;
    expect(await readFile(path.join(r.outputs.out, "copy"), "utf8")).to.equal("library\n");
    const after = await client.request<{ removed: string[] }>("gc"); // nothing roots them any more
    expect(after.removed).to.include(r.outputs.out);
    expect((await client.request<{ ok: boolean }>("verify")).ok).to.equal(true);
  });

  it("errors are one line with a code and a hint: bad CID, unknown derivation, failed build (last log lines), unknown op", async () => {
    const bad = await rejection(client.request("realise", { drv: "not-a-cid" }));
    expect(bad.code).to.equal("ERR_STORE_BAD_CID");
    expect(bad.hint).to.be.a("string");
    const raw = await rejection(client.request("realise", { drv: "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy" }));
    expect(raw.code).to.equal("ERR_STORE_BAD_CID");
    const unknown = await rejection(client.request("realise", { drv: "bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy" }));
    expect(unknown.code).to.equal("ERR_STORE_UNKNOWN_DERIVATION");
    expect(unknown.hint).to.match(/instantiate/);
    const failing = await scriptDerivation(s.content, { name: "broken-1.0.0", script: "echo step one; echo 'error: the thing broke' >&2; exit 3" });
    const failed = await rejection(client.request("realise", { drv: failing.toString() }));
    expect(failed.code).to.equal("ERR_BUILD_FAILED");
    expect(failed.message).to.not.include("\n");
    expect(failed.message).to.include("error: the thing broke");
    expect(failed.hint).to.match(/full log: .*\.log$/);
    const dependent = await scriptDerivation(s.content, { name: "dep-1.0.0", script: "mkdir $out", inputs: { broken: failing } });
    const inputFailed = await rejection(client.request("realise", { drv: dependent.toString() }));
    expect(inputFailed.code).to.equal("ERR_BUILD_INPUT_FAILED");
    expect(inputFailed.message).to.match(/^dep-1\.0\.0: input broken failed: /);
    const noOutput = await scriptDerivation(s.content, { name: "lazy-1.0.0", script: "true" });
    expect((await rejection(client.request("realise", { drv: noOutput.toString() }))).code).to.equal("ERR_BUILD_NO_OUTPUT");
    const op = await rejection(client.request("frobnicate"));
    expect(op.code).to.equal("ERR_STORE_BAD_REQUEST");
    // nothing of the failed builds is left in the store
    const verify = await client.request<{ ok: boolean; problems: unknown[] }>("verify");
    expect(verify.problems).to.deep.equal([]);
    const invoke = await rejection(client.request("invoke", { tool: "rustc", buildId: "x" }));
    expect(invoke.code).to.be.a("string"); // the meta handler answers (or says it is missing) as a PkgError
  });
});

describe("store daemon, one per test started here: the client's handshake, the idle timeout", function () {
  this.timeout(60_000);
  let s: Sandbox;
  beforeEach(async () => {
    s = await makeSandbox();
  });
  afterEach(async () => {
    await s.cleanup();
  });

  it("refuses a daemon of another store (ERR_STORE_DAEMON_MISMATCH naming both), and one of another protocol version", async () => {
    const daemon = await runDaemon({ root: s.storeDir, socket: s.socket, content: s.content, log: () => {} });
    try {
      const ok = await connectStore({ root: s.storeDir, socket: s.socket, start: false });
      ok.close();
      const other = path.join(s.dir, "other-store");
      const wrongStore = await rejection(connectStore({ root: other, socket: s.socket, start: false }));
      expect(wrongStore.code).to.equal("ERR_STORE_DAEMON_MISMATCH");
      expect(wrongStore.message).to.equal(`the store daemon on ${s.socket} serves the store ${s.storeDir}, not ${other}`);
      expect(wrongStore.hint).to.match(/PKG_STORE_SOCKET/);
    } finally {
      await daemon.close();
    }
    // a daemon of a newer (or older) pkg: a real socket that answers status with another version
    const net = await import("node:net");
    const fake = path.join(s.dir, "fake.sock");
    const server = net.createServer((socket) =>
      socket.on("data", (d) => {
        const id = (JSON.parse(d.toString().split("\n")[0]!) as { id: number }).id;
        socket.write(`${JSON.stringify({ id, ok: true, result: { pid: 1, store: s.storeDir, version: 999 } })}\n`);
      }),
    );
    await new Promise<void>((resolve) => server.listen(fake, resolve));
    try {
      const wrongVersion = await rejection(connectStore({ root: s.storeDir, socket: fake, start: false }));
      expect(wrongVersion.code).to.equal("ERR_STORE_DAEMON_MISMATCH");
      expect(wrongVersion.message).to.equal(`the store daemon on ${fake} speaks protocol 999, this pkg ${DAEMON_PROTOCOL_VERSION}`);
      expect(wrongVersion.hint).to.match(/pkg store status --shutdown/);
    } finally {
      server.close();
    }
  });

  it("stops after the idle timeout when no client is connected; a connected client or a running build keeps it up", async () => {
    const daemon = await runDaemon({ root: s.storeDir, socket: s.socket, content: s.content, log: () => {}, idleTimeoutMs: 400 });
    let closed = false;
    void daemon.closed.then(() => (closed = true));
    // a client that stays connected, with a build that outlives it
    const client = await connectStore({ root: s.storeDir, socket: s.socket, start: false });
    const slow = await scriptDerivation(s.content, { name: "slow", script: "sleep 1.5; mkdir $out" });
    await letTimePass(900); // more than the idle timeout (400 ms), with a client connected
    expect(closed, "closed with a client connected").to.equal(false);
    client.request<Realised>("realise", { drv: slow.toString() }).catch(() => undefined); // its client goes away
    await waitFor(() => daemon.realiser.building().includes(slow.toString()), { what: "the slow builder to run" });
    client.close();
    await letTimePass(700); // more than the idle timeout, with no client connected but the build running (1.5 s)
    expect(closed, "closed during a build whose client went away").to.equal(false);
    // the build ends, nobody is connected: it stops, removes its socket, and the build's output was kept
    const started = Date.now();
    await daemon.closed;
    expect(Date.now() - started).to.be.below(5_000);
    expect(existsSync(s.socket)).to.equal(false);
    const again = await runDaemon({ root: s.storeDir, socket: s.socket, content: s.content, log: () => {} });
    try {
      expect(again.store.queryOutputs(slow.toString())).to.not.equal(null);
    } finally {
      await again.close();
    }
  });
});
