/**
 * The README, run: every ```sh block of README.md, in the order it stands, with bash (`set -euo pipefail`), as a
 * new user would type it from a clone, so that the README cannot drift from what the code does again (issue 11).
 * A block fails the test when it exits non-zero; the failure shows the block and everything it printed.
 *
 * - Every command of a block must succeed, also the first ones of `a && b` lists (which `set -e` lets pass: `cd
 *   dir && pkg lock && pkg build` would go on after a failed lock): the block is cut into its top-level commands
 *   (by bash's own parser, `bash -n`), each printed as `$ command` before it runs and its exit status checked after.
 *   The commands themselves run as written.
 * - Every fenced block must say what it is: `sh` is run, `text` (output listings) and `toml` (configuration) are
 *   not. A fence without a language fails the test, so nothing is left unrun by accident.
 * - The first block (`npm ci && npm run demo`, `npm test`) is not run here: it is what CI itself runs (`bash .ci/run`:
 *   `npm ci`, build, `npm test`, which runs this file), and the demo runs the same steps as "Using it" and "Building
 *   and installing" below. The test checks that it holds those two commands and nothing else.
 * - Where: a copy of the checkout (its tracked and untracked-but-not-ignored files, `node_modules` linked), so that
 *   what the README writes (dist/, examples/*\/pkg.lock, examples/toolchains/, deployments/*.json, chain.log) never
 *   touches the developer's tree. Its own data directory, config file, runtime directory (store daemon socket),
 *   TMPDIR and npm global prefix (`npm link` puts `pkg` and `repo` there, and that bin/ is on PATH), all in one temp
 *   directory. Nothing is substituted in the command text: the README's commands read where to go from the
 *   environment (`PKG_NODE_PORT` for `npm run chain`, `PKG_RPC_URL` for the CLI and Hardhat, …), as a user's would.
 *   PATH is the test's without node_modules/.bin directories (npx and npm put them there; a user's shell has none).
 * - Sessions: blocks run one bash each, in order, sharing a session (environment and the processes a block left
 *   running, such as the chain `npm run chain &` starts) with the blocks before them. "Deploying the registry
 *   elsewhere" starts from a running node; it gets one the test starts (`hardhat node` on a free port) and a fresh
 *   data directory, with PKG_PRIVATE_KEY set for `--network custom` (a funded dev account of that node).
 * - Afterwards the store daemon is shut down, every process group a block started (the chain) is stopped, the
 *   test's node is stopped, and the temp directory is removed (E2E_KEEP=1 keeps it).
 *
 *   npx hardhat test --no-compile test/e2e/readme.test.ts     (E2E_VERBOSE=1 prints every block's output)
 */
import { expect } from "chai";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, lstatSync, readFileSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { HDNodeWallet } from "ethers";
import { freePort, startHardhatNode, type RunningNode } from "../helpers/node";
import { letTimePass } from "../helpers/wait";
import * as h from "./helpers";

const KEEP = process.env.E2E_KEEP === "1";
const VERBOSE = process.env.E2E_VERBOSE === "1"; // print every block's output, not only a failing one's
const README = path.join(h.ROOT, "README.md");
/** Sections whose blocks start from a running node: the test starts one for them (see the top of this file). */
const ON_TEST_NODE = new Set(["Deploying the registry elsewhere"]);
/** What the README's first block may hold: the commands CI runs itself. */
const CI_BLOCK = ["npm ci && npm run demo", "npm test"];
/** Claims the README's comments make about a block's output (a change to those comments must change these). */
const CLAIMS: Record<string, RegExp[]> = {
  "Building and installing": [/^HELLO FROM CRATES:DEP$/m, /^hello from crates:dep$/m],
};
/** Account #1 of `hardhat node` (Hardhat's default mnemonic): PKG_PRIVATE_KEY, the deployer on `--network custom`. */
const CUSTOM_DEPLOYER = HDNodeWallet.fromPhrase("test test test test test test test test test test test junk", undefined, "m/44'/60'/0'/0/1");
const BLOCK_TIMEOUT_MS = 480_000;

interface Block {
  /** The `## ` heading the block stands under ("" before the first). */
  section: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  text: string;
}

