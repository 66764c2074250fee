/**
 * store-memory: peak RSS of a process that adds a 1 GB file to the embedded store (never the
 * whole file in memory). Limit: 200 MB. Measured for both ways in: the file's bytes as a stream
 * (putBytes; leaves hashed and written on the main thread) and the file on disk (putTree with a
 * `source`; leaves read, hashed and written by the block worker threads). The figure reported is
 * the higher of the two.
 *
 * Measured in a child process so the figure is the store's alone (`process.resourceUsage().maxRSS`
 * at the end). The child runs this file compiled to JavaScript by tsc, as the CLI runs in
 * production: under ts-node the TypeScript compiler itself would sit in the heap and be counted.
 *
 *   npx hardhat run bench/content/store-memory.ts
 */
import { spawn, spawnSync } from "node:child_process";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { openEmbeddedStore } from "../../src/content";
import { pseudoRandomBytes } from "./tree";

const FILE_BYTES = 1024 * 1024 * 1024;
const PIECE_BYTES = 1024 * 1024;
const LIMIT_MB = 200;
const REPO = resolve(__dirname, "..", "..");

async function* generated(total: number): AsyncGenerator<Uint8Array> {
  for (let offset = 0, seed = 1; offset < total; offset += PIECE_BYTES, seed++) {
    yield pseudoRandomBytes(Math.min(PIECE_BYTES, total - offset), seed);
  }
}

type Mode = "stream" | "file";

/** The child: add the file, report the CID, RSS before adding and peak RSS as one JSON line. */
async function child(mode: Mode, directory: string, file: string): Promise<void> {
  const store = await openEmbeddedStore({ directory });
  const baselineMB = process.memoryUsage().rss / 1e6;
  const start = Date.now();
  const cid =
    mode === "stream"
      ? await store.putBytes(createReadStream(file, { highWaterMark: 256 * 1024 }))
      : await store.putTree([{ path: "one-gigabyte.bin", source: file }]);
  const seconds = (Date.now() - start) / 1000;
  const maxRssMB = (process.resourceUsage().maxRSS * 1024) / 1e6; // maxRSS is in KiB
  process.stdout.write(`${JSON.stringify({ cid: cid.toString(), baselineMB, maxRssMB, seconds })}\n`);
}

export interface MemoryResult {
  maxRssMB: number;
  baselineMB: number;
  seconds: number;
}

const MODES: Mode[] = ["stream", "file"];

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolveOutput, reject) => {
    const proc = spawn(command, args, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    proc.stdout.on("data", (data: Buffer) => (out += data.toString()));
    proc.on("exit", (code) => (code === 0 ? resolveOutput(out) : reject(new Error(`${args.join(" ")} exited with ${code}`))));
  });
}

export async function benchStoreMemory(): Promise<MemoryResult> {
  const base = await mkdtemp(join(tmpdir(), "bench-content-memory-"));
  // Inside the repository (in the ignored .tmp/) so that the compiled child finds node_modules.
  await mkdir(join(REPO, ".tmp"), { recursive: true }); // absent on a clean clone
  const compiled = await mkdtemp(join(REPO, ".tmp", "bench-content-memory-"));
  try {
    const file = join(base, "one-gigabyte.bin");
    await pipeline(Readable.from(generated(FILE_BYTES)), createWriteStream(file));
    const tsc = spawnSync(
      process.execPath,
      [require.resolve("typescript/bin/tsc"), "--outDir", compiled, "--rootDir", REPO, "--module", "nodenext", "--moduleResolution", "nodenext",
        "--target", "ES2022", "--strict", "--esModuleInterop", "--skipLibCheck", "--resolveJsonModule", join(REPO, "bench", "content", "store-memory.ts")],
      { encoding: "utf8" },
    );
    if (tsc.status !== 0) throw new Error(`compiling the benchmark child failed:\n${tsc.stdout}${tsc.stderr}`);
    const script = join(compiled, relative(REPO, __filename).replace(/\.ts$/, ".js"));
    let worst: MemoryResult | undefined;
    for (const mode of MODES) {
      const output = await run(process.execPath, [script, "--child", mode, join(base, `store-${mode}`), file]);
      const result = JSON.parse(output.trim().split("\n").pop() as string) as MemoryResult & { cid: string };
      const how = mode === "stream" ? "as a stream (putBytes)" : "from disk (putTree source)";
      console.log(`# 1 GB file added ${how} in ${result.seconds.toFixed(1)} s (${(FILE_BYTES / 1e6 / result.seconds).toFixed(0)} MB/s); RSS ${Math.round(result.baselineMB)} MB before, peak ${Math.round(result.maxRssMB)} MB; root ${result.cid}`);
      await rm(join(base, `store-${mode}`), { recursive: true, force: true });
      if (worst === undefined || result.maxRssMB > worst.maxRssMB) worst = result;
    }
    const result = worst as MemoryResult;
    console.log(`BENCH store-memory ${Math.round(result.maxRssMB)} MB vs limit ${LIMIT_MB}`);
    return result;
  } finally {
    await rm(base, { recursive: true, force: true });
    await rm(compiled, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const childAt = process.argv.indexOf("--child");
  const done = childAt >= 0 ? child(process.argv[childAt + 1] as Mode, process.argv[childAt + 2], process.argv[childAt + 3]) : benchStoreMemory();
  done.catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
