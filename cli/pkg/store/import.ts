import { Args } from "@oclif/core";
import { BaseCommand } from "../../base";
import { load } from "../../lazy";

export default class StoreImport extends BaseCommand<typeof StoreImport> {
  static override summary = "Take a CAR file's blocks into the content store, verified, and pin its roots once their DAGs are complete.";
  static override description =
    "Each block is checked against its CID before it is stored (a CAR is trusted exactly as far as its CIDs). The roots are " +
    "pinned only when every root's whole DAG is in the store: a truncated CAR pins nothing (exit 8, ERR_CAR_INCOMPLETE).";
  static override examples = ["<%= config.bin %> store import hello-1.0.0.car"];
  static override args = { file: Args.string({ description: "The CAR file (from `pkg store export` or `ipfs dag export`).", required: true }) };

  async run() {
    const { args, flags } = await this.parse(StoreImport);
    const content = await load.session().openContent(await load.config().resolveConfig({ config: flags.config }));
    try {
      const result = await load.shareImport().importContent({ content, file: args.file });
      if (!this.jsonEnabled()) this.log(`${result.roots.length} root(s) imported and pinned: ${result.roots.join(" ")}`);
      return result;
    } finally {
      await content.close();
    }
  }
}
