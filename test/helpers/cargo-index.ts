/**
 * Cargo registry indexes built from real crates, for the crates mirror's tests (test/unit/mirror/crates.test.ts,
 * test/e2e/mirror-crates.test.ts).
 *
 * Debian's librust-*-dev packages ship the sources of crates.io crates under /usr/share/cargo/registry/NAME-VERSION/
 * (the Cargo.toml crates.io serves, plus Debian's `.cargo-checksum.json` and `debian/`, which are left out here).
 * {@link packCrate} packs such a directory into a `.crate` as `cargo package` writes it, {@link indexLineOf} writes
 * its index line as crates.io does from the Cargo.toml, {@link writeIndex} lays the lines out as a directory index
 * (config.json, `1/a`, `2/ab`, `3/a/abc`, `ab/cd/abcd`) and {@link serve} serves files (`.crate`s, or the index as a
 * sparse one) from a node:http server on 127.0.0.1.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import * as semver from "semver";
import { parse as parseToml } from "smol-toml";
import { pack } from "tar-stream";
import { crateIndexPath } from "../../src/mirror/crates";

/** Where Debian's librust-*-dev packages put crate sources: one directory NAME-VERSION per crate. */
export const REGISTRY = "/usr/share/cargo/registry";

/** A `.crate` made by {@link packCrate}. */
export interface PackedCrate {
  name: string;
  version: string;
  /** The `.crate` (gzip'd tar), byte for byte as served. */
  bytes: Buffer;
  /** sha256 of `bytes`, lowercase hex: the index line's `cksum`. */
  cksum: string;
  /** The Debian directory it was packed from. */
  dir: string;
  /** The Cargo.toml packed (the directory's, or the replacement given to packCrate). */
  cargoToml: string;
}

/** The Debian directory of a crate (the highest version if there are several), or null. */
export function debianCrate(name: string): string | null {
  if (!existsSync(REGISTRY)) return null;
  const versions = readdirSync(REGISTRY)
    .filter((entry) => entry.startsWith(`${name}-`) && semver.valid(entry.slice(name.length + 1)) !== null)
    .map((entry) => entry.slice(name.length + 1))
    .sort(semver.rcompare);
  return versions.length === 0 ? null : join(REGISTRY, `${name}-${versions[0]}`);
}

/** The version of a directory {@link debianCrate} returned (`…/itoa-1.0.1` → `1.0.1`). */
export function debianCrateVersion(name: string, dir: string): string {
  return dir.slice(REGISTRY.length + name.length + 2);
}

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts);
}