/** Every fenced block of a Markdown file, with its language and section. */
function fencedBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  let section = "";
  let open: Block | null = null;
  markdown.split("\n").forEach((line, i) => {
    if (open !== null) {
      if (/^```\s*$/.test(line)) {
        blocks.push(open);
        open = null;
      } else open.text += `${line}\n`;
      return;
    }
    const fence = /^```(.*)$/.exec(line);
    if (fence) open = { section, line: i + 1, lang: fence[1].trim(), text: "" };
    else if (line.startsWith("## ")) section = line.slice(3).trim();
  });
  expect(open, "README.md ends inside a fenced block").to.equal(null);
  return blocks;
}

/** A block's commands, comments and blank lines left out. */
function commands(block: Block): string[] {
  return block.text.split("\n").map((line) => line.replace(/\s+#.*$/, "").trim()).filter((line) => line !== "" && !line.startsWith("#"));
}

interface BlockRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
  ms: number;
}

/** Files in the top of the copy that say more about a failure than the block's own output (chain.log). */
async function logsOf(dir: string): Promise<string> {
  let out = "";
  for (const name of (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith(".log")).sort()) {
    const text = await readFile(path.join(dir, name), "utf8").catch(() => "");
    out += `--- ${name} (last 3000 characters)\n${text.slice(-3000)}\n`;
  }
  return out;
}

/**
 * One bash session of the README: an environment, and the process groups its blocks started (each block's bash
 * leads a group of its own; a background job such as the chain stays in it after the block's bash has exited).
 */
class Session {
  readonly groups: number[] = [];
  failed: Block | null = null;

  constructor(readonly name: string, readonly cwd: string, readonly env: NodeJS.ProcessEnv) {}

  run(block: Block): Promise<BlockRun> {
    const started = Date.now();
    const script = checkedScript(block);
    return new Promise((resolve, reject) => {
      const child = spawn("bash", ["-c", script], { cwd: this.cwd, env: this.env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
      if (child.pid !== undefined) this.groups.push(child.pid);
      let output = "";
      child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
      child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
      const timer = setTimeout(() => {
        output += `\n(killed: still running after ${BLOCK_TIMEOUT_MS} ms)\n`;
        signalGroup(child.pid!, "SIGKILL");
      }, BLOCK_TIMEOUT_MS);
      child.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      // 'exit', not 'close': a process the block leaves running may hold a copy of its stdout or stderr
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        setTimeout(() => resolve({ code, signal, output, ms: Date.now() - started }), 200);
      });
    });
  }

  /** SIGTERM to every group its blocks started, then SIGKILL to what is left after 30 s. */
  async stop(): Promise<void> {
    for (const group of this.groups) signalGroup(group, "SIGTERM");
    const deadline = Date.now() + 30_000;
    while (this.groups.some(groupAlive) && Date.now() < deadline) await letTimePass(200);
    for (const group of this.groups.filter(groupAlive)) signalGroup(group, "SIGKILL");
  }
}

function signalGroup(group: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-group, signal);
  } catch {
    // the group is gone
  }
}

function groupAlive(group: number): boolean {
  try {
    process.kill(-group, 0);
    return true;
  } catch {
    return false;
  }
}

/** The checkout's files as git sees them (tracked, and untracked but not ignored): what a clone would hold, plus work in progress. */
async function copyCheckout(to: string): Promise<Set<string>> {
  const listed = spawnSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: h.ROOT, encoding: "utf8" });
  expect(listed.status, `git ls-files in ${h.ROOT}: ${listed.stderr}`).to.equal(0);
  const copied = new Set<string>();
  for (const file of listed.stdout.split("\0").filter(Boolean)) {
    const from = path.join(h.ROOT, file);
    if (!existsSync(from) || !lstatSync(from).isFile()) continue; // deleted in the working tree (a move in progress)
    await mkdir(path.dirname(path.join(to, file)), { recursive: true });
    await copyFile(from, path.join(to, file)); // keeps the mode (bin/pkg stays executable)
    copied.add(file);
  }
  await symlink(path.join(h.ROOT, "node_modules"), path.join(to, "node_modules"));
  return copied;
}

