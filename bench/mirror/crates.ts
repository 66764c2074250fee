/**
 * mirror-crates: versions per minute of `pkg mirror crates DIR --json` (the real CLI, a fresh process, no names:
 * the whole index) importing a directory cargo index of 2,000 crates × 50 versions (100,000 versions) into a local
 * pkg node (startLocalNode, as `pkg node` runs it) and the embedded store beside it, and the peak RSS of that
 * process. Goals ≥ 20,000/min and ≤ 1 GB. Anchor: the same run's floor, every .crate read and its sha256 checked
 * against its index line (in-process, 8 files at once), in versions/min.
 *
 * The index is synthetic and generated here, deterministically: crates with cargo's index layout (1/, 2/, 3/a/,
 * ab/cd/), one JSON line per version with normal, optional (some enabled by the default feature), build and dev
 * dependencies on other crates of the index, features and cksum, about 2% of the versions yanked; config.json's
 * `dl` is a file:// URL template. Each .crate is a small gzip'd tar under `NAME-VERSION/`: Cargo.toml,
 * Cargo.toml.orig, README.md, LICENSE-MIT and src/lib.rs, the README and lib.rs taken (cut to a few KB) from the
 * real crate sources Debian installs in /usr/share/cargo/registry when there are any, generated text otherwise.
 *
 * Peak RSS: the importing process's own `process.resourceUsage().maxRSS` at exit (bench/mirror/rss-probe.cjs,
 * preloaded with --require), and its VmHWM polled from /proc while it runs (a cross-check).
 *
 *   npx hardhat run bench/mirror/crates.ts
 *
 * Needs `npm run build`. BENCH_CRATES and BENCH_CRATE_VERSIONS change the index's size (quick checks); BENCH_REAL_CRATES
 * another directory of crate sources (a missing one: generated text).
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { cratePrefix } from "../../src/mirror/crates";
import { startLocalNode, type LocalNode } from "../../src/node";
import { seededRandom } from "../../test/helpers/random";
import { bench, cleanEnv, median, note, pool, ROOT } from "../cli/util";
import { tarball } from "../cli/verdaccio";
import { mib, progress, spawnGroup, watchPeakRss, withWorkDir } from "./util";

const CRATES = Number(process.env.BENCH_CRATES ?? 2000);
const VERSIONS_PER_CRATE = Number(process.env.BENCH_CRATE_VERSIONS ?? 50);
const FLOOR_CONCURRENCY = 8;
const FLOOR_RUNS = 3;
const REAL_CRATES = process.env.BENCH_REAL_CRATES ?? "/usr/share/cargo/registry";
/** lib.rs and README.md of a synthetic crate are cut to these sizes (small .crate files, as the brief asks). */
const LIB_BYTES = 4096;
const README_BYTES = 2048;

const LICENSE_MIT = `Permission is hereby granted, free of charge, to any person obtaining a copy of this software and associated
documentation files (the "Software"), to deal in the Software without restriction, including without limitation the
rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies of the Software.
`;

interface ContentPool {
  libs: string[];
  readmes: string[];
  licenses: string[];
  /** Where it came from, for the note. */
  origin: string;
}

/** Real crates' lib.rs and README.md (cut) and licenses when Debian's crate sources are installed; generated text otherwise. */
async function contentPool(): Promise<ContentPool> {
  const libs: string[] = [];
  const readmes: string[] = [];
  const licenses: string[] = [];
  const dirs = existsSync(REAL_CRATES) ? (await readdir(REAL_CRATES)).sort() : [];
  for (const dir of dirs) {
    const lib = await readFile(path.join(REAL_CRATES, dir, "src", "lib.rs"), "utf8").catch(() => "");
    if (lib.length >= 200) libs.push(lib.slice(0, LIB_BYTES));
    const readme = await readFile(path.join(REAL_CRATES, dir, "README.md"), "utf8").catch(() => "");
    if (readme.length >= 100) readmes.push(readme.slice(0, README_BYTES));
    const toml = await readFile(path.join(REAL_CRATES, dir, "Cargo.toml"), "utf8").catch(() => "");
    const license = /^license\s*=\s*"([^"]+)"/m.exec(toml)?.[1];
    if (license !== undefined) licenses.push(license);
  }
  if (libs.length >= 10 && readmes.length >= 10) {
    return { libs, readmes, licenses: [...new Set(licenses)], origin: `${libs.length} lib.rs and ${readmes.length} README.md of ${dirs.length} Debian crates in ${REAL_CRATES}` };
  }
  const rand = seededRandom(77);
  const words = ["fn", "let", "impl", "pub", "struct", "self", "match", "Some", "None", "Ok", "Err", "iter", "map", "len", "value", "buf", "into"];
  const text = (bytes: number) => {
    let out = "";
    while (out.length < bytes) out += `${Array.from({ length: 8 }, () => words[Math.floor(rand() * words.length)]).join(" ")};\n`;
    return out.slice(0, bytes);
  };
  return {
    libs: Array.from({ length: 40 }, () => text(1000 + Math.floor(rand() * (LIB_BYTES - 1000)))),
    readmes: Array.from({ length: 40 }, () => `# A crate\n\n${text(500 + Math.floor(rand() * (README_BYTES - 500)))}`),
    licenses: ["MIT", "MIT OR Apache-2.0", "Apache-2.0", "MIT/Apache-2.0", "BSD-3-Clause"],
    origin: "generated text (no Debian crate sources here)",
  };
}

