/**
 * The layers of docs/layout.md, checked on the source: which folder may import which (at run time; `import
 * type` is free where a layer names the shape of what it is given), that nothing in src/ imports cli/, that the
 * builder, the store and the meta packages keep no state at module level, and that SQL stays in src/store/.
 * Each rule is a list of what is allowed, so that a new import across layers fails here until it is argued for.
 */
import { expect } from "chai";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

const ROOT = path.resolve(__dirname, "../..");

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts"))
    .map((f) => path.join(dir, f).split(path.sep).join("/"));
}

interface Import {
  /** Repository-relative module path without extension (`src/store/store`), or the package name. */
  target: string;
  typeOnly: boolean;
  line: number;
}

/** Static imports, re-exports, `require(…)` and `import(…)` of a file, relative ones resolved. */
function importsOf(file: string): Import[] {
  const text = readFileSync(path.join(ROOT, file), "utf8");
  const found: Import[] = [];
  const patterns = [
    /^\s*(import|export)\s+(type\s+)?[^;]*?\sfrom\s+["']([^"']+)["']/gms,
    /require\(\s*["']([^"']+)["']\s*\)/g,
    /(?<!typeof )import\(\s*["']([^"']+)["']\s*\)/g,
  ];
  for (const [i, pattern] of patterns.entries()) {
    for (const m of text.matchAll(pattern)) {
      const spec = i === 0 ? m[3] : m[1];
      const typeOnly = i === 0 && m[2] !== undefined;
      const target = spec.startsWith(".") ? path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)) : spec;
      found.push({ target, typeOnly, line: text.slice(0, m.index).split("\n").length });
    }
  }
  return found;
}

/** The layer a module belongs to: its folder under src/ (or the file's name for files directly in src/). */
function layerOf(target: string): string {
  if (target.startsWith("cli/")) return "cli";
  if (!target.startsWith("src/")) return target; // a package
  const rest = target.slice(4).split("/");
  return rest.length === 1 ? rest[0] : rest[0];
}

/** What each low layer may import at run time (besides node built-ins and npm packages it is listed with). */
const ALLOWED: Record<string, { layers: string[]; packages?: string[] }> = {
  // runs one builder; knows nothing of the store, which is given it (RunBuild)
  builder: { layers: ["builder", "errors", "files"] },
  // the store imports nothing above it: its builder is injected, and it never loads the daemon or meta packages
  store: { layers: ["store", "errors", "files", "derivation", "concurrency"], packages: ["better-sqlite3", "multiformats"] },
  // planners and the invoke handler: given the store, its records and the content store by the daemon
  meta: { layers: ["meta", "errors", "files", "derivation", "ids"], packages: ["multiformats"] },
  // the only place that wires store, builder and meta packages together (and serves the no-op answer)
  daemon: { layers: ["daemon", "store", "builder", "meta", "noop", "errors", "files", "config", "content"], packages: ["better-sqlite3"] },
  // the registry client: the only user of ethers and typechain (cli.test.ts checks nobody else imports them)
  chain: { layers: ["chain", "errors", "files", "content", "ids"], packages: ["ethers", "multiformats", "typechain-types"] },
  // content between machines: the content store and nothing of the chain or the build layer
  share: { layers: ["share", "content", "errors", "files"], packages: ["multiformats"] },
  // importers and snapshot indexes: the content store, the chain's views (types) and the package files; never the
  // build layer. The engine publishes one repository version through the client it is given.
  mirror: {
    layers: ["mirror", "errors", "files", "ids", "content", "manifest", "concurrency", "repository", "chain"],
    packages: ["multiformats", "semver", "tar-stream", "smol-toml", "ipfs-unixfs", "@multiformats/murmur3", "@ipld/dag-pb"],
  },
  // the registry gateway: HTTP over the package reader (chain + snapshots) and the content store; nothing it can write
  gateway: { layers: ["gateway", "errors", "mirror", "chain", "content", "files", "ids", "manifest"], packages: ["multiformats", "semver", "ipfs-unixfs-exporter", "smol-toml", "tar-stream"] },
  // the no-op cache and its daemon answer: node built-ins only, for the thin clients' sake
  noop: { layers: ["noop", "files"] },
};

