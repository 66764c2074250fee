/**
 * End to end, issue 12: content that travels between machines. Several data directories (no shared disk: each
 * its own content store, store, runtime dir) use one chain (a real `pkg node`). What one publishes the others
 * fetch, build and install through `pkg store serve` (a trustless gateway), through a CAR file
 * (`pkg store export` / `import`), and through two real Kubo nodes peered on loopback (bitswap), with Kubo's own
 * gateway as a source for the embedded store and `pkg publish` pinning to a Kubo node as it publishes.
 *
 *   npx tsc -p tsconfig.build.json && npx hardhat test test/e2e/share.test.ts    (E2E_KEEP=1 keeps the temp directory)
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, lstatSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, symlink, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { expect } from "chai";
import { freePort } from "../helpers/node";
import { requireBuilt } from "../helpers/dist";
import { requireEngine, startKubo, type KuboNode } from "../helpers/engines";
import * as h from "./helpers";

const KEEP = process.env.E2E_KEEP === "1";

describe("e2e: content that travels between data directories (store serve, CAR, two Kubo nodes)", function () {
  this.timeout(300_000);

  let root = "";
  let node: h.NodeProcess | null = null;
  let chain: h.EnvPatch = {};
  const kubos: KuboNode[] = [];
  const servers: ChildProcess[] = [];
  /** What the first test published on machine A. */
  let shared = { meta: "", src: "" };

  /** A machine of its own: data dir, runtime dir and config, on the shared chain; `extra` adds content settings. */
  function machine(name: string, extra: h.EnvPatch = {}): NodeJS.ProcessEnv {
    return h.baseEnvironment({
      ...chain,
      PKG_DATA_DIR: path.join(root, name, "data"),
      PKG_CONFIG: path.join(root, name, "config.toml"),
      XDG_RUNTIME_DIR: path.join(root, name, "run"),
      ...extra,
    });
  }
  const pkg = (env: NodeJS.ProcessEnv, args: string[], cwd = root) => h.run("pkg", args, env, { cwd, timeoutMs: 180_000 });

  /** A package whose build (sh only) copies its message into $out/share and a script into $out/bin. */
  async function writePackage(name: string, version: string, message: string): Promise<string> {
    const dir = path.join(root, "src", `${name}-${version}`);
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, "pkg.toml"), ["[package]", 'repository = "crates"', `name = "${name}"`, `version = "${version}"`, 'license = "MIT"', 'src = ["build.sh", "message.txt"]', 'builder = "./build.sh"', ""].join("\n"));
    await writeFile(path.join(dir, "build.sh"), `#!/bin/sh\nset -e\nmkdir -p $out/share $out/bin\ncp message.txt $out/share/message.txt\nprintf '#!/bin/sh\\ncat %s/share/message.txt\\n' "$out" > $out/bin/${name}\nchmod +x $out/bin/${name}\n`);
    await writeFile(path.join(dir, "message.txt"), `${message}\n`);
    return dir;
  }

  async function publish(env: NodeJS.ProcessEnv, name: string, version: string, message: string): Promise<{ meta: string; src: string }> {
    const dir = await writePackage(name, version, message);
    return h.expectJsonSuccess<{ meta: string; src: string }>(await pkg(env, ["publish", "--json"], dir));
  }

  /** Fetches the version into a fresh directory and checks its message. */
  async function expectFetches(env: NodeJS.ProcessEnv, id: string, message: string): Promise<void> {
    const out = path.join(root, "fetched", `${id.replace(/[/:]/g, "-")}-${Math.random().toString(36).slice(2)}`);
    await mkdir(path.dirname(out), { recursive: true });
    h.expectJsonSuccess(await pkg(env, ["fetch", id, "-o", out, "--json"]));
    expect(await readFile(path.join(out, "message.txt"), "utf8")).to.equal(`${message}\n`);
  }

  /** `pkg store serve --listen 127.0.0.1:0` of a machine, until the suite ends; its URL. */
  async function serve(env: NodeJS.ProcessEnv): Promise<string> {
    const child = spawn(process.execPath, [h.BIN.pkg, "store", "serve", "--listen", "127.0.0.1:0"], { env, cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    servers.push(child);
    let err = "";
    child.stderr!.on("data", (chunk: Buffer) => (err += chunk.toString()));
    return new Promise<string>((resolve, reject) => {
      child.once("exit", (code) => reject(new Error(`pkg store serve exited with ${code}: ${err}`)));
      createInterface({ input: child.stdout! }).once("line", (line) => resolve(line.trim()));
    });
  }

  before(async function () {
    this.timeout(600_000);
    requireBuilt("dist/cli/pkg/store/serve.js"); // builds dist/ when it is missing
    root = await mkdtemp(path.join(tmpdir(), "chainpkg-share-"));
    const port = await freePort();
    chain = { PKG_RPC_URL: `http://127.0.0.1:${port}` };
    const first = machine("a");
    node = await h.startNode(port, first, root);
    // the other machines know the chain by its address, as a user configuring a network would
    chain = { ...chain, PKG_REGISTRY: node.summary.registry };
    h.expectJsonSuccess(await h.run("repo", ["create", "crates", "--json"], machine("a"), { cwd: root }));
  });

  after(async function () {
    this.timeout(120_000);
    for (const child of servers) child.kill("SIGTERM");
    for (const dir of ["a", "b", "c", "d", "k1", "k2", "e"]) await pkg(machine(dir), ["store", "status", "--shutdown"]).catch(() => undefined);
    for (const kubo of kubos) await kubo.stop();
    await node?.stop();
    if (KEEP) console.log(`    kept ${root}`);
    else if (root !== "") await rm(root, { recursive: true, force: true });
  });

  it("a version published on machine A is not on machine B by itself: fetching it says where content can come from", async () => {
    const a = machine("a");
    shared = await publish(a, "share", "1.0.0", "from machine a");
    await expectFetches(a, "crates/share:1.0.0", "from machine a");
    h.expectHumanError(await pkg(machine("b"), ["fetch", "crates/share:1.0.0", "-o", path.join(root, "b-nothing")]), { code: "ERR_CONTENT_NOT_FOUND" });
  });

  it("pkg store serve: B lists A's gateway and fetches, builds and installs what A published (every block verified)", async () => {
    const url = await serve(machine("a"));
    expect(url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
    const b = machine("b", { PKG_GATEWAYS: url });
    await expectFetches(b, "crates/share:1.0.0", "from machine a");
    const built = h.expectJsonSuccess<{ outputs: { out: string } }>(await pkg(b, ["build", "crates/share:1.0.0", "--json"]));
    expect(readFileSync(path.join(built.outputs.out, "share", "message.txt"), "utf8")).to.equal("from machine a\n");
    h.expectSuccess(await pkg(b, ["install", "crates/share:1.0.0"]));
    const profileBin = path.join(root, "b", "data", "profiles", "default", "bin", "share");
    expect(readFileSync(profileBin, "utf8")).to.contain("message.txt");

    // the gateway speaks the trustless protocol: HEAD of a held block, 404 for one it does not hold
    expect((await fetch(`${url}/ipfs/${shared.meta}?format=raw`, { method: "HEAD" })).status).to.equal(200);
    expect((await fetch(`${url}/ipfs/${h.rawCid(new TextEncoder().encode("held by nobody"))}?format=raw`)).status).to.equal(404);
  });

  it("a CAR: exported on A, imported on C (verified, pinned), fetched on C with no network source; bad CARs change nothing", async () => {
    const a = machine("a");
    const { meta, src } = await publish(a, "carried", "1.0.0", "carried in a file");
    const car = path.join(root, "carried.car");
    const exported = h.expectJsonSuccess<{ roots: string[]; bytes: number }>(await pkg(a, ["store", "export", meta, src, "-o", car, "--json"]));
    expect(exported.roots).to.deep.equal([meta, src]);
    h.expectHumanError(await pkg(a, ["store", "export", meta, "-o", car]), { code: "ERR_CONTENT_DESTINATION_EXISTS" });

    const c = machine("c");
    h.expectHumanError(await pkg(c, ["fetch", "crates/carried:1.0.0", "-o", path.join(root, "c-nothing")]), { code: "ERR_CONTENT_NOT_FOUND" });
    // truncated: its blocks are verified as far as they go, and nothing is pinned
    const truncated = path.join(root, "truncated.car");
    await writeFile(truncated, readFileSync(car));
    await truncate(truncated, Math.floor(exported.bytes / 2));
    const broken = await pkg(c, ["store", "import", truncated]);
    expect(broken.code, h.showRun(broken)).to.be.oneOf([7, 8]);
    const garbage = path.join(root, "garbage.car");
    await writeFile(garbage, "not a car at all\n");
    h.expectHumanError(await pkg(c, ["store", "import", garbage]), { code: "ERR_CAR_INVALID" });
    h.expectHumanError(await pkg(c, ["store", "import", path.join(root, "missing.car")]), { code: "ERR_CAR_NOT_FOUND" });

    const imported = h.expectJsonSuccess<{ roots: string[] }>(await pkg(c, ["store", "import", car, "--json"]));
    expect(imported.roots).to.deep.equal([meta, src]);
    await expectFetches(c, "crates/carried:1.0.0", "carried in a file");
  });

  it("hostile CARs and destinations: a block that is not its CID's is refused and pins nothing; -o never writes through a link", async () => {
    const a = machine("a");
    const { meta } = await publish(a, "tampered", "1.0.0", "honest bytes");
    const car = path.join(root, "tampered.car");
    h.expectJsonSuccess(await pkg(a, ["store", "export", meta, "-o", car, "--json"]));
    const bytes = readFileSync(car);
    const at = bytes.indexOf(Buffer.from('name = "tampered"'));
    expect(at, "the meta's bytes are in the CAR").to.be.greaterThan(0);
    bytes.write('name = "tampereD"', at); // same length: the CAR's framing stays valid, the block does not
    const evil = path.join(root, "evil.car");
    await writeFile(evil, bytes);
    const d = machine("d");
    h.expectHumanError(await pkg(d, ["store", "import", evil]), { code: "ERR_CONTENT_INTEGRITY", message: [meta] });
    h.expectHumanError(await pkg(d, ["fetch", "crates/tampered:1.0.0", "-o", path.join(root, "d-nothing")]), { code: "ERR_CONTENT_NOT_FOUND" });

    // -o naming a dangling link to a victim path: the link is replaced, nothing is written where it pointed
    const victim = path.join(root, "victim.car");
    const link = path.join(root, "link.car");
    await symlink(victim, link);
    h.expectJsonSuccess(await pkg(a, ["store", "export", meta, "-o", link, "--json"]));
    expect(existsSync(victim), "nothing written through the link").to.equal(false);
    expect(lstatSync(link).isFile(), "the link itself was replaced by the CAR").to.equal(true);
  });

  it("a CAR that lacks blocks of its roots pins nothing (ERR_CAR_INCOMPLETE)", async () => {
    const a = machine("a");
    const { meta, src } = await publish(a, "partial", "1.0.0", "x".repeat(700_000)); // a multi-block file
    // A CAR naming src as its root but carrying only the meta: well-formed, incomplete.
    const onlyMeta = path.join(root, "only-meta.car");
    h.expectJsonSuccess(await pkg(a, ["store", "export", meta, "-o", onlyMeta, "--json"]));
    const bytes = readFileSync(onlyMeta);
    const { CarReader } = await import("@ipld/car/reader");
    const { CarWriter } = await import("@ipld/car/writer");
    const { CID } = await import("multiformats/cid");
    const reader = await CarReader.fromBytes(bytes);
    const { writer, out } = CarWriter.create([CID.parse(src)]);
    const chunks: Uint8Array[] = [];
    const collecting = (async () => {
      for await (const chunk of out) chunks.push(chunk);
    })();
    for await (const block of reader.blocks()) await writer.put(block);
    await writer.close();
    await collecting;
    const lying = path.join(root, "lying.car");
    await writeFile(lying, Buffer.concat(chunks));
    const d = machine("d");
    h.expectHumanError(await pkg(d, ["store", "import", lying]), { code: "ERR_CAR_INCOMPLETE" });
  });

  describe("two Kubo nodes peered on loopback", function () {
    before(async function () {
      this.timeout(45 * 60_000); // the first run on a machine builds Kubo
      const ipfs = requireEngine(this, "ipfs");
      for (const name of ["kubo1", "kubo2"]) kubos.push(await startKubo(ipfs, path.join(root, name)));
      kubos[1].ipfs(["swarm", "connect", `${kubos[0].swarm}`]);
      expect(kubos[1].ipfs(["swarm", "peers"])).to.contain(kubos[0].peerId);
    });

    const kuboEnv = (name: string, node: number) => machine(name, { PKG_CONTENT_BACKEND: "kubo", PKG_KUBO_URL: kubos[node].api });
    const holds = (node: number, cid: string) => {
      try {
        kubos[node].ipfs(["block", "stat", "--offline", cid]);
        return true;
      } catch {
        return false;
      }
    };

    it("published through node 1, fetched, built and installed by a data directory whose backend is node 2 (bitswap)", async () => {
      const { src } = await publish(kuboEnv("k1", 0), "swarmed", "1.0.0", "over bitswap");
      expect(holds(0, src), "node 1 holds the src").to.equal(true);
      expect(holds(1, src), "node 2 does not, before").to.equal(false);
      const k2 = kuboEnv("k2", 1);
      await expectFetches(k2, "crates/swarmed:1.0.0", "over bitswap");
      expect(holds(1, src), "node 2 got it from node 1").to.equal(true);
      const built = h.expectJsonSuccess<{ outputs: { out: string } }>(await pkg(k2, ["build", "crates/swarmed:1.0.0", "--json"]));
      expect(readFileSync(path.join(built.outputs.out, "share", "message.txt"), "utf8")).to.equal("over bitswap\n");
      h.expectSuccess(await pkg(k2, ["install", "crates/swarmed:1.0.0"]));
      expect(readFileSync(path.join(root, "k2", "data", "profiles", "default", "bin", "swarmed"), "utf8")).to.contain("message.txt");
    });

    it("Kubo's own gateway is a source for the embedded store's gateways (trustless gateway protocol)", async () => {
      await expectFetches(machine("e", { PKG_GATEWAYS: kubos[0].gateway }), "crates/swarmed:1.0.0", "over bitswap");
    });

    it("pkg publish pins on a configured Kubo (PKG_PUSH) before the transaction; a push that fails sends nothing to the chain", async () => {
      const { src } = await publish(machine("a", { PKG_PUSH: kubos[0].api }), "pushed", "1.0.0", "pushed to kubo");
      expect(holds(0, src), "pushed to node 1").to.equal(true);
      expect(kubos[0].ipfs(["pin", "ls", "--type=recursive", src]), "pinned there").to.contain(src);
      // embedded A → node 1 (push) → node 2 (bitswap) → a data directory on node 2
      await expectFetches(kuboEnv("k2", 1), "crates/pushed:1.0.0", "pushed to kubo");

      const dir = await writePackage("pushed", "1.0.1", "never on chain");
      h.expectHumanError(await pkg(machine("a", { PKG_PUSH: "http://127.0.0.1:9" }), ["publish"], dir), { code: "ERR_PUBLISH_PUSH", progressFirst: true });
      h.expectHumanError(await pkg(machine("a"), ["fetch", "crates/pushed:1.0.1", "-o", path.join(root, "never")]), { code: "ERR_FETCH_UNKNOWN_VERSION" });
    });
  });
});
