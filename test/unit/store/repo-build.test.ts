/**
 * `repo build`'s core (buildRepository) against a daemon in this process and a repo.lock made by hand:
 * published pkg.toml files and src trees in a real content store, no chain. Inputs are built before the
 * packages that use them, each once; a failing package is reported and the others still build; a
 * package whose input failed fails with ERR_BUILD_INPUT_FAILED naming it.
 */
import { expect } from "chai";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { buildRepository, incompleteError } from "../../../src/repository/build";
import type { StoreClient } from "../../../src/daemon/client";
import type { RunningDaemon } from "../../../src/daemon/daemon";
import type { RepositoryLock } from "../../../src/repolock";
import { withDaemon, type Sandbox } from "./helpers";

async function publish(s: Sandbox, name: string, inputs: string[], script: string | null): Promise<{ version: string; meta: string; src: string }> {
  const manifest = [
    "[package]",
    'repository = "local"',
    `name = "${name}"`,
    'version = "1.0.0"',
    'license = "MIT"',
    script === null ? 'src = ["data.txt"]' : 'src = ["build.sh"]',
    ...(script === null ? [] : ['builder = "./build.sh"']),
    "",
    "[inputs]",
    ...inputs.map((i) => `"local:${i}" = "1"`),
    "",
  ].join("\n");
  const meta = await s.content.putBytes(manifest);
  const files = script === null ? [{ path: "data.txt", content: `${name} data\n` }] : [{ path: "build.sh", content: `#!/bin/sh\nset -e\n${script}\n` }];
  const src = await s.content.putTree(files);
  return { version: "1.0.0", meta: meta.toString(), src: src.toString() };
}

describe("repo build (buildRepository, daemon in process, no chain)", function () {
  this.timeout(120_000);
  const fixture = withDaemon();
  let s: Sandbox;
  let daemon: RunningDaemon;
  let client: StoreClient;
  beforeEach(() => ({ s, daemon, client } = fixture));

  it("builds every package, inputs first and once each, and reports every failure without stopping the rest", async () => {
    const lock: RepositoryLock = {
      name: "local", block: 1, chainId: 31337, registry: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
      packages: {
        data: await publish(s, "data", [], null),
        base: await publish(s, "base", ["data"], 'mkdir $out; cat $data/data.txt > $out/base; echo "base built"'),
        left: await publish(s, "left", ["base"], "mkdir $out; cat $base/base > $out/left; echo left >> $out/left"),
        right: await publish(s, "right", ["base"], "mkdir $out; cat $base/base > $out/right; echo right >> $out/right"),
        broken: await publish(s, "broken", [], "echo 'cannot build this' >&2; exit 2"),
        needsbroken: await publish(s, "needsbroken", ["broken"], "mkdir $out"),
      },
    };
    const seen: string[] = [];
    const result = await buildRepository({ lock, content: s.content, client, onResult: (r) => seen.push(r.name) });
    expect(seen.sort()).to.deep.equal(Object.keys(lock.packages).sort());
    const byName = Object.fromEntries(result.results.map((r) => [r.name, r]));
    for (const name of ["data", "base", "left", "right"]) expect(byName[name].ok, name).to.equal(true);
    const left = byName.left as unknown as { outputs: { out: string } };
    expect(await readFile(path.join(left.outputs.out, "left"), "utf8")).to.equal("data data\nleft\n");
    const stats = daemon.realiser.stats();
    expect(stats.started - stats.failed).to.equal(3); // base (needed by three), left, right: each built once
    const broken = byName.broken as unknown as { ok: false; error: { code: string; message: string } };
    expect(broken.error.code).to.equal("ERR_BUILD_FAILED");
    expect(broken.error.message).to.include("cannot build this");
    const needs = byName.needsbroken as unknown as { ok: false; error: { code: string; message: string } };
    expect(needs.error.code).to.equal("ERR_BUILD_INPUT_FAILED");
    expect(needs.error.message).to.match(/input broken failed/);
    expect(result.failures.map((f) => f.name).sort()).to.deep.equal(["broken", "needsbroken"]);
    const error = incompleteError(result, "local");
    expect(error.code).to.equal("ERR_BUILD_INCOMPLETE");
    expect(error.message).to.equal("2 of 6 packages of local failed to build");
    // a second run builds nothing
    const again = await buildRepository({ lock, content: s.content, client });
    expect(again.results.filter((r) => r.ok && r.built)).to.deep.equal([]);
  });
});
