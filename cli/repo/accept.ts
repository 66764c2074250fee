import { Args } from "@oclif/core";
import { BaseCommand } from "../base";
import { changeAccess } from "../access";
import { load } from "../lazy";

export default class Accept extends BaseCommand<typeof Accept> {
  static override summary = "Accept ownership of a repository offered to you.";
  static override examples = ["<%= config.bin %> accept crates"];
  static override args = { name: Args.string({ description: "Repository name.", required: true }) };

  async run() {
    const { args } = await this.parse(Accept);
    const { parseRepositoryName, requireRepository } = load.repository();
    const name = parseRepositoryName(args.name);
    const session = await this.session({ signer: true, content: false });
    const repository = await requireRepository(session.client, name);
    const result = await changeAccess(session, repository.id, "accept", undefined);
    if (!this.jsonEnabled()) {
      this.log(`${name}: you are the owner now (${result.owner}); maintainers: ${result.maintainers.join(", ") || "none"} (tx ${result.tx})`);
    }
    return { repository: name, ...result };
  }
}