/** 2,000 crate names, unique case-insensitively, of every index layout (1/, 2/, 3/x/, ab/cd/). */
function crateNames(count: number, seed: number): string[] {
  const rand = seededRandom(seed);
  const syllables = ["ser", "de", "to", "kio", "rand", "byte", "log", "hash", "syn", "quo", "te", "mem", "chr", "ono", "url", "tar", "zip", "fut", "ure", "io"];
  const names = new Set<string>(["a", "z9", "xyz"]);
  while (names.size < count) {
    const parts = 1 + Math.floor(rand() * 3);
    let name = Array.from({ length: parts }, () => syllables[Math.floor(rand() * syllables.length)]).join(rand() < 0.5 ? "-" : "_");
    if (rand() < 0.3) name += `${Math.floor(rand() * 100)}`;
    if (names.has(name)) name += `-${names.size.toString(36)}`;
    names.add(name);
  }
  return [...names].slice(0, count);
}

/** 50 versions: 0.1.0 … through minors and patches into 1.x. */
function crateVersions(count: number): string[] {
  return Array.from({ length: count }, (_, j) => `${Math.floor(j / 25)}.${Math.floor((j % 25) / 5)}.${j % 5}`);
}

interface Generated {
  versions: number;
  yanked: number;
  crateBytes: number;
  /** Every .crate file and the cksum its index line gives. */
  files: { file: string; cksum: string }[];
}

