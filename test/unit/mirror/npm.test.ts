/**
 * The npm importer's pieces (dependency specifiers, tarball checks, packument URLs), and one opt-in test against
 * the registry npm itself is configured with (PKG_TEST_REAL_REGISTRIES=1; never part of CI's pass/fail). The
 * importer against a real local registry is test/e2e/mirror-npm.test.ts (verdaccio).
 */
import { expect } from "chai";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { CID } from "multiformats/cid";
import { openEmbeddedStore } from "../../../src/content";
import { encodeEntry } from "../../../src/mirror/entry";
import { checkTarball, createNpmSource, defaultNpmRegistry, npmDependency, packumentUrl } from "../../../src/mirror/npm";
import type { ImportContext } from "../../../src/mirror/source";
import { throwsWith } from "../../helpers/errors";
import { skipBecause } from "../../helpers/skip";
import { collect, tempDir } from "../content/helpers";

describe("mirror: npm (specifiers, digests, URLs)", () => {
  it("turns dependency specifiers into registry ranges, aliases into their targets, and says what cannot be one", () => {
    expect(npmDependency("a", "^1.2.0")).to.deep.equal({ name: "a", range: "^1.2.0" });
    expect(npmDependency("a", "1.x || >=2.5.0 || 5.0.0 - 7.2.3")).to.deep.equal({ name: "a", range: "1.x || >=2.5.0 || 5.0.0 - 7.2.3" });
    expect(npmDependency("a", "")).to.deep.equal({ name: "a", range: "*" });
    expect(npmDependency("a", "latest")).to.deep.equal({ name: "a", range: "*" });
    expect(npmDependency("a", "next")).to.deep.equal({ name: "a", range: "*" });
    expect(npmDependency("string-width-cjs", "npm:string-width@^4.2.0")).to.deep.equal({ name: "string-width", range: "^4.2.0" });
    expect(npmDependency("b", "npm:@scope/b@~2.0.0")).to.deep.equal({ name: "@scope/b", range: "~2.0.0" });
    for (const spec of ["git+https://example.invalid/x.git", "github:user/repo", "user/repo", "file:../x", "https://example.invalid/x.tgz", "workspace:*"]) {
      expect(npmDependency("x", spec), spec).to.have.property("problem");
    }
  });

  it("checks a tarball against every sha512 of the integrity string and the shasum; needs at least one", () => {
    const bytes = Buffer.from("tarball bytes");
    const sha512 = `sha512-${createHash("sha512").update(bytes).digest("base64")}`;
    const sha1 = createHash("sha1").update(bytes).digest("hex");
    checkTarball(bytes, { integrity: sha512, shasum: sha1 }, "x");
    checkTarball(bytes, { integrity: `sha1-abc ${sha512}` }, "x");
    checkTarball(bytes, { shasum: sha1.toUpperCase() }, "x");
    throwsWith(() => checkTarball(bytes, { integrity: `sha512-${createHash("sha512").update("other").digest("base64")}`, shasum: sha1 }, "x"), "ERR_MIRROR_INTEGRITY");
    throwsWith(() => checkTarball(bytes, { integrity: sha512, shasum: "0".repeat(40) }, "x"), "ERR_MIRROR_INTEGRITY");
    throwsWith(() => checkTarball(bytes, {}, "x"), "ERR_MIRROR_INTEGRITY");
  });

  it("escapes a scope's slash in packument URLs, as npm does", () => {
    expect(packumentUrl("http://127.0.0.1:4873", "@types/node")).to.equal("http://127.0.0.1:4873/@types%2Fnode");
    expect(packumentUrl("http://127.0.0.1:4873/", "left-pad")).to.equal("http://127.0.0.1:4873/left-pad");
  });
});

describe("mirror: npm (the registry npm is configured with)", function () {
  this.timeout(10 * 60_000);

  it("imports a small real tree, is-odd and its dependency, every tarball checked and kept byte-identical", async function () {
    if (process.env.PKG_TEST_REAL_REGISTRIES !== "1") skipBecause(this, "set PKG_TEST_REAL_REGISTRIES=1 to import from the registry npm uses (network)");
    const registry = await defaultNpmRegistry();
    const dir = await tempDir("npm-real-");
    const store = await openEmbeddedStore({ directory: join(dir.path, "store") });
    try {
      const source = createNpmSource({ registry, repository: "npm" });
      const warnings: string[] = [];
      const context: ImportContext = { content: store, repository: "npm", dryRun: false, log: (line) => warnings.push(line), onVersion: () => {} };
      const odd = await source.importPackage("is-odd", null, context);
      expect(odd.dependencies).to.include("is-number");
      const number = await source.importPackage("is-number", null, context);
      for (const entry of [odd.entry!, number.entry!]) {
        encodeEntry(entry);
        expect(entry.versions.length).to.be.greaterThan(3);
        const newest = entry.versions.find((v) => !v.yanked)!;
        const tarball = await collect(store.getBytes(CID.parse(newest.origin.tarball as string)));
        checkTarball(tarball, { integrity: newest.origin.integrity as string, shasum: newest.origin.shasum as string }, entry.name);
        const meta = (await collect(store.getBytes(CID.parse(newest.meta)))).toString();
        expect(meta).to.contain(`name = "${entry.name}"`);
      }
    } finally {
      await store.close();
      await dir.remove();
    }
  });
});
