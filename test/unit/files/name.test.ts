/**
 * The one rule for names that become path components (src/files/name.ts) and the entry points that use it:
 * store path names, names inside published trees, profile names, `pkg fetch`'s default destination. The daemon's get-path/add-path are fed the
 * same names in test/unit/store/hostile.test.ts, fetch destinations in test/e2e/hostile.test.ts.
 */
import { expect } from "chai";
import { checkName } from "../../../src/content/tree";
import { defaultFetchDestination } from "../../../src/fetch";
import { checkPathComponent, MAX_NAME_BYTES, nameProblem, quoteValue } from "../../../src/files/name";
import { profileLink } from "../../../src/profile";
import { outputPathName, sourcePathName } from "../../../src/store/paths";
import { exitCodeOf } from "../../../cli/base";
import { throwsWith } from "../../helpers/errors";

const HOSTILE: Array<[string, string]> = [
  ["empty", ""],
  [".", "."],
  ["..", ".."],
  ["a path", "../../etc"],
  ["a slash", "a/b"],
  ["NUL", "a\0b"],
  ["a newline", "a\nb"],
  ["an escape", "a\u001b[2Jb"],
  ["300 bytes", "x".repeat(300)],
  ["256 bytes of UTF-8", "é".repeat(128)],
];
const FINE = ["a", "hello-1.0.0", ".hidden", "x".repeat(MAX_NAME_BYTES), "é".repeat(127), "with space", "ünïcödé"];

describe("files/name: the one rule for a path component", () => {
  it("refuses empty, . and .., '/', NUL, control characters and more than 255 bytes; accepts the rest", () => {
    for (const [label, name] of HOSTILE) expect(nameProblem(name), label).to.be.a("string");
    for (const name of FINE) expect(nameProblem(name), name).to.equal(null);
  });

  it("checkPathComponent throws ERR_NAME_INVALID (exit 7) with a one-line, short message", () => {
    for (const [label, name] of HOSTILE) {
      const error = throwsWith(() => checkPathComponent(name, "test name"), "ERR_NAME_INVALID");
      expect(exitCodeOf(error.code)).to.equal(7);
      expect(error.message, label).to.not.match(/[\n\0]/);
      expect(error.message.length, label).to.be.below(250);
    }
  });

  it("quoteValue escapes a value onto one line and cuts a long one to a prefix with its length", () => {
    expect(quoteValue("a\nb")).to.equal('"a\\nb"');
    const long = quoteValue("v".repeat(5_000_000));
    expect(long.length).to.be.below(100);
    expect(long).to.contain("(5000000 characters)");
  });

  it("every entry point applies it: store path names, names inside published trees, profile names", () => {
    const cid = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e";
    for (const [, name] of HOSTILE) {
      throwsWith(() => sourcePathName(cid, name), "ERR_NAME_INVALID");
      throwsWith(() => outputPathName(cid, "out", name), "ERR_NAME_INVALID");
      throwsWith(() => outputPathName(cid, name, "hello-1.0"), "ERR_NAME_INVALID");
      throwsWith(() => checkName(name, `dir/${name}`), "ERR_CONTENT_PATH");
      throwsWith(() => profileLink({ dir: "/profiles", name }), "ERR_PROFILE_INVALID");
    }
    // a name that fits alone but not with the 33-byte hash in front
    throwsWith(() => sourcePathName(cid, "x".repeat(240)), "ERR_NAME_INVALID");
    expect(sourcePathName(cid, "hello")).to.match(/^[a-z2-7]{32}-hello$/);
    // a version read from the chain, in `pkg fetch ID`'s default destination
    for (const version of ["1.0.0/../../x", "1/0", "1.0.0\0", "1.0.0\n", "1.0.0-" + "x".repeat(300)]) {
      throwsWith(() => defaultFetchDestination("hello", version, "/work"), "ERR_NAME_INVALID");
    }
    expect(defaultFetchDestination("hello", "1.0.0", "/work")).to.equal("/work/hello-1.0.0");
  });
});
