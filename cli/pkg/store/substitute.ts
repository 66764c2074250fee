import { Args, Flags } from "@oclif/core";
import { BaseCommand } from "../../base";
import { load } from "../../lazy";

export default class StoreSubstitute extends BaseCommand<typeof StoreSubstitute> {
  static override summary = "Record that CID is an output of a derivation, so realising it fetches that instead of building.";
  static override description =
    "The claim is checked when it is used, not now: realise fetches the DAG (from the content store, its gateways or the network), " +
    "recomputes its CID as build outputs are added, and builds the derivation instead when it cannot fetch it or the CID differs. " +
    "Only add CIDs from sources you trust: the check proves the tree is the one named, not that it is what the build would make.";
  static override examples = ["<%= config.bin %> store substitute bafyrei… bafybei…", "<%= config.bin %> store substitute bafyrei… bafybei… --output dev"];
  static override args = {
    drv: Args.string({ description: "The derivation's CID (bafyrei…, as `pkg instantiate` prints).", required: true }),
    cid: Args.string({ description: "The CID of its output's tree.", required: true }),
  };
  static override flags = {
    output: Flags.string({ summary: "Which output of the derivation.", default: "out" }),
    source: Flags.string({ summary: "Where the answer comes from (recorded with it).", default: "cli" }),
  };

  async run() {
    const { args, flags } = await this.parse(StoreSubstitute);
    const client = await load.storeClient().connectStore();
    try {
      const result = await client.request<{ drv: string; output: string; cid: string; source: string }>("add-substitute", {
        drv: args.drv,
        cid: args.cid,
        output: flags.output,
        source: flags.source,
      });
      if (!this.jsonEnabled()) this.log(`${result.drv} ${result.output} → ${result.cid} (${result.source})`);
      return result;
    } finally {
      client.close();
    }
  }
}
