import { expect } from "chai";
import fc from "fast-check";
import { parseBuildfile, serializeBuildfile, type Buildfile } from "../../../src/buildfile";
import { parseLockfile, serializeLockfile, type Lockfile } from "../../../src/lockfile";
import { parseManifest, serializeManifest, type Manifest } from "../../../src/manifest";
import { arbBuildfile, arbLockfile, arbManifest } from "./arbitraries";

const runs = { numRuns: 300 };

/** The same record with its keys inserted in reverse order: serialization must not care. */
function reversedKeys<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).reverse());
}

describe("round trips (fast-check)", () => {
  describe("pkg.toml", () => {
    it("parse(serialize(m)) deep-equals m", () => {
      fc.assert(fc.property(arbManifest, (m) => {
        expect(parseManifest(serializeManifest(m))).to.deep.equal(m);
      }), runs);
    });

    it("serialize is idempotent and ignores key insertion order", () => {
      fc.assert(fc.property(arbManifest, (m) => {
        const text = serializeManifest(m);
        expect(serializeManifest(parseManifest(text))).to.equal(text);
        const shuffled: Manifest = { ...m, metaInputs: reversedKeys(m.metaInputs), nativeInputs: reversedKeys(m.nativeInputs), inputs: reversedKeys(m.inputs) };
        expect(serializeManifest(shuffled)).to.equal(text);
      }), runs);
    });
  });

  describe("pkg.lock", () => {
    it("parse(serialize(lock)) deep-equals lock", () => {
      fc.assert(fc.property(arbLockfile, (lock) => {
        expect(parseLockfile(serializeLockfile(lock))).to.deep.equal(lock);
      }), runs);
    });

    it("serialize is idempotent and ignores the order of entries and edges", () => {
      fc.assert(fc.property(arbLockfile, (lock) => {
        const text = serializeLockfile(lock);
        expect(serializeLockfile(parseLockfile(text))).to.equal(text);
        const shuffled: Lockfile = {
          ...lock,
          inputs: [...lock.inputs].reverse(),
          dependencies: Object.fromEntries(
            Object.entries(lock.dependencies).reverse().map(([k, d]) => [k, { ...d, inputs: [...d.inputs].reverse(), metaInputs: [...d.metaInputs].reverse() }]),
          ),
        };
        expect(serializeLockfile(shuffled)).to.equal(text);
      }), runs);
    });
  });

  describe("pkg.build.toml", () => {
    it("parse(serialize(b)) deep-equals b", () => {
      fc.assert(fc.property(arbBuildfile, (b) => {
        expect(parseBuildfile(serializeBuildfile(b))).to.deep.equal(b);
      }), runs);
    });

    it("serialize is idempotent and ignores the order of subderivations", () => {
      fc.assert(fc.property(arbBuildfile, (b) => {
        const text = serializeBuildfile(b);
        expect(serializeBuildfile(parseBuildfile(text))).to.equal(text);
        const shuffled: Buildfile = { builds: b.builds.map((x) => ({ ...x, subderivations: [...x.subderivations].reverse() })) };
        expect(serializeBuildfile(shuffled)).to.equal(text);
      }), runs);
    });
  });
});
