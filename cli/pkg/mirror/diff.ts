import { Args } from "@oclif/core";
import { BaseCommand } from "../../base";
import { load } from "../../lazy";

export default class MirrorDiff extends BaseCommand<typeof MirrorDiff> {
  static override summary = "List what changed between two mirror snapshots: packages added, removed, changed, and each version added or yanked.";
  static override description =
    "Walks both indexes together, skipping every part whose CID is the same in both, so the time grows with the change, " +
    "not with the mirror. A snapshot's root is its repository version's meta CID (printed by `pkg mirror`).";
  static override examples = ["<%= config.bin %> mirror diff bafybei…A bafybei…B"];
  static override args = {
    before: Args.string({ description: "Root CID of the older snapshot.", required: true }),
    after: Args.string({ description: "Root CID of the newer snapshot.", required: true }),
  };

  async run() {
    const { args, flags } = await this.parse(MirrorDiff);
    const content = await load.session().openContent(await load.config().resolveConfig({ config: flags.config }));
    try {
      const diff = await load.mirrorDiff().diffSnapshots({ content, before: args.before, after: args.after });
      if (!this.jsonEnabled()) {
        const repo = diff.after.record.repository;
        for (const name of diff.packages.added) this.log(`added package ${repo}:${name}`);
        for (const name of diff.packages.removed) this.log(`removed package ${repo}:${name}`);
        for (const change of diff.versions) this.log(`${change.change} ${repo}:${change.package}@${change.version}`);
        const total = diff.packages.added.length + diff.packages.removed.length + diff.packages.changed.length;
        this.step(`${total} package(s) differ, ${diff.versions.length} version change(s); ${diff.blocksRead} index blocks read`);
      }
      return diff;
    } finally {
      await content.close();
    }
  }
}
