import { Args } from "@oclif/core";
import { BaseCommand, chainFlags, signerFlags } from "../../base";
import { checkNameFirst } from "../../args";
import { load } from "../../lazy";

export default class MaintainerAdd extends BaseCommand<typeof MaintainerAdd> {
  static override summary = "Add a maintainer of a repository: they may publish and yank its versions and, if it is curated, register packages.";
  static override examples = ["<%= config.bin %> maintainer add crates 0x70997970C51812dc3A010C7d01b50e0d17dc79C8"];
  static override args = {
    name: Args.string({ description: "Repository name.", required: true }),
    address: Args.string({ description: "The account (0x…).", required: true }),
  };
  static override flags = { ...chainFlags, ...signerFlags };

  async run() {
    const { args } = await this.parse(MaintainerAdd);
    checkNameFirst(args.name, args.address, `${this.config.bin} maintainer add`);
    const { parseRepositoryName } = load.repository();
    const name = parseRepositoryName(args.name);
    const { client } = await this.session({ signer: true, content: false });
    const result = await load.access().changeRepositoryAccess({ client, name, action: "add", account: args.address });
    if (!this.jsonEnabled()) {
      this.log(`${name}: owner ${result.owner}; maintainers: ${result.maintainers.join(", ") || "none"} (tx ${result.tx})`);
    }
    return { repository: name, ...result };
  }
}
