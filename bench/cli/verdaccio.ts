/**
 * The npm anchor of lock-1000: a local verdaccio registry on 127.0.0.1 (installed into bench/tools on first
 * use from its committed package-lock) holding the same graph as npm packages. Yanked versions are published
 * deprecated: npm, like pkg, skips them when a non-deprecated version satisfies the range.
 *
 * Publishing is one HTTP PUT of the package document per version (verdaccio takes one version and one
 * tarball attachment per PUT), packages in parallel: much faster than `npm publish` per version, same result.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { gzipSync } from "node:zlib";
import type { Graph } from "./graph";
import { freePort, pool, ROOT, runOk } from "./util";

export const TOOLS_DIR = path.join(ROOT, "bench", "tools");
const VERDACCIO_BIN = path.join(TOOLS_DIR, "node_modules", "verdaccio", "bin", "verdaccio");

/** `npm ci` in bench/tools when verdaccio is not installed yet (a few seconds to a minute). */
export async function ensureVerdaccio(log: (line: string) => void): Promise<void> {
  if (existsSync(VERDACCIO_BIN)) return;
  log("installing verdaccio into bench/tools (npm ci, first use only)");
  await runOk("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: TOOLS_DIR });
}

export interface Verdaccio {
  url: string;
  token: string;
  stop(): Promise<void>;
}

function stopGroup(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return resolve();
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // gone already
      }
    }, 5000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      clearTimeout(timer);
      resolve();
    }
  });
}

export async function startVerdaccio(dir: string): Promise<Verdaccio> {
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  const config = path.join(dir, "config.yaml");
  await writeFile(
    config,
    [
      `storage: ${JSON.stringify(path.join(dir, "storage"))}`,
      "auth:",
      "  htpasswd:",
      `    file: ${JSON.stringify(path.join(dir, "htpasswd"))}`,
      "    max_users: 10",
      // JWT tokens: the legacy token makes verdaccio check the password (bcrypt) on every request
      "security:",
      "  api:",
      "    legacy: false",
      "    jwt:",
      "      sign:",
      "        expiresIn: 1d",
      "uplinks: {}",
      "packages:",
      "  '@*/*':",
      "    access: $all",
      "    publish: $authenticated",
      "  '**':",
      "    access: $all",
      "    publish: $authenticated",
      "middlewares:",
      "  audit:",
      "    enabled: false",
      "web:",
      "  enable: false",
      "max_body_size: 10mb",
      "log: { type: stdout, format: pretty, level: error }",
      `listen: 127.0.0.1:${port}`,
      "",
    ].join("\n"),
  );
  const child = spawn(process.execPath, [VERDACCIO_BIN, "--config", config, "--listen", `127.0.0.1:${port}`], {
    cwd: dir,
    detached: true, // own process group, stopped whole
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk) => (output = (output + chunk).slice(-8000)));
  child.stderr?.on("data", (chunk) => (output = (output + chunk).slice(-8000)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ok = await fetch(`${url}/-/ping`).then((r) => r.ok, () => false);
    if (ok) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      await stopGroup(child);
      throw new Error(`verdaccio did not start on ${url}:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  try {
    const response = await fetch(`${url}/-/user/org.couchdb.user:bench`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "bench", password: "bench-password-1" }),
    });
    const body = (await response.json()) as { token?: string };
    if (!response.ok || !body.token) throw new Error(`verdaccio adduser: HTTP ${response.status} ${JSON.stringify(body)}`);
    return { url, token: body.token, stop: () => stopGroup(child) };
  } catch (error) {
    await stopGroup(child);
    throw error;
  }
}

/** A ustar archive of regular files (what `npm pack` makes, minus its fixed mtimes), gzipped. */
export function tarball(files: { path: string; content: string }[]): Buffer {
  const blocks: Buffer[] = [];
  for (const file of files) {
    const data = Buffer.from(file.content, "utf8");
    const header = Buffer.alloc(512, 0);
    const put = (text: string, offset: number, length: number) => header.write(text, offset, length, "ascii");
    put(file.path, 0, 100);
    put("0000644\0", 100, 8);
    put("0000000\0", 108, 8);
    put("0000000\0", 116, 8);
    put(`${data.length.toString(8).padStart(11, "0")}\0`, 124, 12);
    put(`${(499162800).toString(8).padStart(11, "0")}\0`, 136, 12); // 1985-10-26, as npm pack
    put("        ", 148, 8);
    put("0", 156, 1);
    put("ustar\0", 257, 6);
    put("00", 263, 2);
    let sum = 0;
    for (const byte of header) sum += byte;
    put(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8);
    blocks.push(header, data, Buffer.alloc((512 - (data.length % 512)) % 512, 0));
  }
  blocks.push(Buffer.alloc(1024, 0));
  return gzipSync(Buffer.concat(blocks));
}

/**
 * Publishes one version to verdaccio by HTTP PUT (the document `npm publish` sends: the version and its tarball
 * attached; verdaccio takes exactly one of each per PUT). `manifest` is package.json's content; returns the
 * tarball's size.
 */
export async function putVersion(registry: Verdaccio, manifest: Record<string, unknown> & { name: string; version: string }, files: { path: string; content: string }[]): Promise<number> {
  const { name, version } = manifest;
  const tgz = tarball([{ path: "package/package.json", content: `${JSON.stringify(manifest, null, 2)}\n` }, ...files]);
  const file = `${name}-${version}.tgz`;
  const doc = {
    _id: name,
    name,
    description: manifest.description,
    "dist-tags": { latest: version },
    versions: {
      [version]: {
        ...manifest,
        _id: `${name}@${version}`,
        readme: "",
        dist: {
          tarball: `${registry.url}/${name}/-/${file}`,
          shasum: createHash("sha1").update(tgz).digest("hex"),
          integrity: `sha512-${createHash("sha512").update(tgz).digest("base64")}`,
        },
      },
    },
    _attachments: { [file]: { content_type: "application/octet-stream", data: tgz.toString("base64"), length: tgz.length } },
  };
  const response = await fetch(`${registry.url}/${name}`, {
    method: "PUT",
    headers: { "content-type": "application/json", authorization: `Bearer ${registry.token}` },
    body: JSON.stringify(doc),
  });
  if (!response.ok) throw new Error(`publishing ${name}@${version} to verdaccio: HTTP ${response.status} ${await response.text()}`);
  return tgz.length;
}

/** Publishes every version of every package (oldest first, so `latest` ends on the newest). */
export async function publishNpmGraph(registry: Verdaccio, graph: Graph): Promise<number> {
  let published = 0;
  await pool(graph.packages, 16, async (p) => {
    for (const version of p.versions) {
      const manifest: Record<string, unknown> = {
        name: p.name,
        version,
        description: `synthetic package ${p.name}`,
        main: "index.js",
        license: "MIT",
        dependencies: Object.fromEntries(p.deps),
      };
      if (p.yanked.has(version)) manifest.deprecated = "yanked";
      await putVersion(registry, manifest as Record<string, unknown> & { name: string; version: string }, [
        { path: "package/README.md", content: `# ${p.name} ${version}\n\nA synthetic package of the lock benchmark.\n` },
        { path: "package/index.js", content: `module.exports = ${JSON.stringify(`${p.name}@${version}`)};\n` },
      ]);
      published++;
    }
  });
  return published;
}
