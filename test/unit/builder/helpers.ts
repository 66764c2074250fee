/** Shared pieces of the build tests: temp dirs, derivations and build requests with real directories. */
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Derivation, DerivationBuilder } from "../../../src/derivation";
import type { BuildRequest } from "../../../src/builder/run";

export async function tempDir(prefix = "chainpkg-build-test-"): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

export function derivation(builder: DerivationBuilder, args: string[] = [], env: Record<string, string> = {}): Derivation {
  return {
    format: 1,
    name: "test-1.0.0",
    system: "x86_64-linux",
    builder,
    args,
    env,
    src: null,
    inputSrcs: [],
    inputDrvs: {},
    outputs: { out: { kind: "input-addressed" } },
    package: null,
  };
}

/** A request in `root`: build dir `root/build`, output `root/store/tmp/<n>/out-test`, base `root/base`. */
export function request(root: string, drv: Derivation, extra: Partial<BuildRequest> = {}): BuildRequest & { lines: string[] } {
  const lines: string[] = [];
  return {
    drv,
    drvCid: "bafyreitestderivation",
    src: null,
    inputs: {},
    closure: [],
    outputs: { out: path.join(root, "store", "tmp", "b1", "aaaa-test-1.0.0") },
    buildDir: path.join(root, "build"),
    storeSocket: path.join(root, "store.sock"),
    buildId: "build-1",
    cores: 2,
    log: (line) => lines.push(line),
    baseDir: path.join(os.tmpdir(), "chainpkg-build-test-base"),
    lines,
    ...extra,
  };
}

/** Writes an executable file (creating parents). */
export async function script(file: string, text: string): Promise<string> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, text, { mode: 0o755 });
  return file;
}

/** Makes a tree read-only, as store paths are. */
export async function readOnly(dir: string): Promise<void> {
  const st = await fs.lstat(dir);
  if (st.isSymbolicLink()) return;
  if (st.isDirectory()) {
    for (const name of await fs.readdir(dir)) await readOnly(path.join(dir, name));
    await fs.chmod(dir, 0o555);
  } else await fs.chmod(dir, st.mode & 0o111 ? 0o555 : 0o444);
}

/** Host processes whose command line contains `marker`. */
export async function processesWith(marker: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await fs.readdir("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = (await fs.readFile(`/proc/${entry}/cmdline`, "utf8")).replace(/\0/g, " ");
      if (cmdline.includes(marker)) found.push(Number(entry));
    } catch {
      // gone
    }
  }
  return found;
}
