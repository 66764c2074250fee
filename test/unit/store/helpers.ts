/**
 * Helpers for the store tests: a fresh store + embedded content store per test, and small derivations
 * whose builder is a shell script of their src (sh and coreutils are in the build's base).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { CID } from "multiformats/cid";
import { openEmbeddedStore } from "../../../src/content";
import type { ContentStore } from "../../../src/content/types";
import { currentSystem, DERIVATION_FORMAT, writeDerivation, type Derivation } from "../../../src/derivation";
import { connectStore, type StoreClient } from "../../../src/store/client";
import { runDaemon, type RunningDaemon } from "../../../src/store/daemon";

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
  const derivation: Derivation = {
    format: DERIVATION_FORMAT,
    name,
    system: currentSystem(),
    builder: { kind: "none" },
    args: [],
    env: {},
    src,
    inputSrcs: [src],
    inputDrvs: {},
    outputs: { out: { kind: "input-addressed" } },
    package: null,
  };
  return (await writeDerivation(content, derivation)).cid;
}