/** Of these paths (relative to the checkout), those its .gitignore files do not ignore. */
function notIgnored(paths: string[]): string[] {
  if (paths.length === 0) return [];
  // --no-index: by the patterns alone (the paths are the copy's, not the checkout's); exit 1 = none ignored
  const checked = spawnSync("git", ["check-ignore", "--no-index", "--stdin", "-z"], { cwd: h.ROOT, input: paths.join("\0"), encoding: "utf8" });
  expect(checked.status, `git check-ignore: ${checked.stderr}`).to.be.oneOf([0, 1]);
  const ignored = new Set(checked.stdout.split("\0").filter(Boolean));
  return paths.filter((p) => !ignored.has(p));
}

/** The environment of a session: the test's, minus anything that configures pkg or npm, plus the session's own. */
function sessionEnvironment(root: string, own: h.EnvPatch): NodeJS.ProcessEnv {
  const env = h.baseEnvironment({
    PKG_DATA_DIR: path.join(root, "data"),
    PKG_CONFIG: path.join(root, "config.toml"), // not there: no configuration, as on a new machine
    XDG_RUNTIME_DIR: path.join(root, "run"),
    TMPDIR: path.join(root, "tmp"),
    ...own,
  });
  // `npm test` runs this with npm_config_local_prefix (and the rest) of this checkout: npm in the copy would use it
  for (const key of Object.keys(env)) if (/^npm_/i.test(key) || key === "INIT_CWD") delete env[key];
  const prefix = path.join(root, "npm-global");
  env.npm_config_prefix = prefix; // where `npm link` links the package and its bins
  env.npm_config_update_notifier = "false";
  env.npm_config_fund = "false";
  env.npm_config_audit = "false";
  const inherited = (env.PATH ?? "").split(path.delimiter).filter((dir) => dir !== "" && !dir.split(path.sep).includes("node_modules"));
  env.PATH = [path.join(prefix, "bin"), ...inherited].join(path.delimiter);
  return env;
}

/**
 * A block as a bash script that stops at the first command (top-level list) that fails, and prints each before
 * it runs: `$ command` (README line) then its output. Commands are found with `bash -n`: lines are joined until
 * they parse (a `for … do` over several lines, a line ending in a backslash).
 */
function checkedScript(block: Block): string {
  const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;
  const out = [
    "set -euo pipefail",
    `__readme_check() { local rc=$1; if [ "$rc" -ne 0 ]; then printf 'README.md:%s exited %s\\n' "$2" "$rc" >&2; exit "$rc"; fi; }`,
  ];
  let pending: string[] = [];
  let start = 0;
  block.text.split("\n").forEach((line, i) => {
    if (pending.length === 0) {
      if (line.trim() === "" || line.trim().startsWith("#")) return;
      start = block.line + 1 + i;
    }
    pending.push(line);
    const text = pending.join("\n");
    if (line.endsWith("\\") || spawnSync("bash", ["-n", "-c", text], { stdio: "ignore" }).status !== 0) return;
    out.push(`printf '%s\\n' ${quote(`$ ${text}`)}`, text, `__readme_check $? ${start}`);
    pending = [];
  });
  expect(pending, `README.md:${start}: a command that does not parse (bash -n)`).to.deep.equal([]);
  return `${out.join("\n")}\n`;
}

function show(block: Block, run: BlockRun): string {
  return `README.md:${block.line} (${block.section}), exit ${run.code ?? run.signal} after ${run.ms} ms\n--- block\n${block.text}--- output\n${run.output}`;
}

