import { Args } from "@oclif/core";
import { BaseCommand } from "../../base";
import { changeAccess } from "../../access";
import { formatSpec, packageSpecOrManifest } from "../../args";
import { load } from "../../lazy";

export default class OwnerAccept extends BaseCommand<typeof OwnerAccept> {
  static override summary = "Accept ownership of a package offered to you.";
  static override examples = ["<%= config.bin %> owner accept crates/hello"];
  static override args = { id: Args.string({ description: "repo/name (default: the package of ./pkg.toml)." }) };

  async run() {
    const { args } = await this.parse(OwnerAccept);
    const spec = await packageSpecOrManifest(args.id);
    const session = await this.session({ signer: true, content: false });
    const ids = load.ids();
    const id = ids.hashPackageId(ids.hashRepositoryId(spec.repository.name), spec.name);
    const result = await changeAccess(session, id, "accept", undefined);
    const name = formatSpec({ ...spec, version: null });
    if (!this.jsonEnabled()) {
      this.log(`${name}: owner ${result.owner}; maintainers: ${result.maintainers.join(", ") || "none"} (tx ${result.tx})`);
    }
    return { package: name, ...result };
  }
}