describe("layers (docs/layout.md)", () => {
  const files = [...sourceFiles("src"), ...sourceFiles("cli")];

  for (const [layer, allowed] of Object.entries(ALLOWED)) {
    it(`src/${layer}/ imports only ${allowed.layers.join(", ")}${allowed.packages ? ` (and ${allowed.packages.join(", ")})` : ""} at run time`, () => {
      const ownFiles = files.filter((f) => f.startsWith(`src/${layer}/`));
      expect(ownFiles, `src/${layer}/ has files`).to.not.be.empty;
      const wrong: string[] = [];
      for (const file of ownFiles) {
        for (const imp of importsOf(file)) {
          if (imp.typeOnly || imp.target.startsWith("node:")) continue;
          const target = layerOf(imp.target);
          const ok = imp.target.startsWith("src/") ? allowed.layers.includes(target) : (allowed.packages ?? []).some((p) => imp.target === p || imp.target.startsWith(`${p}/`));
          if (!ok) wrong.push(`${file}:${imp.line} imports ${imp.target}`);
        }
      }
      expect(wrong).to.deep.equal([]);
    });
  }

  it("src/store/ names the builder only by the shape of its request (import type)", () => {
    const wrong = files
      .filter((f) => f.startsWith("src/store/"))
      .flatMap((file) => importsOf(file).filter((imp) => layerOf(imp.target) === "builder" && !imp.typeOnly).map((imp) => `${file}:${imp.line}`));
    expect(wrong).to.deep.equal([]);
    const types = importsOf("src/store/realise.ts").filter((imp) => imp.target === "src/builder/types");
    expect(types, "realise names BuildRequest/BuildResult from src/builder/types").to.have.length(1);
  });

  it("nothing in src/ imports cli/", () => {
    const wrong = files.filter((f) => f.startsWith("src/")).flatMap((file) => importsOf(file).filter((imp) => imp.target.startsWith("cli/")).map((imp) => `${file}:${imp.line}`));
    expect(wrong).to.deep.equal([]);
  });

  it("the builder, the store, the daemon and the meta packages keep no mutable state at module level", () => {
    const wrong: string[] = [];
    for (const file of files.filter((f) => /^src\/(builder|store|meta|daemon)\//.test(f))) {
      const lines = readFileSync(path.join(ROOT, file), "utf8").split("\n");
      lines.forEach((line, i) => {
        // `let` at the top level, or a top-level collection that can be filled later (a ReadonlyMap/Set cannot)
        if (/^(export )?let /.test(line) || (/^(export )?const \w+(: [^=]+)? = new (Map|Set|WeakMap|WeakSet)\b/.test(line) && !/^(export )?const \w+: Readonly(Map|Set)</.test(line)) || /^(export )?const \w+: [^=]+\[\] = \[\]/.test(line)) {
          wrong.push(`${file}:${i + 1}: ${line.trim()}`);
        }
      });
    }
    // Facts of this machine and process, found once and the same for every caller (never state of a store,
    // a build or a request): each is named here with its reason, so that a new one is argued for.
    const hostFacts = [
      "src/builder/base.ts: const inProgress", // one base per directory: concurrent builds share its setup
      "src/builder/host-paths.ts: const trustedCache", // the host toolchains' install prefixes
      "src/builder/sandbox.ts: let detected", // what the kernel allows (namespaces), probed once
      "src/store/paths.ts: let base32Codec", // a module loaded on first use (the no-op path does without)
    ];
    expect(wrong.filter((w) => !hostFacts.some((fact) => w.replace(/:\d+:/, ":").startsWith(fact)))).to.deep.equal([]);
  });

  it("SQL is written only in src/store/", () => {
    const sql = /\b(SELECT|INSERT|UPDATE|DELETE|CREATE TABLE)\b[^"'`]*\b(FROM|INTO|SET|WHERE|IF NOT EXISTS)\b/;
    const wrong = files
      .filter((f) => !f.startsWith("src/store/"))
      .filter((file) => sql.test(readFileSync(path.join(ROOT, file), "utf8")) || /\.prepare\(\s*["'`]/.test(readFileSync(path.join(ROOT, file), "utf8")));
    expect(wrong).to.deep.equal([]);
  });

  it("the checks above see imports (a rule that finds nothing to check would pass for nothing)", () => {
    const daemon = importsOf("src/daemon/daemon.ts").map((i) => i.target);
    expect(daemon).to.include.members(["src/store/realise", "src/builder/run", "src/meta"]);
    expect(importsOf("src/store/realise.ts").some((i) => i.typeOnly)).to.equal(true);
  });
});
