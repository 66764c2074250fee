import { Args, Flags } from "@oclif/core";
import { BaseCommand, chainFlags } from "../base";
import { load } from "../lazy";

export default class Update extends BaseCommand<typeof Update> {
  static override summary = "Move locked dependencies to the newest versions their ranges allow: all, or the named ones.";
  static override description =
    "Prints each change: the dependency, its old and new versions, and every CID that changed. Entries of pkg.lock that do not " +
    "match the registry at the lock's block (an edited lock) are restored from the registry, and said to be.";
  static override examples = ["<%= config.bin %> update", "<%= config.bin %> update crates:dep"];
  static override strict = false;
  static override args = { dependency: Args.string({ description: "repo:name of a locked dependency (repeatable); none: all." }) };
  static override flags = { ...chainFlags, dir: Flags.directory({ char: "C", summary: "Package directory.", default: "." }) };

  async run() {
    const { argv, flags } = await this.parse(Update);
    const names = argv as string[];
    const { parsePackageKey, formatPackageKey } = load.ids();
    const update = names.length === 0 ? "all" : names.map((n) => formatPackageKey(parsePackageKey(n)));
    const session = await this.session();
    const { lockDirectory, formatLockChanges } = load.lock();
    const outcome = await lockDirectory({ session, dir: flags.dir, update });
    for (const warning of outcome.warnings) this.warning(warning);
    if (!this.jsonEnabled()) {
      // every change is named, CIDs included; entries restored from the registry say so
      if (outcome.changes.length === 0) this.log("everything is up to date");
      for (const line of formatLockChanges(outcome)) this.log(line);
    }
    return { file: outcome.file, block: outcome.lock.block, changes: outcome.changes };
  }
}
