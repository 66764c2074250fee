/** Addresses as typed (issue 11): a 40-hex address whose checksum is wrong is said to be that, not "not an address". */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import { checkAddress } from "../../../src/ids";
import { ERR_CONFIG_INVALID, resolveConfig } from "../../../src/config";
import { rejectsWith } from "../../helpers/errors";

const GOOD = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
/** GOOD with the case of one letter flipped: 40 hex digits, a wrong EIP-55 checksum. */
const BAD_CHECKSUM = "0xF39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

describe("checkAddress", () => {
  it("accepts a checksummed address, and one in a single case, returning the checksummed form", () => {
    expect(checkAddress(GOOD)).to.deep.equal({ kind: "address", address: GOOD });
    expect(checkAddress(GOOD.toLowerCase())).to.deep.equal({ kind: "address", address: GOOD });
    expect(checkAddress(`0x${GOOD.slice(2).toUpperCase()}`)).to.deep.equal({ kind: "address", address: GOOD });
  });

  it("says a 40-hex address with mixed case that is not its checksum has a wrong checksum", () => {
    const checked = checkAddress(BAD_CHECKSUM);
    expect(checked.kind).to.equal("checksum");
    if (checked.kind !== "checksum") return;
    expect(checked.problem).to.contain(BAD_CHECKSUM).and.to.match(/wrong checksum/).and.not.to.match(/not an address/);
    expect(checked.hint).not.to.contain(GOOD); // a wrong checksum is most likely a typo: the "right" form is not offered
  });

  it("says text that is not 0x and 40 hex digits is not an address", () => {
    for (const text of ["", "0x", GOOD.slice(0, 41), `${GOOD}00`, GOOD.replace("f39", "g39"), GOOD.slice(2)]) {
      const checked = checkAddress(text);
      expect(checked.kind, text).to.equal("syntax");
      if (checked.kind === "syntax") expect(checked.problem).to.match(/is not an address/);
    }
  });

  it("makes --registry with a wrong checksum an ERR_CONFIG_INVALID that names the checksum", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "chainpkg-address-"));
    try {
      const env = { XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir };
      const error = await rejectsWith(resolveConfig({ registry: BAD_CHECKSUM, config: path.join(dir, "none.toml") }, env), ERR_CONFIG_INVALID);
      expect(error.message).to.match(/wrong checksum/);
      expect((await resolveConfig({ registry: GOOD.toLowerCase(), config: path.join(dir, "none.toml") }, env)).network.registry).to.equal(GOOD);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
