/**
 * The gateway's views of native versions (src/gateway/natives.ts) are made once per (meta, src) — immutable under
 * their CIDs — not once per head block; the yanked flag is always the record's.
 */
import { expect } from "chai";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import * as raw from "multiformats/codecs/raw";
import type { PackageRecord } from "../../../src/chain/registry";
import { createNativeVersions } from "../../../src/gateway/natives";

const META = '[package]\nrepository = "npm"\nname = "demo"\nversion = "1.0.0"\nlicense = "MIT"\nsrc = ["index.js"]\n';

describe("gateway: native versions' views", () => {
  it("makes a version's view once, whatever the block; yanked comes from each record", async () => {
    const bytes = new TextEncoder().encode(META);
    const meta = CID.createV1(raw.code, await sha256.digest(bytes)).toString();
    let reads = 0;
    const content = {
      async *getBytes() {
        reads++;
        yield bytes;
      },
    };
    const record = (yanked: boolean): PackageRecord =>
      ({ key: { repository: "npm", name: "demo" }, versions: [{ version: "1.0.0", meta, src: "bafysrc", yanked }, { version: "0.9.0", meta, src: null, yanked: false }] }) as unknown as PackageRecord;
    let views = 0;
    const natives = createNativeVersions(content as never);
    const view = async () => (views++, { made: views });
    const first = await natives.of(record(false), "npm:demo", view);
    const second = await natives.of(record(true), "npm:demo", view); // the next block: the version yanked
    expect(first).to.deep.equal([{ version: "1.0.0", meta, src: "bafysrc", yanked: false, origin: { made: 1 } }]);
    expect(second).to.deep.equal([{ version: "1.0.0", meta, src: "bafysrc", yanked: true, origin: { made: 1 } }]);
    expect([views, reads]).to.deep.equal([1, 1]);
    await natives.of(record(false), "npm:other-name", view); // another scope is another view
    expect(views).to.equal(2);
  });
});
