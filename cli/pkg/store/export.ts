import { Args, Flags } from "@oclif/core";
import { BaseCommand } from "../../base";
import { load } from "../../lazy";

export default class StoreExport extends BaseCommand<typeof StoreExport> {
  static override summary = "Write the DAGs under some CIDs from the content store into one CAR file (to carry content where no network reaches).";
  static override description =
    "Every block is verified as it is read, each is written once, and every CID is a root of the CAR. The file appears " +
    "complete or not at all. `pkg store import FILE` on another machine takes it in. A published version's CIDs are " +
    "its meta and src (`pkg publish --json`, or the lock's).";
  static override examples = ["<%= config.bin %> store export bafkrei… bafybei… -o hello-1.0.0.car"];
  static override strict = false;
  static override args = { cid: Args.string({ description: "CID of a DAG to export (repeatable).", required: true }) };
  static override flags = {
    output: Flags.string({ char: "o", summary: "The CAR file to write (must not exist).", required: true }),
  };

  async run() {
    const { argv, flags } = await this.parse(StoreExport);
    const content = await load.session().openContent(await load.config().resolveConfig({ config: flags.config }));
    try {
      const result = await load.shareExport().exportContent({ content, cids: argv as string[], file: flags.output });
      if (!this.jsonEnabled()) this.log(`${result.file}: ${result.roots.length} root(s), ${result.bytes} bytes`);
      return result;
    } finally {
      await content.close();
    }
  }
}
