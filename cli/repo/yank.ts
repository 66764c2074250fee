import { Args, Flags } from "@oclif/core";
import { BaseCommand, chainFlags, signerFlags } from "../base";
import { load } from "../lazy";

export default class Yank extends BaseCommand<typeof Yank> {
  static override summary = "Yank a repository version (fetching the repository without a version skips it; naming it still works), or --undo.";
  static override examples = ["<%= config.bin %> yank crates:1.0.0", "<%= config.bin %> yank crates:1.0.0 --undo"];
  static override args = { id: Args.string({ description: "NAME:VERSION of a published repository version.", required: true }) };
  static override flags = { ...chainFlags, ...signerFlags, undo: Flags.boolean({ summary: "Unyank instead." }) };

  async run() {
    const { args, flags } = await this.parse(Yank);
    const spec = load.ids().parseRepositorySpec(args.id);
    if (spec.version === null) {
      const { PkgError } = load.errors();
      throw new PkgError("ERR_ID_SYNTAX", `${args.id} names no version`, { hint: `write ${spec.name}:VERSION` });
    }
    const { client } = await this.session({ signer: true, content: false });
    const result = await load.repository().yankRepositoryVersion({ client, name: spec.name, version: spec.version, yanked: !flags.undo });
    if (!this.jsonEnabled()) {
      const id = `${result.name}:${result.version}`;
      this.log(result.tx ? `${result.yanked ? "yanked" : "unyanked"} ${id} (tx ${result.tx.hash})` : `${id} was already ${result.yanked ? "yanked" : "not yanked"}`);
    }
    return result;
  }
}
