import { Args, Flags } from "@oclif/core";
import { BaseCommand, chainFlags, signerFlags } from "../base";
import { load } from "../lazy";

export default class Curated extends BaseCommand<typeof Curated> {
  static override summary = "Make a repository curated (--on: only its owner and maintainers register packages) or open (--off).";
  static override examples = ["<%= config.bin %> curated nixos --on", "<%= config.bin %> curated crates --off"];
  static override args = { name: Args.string({ description: "Repository name.", required: true }) };
  static override flags = {
    ...chainFlags, ...signerFlags,
    on: Flags.boolean({ summary: "Curated: only the owner and maintainers register packages.", exactlyOne: ["on", "off"] }),
    off: Flags.boolean({ summary: "Open: anyone registers packages.", exactlyOne: ["on", "off"] }),
  };

  async run() {
    const { args, flags } = await this.parse(Curated);
    const { parseRepositoryName, setRepositoryCurated } = load.repository();
    const name = parseRepositoryName(args.name);
    const { client } = await this.session({ signer: true, content: false });
    const result = await setRepositoryCurated({ client, name, curated: flags.on });
    if (!this.jsonEnabled()) {
      const state = result.curated ? "curated" : "open";
      this.log(result.tx ? `${name} is now ${state} (tx ${result.tx.hash})` : `${name} was already ${state}`);
    }
    return result;
  }
}
