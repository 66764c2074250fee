import { Args, Flags } from "@oclif/core";
import { BaseCommand, chainFlags, signerFlags } from "../base";
import { packageSpecOrManifest } from "../args";
import { load } from "../lazy";

export default class Yank extends BaseCommand<typeof Yank> {
  static override summary = "Yank a published version (new locks skip it; existing locks still fetch it), or --undo.";
  static override examples = ["<%= config.bin %> yank crates/dep:0.2.1", "<%= config.bin %> yank crates/dep:0.2.1 --undo", "<%= config.bin %> yank"];
  static override args = { id: Args.string({ description: "repo/name:version (default: the version in ./pkg.toml)." }) };
  static override flags = { ...chainFlags, ...signerFlags, undo: Flags.boolean({ summary: "Unyank instead." }) };

  async run() {
    const { args, flags } = await this.parse(Yank);
    const spec = await packageSpecOrManifest(args.id);
    const { yankPackageVersion, yankTarget } = load.yank();
    yankTarget(spec); // a spec without a version is refused before the chain is opened
    const { client } = await this.session({ signer: true, content: false });
    const result = await yankPackageVersion({ client, spec, yanked: !flags.undo });
    if (!this.jsonEnabled()) {
      const { id, yanked } = result;
      this.log(result.tx ? `${yanked ? "yanked" : "unyanked"} ${id} (tx ${result.tx})` : `${id} was already ${yanked ? "yanked" : "not yanked"}`);
    }
    return result;
  }
}
