import { Args, Flags } from "@oclif/core";
import { BaseCommand } from "../base";
import { load } from "../lazy";

export default class Update extends BaseCommand<typeof Update> {
  static override summary = "Move locked dependencies to the newest versions their ranges allow: all, or the named ones.";
  static override examples = ["<%= config.bin %> update", "<%= config.bin %> update crates:dep"];
  static override strict = false;
  static override args = { dependency: Args.string({ description: "repo:name of a locked dependency (repeatable); none: all." }) };
  static override flags = { dir: Flags.directory({ char: "C", summary: "Package directory.", default: "." }) };

  async run() {
    const { argv, flags } = await this.parse(Update);
    const names = argv as string[];
    const { parsePackageKey, formatPackageKey } = load.ids();
    const update = names.length === 0 ? "all" : names.map((n) => formatPackageKey(parsePackageKey(n)));
    const session = await this.session();
    const { lockDirectory } = load.lock();
    const outcome = await lockDirectory({ session, dir: flags.dir, update });
    for (const warning of outcome.warnings) this.warning(warning);
    if (!this.jsonEnabled()) {
      if (outcome.changes.length === 0) this.log("everything is up to date");
      for (const c of outcome.changes) this.log(`${c.key}: ${c.from ?? "(new)"} → ${c.to ?? "(removed)"}`);
    }
    return { file: outcome.file, block: outcome.lock.block, changes: outcome.changes };
  }
}
