import { Args } from "@oclif/core";
import { BaseCommand, chainFlags, signerFlags } from "../base";
import { checkNameFirst } from "../args";
import { load } from "../lazy";

export default class Transfer extends BaseCommand<typeof Transfer> {
  static override summary = "Offer ownership of a repository to an address; it moves when they run `accept NAME`.";
  static override examples = ["<%= config.bin %> transfer crates 0x70997970C51812dc3A010C7d01b50e0d17dc79C8"];
  static override args = {
    name: Args.string({ description: "Repository name.", required: true }),
    address: Args.string({ description: "The account (0x…).", required: true }),
  };
  static override flags = { ...chainFlags, ...signerFlags };

  async run() {
    const { args } = await this.parse(Transfer);
    checkNameFirst(args.name, args.address, `${this.config.bin} transfer`);
    const { parseRepositoryName } = load.repository();
    const name = parseRepositoryName(args.name);
    const { client } = await this.session({ signer: true, content: false });
    const result = await load.access().changeRepositoryAccess({ client, name, action: "transfer", account: args.address });
    if (!this.jsonEnabled()) {
      this.log(`${name}: ownership offered to ${result.account} (tx ${result.tx}); it moves when they run \`${this.config.bin} accept ${name}\``);
    }
    return { repository: name, ...result };
  }
}
