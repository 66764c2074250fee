/**
 * `pkg publish --from npm|cargo [DIR]`: what `npm publish` / `cargo publish` through the gateway does, without the
 * gateway. The package is packed by the real tool (`npm pack`, `cargo package`: their file lists and their
 * deterministic archives), then published by the gateway's own publishers (src/gateway/publish.ts,
 * cargo-publish.ts) — one code path, the same checks, the same pkg.toml with its `[origin]` — so what is published
 * here is served by the gateway exactly as if the client had published it there.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { parse as parseToml } from "smol-toml";
import type { RegistryClient } from "./chain/registry";
import type { ContentStore } from "./content";
import { PkgError } from "./errors";
import { cargoPublishMetadata, createCargoPublisher, publishBody } from "./gateway/cargo-publish";
import { createNpmPublisher } from "./gateway/publish";
import { unpackTarball } from "./mirror/tarball";

export const ERR_PUBLISH_FROM = "ERR_PUBLISH_FROM";

export interface PublishFromParams {
  from: "npm" | "cargo";
  dir: string;
  repository: string;
  client: Pick<RegistryClient, "getRepository" | "getPackage" | "registerPackage" | "publish" | "setYanked">;
  content: Pick<ContentStore, "putBytes" | "putTree">;
}

export interface PublishFromResult {
  from: "npm" | "cargo";
  repository: string;
  /** The name in the npm or cargo registry, and the package's version. */
  name: string;
  version: string;
  warnings: unknown;
}

function run(program: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(program, args, { cwd, env, maxBuffer: 64 * 1024 * 1024, timeout: 600_000 }, (error, stdout, stderr) => {
      if (error) {
        reject(new PkgError(ERR_PUBLISH_FROM, `${program} ${args[0]} in ${cwd} failed: ${(stderr || error.message).trim().split("\n").slice(-3).join(" / ")}`, {
          details: { dir: cwd, program },
          hint: `fix what ${program} says (run \`${program} ${args.join(" ")}\` there to see it whole)`,
        }));
      } else resolve(stdout);
    });
  });
}

/** A refusal of the publishers (an HTTP reply) as the command's error. */
function refused(from: string, dir: string, status: number, body: Uint8Array): PkgError {
  let message = Buffer.from(body).toString("utf8");
  try {
    const parsed = JSON.parse(message) as { error?: string; errors?: { detail: string }[] };
    message = parsed.error ?? parsed.errors?.map((e) => e.detail).join("; ") ?? message;
  } catch {
    // the body as it is
  }
  return new PkgError(ERR_PUBLISH_FROM, `${dir}: publishing from ${from} was refused (${status}): ${message}`, {
    details: { dir, status },
    hint: status === 403 ? "bump the version in package.json / Cargo.toml" : "fix the package, then publish again; nothing was sent to the chain",
  });
}

export async function publishFrom(params: PublishFromParams): Promise<PublishFromResult> {
  const work = await mkdtemp(path.join(tmpdir(), "chainpkg-publish-from-"));
  try {
    if (params.from === "npm") {
      const packed = JSON.parse(await run("npm", ["pack", "--json", "--pack-destination", work], params.dir)) as { name: string; version: string; filename: string; integrity: string; shasum: string }[];
      const { name, version, filename, integrity, shasum } = packed[0];
      const tarball = await readFile(path.join(work, path.basename(filename)));
      const unpacked = await unpackTarball(tarball, `${name}@${version} (npm pack)`);
      const inner = unpacked.entries.find((e) => e.path === "package.json");
      const document = JSON.parse(Buffer.from(inner !== undefined && "content" in inner ? (inner.content as Uint8Array) : Buffer.from("{}")).toString("utf8")) as Record<string, unknown>;
      const publisher = createNpmPublisher({ client: params.client, content: params.content, repository: params.repository });
      const reply = await publisher.put(name, {
        name,
        versions: { [version]: { ...document, dist: { integrity, shasum } } },
        _attachments: { [path.basename(filename)]: { data: tarball.toString("base64"), length: tarball.length } },
      });
      if (reply.status !== 200) throw refused("npm", params.dir, reply.status, reply.body);
      return { from: "npm", repository: params.repository, name, version, warnings: (JSON.parse(Buffer.from(reply.body).toString()) as { warnings?: unknown }).warnings ?? [] };
    }
    const target = path.join(work, "target");
    await run("cargo", ["package", "--no-verify", "--allow-dirty", "--quiet"], params.dir, { ...process.env, CARGO_TARGET_DIR: target });
    const crates = (await readdir(path.join(target, "package"))).filter((f) => f.endsWith(".crate"));
    if (crates.length !== 1) throw new PkgError(ERR_PUBLISH_FROM, `${params.dir}: cargo package made ${crates.length} .crate files`, { hint: "publish one crate at a time (not a workspace root)" });
    const crate = await readFile(path.join(target, "package", crates[0]));
    const unpacked = await unpackTarball(crate, `${crates[0]} (cargo package)`);
    const toml = unpacked.entries.find((e) => e.path === "Cargo.toml");
    const cargoToml = parseToml(Buffer.from(toml !== undefined && "content" in toml ? (toml.content as Uint8Array) : Buffer.alloc(0)).toString("utf8")) as Record<string, unknown>;
    const metadata = cargoPublishMetadata(cargoToml);
    const publisher = createCargoPublisher({ client: params.client, content: params.content, repository: params.repository, ownIndex: "" });
    const reply = (await publisher.handle("PUT", "/api/v1/crates/new", async () => publishBody(metadata, crate)))!;
    if (reply.status !== 200) throw refused("cargo", params.dir, reply.status, reply.body);
    return { from: "cargo", repository: params.repository, name: String(metadata.name), version: String(metadata.vers), warnings: (JSON.parse(Buffer.from(reply.body).toString()) as { warnings?: unknown }).warnings ?? {} };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
