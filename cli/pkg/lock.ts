import { Args, Flags } from "@oclif/core";
import { BaseCommand, chainFlags } from "../base";
import { load } from "../lazy";

export default class Lock extends BaseCommand<typeof Lock> {
  static override summary = "Resolve every input of ./pkg.toml (or a published package) at one block and write pkg.lock.";
  static override description =
    "Picks, for each [inputs], [native-inputs] and [meta-inputs] range, transitively, the highest version that is not yanked. " +
    "Entries of an existing pkg.lock that still satisfy their ranges are kept (use `update` to move them). Several versions " +
    "of one package are locked when ranges cannot share one (as npm does). The lock records the block; " +
    "`lock --block N` at that block gives the same lock again. Entries of the existing pkg.lock that do not match the registry " +
    "at its block (an edited lock) are restored from the registry, and each is reported.";
  static override examples = ["<%= config.bin %> lock", "<%= config.bin %> lock --block 120", "<%= config.bin %> lock crates/hello:1.0.0 --json"];
  static override args = { id: Args.string({ description: "A published package (repo/name[:version]); default ./pkg.toml." }) };
  static override flags = {
    ...chainFlags,
    block: Flags.integer({ summary: "Resolve as of this block (default: the latest).", min: 0 }),
    dir: Flags.directory({ char: "C", summary: "Package directory.", default: "." }),
  };

  async run() {
    const { args, flags } = await this.parse(Lock);
    const session = await this.session();
    const { lockDirectory, lockPublished, formatLockChanges } = load.lock();
    const { serializeLockfile } = load.lockfile();
    const bar = await this.progress("resolving");
    const outcome = args.id
      ? await lockPublished({ session, spec: load.ids().parsePackageSpec(args.id), block: flags.block })
      : await lockDirectory({ session, dir: flags.dir, block: flags.block, onProgress: (e) => bar.update(e.level, e.level + 1, `level ${e.level}, ${e.packages} packages`) });
    bar.stop();
    for (const warning of outcome.warnings) this.warning(warning);
    if (!this.jsonEnabled()) {
      if (outcome.file === null) this.log(serializeLockfile(outcome.lock).trimEnd());
      else {
        this.log(`locked ${Object.keys(outcome.lock.dependencies).length} dependencies at block ${outcome.lock.block} → ${outcome.file}`);
        for (const line of formatLockChanges(outcome)) this.log(`  ${line}`);
      }
    }
    return { file: outcome.file, block: outcome.lock.block, levels: outcome.levels, warnings: outcome.warnings, changes: outcome.changes, lock: outcome.lock };
  }
}