/** Writes the index (config.json, one file per crate) and the .crate files under `dir`. */
async function generateIndex(dir: string, content: ContentPool, log: (line: string) => void): Promise<Generated> {
  const index = path.join(dir, "index");
  const crates = path.join(dir, "crates");
  await mkdir(index, { recursive: true });
  const dl = `${pathToFileURL(crates).toString()}/{crate}/{crate}-{version}.crate`;
  await writeFile(path.join(index, "config.json"), `${JSON.stringify({ dl, api: null }, null, 2)}\n`);
  const names = crateNames(CRATES, 4242);
  const versions = crateVersions(VERSIONS_PER_CRATE);
  const generated: Generated = { versions: 0, yanked: 0, crateBytes: 0, files: [] };
  let done = 0;
  await pool(
    names.map((name, i) => ({ name, i })),
    4,
    async ({ name, i }) => {
      const rand = seededRandom(1000 + i); // per crate: the same index whatever order the crates are written in
      const pick = () => names[Math.floor(rand() * names.length)];
      const depNames = [...new Set(Array.from({ length: Math.floor(rand() * 4) }, pick))].filter((d) => d !== name);
      const optionalPick = rand() < 0.3 ? pick() : null;
      const optional = optionalPick !== null && optionalPick !== name && !depNames.includes(optionalPick) ? optionalPick : null;
      const build = rand() < 0.15 ? pick() : null;
      const dev = rand() < 0.4 ? pick() : null;
      const license = content.licenses[i % content.licenses.length];
      const readme = content.readmes[i % content.readmes.length];
      const lib = content.libs[i % content.libs.length];
      const lines: string[] = [];
      const crateDir = path.join(crates, name);
      await mkdir(crateDir, { recursive: true });
      const writes: Promise<void>[] = [];
      for (const [j, vers] of versions.entries()) {
        const top = `${name}-${vers}`;
        const cargoToml = [
          "# THIS FILE IS AUTOMATICALLY GENERATED BY CARGO",
          "",
          "[package]",
          'edition = "2021"',
          `name = "${name}"`,
          `version = "${vers}"`,
          `description = "A synthetic crate of the mirror benchmark"`,
          `license = "${license}"`,
          'readme = "README.md"',
          "",
          ...depNames.map((d) => `[dependencies.${d}]\nversion = "0.${j % 3}"\n`),
          ...(optional ? [`[dependencies.${optional}]\nversion = "1"\noptional = true\n`] : []),
          ...(build ? [`[build-dependencies.${build}]\nversion = "0.4"\n`] : []),
          ...(dev ? [`[dev-dependencies.${dev}]\nversion = "1.0"\n`] : []),
          '[features]\ndefault = ["std"]\nstd = []\n',
        ].join("\n");
        const tgz = tarball([
          { path: `${top}/Cargo.toml`, content: cargoToml },
          { path: `${top}/Cargo.toml.orig`, content: `[package]\nname = "${name}"\nversion = "${vers}"\nlicense = "${license}"\n` },
          { path: `${top}/README.md`, content: readme },
          { path: `${top}/LICENSE-MIT`, content: LICENSE_MIT },
          { path: `${top}/src/lib.rs`, content: `//! ${name} ${vers}\n${lib}` },
        ]);
        const cksum = createHash("sha256").update(tgz).digest("hex");
        const file = path.join(crateDir, `${name}-${vers}.crate`);
        writes.push(writeFile(file, tgz));
        generated.files.push({ file, cksum });
        generated.crateBytes += tgz.length;
        const yanked = rand() < 0.02;
        if (yanked) generated.yanked++;
        const deps = [
          ...depNames.map((d) => ({ name: d, req: `^0.${j % 3}`, features: [], optional: false, default_features: true, target: null, kind: "normal" })),
          ...(optional ? [{ name: optional, req: "^1", features: [], optional: true, default_features: true, target: null, kind: "normal" }] : []),
          ...(build ? [{ name: build, req: ">=0.4, <2", features: [], optional: false, default_features: true, target: null, kind: "build" }] : []),
          ...(dev ? [{ name: dev, req: "1.0", features: [], optional: false, default_features: true, target: "cfg(unix)", kind: "dev" }] : []),
        ];
        const features: Record<string, string[]> = { default: optional && j % 2 === 0 ? ["std", `dep:${optional}`] : ["std"], std: [] };
        lines.push(JSON.stringify({ name, vers, deps, cksum, features, yanked, links: null, rust_version: "1.60" }));
        generated.versions++;
      }
      await Promise.all(writes);
      const indexFile = path.join(index, ...cratePrefix(name).split("/"), name);
      await mkdir(path.dirname(indexFile), { recursive: true });
      await writeFile(indexFile, `${lines.join("\n")}\n`);
      if (++done % 250 === 0) log(`index: ${done} / ${names.length} crates generated`);
    },
  );
  return generated;
}

/** The floor: every .crate read and its sha256 checked against the index's cksum. */
async function readAndHash(files: readonly { file: string; cksum: string }[]): Promise<number> {
  const started = performance.now();
  await pool(files, FLOOR_CONCURRENCY, async ({ file, cksum }) => {
    const bytes = await readFile(file);
    if (createHash("sha256").update(bytes).digest("hex") !== cksum) throw new Error(`${file}: sha256 is not its cksum`);
  });
  return performance.now() - started;
}

interface MirrorJson {
  root: string;
  version: string | null;
  tx: { hash: string; block: number } | null;
  packages: { visited: number; changed: number; skipped: number };
  versions: { stored: number; total: number };
}

