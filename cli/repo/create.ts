import { Args, Flags } from "@oclif/core";
import { BaseCommand, chainFlags, signerFlags } from "../base";
import { load } from "../lazy";

export default class Create extends BaseCommand<typeof Create> {
  static override summary = "Create a repository owned by your account: open (anyone registers packages) by default, or --curated.";
  static override description =
    "In an open repository anyone may register a package (and owns what they register); in a curated one only the " +
    "repository's owner and maintainers may. Switch later with `curated NAME --on|--off`.";
  static override examples = ["<%= config.bin %> create crates", "<%= config.bin %> create nixos --curated"];
  static override args = { name: Args.string({ description: "Repository name: 1-64 of a-z, 0-9, '-', '_', '.'.", required: true }) };
  static override flags = { ...chainFlags, ...signerFlags, curated: Flags.boolean({ summary: "Only the owner and maintainers may register packages." }) };

  async run() {
    const { args, flags } = await this.parse(Create);
    const { createRepository, parseRepositoryName } = load.repository();
    const name = parseRepositoryName(args.name);
    const { client } = await this.session({ signer: true, content: false });
    this.step(`creating repository ${name}`);
    const result = await createRepository({ client, name, curated: flags.curated });
    if (!this.jsonEnabled()) {
      this.log(`created ${result.curated ? "curated" : "open"} repository ${name}`);
      this.log(`  owner ${result.owner}`);
      this.log(`  tx    ${result.tx.hash} (block ${result.tx.block})`);
    }
    return result;
  }
}