/** The files of a crate's directory, sorted, without Debian's additions; mode 0755 for executables, else 0644. */
export async function filesOf(dir: string, relative = ""): Promise<{ path: string; full: string; mode: number }[]> {
  const out: { path: string; full: string; mode: number }[] = [];
  const entries = (await readdir(join(dir, relative), { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const entry of entries) {
    const rel = relative === "" ? entry.name : `${relative}/${entry.name}`;
    // Debian's additions, not part of the crate as crates.io serves it
    if (rel === ".cargo-checksum.json" || rel === "debian") continue;
    if (entry.isDirectory()) out.push(...(await filesOf(dir, rel)));
    else if (entry.isFile()) out.push({ path: rel, full: join(dir, rel), mode: (await stat(join(dir, rel))).mode & 0o111 ? 0o755 : 0o644 });
  }
  return out;
}

/**
 * A .crate as `cargo package` writes it: tar, top directory NAME-VERSION/, gzip; deterministic (mtime 0, uid 0).
 * `top` replaces the top directory (a hostile archive); `cargoToml` replaces Cargo.toml's text (another version or
 * name made from the same sources).
 */
export async function packCrate(dir: string, name: string, version: string, options: { top?: string; cargoToml?: string } = {}): Promise<PackedCrate> {
  const tar = pack();
  const chunks = collect(tar as AsyncIterable<Uint8Array>);
  let cargoToml = "";
  for (const file of await filesOf(dir)) {
    let content = await readFile(file.full);
    if (file.path === "Cargo.toml") {
      if (options.cargoToml !== undefined) content = Buffer.from(options.cargoToml);
      cargoToml = content.toString("utf8");
    }
    tar.entry({ name: `${options.top ?? `${name}-${version}`}/${file.path}`, mode: file.mode, mtime: new Date(0), uid: 0, gid: 0, uname: "", gname: "", type: "file" }, content);
  }
  tar.finalize();
  const bytes = gzipSync(await chunks);
  return { name, version, bytes, cksum: sha256(bytes), dir, cargoToml };
}

/**
 * The same crate's sources under another version: Cargo.toml's `[package] version` rewritten, the top directory
 * NAME-VERSION/ of the new version (an older or newer release made from the one Debian ships).
 */
export async function repackAs(crate: PackedCrate, version: string): Promise<PackedCrate> {
  return packCrate(crate.dir, crate.name, version, { cargoToml: crate.cargoToml.replace(/^version = ".*"$/m, `version = "${version}"`) });
}

/** sha256, lowercase hex. */
export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

type TomlTable = Record<string, unknown>;

/**
 * An index line for a crate, as crates.io writes it from the Cargo.toml it was published with: its dependencies
 * (normal, build, dev; target-specific ones with their target; a bare requirement with cargo's caret), its
 * features (those using `dep:` or `x?/` in `features2`, with `v: 2`), `yanked` and `links`.
 */
export function indexLineOf(crate: Pick<PackedCrate, "name" | "version" | "cksum" | "cargoToml">, yanked = false): string {
  const doc = parseToml(crate.cargoToml) as TomlTable;
  const deps: Record<string, unknown>[] = [];
  const add = (table: unknown, kind: string, target: string | null): void => {
    for (const [name, spec] of Object.entries((table ?? {}) as TomlTable)) {
      const s = (typeof spec === "string" ? { version: spec } : spec) as TomlTable;
      const version = typeof s.version === "string" ? s.version : "*";
      const d: Record<string, unknown> = {
        name,
        req: /^[0-9]/.test(version) ? `^${version}` : version, // cargo publishes a bare requirement with its caret
        features: s.features ?? [],
        optional: s.optional ?? false,
        default_features: s["default-features"] ?? s.default_features ?? true,
        target,
        kind,
      };
      if (typeof s.package === "string") d.package = s.package;
      deps.push(d);
    }
  };
  const kinds: [string, string][] = [["dependencies", "normal"], ["build-dependencies", "build"], ["dev-dependencies", "dev"]];
  for (const [table, kind] of kinds) add(doc[table], kind, null);
  for (const [target, tables] of Object.entries((doc.target ?? {}) as TomlTable)) {
    for (const [table, kind] of kinds) add((tables as TomlTable)[table], kind, target);
  }
  deps.sort((a, b) => (String(a.name) < String(b.name) ? -1 : 1));
  const features: Record<string, string[]> = {};
  const features2: Record<string, string[]> = {};
  for (const [name, list] of Object.entries((doc.features ?? {}) as Record<string, string[]>)) {
    if (list.some((f) => f.startsWith("dep:") || f.includes("?/"))) features2[name] = list;
    else features[name] = list;
  }
  const pkg = doc.package as TomlTable;
  const value: Record<string, unknown> = { name: crate.name, vers: crate.version, deps, cksum: crate.cksum, features, yanked, links: pkg.links ?? null };
  if (Object.keys(features2).length > 0) Object.assign(value, { v: 2, features2 });
  return JSON.stringify(value);
}

/** A server made by {@link serve}. */
export interface TestServer {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  url: string;
  /** Paths requested, in order. */
  requests: string[];
  /** Path → HTTP status answered instead of the file. */
  overrides: Map<string, number>;
  /** Milliseconds each answer waits (0: none), and the most requests that were in flight at once. */
  delayMs: number;
  maxInFlight: number;
  close(): Promise<void>;
}

/** A static file server over `root` on 127.0.0.1 (404 for what is not a file). */
export async function serve(root: string): Promise<TestServer> {
  const requests: string[] = [];
  const overrides = new Map<string, number>();
  let inFlight = 0;
  const server = createServer((request, response) => {
    const pathname = decodeURIComponent(new URL(request.url ?? "/", "http://localhost").pathname);
    requests.push(pathname);
    result.maxInFlight = Math.max(result.maxInFlight, ++inFlight);
    response.once("close", () => inFlight--);
    const answer = () => {
      const status = overrides.get(pathname);
      if (status !== undefined) {
        response.writeHead(status).end("overridden");
        return;
      }
      const file = join(root, ...pathname.split("/").filter((s) => s !== "" && s !== "." && s !== ".."));
      readFile(file).then(
        (bytes) => response.writeHead(200, { "content-type": "application/octet-stream" }).end(bytes),
        () => response.writeHead(404).end("not found"),
      );
    };
    if (result.delayMs > 0) setTimeout(answer, result.delayMs);
    else answer();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const result: TestServer = {
    url: `http://127.0.0.1:${port}`,
    requests,
    overrides,
    delayMs: 0,
    maxInFlight: 0,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
  return result;
}

/**
 * Writes a directory index at `dir` (replacing what is there): config.json with `dl` (the download URL or
 * template), and one file per crate (`files`: crate → its lines, joined by \n with a final \n).
 */
export async function writeIndex(dir: string, dl: string, files: Map<string, string[]>): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "config.json"), JSON.stringify({ dl, api: "https://example.invalid" }));
  for (const [name, lines] of files) {
    const file = join(dir, ...crateIndexPath(name).split("/"));
    await mkdir(join(file, ".."), { recursive: true });
    await writeFile(file, lines.map((l) => `${l}\n`).join(""));
  }
}
