import { Args } from "@oclif/core";
import { BaseCommand, chainFlags, signerFlags } from "../../base";
import { formatSpec, packageSpecOrManifest } from "../../args";
import { load } from "../../lazy";

export default class OwnerAccept extends BaseCommand<typeof OwnerAccept> {
  static override summary = "Accept ownership of a package offered to you.";
  static override examples = ["<%= config.bin %> owner accept crates/hello"];
  static override args = { id: Args.string({ description: "repo/name (default: the package of ./pkg.toml)." }) };
  static override flags = { ...chainFlags, ...signerFlags };

  async run() {
    const { args } = await this.parse(OwnerAccept);
    const spec = await packageSpecOrManifest(args.id);
    const { client } = await this.session({ signer: true, content: false });
    const result = await load.access().changePackageAccess({ client, key: { repository: spec.repository.name, name: spec.name }, action: "accept" });
    const name = formatSpec({ ...spec, version: null });
    if (!this.jsonEnabled()) {
      this.log(`${name}: owner ${result.owner}; maintainers: ${result.maintainers.join(", ") || "none"} (tx ${result.tx})`);
    }
    return { package: name, ...result };
  }
}