describe("README: every sh block runs, in order, in a fresh data directory", function () {
  this.timeout(BLOCK_TIMEOUT_MS + 60_000);

  const blocks = fencedBlocks(readFileSync(README, "utf8"));
  const runnable = blocks.filter((b) => b.lang === "sh").slice(1);
  let root = "";
  let checkout = "";
  let copied = new Set<string>();
  const sessions = new Map<string, Session>();
  let testNode: RunningNode | null = null;

  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), "chainpkg-readme-"));
    checkout = path.join(root, "chainpkg");
    copied = await copyCheckout(checkout);
  });

  after(async function () {
    this.timeout(120_000);
    for (const session of sessions.values()) {
      // the store daemon `pkg build` started on demand (its own process group): asked to stop, like the demo does
      if (existsSync(path.join(checkout, "dist"))) {
        spawnSync(process.execPath, [path.join(checkout, "bin", "pkg.js"), "store", "status", "--shutdown"], { env: session.env, stdio: "ignore", timeout: 30_000 });
      }
      await session.stop();
      for (const pid of await h.internalNodePids(session.env.PKG_DATA_DIR!)) {
        try {
          process.kill(pid, "SIGKILL"); // a chain's internal Hardhat node its pkg node did not stop
        } catch {
          // gone meanwhile
        }
      }
    }
    await testNode?.stop();
    if (KEEP) console.log(`    kept: ${root}`);
    else if (root) await rm(root, { recursive: true, force: true });
  });

  it("fences every block as sh (run), text or toml (not run); the first sh block is CI's own two commands", () => {
    for (const block of blocks) {
      expect(["sh", "text", "toml"], `README.md:${block.line}: a fence must say sh (run by this test), text or toml`).to.include(block.lang);
    }
    const first = blocks.find((b) => b.lang === "sh");
    expect(first, "README.md has no sh block").to.not.equal(undefined);
    expect(commands(first!), `README.md:${first!.line}: the first block holds the commands CI runs, nothing else`).to.deep.equal(CI_BLOCK);
    expect(runnable.length, "sh blocks after the first").to.be.greaterThan(0);
  });

  async function sessionFor(block: Block): Promise<Session> {
    const name = ON_TEST_NODE.has(block.section) ? block.section : "readme";
    let session = sessions.get(name);
    if (session !== undefined) return session;
    const dir = path.join(root, `session-${sessions.size}`);
    for (const sub of ["data", "run", "tmp"]) await mkdir(path.join(dir, sub), { recursive: true, mode: 0o700 });
    if (name === "readme") {
      // the README starts its own chain (`npm run chain &`): on a free port instead of 8545, told by environment
      const port = await freePort();
      session = new Session(name, checkout, sessionEnvironment(dir, { PKG_NODE_PORT: String(port), PKG_RPC_URL: `http://127.0.0.1:${port}` }));
    } else {
      testNode ??= await startHardhatNode();
      session = new Session(name, checkout, sessionEnvironment(dir, { PKG_RPC_URL: testNode.url, PKG_PRIVATE_KEY: CUSTOM_DEPLOYER.privateKey }));
    }
    sessions.set(name, session);
    return session;
  }

  for (const block of runnable) {
    const firstLine = commands(block)[0] ?? "(empty)";
    it(`README.md:${block.line} (${block.section}): ${firstLine}${commands(block).length > 1 ? " …" : ""}`, async function () {
      const session = await sessionFor(block);
      if (session.failed !== null) {
        console.log(`    (skipped: README.md:${session.failed.line}, a block before it in the same session, failed)`);
        this.skip();
      }
      const run = await session.run(block);
      if (VERBOSE) console.log(show(block, run));
      if (run.code !== 0) {
        session.failed = block;
        expect.fail(`a README block failed\n${show(block, run)}${await logsOf(checkout)}`);
      }
      for (const claim of CLAIMS[block.section] ?? []) {
        expect(claim.test(run.output), `README.md:${block.line}: its output should match ${claim}\n${show(block, run)}`).to.equal(true);
      }
      if (ON_TEST_NODE.has(block.section) && block.text.includes("--network custom")) {
        // PKG_PRIVATE_KEY's account deployed it: the environment reached Hardhat's `custom` network
        const record = JSON.parse(await readFile(path.join(checkout, "deployments", "custom.json"), "utf8")) as { deployer: string };
        expect(record.deployer).to.equal(CUSTOM_DEPLOYER.address);
      }
    });
  }

  it("leaves nothing in the checkout that git would show: everything the README's commands write there is ignored", async function () {
    if ([...sessions.values()].some((s) => s.failed !== null)) {
      console.log("    (skipped: a README block failed, so the checkout is not what the README leaves)");
      this.skip();
    }
    const written = (await h.listTree(checkout)).filter((p) => !p.endsWith("/") && p !== "node_modules" && !copied.has(p));
    expect(written, "the README's commands wrote nothing into the checkout: is this test still running them?").to.not.deep.equal([]);
    expect(notIgnored(written), "files the README's commands leave in a checkout that .gitignore does not cover").to.deep.equal([]);
  });
});
