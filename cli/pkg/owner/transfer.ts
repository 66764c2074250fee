import { Args } from "@oclif/core";
import { BaseCommand, chainFlags, signerFlags } from "../../base";
import { formatSpec, packageAndAccount } from "../../args";
import { load } from "../../lazy";

export default class OwnerTransfer extends BaseCommand<typeof OwnerTransfer> {
  static override summary = "Offer ownership of the package to an address; it moves when they run `owner accept`.";
  static override examples = [
    "<%= config.bin %> owner transfer crates/hello 0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    { description: "The package of ./pkg.toml:", command: "<%= config.bin %> owner transfer 0x70997970C51812dc3A010C7d01b50e0d17dc79C8" },
  ];
  static override args = {
    // [ID] ADDRESS: the package first, as in `repo maintainer add NAME ADDRESS`; one argument is the address
    id: Args.string({ description: "repo/name (left out: the package of ./pkg.toml)." }),
    address: Args.string({ description: "The account (0x…)." }),
  };
  static override flags = { ...chainFlags, ...signerFlags };

  async run() {
    const { args } = await this.parse(OwnerTransfer);
    const { spec, account } = await packageAndAccount(args.id, args.address, `${this.config.bin} owner transfer`);
    const { client } = await this.session({ signer: true, content: false });
    const result = await load.access().changePackageAccess({ client, key: { repository: spec.repository.name, name: spec.name }, action: "transfer", account });
    const name = formatSpec({ ...spec, version: null });
    if (!this.jsonEnabled()) {
      this.log(`${name}: owner ${result.owner}; maintainers: ${result.maintainers.join(", ") || "none"} (tx ${result.tx})`);
    }
    return { package: name, ...result };
  }
}
