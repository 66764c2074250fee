/**
 * The build operation in process (src/build-directory.ts), against a real daemon and content store: one build
 * reads its pkg.toml once and globs its sources once, and the no-op cache around it reads neither. The reads are
 * counted by wrapping the manifest module's exports, which the operations call through at run time.
 */
import { expect } from "chai";
import { readFileSync, writeFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { buildDirectory } from "../../../src/build-directory";
import * as manifest from "../../../src/manifest";
import { withDaemon, writeScriptPackage } from "./helpers";

type Counted = "readManifest" | "readManifestFile" | "resolveSources";

/** Runs `body` with the manifest module's readers counted. */
async function counting<T>(body: () => Promise<T>): Promise<{ result: T; calls: Record<Counted, number> }> {
  const calls: Record<Counted, number> = { readManifest: 0, readManifestFile: 0, resolveSources: 0 };
  const exports = manifest as unknown as Record<Counted, (...args: unknown[]) => unknown>;
  const originals = { ...Object.fromEntries((Object.keys(calls) as Counted[]).map((name) => [name, exports[name]])) } as Record<Counted, (...args: unknown[]) => unknown>;
  for (const name of Object.keys(calls) as Counted[]) {
    exports[name] = (...args: unknown[]) => {
      calls[name]++;
      return originals[name](...args);
    };
  }
  try {
    return { result: await body(), calls };
  } finally {
    Object.assign(exports, originals);
  }
}

describe("build operation: the directory read once, the no-op cache around it", function () {
  this.timeout(120_000);
  const f = withDaemon();

  it("a build reads pkg.toml once and globs its sources once (a variant with a record too); a no-op build reads neither", async () => {
    const dir = path.join(f.s.dir, "hello");
    await writeScriptPackage(f.s, dir, { script: "mkdir -p $out; cat *.txt > $out/all", src: ["build.sh", "*.txt"], files: { "a.txt": "a\n" }, args: ["base"] });
    const params = { dir, content: f.s.content, storeDir: f.s.storeDir, client: f.client };

    const first = await counting(() => buildDirectory(params));
    expect(first.result).to.include({ built: true, cached: false, buildFileChanged: true });
    expect(first.calls).to.deep.equal({ readManifest: 0, readManifestFile: 1, resolveSources: 1 });

    const noop = await counting(() => buildDirectory(params));
    expect(noop.result).to.include({ drv: first.result.drv, built: false, cached: true, buildFileChanged: false });
    expect(noop.calls).to.deep.equal({ readManifest: 0, readManifestFile: 0, resolveSources: 0 });

    // A new file the glob matches: built again (its content is in the output), still one reading.
    await writeFile(path.join(dir, "b.txt"), "b\n");
    const changed = await counting(() => buildDirectory(params));
    expect(changed.result).to.include({ built: true, cached: false });
    expect(changed.result.drv).to.not.equal(first.result.drv);
    expect(changed.calls).to.deep.equal({ readManifest: 0, readManifestFile: 1, resolveSources: 1 });

    // A named variant built before: its remembered args come from its record, not from reading pkg.toml again.
    await buildDirectory({ ...params, name: "release", args: ["--release"] });
    await writeFile(path.join(dir, "c.txt"), "c\n");
    const variant = await counting(() => buildDirectory({ ...params, name: "release" }));
    expect(variant.result).to.include({ built: true, cached: false });
    expect(variant.calls).to.deep.equal({ readManifest: 0, readManifestFile: 1, resolveSources: 1 });
  });

  it("the build after writing pkg.build.toml is remembered, and a file added beside it during the build is not missed", async () => {
    const dir = path.join(f.s.dir, "hello");
    await writeScriptPackage(f.s, dir, { script: "mkdir -p $out; cat *.txt > $out/all", src: ["build.sh", "*.txt"], files: { "a.txt": "a\n" } });
    const params = { dir, content: f.s.content, storeDir: f.s.storeDir, client: f.client };
    await buildDirectory(params);
    expect(await buildDirectory(params)).to.include({ cached: true });

    // A file the glob matches appears while the build runs (after the sources were globbed, before pkg.build.toml
    // is written): the fingerprint taken after that write must not be remembered as if nothing was added.
    await writeFile(path.join(dir, "a.txt"), "a changed\n");
    let wrote = false;
    const during = await buildDirectory({
      ...params,
      onProgress: (_drv, _name, phase) => {
        if (phase === "build" && !wrote) {
          wrote = true;
          writeFileSync(path.join(dir, "late.txt"), "late\n");
        }
      },
    });
    expect(wrote, "the build ran").to.equal(true);
    const after = await buildDirectory(params);
    expect(after).to.include({ cached: false, built: true });
    expect(after.drv).to.not.equal(during.drv);
    expect(readFileSync(path.join(after.outputs.out, "all"), "utf8")).to.equal("a changed\nlate\n");
  });
});
