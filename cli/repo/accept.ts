import { Args } from "@oclif/core";
import { BaseCommand, chainFlags, signerFlags } from "../base";
import { load } from "../lazy";

export default class Accept extends BaseCommand<typeof Accept> {
  static override summary = "Accept ownership of a repository offered to you.";
  static override examples = ["<%= config.bin %> accept crates"];
  static override args = { name: Args.string({ description: "Repository name.", required: true }) };
  static override flags = { ...chainFlags, ...signerFlags };

  async run() {
    const { args } = await this.parse(Accept);
    const { parseRepositoryName } = load.repository();
    const name = parseRepositoryName(args.name);
    const { client } = await this.session({ signer: true, content: false });
    const result = await load.access().changeRepositoryAccess({ client, name, action: "accept" });
    if (!this.jsonEnabled()) {
      this.log(`${name}: you are the owner now (${result.owner}); maintainers: ${result.maintainers.join(", ") || "none"} (tx ${result.tx})`);
    }
    return { repository: name, ...result };
  }
}
