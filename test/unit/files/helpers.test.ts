import { expect } from "chai";
import { checkCid } from "../../../src/files/cid";
import { formatField } from "../../../src/files/fields";
import { locateLine } from "../../../src/files/locate";
import { checkSourcePattern } from "../../../src/files/sources";
import { isSpdxProblem, parseSpdxExpression } from "../../../src/files/spdx";
import { parseToml, tomlKey, tomlString } from "../../../src/files/toml";

describe("file helpers", () => {
  describe("SPDX expressions", () => {
    it("parses ids, or-later, LicenseRef, WITH and parentheses", () => {
      expect(parseSpdxExpression("MIT")).to.deep.equal({ kind: "license", id: "MIT", orLater: false, exception: null });
      expect(parseSpdxExpression("GPL-2.0+ WITH Classpath-exception-2.0")).to.deep.equal({
        kind: "license",
        id: "GPL-2.0",
        orLater: true,
        exception: "Classpath-exception-2.0",
      });
      expect(parseSpdxExpression("DocumentRef-doc:LicenseRef-x")).to.deep.equal({ kind: "ref", document: "doc", ref: "x", exception: null });
    });

    it("binds AND tighter than OR", () => {
      const tree = parseSpdxExpression("MIT OR Apache-2.0 AND BSD-3-Clause");
      expect(tree).to.have.property("kind", "or");
      expect(tree).to.have.nested.property("right.kind", "and");
      const grouped = parseSpdxExpression("(MIT OR Apache-2.0) AND BSD-3-Clause");
      expect(grouped).to.have.property("kind", "and");
      expect(grouped).to.have.nested.property("left.kind", "or");
    });

    it("rejects malformed expressions", () => {
      for (const bad of ["", "   ", "MIT/Apache-2.0", "MIT or Apache-2.0", "MIT OR", "AND MIT", "(MIT", "MIT)", "MIT WITH", "(MIT OR X) WITH e", "MIT Apache-2.0", "M!T", "LicenseRef-", "LicenseRef-x+"]) {
        expect(isSpdxProblem(parseSpdxExpression(bad)), bad).to.equal(true);
      }
    });
  });

  describe("locateLine", () => {
    const text = [
      "[package]", // 1
      'name = "x" # comment', // 2
      'description = """', // 3
      "version = not a key", // 4
      '"""', // 5
      "src = [", // 6
      '  "a", # first', // 7
      "", // 8
      '  "b",', // 9
      "]", // 10
      "[deps]", // 11
      '"crates:dep" = { version = "1", meta = "m" }', // 12
      "[[build]]", // 13
      'name = "a"', // 14
      "[[build]]", // 15
      'name = "b"', // 16
      "[t.sub]", // 17
      "k.j = 1", // 18
    ].join("\n");

    it("finds keys, array elements, inline-table fields and array-of-table entries", () => {
      expect(locateLine(text, ["package", "name"])).to.equal(2);
      expect(locateLine(text, ["package", "src", 0])).to.equal(7);
      expect(locateLine(text, ["package", "src", 1])).to.equal(9);
      expect(locateLine(text, ["deps", "crates:dep", "meta"])).to.equal(12);
      expect(locateLine(text, ["build", 1, "name"])).to.equal(16);
      expect(locateLine(text, ["t", "sub", "k", "j"])).to.equal(18);
    });

    it("is not fooled by key-like text in a multi-line string", () => {
      expect(locateLine(text, ["package", "version"])).to.equal(1); // absent: falls back to [package]
    });

    it("falls back to the enclosing table, or undefined", () => {
      expect(locateLine(text, ["build", 0, "output"])).to.equal(13);
      expect(locateLine(text, ["nothing", "here"])).to.equal(undefined);
    });
  });

  describe("fields, TOML and CIDs", () => {
    it("formats field paths as a user would search for them", () => {
      expect(formatField(["package", "version"])).to.equal("[package].version");
      expect(formatField(["package", "src", 2])).to.equal("[package].src[2]");
      expect(formatField(["dependencies", "crates:dep", "meta"])).to.equal('[dependencies]."crates:dep".meta');
      expect(formatField(["build", 1, "output"])).to.equal("[[build]][1].output");
    });

    it("quotes keys only when TOML requires it", () => {
      expect(tomlKey("chain-id")).to.equal("chain-id");
      expect(tomlKey("crates:dep")).to.equal('"crates:dep"');
      expect(tomlKey("a.b")).to.equal('"a.b"');
    });

    it("writes strings that smol-toml reads back identically", () => {
      for (const s of ["", '"', "\\", "\u0000\u0001\u001f\u007f", "\b\f\n\r\t", "é🦀", "'''", '"""']) {
        expect(parseToml(`v = ${tomlString(s)}`, "t.toml", "ERR_MANIFEST_TOML").v).to.equal(s);
      }
    });

    it("accepts only canonical CIDs and names the canonical form", () => {
      expect(checkCid("bafkreiacm4xpejd742ctegcq4htchsp6cz52z4vm4ul3fcky5wniqwjeye")).to.equal(null);
      expect(checkCid("QmRQ353oFNqt8zfZ9X1HgRUszwv9RkEEwmMZZkbkYEsybn")).to.equal(null);
      expect(checkCid("zb2rhZhfZ71VE6u6BX78cmaNKsLmDde9EYyrY9dsRVLJWr9oW")).to.deep.equal({
        problem: "is not in canonical form",
        canonical: "bafkreibnoelefnzgwbcacyt4vh52ymxvzbjq7mmqhtcnwarfq4lzegsiqe",
      });
      expect(checkCid("bafy")).to.have.property("canonical", null);
    });

    it("checks source patterns textually", () => {
      for (const ok of ["a", "src/main.rs", "src/**/*.rs", "**", ".cargo/config.toml", "a?c", "C++/x"]) expect(checkSourcePattern(ok), ok).to.equal(null);
      for (const bad of ["", "/a", "C:/a", "a\\b", "a//b", "a/", "./a", "a/../b", "..", "a**", "[ab]", "{a,b}", "a\nb"]) {
        expect(checkSourcePattern(bad), JSON.stringify(bad)).not.to.equal(null);
      }
    });
  });
});
