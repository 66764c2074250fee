import { Args, Flags } from "@oclif/core";
import { BaseCommand, chainFlags } from "../base";
import { load } from "../lazy";

export default class Fetch extends BaseCommand<typeof Fetch> {
  static override summary = "Download and verify a repository version: its repo.lock and every package's sources and pkg.toml.";
  static override description =
    "Creates the directory -o DIR (default ./NAME-VERSION) holding repo.lock (as published) and PKG-VERSION/ for each package it pins, every byte " +
    "checked against its CID; nothing is left behind on failure. Without a version: the newest version that is not " +
    "yanked, or, for a repository with no versions (a rolling release), its packages' newest versions now (or at " +
    "--block), by default into ./NAME-rolling-BLOCK/.";
  static override examples = ["<%= config.bin %> fetch crates:1.0.0", "<%= config.bin %> fetch crates -o ./vendor", "<%= config.bin %> fetch crates --block 120"];
  static override args = { id: Args.string({ description: "NAME[:VERSION].", required: true }) };
  static override flags = {
    ...chainFlags,
    output: Flags.directory({ char: "o", summary: "Directory to create for the repository (default: ./NAME-VERSION)." }),
    block: Flags.integer({ summary: "Rolling repositories: lock their packages as of this block (default: the latest).", min: 0 }),
  };

  async run() {
    const { args, flags } = await this.parse(Fetch);
    const spec = load.ids().parseRepositorySpec(args.id);
    const { client, content } = await this.session();
    const bar = await this.progress("fetching");
    const result = await load.repository().fetchRepository({
      client,
      content,
      name: spec.name,
      version: spec.version,
      destination: flags.output ?? null,
      block: flags.block,
      onProgress: (done, total, name) => bar.update(done, total, name),
    }).finally(() => bar.stop());
    for (const warning of result.warnings) this.warning(warning);
    if (!this.jsonEnabled()) {
      const id = result.version === null ? `${result.name} (rolling, block ${result.block})` : `${result.name}:${result.version}`;
      this.log(`fetched ${id}: ${result.packages.length} packages → ${result.destination}`);
      if (result.meta) this.log(`  meta ${result.meta}`);
      const { packageVersionId } = load.ids();
      for (const p of result.packages) this.log(`  ${packageVersionId({ repository: result.name, name: p.name, version: p.version })}`);
    }
    return result;
  }
}
