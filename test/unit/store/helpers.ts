/**
 * Helpers for the store tests: a fresh store + embedded content store per test, and small derivations
 * whose builder is a shell script of their src (sh and coreutils are in the build's base).
 */
import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { CID } from "multiformats/cid";
import { openEmbeddedStore } from "../../../src/content";
import type { ContentStore } from "../../../src/content/types";
import { currentSystem, DERIVATION_FORMAT, sourceOnlyDerivation, writeDerivation, type Derivation } from "../../../src/derivation";
import { writeLockfile } from "../../../src/lockfile";
import { connectStore, type StoreClient } from "../../../src/daemon/client";
import { runDaemon, type RunningDaemon } from "../../../src/daemon/daemon";

export interface Sandbox {
  dir: string;
  storeDir: string;
  contentDir: string;
  socket: string;
  content: ContentStore;
  cleanup(): Promise<void>;
}

export async function makeSandbox(): Promise<Sandbox> {
  const dir = await mkdtemp(path.join(tmpdir(), "chainpkg-store-"));
  const contentDir = path.join(dir, "ipfs");
  const content = await openEmbeddedStore({ directory: contentDir });
  return {
    dir,
    storeDir: path.join(dir, "store"),
    contentDir,
    socket: path.join(dir, "run", "store.sock"),
    content,
    async cleanup() {
      await content.close().catch(() => {});
      // Store paths are read-only: make them writable to delete them (root does not need it, others do).
      const { spawnSync } = await import("node:child_process");
      spawnSync("chmod", ["-R", "u+w", dir]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** What {@link withDaemon} gives each test: a fresh sandbox, a daemon in this process and a client of it. */
export interface DaemonFixture {
  s: Sandbox;
  daemon: RunningDaemon;
  client: StoreClient;
}

/**
 * Registers mocha hooks that give every test of the calling suite a fresh sandbox with a daemon in this process
 * (real socket, real builder) and a client, closed and removed after the test. Read the fields inside tests.
 */
export function withDaemon(): DaemonFixture {
  const fixture = {} as DaemonFixture;
  beforeEach(async () => {
    fixture.s = await makeSandbox();
    fixture.daemon = await runDaemon({ root: fixture.s.storeDir, socket: fixture.s.socket, content: fixture.s.content, cores: 2, log: () => {} });
    fixture.client = await connectStore({ root: fixture.s.storeDir, socket: fixture.s.socket, start: false });
  });
  afterEach(async () => {
    fixture.client.close();
    await fixture.daemon.close();
    await fixture.s.cleanup();
  });
  return fixture;
}

/** The environment a daemon process of this sandbox runs with. */
export function sandboxEnv(s: Sandbox): NodeJS.ProcessEnv {
  return { ...process.env, PKG_STORE_DIR: s.storeDir, PKG_STORE_SOCKET: s.socket, PKG_CONTENT_DIR: s.contentDir, PKG_CONFIG: path.join(s.dir, "no-config.toml") };
}

export interface ScriptDrv {
  name: string;
  /** The build script (`build.sh`), run with sh. */
  script: string;
  inputs?: Record<string, CID>;
  extraFiles?: Record<string, string>;
}

/** Stores a derivation whose builder is `build.sh` of a src holding `script`; returns its CID. */
export async function scriptDerivation(content: ContentStore, d: ScriptDrv): Promise<CID> {
  const files = { "build.sh": `#!/bin/sh\nset -e\n${d.script}\n`, ...(d.extraFiles ?? {}) };
  const src = await content.putTree(Object.entries(files).map(([p, text]) => ({ path: p, content: text })));
  const derivation: Derivation = {
    format: DERIVATION_FORMAT,
    name: d.name,
    system: currentSystem(),
    builder: { kind: "source", path: "build.sh" },
    args: [],
    env: {},
    src,
    inputSrcs: [src],
    inputDrvs: Object.fromEntries(Object.entries(d.inputs ?? {}).map(([name, drv]) => [name, { drv, kinds: ["input"], output: "out" }])),
    outputs: { out: { kind: "input-addressed" } },
    package: null,
  };
  return (await writeDerivation(content, derivation)).cid;
}

/** A source-only derivation ("none" builder): its output is its src. */
export async function sourceDerivation(content: ContentStore, name: string, files: Record<string, string>): Promise<CID> {
  const src = await content.putTree(Object.entries(files).map(([p, text]) => ({ path: p, content: text })));
  return (await writeDerivation(content, sourceOnlyDerivation(name, src))).cid;
}

const PKG = path.resolve(__dirname, "../../../bin/pkg.js");
/** bin/pkg: the installed entry (sh; a no-op `pkg build` through the native client of dist/native when built). */
export const PKG_SH = path.resolve(__dirname, "../../../bin/pkg");

/** Runs the built `pkg` (bin/pkg.js over dist/) in this sandbox's store and content store; no chain is reachable. */
export function pkg(s: Sandbox, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}, entry: "node" | "sh" = "node"): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(entry === "node" ? process.execPath : PKG_SH, entry === "node" ? [PKG, ...args] : args, { cwd, env: { ...sandboxEnv(s), PKG_RPC_URL: "http://127.0.0.1:9", ...env }, encoding: "utf8", timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * A package directory `local:hello@1.0.0` whose builder is `build.sh` (with `script` as its body), with extra
 * files and pkg.toml args, and a pkg.lock for it written as `pkg lock` would (no inputs, so no chain is needed).
 */
export async function writeScriptPackage(s: Sandbox, dir: string, p: { script: string; src: string[]; files?: Record<string, string>; args?: string[] }): Promise<void> {
  await mkdir(dir, { recursive: true });
  const manifest = [
    "[package]",
    'repository = "local"',
    'name = "hello"',
    'version = "1.0.0"',
    'license = "MIT"',
    `src = ${JSON.stringify(p.src).replace(/,/g, ", ")}`,
    'builder = "./build.sh"',
    ...(p.args ? [`args = ${JSON.stringify(p.args).replace(/,/g, ", ")}`] : []),
    "",
  ].join("\n");
  await writeFile(path.join(dir, "pkg.toml"), manifest);
  await writeFile(path.join(dir, "build.sh"), `#!/bin/sh\nset -e\n${p.script}\n`);
  for (const [file, text] of Object.entries(p.files ?? {})) await writeFile(path.join(dir, file), text);
  const meta = await s.content.putBytes(await readFile(path.join(dir, "pkg.toml")));
  await writeLockfile(path.join(dir, "pkg.lock"), {
    package: meta.toString(), block: 1, chainId: 31337, registry: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    dependencies: {}, inputs: [], metaInputs: [], nativeInputs: [],
  });
}
