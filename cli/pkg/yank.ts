import { Args, Flags } from "@oclif/core";
import { BaseCommand } from "../base";
import { formatSpec, packageSpecOrManifest } from "../args";
import { load } from "../lazy";

export default class Yank extends BaseCommand<typeof Yank> {
  static override summary = "Yank a published version (new locks skip it; existing locks still fetch it), or --undo.";
  static override examples = ["<%= config.bin %> yank crates/dep:0.2.1", "<%= config.bin %> yank crates/dep:0.2.1 --undo", "<%= config.bin %> yank"];
  static override args = { id: Args.string({ description: "repo/name:version (default: the version in ./pkg.toml)." }) };
  static override flags = { undo: Flags.boolean({ summary: "Unyank instead." }) };

  async run() {
    const { args, flags } = await this.parse(Yank);
    const spec = await packageSpecOrManifest(args.id);
    const { PkgError } = load.errors();
    if (spec.version === null) {
      throw new PkgError("ERR_ID_SYNTAX", `${formatSpec(spec)} names no version`, { hint: `write ${formatSpec(spec)}:VERSION` });
    }
    const session = await this.session({ signer: true, content: false });
    const key = { repository: spec.repository.name, name: spec.name };
    const record = await session.client.getPackage(key);
    const version = record?.versions.find((v) => v.version === spec.version);
    if (!version) {
      throw new PkgError("ERR_CHAIN_UNKNOWN_VERSION", `${formatSpec(spec)} was never published`, { hint: "check the id with `pkg fetch`" });
    }
    const yanked = !flags.undo;
    const tx = version.yanked === yanked ? null : await session.client.setYanked(key, spec.version, yanked);
    if (!this.jsonEnabled()) {
      this.log(tx ? `${yanked ? "yanked" : "unyanked"} ${formatSpec(spec)} (tx ${tx.hash})` : `${formatSpec(spec)} was already ${yanked ? "yanked" : "not yanked"}`);
    }
    return { id: formatSpec(spec), yanked, changed: tx !== null, tx: tx?.hash ?? null };
  }
}
