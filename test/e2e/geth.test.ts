/**
 * End to end, issue 12: the CLI against go-ethereum (`geth --dev`, built by scripts/engines.sh): a real client
 * with its own persistence, EIP-1559 fees and its own nonce handling, configured as a user would configure any
 * network (a [networks.geth] entry with chain id and an encrypted keystore), the registry deployed through the
 * Ignition module (scripts/deploy.ts --network custom). Then geth is restarted on the same datadir: what was
 * published is still there, and `pkg lock --block N` at the first lock's block gives the same lock.
 *
 *   npx tsc -p tsconfig.build.json && npx hardhat test test/e2e/geth.test.ts    (E2E_KEEP=1 keeps the temp directory)
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import { JsonRpcProvider, Wallet, parseEther } from "ethers";
import { freePort } from "../helpers/node";
import { requireBuilt } from "../helpers/dist";
import { requireEngine, startGeth, type GethNode } from "../helpers/engines";
import * as h from "./helpers";

const KEEP = process.env.E2E_KEEP === "1";
const PASSWORD = "geth e2e keystore password";

describe("e2e: the CLI against geth --dev (keystore account, Ignition deploy, restart on the same datadir)", function () {
  this.timeout(300_000);

  let root = "";
  let geth: GethNode | null = null;
  let gethBin = "";
  let port = 0;
  let env: NodeJS.ProcessEnv = {};
  let deploymentId = "";

  const pkg = (args: string[], cwd: string) => h.run("pkg", args, env, { cwd, timeoutMs: 180_000 });
  const repo = (args: string[], cwd = root) => h.run("repo", args, env, { cwd, timeoutMs: 180_000 });

  async function writePackage(name: string, version: string, body: { script: string; files: Record<string, string>; inputs?: Record<string, string> }): Promise<string> {
    const dir = path.join(root, "src", `${name}-${version}`);
    await mkdir(dir, { recursive: true });
    const lines = ["[package]", 'repository = "crates"', `name = "${name}"`, `version = "${version}"`, 'license = "MIT"', `src = ${JSON.stringify(["build.sh", ...Object.keys(body.files)]).replace(/,/g, ", ")}`, 'builder = "./build.sh"'];
    if (body.inputs) lines.push("", "[inputs]", ...Object.entries(body.inputs).map(([k, v]) => `"${k}" = "${v}"`));
    await writeFile(path.join(dir, "pkg.toml"), `${lines.join("\n")}\n`);
    await writeFile(path.join(dir, "build.sh"), `#!/bin/sh\nset -e\n${body.script}\n`);
    for (const [file, text] of Object.entries(body.files)) await writeFile(path.join(dir, file), text);
    return dir;
  }

  before(async function () {
    this.timeout(45 * 60_000); // the first run on a machine builds geth
    gethBin = requireEngine(this, "geth");
    requireBuilt("dist/cli/pkg/publish.js");
    root = await mkdtemp(path.join(tmpdir(), "chainpkg-geth-"));
    port = await freePort();
    geth = await startGeth(gethBin, path.join(root, "geth"), port);

    // The user's key: an encrypted keystore, funded by the dev account (geth --dev's only funded account).
    const wallet = Wallet.createRandom();
    const keystore = path.join(root, "keys", "me.json");
    await mkdir(path.dirname(keystore), { recursive: true });
    await writeFile(keystore, await wallet.encrypt(PASSWORD), { mode: 0o600 });
    const provider = new JsonRpcProvider(geth.url, 1337, { staticNetwork: true });
    try {
      const [dev] = (await provider.send("eth_accounts", [])) as string[];
      const funder = await provider.getSigner(dev);
      await (await funder.sendTransaction({ to: wallet.address, value: parseEther("100") })).wait();
    } finally {
      provider.destroy();
    }

    // Deployed through the Ignition module, as README's "Deploying the registry elsewhere" says.
    deploymentId = `geth-e2e-${path.basename(root)}`;
    const deployments = path.join(root, "deployments");
    const deploy = spawnSync("npx", ["hardhat", "run", "scripts/deploy.ts", "--network", "custom"], {
      cwd: h.ROOT,
      encoding: "utf8",
      env: { ...process.env, PKG_RPC_URL: geth.url, PKG_PRIVATE_KEY: wallet.privateKey, PKG_DEPLOYMENT_ID: deploymentId, PKG_DEPLOYMENTS_DIR: deployments, HARDHAT_DISABLE_TELEMETRY_PROMPT: "true" },
      timeout: 300_000,
    });
    expect(deploy.status, `${deploy.stdout}\n${deploy.stderr}`).to.equal(0);
    const record = JSON.parse(readFileSync(path.join(deployments, "custom.json"), "utf8")) as { registry: string; chainId: number | string };
    expect(Number(record.chainId)).to.equal(1337);

    await writeFile(path.join(root, "config.toml"), [
      'network = "geth"',
      "[networks.geth]",
      `rpc-url = "${geth.url}"`,
      "chain-id = 1337",
      `registry = "${record.registry}"`,
      `keystore = "${keystore}"`,
      "",
    ].join("\n"));
    env = h.baseEnvironment({
      PKG_CONFIG: path.join(root, "config.toml"),
      PKG_DATA_DIR: path.join(root, "data"),
      XDG_RUNTIME_DIR: path.join(root, "run"),
      PKG_KEYSTORE_PASSWORD: PASSWORD,
    });
  });

  after(async function () {
    this.timeout(120_000);
    if (root !== "") await pkg(["store", "status", "--shutdown"], root).catch(() => undefined);
    await geth?.stop();
    if (deploymentId !== "") await rm(path.join(h.ROOT, "ignition", "deployments", deploymentId), { recursive: true, force: true });
    if (KEEP) console.log(`    kept ${root}`);
    else if (root !== "") await rm(root, { recursive: true, force: true });
  });

  let app = "";
  let firstLock = "";
  let lockBlock = 0;

  it("repo create → publish → yank → lock → fetch → build → install, and repo publish / lock, with a keystore account", async () => {
    h.expectJsonSuccess(await repo(["create", "crates", "--json"]));
    for (const [version, word] of [["1.0.0", "one"], ["1.1.0", "eleven"]]) {
      const dir = await writePackage("dep", version, { script: "mkdir -p $out/share\ncp word.txt $out/share/word.txt", files: { "word.txt": `${word}\n` } });
      h.expectJsonSuccess(await pkg(["publish", "--json"], dir));
    }
    h.expectSuccess(await pkg(["yank", "crates/dep:1.1.0"], root));
    app = await writePackage("app", "1.0.0", { script: 'mkdir -p $out/bin\nprintf \'#!/bin/sh\\necho app with %s\\n\' "$(cat $dep/share/word.txt)" > $out/bin/app\nchmod +x $out/bin/app', files: {}, inputs: { "crates:dep": "^1" } });
    const locked = h.expectJsonSuccess<{ block: number }>(await pkg(["lock", "--json"], app));
    firstLock = await readFile(path.join(app, "pkg.lock"), "utf8");
    lockBlock = locked.block;
    expect(firstLock, "the yanked 1.1.0 is not chosen").to.contain("1.0.0").and.not.contain("1.1.0");
    h.expectJsonSuccess(await pkg(["publish", "--json"], app));

    const fetched = path.join(root, "fetched-app");
    h.expectJsonSuccess(await pkg(["fetch", "crates/app:1.0.0", "-o", fetched, "--json"], root));
    expect(readFileSync(path.join(fetched, "pkg.toml"), "utf8")).to.contain('name = "app"');
    const built = h.expectJsonSuccess<{ outputs: { out: string } }>(await pkg(["build", "--json"], app));
    expect(spawnSync(path.join(built.outputs.out, "bin", "app"), { encoding: "utf8" }).stdout).to.equal("app with one\n");
    h.expectSuccess(await pkg(["install"], app));
    expect(spawnSync(path.join(root, "data", "profiles", "default", "bin", "app"), { encoding: "utf8" }).stdout).to.equal("app with one\n");

    h.expectJsonSuccess(await repo(["publish", "crates", "2026.12", "--json"]));
    const repoLock = path.join(root, "crates.repo.lock");
    h.expectSuccess(await repo(["lock", "crates:2026.12", "-o", repoLock]));
    const text = readFileSync(repoLock, "utf8");
    expect(text).to.contain("app").and.to.contain("dep");
  });

  it("after geth restarts on the same datadir: everything is still there, and pkg lock --block N gives the same lock", async () => {
    await geth!.stop();
    geth = await startGeth(gethBin, path.join(root, "geth"), port);
    await rm(path.join(app, "pkg.lock"));
    h.expectSuccess(await pkg(["lock", "--block", String(lockBlock)], app));
    expect(await readFile(path.join(app, "pkg.lock"), "utf8")).to.equal(firstLock);
    const fetched = path.join(root, "fetched-again");
    h.expectJsonSuccess(await pkg(["fetch", "crates/dep:1.0.0", "-o", fetched, "--json"], root));
    expect(readFileSync(path.join(fetched, "word.txt"), "utf8")).to.equal("one\n");
    // a new write after the restart: geth's nonce for the account is read again, not assumed
    const dir = await writePackage("dep", "1.2.0", { script: "mkdir -p $out", files: { "word.txt": "twelve\n" } });
    h.expectJsonSuccess(await pkg(["publish", "--json"], dir));
  });
});
