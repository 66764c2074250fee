import { expect } from "chai";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import {
  ERR_BUILDFILE_INVALID_CID,
  ERR_BUILDFILE_INVALID_SYSTEM,
  findBuild,
  parseBuildfile,
  serializeBuildfile,
  type BuildRecord,
} from "../../../src/buildfile";
import { FileFormatError } from "../../../src/errors/files";

const fixture = readFileSync(path.join(__dirname, "../../fixtures/files/valid/pkg.build.toml"), "utf8");
const CID = "bafkreiacm4xpejd742ctegcq4htchsp6cz52z4vm4ul3fcky5wniqwjeye";
const CID_V0 = "QmRQ353oFNqt8zfZ9X1HgRUszwv9RkEEwmMZZkbkYEsybn";

const record: BuildRecord = {
  name: "linux",
  package: CID,
  lock: CID,
  args: [],
  metadrv: CID,
  subderivations: [],
  output: CID,
  system: "x86_64-linux",
};

describe("buildfile (pkg.build.toml)", () => {
  it("parses the fixture's two builds in file order", () => {
    const { builds } = parseBuildfile(fixture);
    expect(builds.map((b) => b.name)).to.deep.equal(["linux", "windows"]);
    expect(builds[0]).to.deep.equal({
      name: "linux",
      package: CID,
      lock: "bafkreiamamcynfc74uclmbhmyluhlq4o3zaazvonopnjombqefronmbmn4",
      args: ["build", "--features A,B"],
      metadrv: "bafkreigl2lqix2jwdi562s3dmqyqhf3wretvebes7n4sruvyl4vz556wea",
      subderivations: ["bafkreie2cecbssbppfgfb4qp7enqomjtgignhc55kjakxbsmmsaiite2jm", "bafkreieuwzy4tnmsfhpqtamzmq7uqptovbwp3g7avxmw3up3auymu3xvzq"],
      output: "bafybeidwebu3yb5g4g256er2llt33eobbwvai2kpxkqx7oqm22unztupei",
      system: "x86_64-linux-musl",
    });
    expect(findBuild({ builds }, "windows")?.system).to.equal("x86_64-windows");
    expect(findBuild({ builds }, "mac")).to.equal(undefined);
  });

  it("serializes the fixture back byte for byte", () => {
    expect(serializeBuildfile(parseBuildfile(fixture))).to.equal(fixture);
  });

  it("reads an empty file as no builds, and writes no builds as a comment only", () => {
    expect(parseBuildfile("")).to.deep.equal({ builds: [] });
    expect(parseBuildfile(serializeBuildfile({ builds: [] }))).to.deep.equal({ builds: [] });
  });

  it("defaults missing args and subderivations to empty lists", () => {
    const text = serializeBuildfile({ builds: [record] }).replace("args = []\n", "").replace("subderivations = []\n", "");
    expect(text).not.to.contain("args");
    expect(parseBuildfile(text).builds[0]).to.deep.equal(record);
  });

  it("accepts CIDv0 and CIDv1 and Nix systems and target triples", () => {
    for (const system of ["x86_64-linux", "aarch64-darwin", "wasm32-wasi", "x86_64-unknown-linux-gnu", "armv7l-linux"]) {
      const b = { ...record, output: CID_V0, system };
      expect(parseBuildfile(serializeBuildfile({ builds: [b] })).builds[0]).to.deep.equal(b);
    }
  });

  it("refuses to serialize a bad CID or system, naming the build", () => {
    expect(() => serializeBuildfile({ builds: [record, { ...record, name: "win", output: "bafy" }] }))
      .to.throw(FileFormatError, /^pkg\.build\.toml: \[\[build\]\]\[1\]\.output: "bafy" is not a CID$/)
      .with.property("code", ERR_BUILDFILE_INVALID_CID);
    for (const system of ["linux", "x86_64", "X86_64-linux", "x86_64-linux-gnu-extra-part", "x86 64-linux"]) {
      expect(() => serializeBuildfile({ builds: [{ ...record, system }] }), system).to.throw(FileFormatError).with.property("code", ERR_BUILDFILE_INVALID_SYSTEM);
    }
  });
});