export async function benchMirrorCrates(): Promise<void> {
  const log = progress(performance.now());
  if (!existsSync(path.join(ROOT, "dist", "cli", "pkg", "mirror", "crates.js"))) throw new Error("dist/ is not built: run `npm run build` first");
  let node: LocalNode | null = null;
  let importer: ReturnType<typeof spawnGroup> | null = null;
  const nodeLog: string[] = [];
  const stop = async () => {
    if (importer !== null) {
      importer.kill();
      await importer.done.catch(() => undefined);
      importer = null;
    }
    await node?.stop();
    node = null;
  };
  await withWorkDir(
    "chainpkg-bench-mirror-crates-",
    async (work) => {
      const dataDir = path.join(work, "data");
      const content = await contentPool();
      let t = performance.now();
      const generated = await generateIndex(work, content, log);
      const generateSeconds = (performance.now() - t) / 1000;
      log(`generated ${generated.versions} versions of ${CRATES} crates (${mib(generated.crateBytes)} of .crate files) in ${generateSeconds.toFixed(0)} s`);

      const floors: number[] = [];
      for (let i = 0; i < FLOOR_RUNS; i++) floors.push((generated.versions / (await readAndHash(generated.files))) * 60_000);
      log(`floor (read + sha256): ${floors.map((f) => f.toFixed(0)).join(", ")} versions/min`);
      const files = generated.files.length;
      generated.files.length = 0; // not needed any more

      node = await startLocalNode({ dataDir, port: 0, log: (line) => nodeLog.push(line) });
      const localNode = node;
      log(`pkg node on ${localNode.url}; pkg mirror crates of the whole index ...`);
      const rssFile = path.join(work, "importer-rss");
      const env = cleanEnv({
        PKG_DATA_DIR: dataDir,
        PKG_RPC_URL: localNode.url,
        PKG_CONFIG: path.join(work, "no-config.toml"),
        XDG_RUNTIME_DIR: path.join(work, "run"),
        NO_COLOR: "1",
        BENCH_RSS_FILE: rssFile,
      });
      const args = ["--require", path.join(__dirname, "rss-probe.cjs"), path.join(ROOT, "bin", "pkg.js"), "mirror", "crates", path.join(work, "index"), "--repository", "crates", "--json"];
      t = performance.now();
      importer = spawnGroup(process.execPath, args, { cwd: work, env });
      const watcher = watchPeakRss(importer.child.pid!, 1000);
      const checkpoint = path.join(dataDir, "mirror", "crates.json");
      const ticker = setInterval(() => {
        void readFile(checkpoint, "utf8").then(
          (text) => {
            const c = JSON.parse(text) as { position: number; versions: number };
            log(`import: ${c.position} / ${CRATES} crates, ${c.versions} versions in the index`);
          },
          () => undefined,
        );
      }, 15_000);
      const ran = await importer.done.finally(() => clearInterval(ticker));
      importer = null;
      const polled = await watcher.stop();
      if (ran.code !== 0) throw new Error(`pkg mirror crates exited ${ran.code ?? ran.signal}:\n${ran.stderr.slice(-3000)}`);
      const result = JSON.parse(ran.stdout) as MirrorJson;
      const expected = generated.versions;
      if (result.versions.stored !== expected || result.tx === null) {
        throw new Error(`pkg mirror crates stored ${result.versions.stored} versions (of ${expected}), tx ${JSON.stringify(result.tx)}:\n${ran.stderr.slice(-3000)}`);
      }
      const maxRss = Number((await readFile(rssFile, "utf8")).trim());
      const rate = (result.versions.stored / ran.ms) * 60_000;
      log(`mirrored ${result.versions.stored} versions in ${(ran.ms / 1000).toFixed(1)} s, peak RSS ${mib(maxRss)}`);

      const floor = median(floors);
      bench("mirror-crates", rate, "versions/min", "read-sha256-floor", floor);
      note(
        `${result.versions.stored.toLocaleString("en")} versions of ${result.packages.changed} crates (${generated.yanked} yanked), ${files} .crate files of ${(generated.crateBytes / files / 1024).toFixed(1)} KiB mean ` +
          `(5 files each; content: ${content.origin}); one \`pkg mirror crates DIR\` run, --concurrency 8 (default), ${(ran.ms / 1000).toFixed(1)} s wall time ` +
          `including the CLI's start and the transactions (goal ≥ 20,000/min)`,
      );
      note(`floor: median of ${FLOOR_RUNS} in-process passes reading every .crate and checking its sha256 (${FLOOR_CONCURRENCY} at once, files in the page cache as for the import): ${floors.map((f) => f.toFixed(0)).join(", ")} versions/min`);
      bench("mirror-crates-rss", maxRss / 1024 / 1024, "MiB", "goal", 1024);
      note(`peak RSS of the importing process (its maxRSS at exit); VmHWM polled every second: ${mib(polled.self)}${polled.descendants.size > 0 ? `; its child processes' peaks ${[...polled.descendants.values()].map(mib).join(", ")}` : " (no child processes)"} ` +
          `(a lower poll means the peak came in the last second, when the result is reported: its --json output is ${(ran.stdout.length / 1024 / 1024).toFixed(1)} MiB, every version change listed) (goal ≤ 1 GB)`);
      note(`setup: index generated in ${generateSeconds.toFixed(0)} s`);
    },
    stop,
  ).catch((error: unknown) => {
    if (nodeLog.length > 0) console.error(`pkg node log:\n${nodeLog.slice(-20).join("\n")}`);
    throw error;
  });
}

if (require.main === module) {
  benchMirrorCrates().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
