import { Flags } from "@oclif/core";
import { BaseCommand } from "../../base";
import { load } from "../../lazy";
import { profileFlags } from "../../profile";

export default class ProfileWipeHistory extends BaseCommand<typeof ProfileWipeHistory> {
  static override summary = "Delete old generations of your profile (never the current one), so pkg store gc can free their store paths.";
  static override description = "Like nix profile wipe-history: without --older-than, every generation but the current one goes.";
  static override examples = ["<%= config.bin %> profile wipe-history", "<%= config.bin %> profile wipe-history --older-than 30d"];
  static override flags = {
    ...profileFlags,
    "older-than": Flags.string({ summary: "Only generations made longer ago than this: 30d, 12h, 90m or 45s." }),
  };

  async run() {
    const { flags } = await this.parse(ProfileWipeHistory);
    const profile = load.profile();
    const options = profile.defaultProfileOptions(process.env, flags.profile);
    const olderThanMs = flags["older-than"] === undefined ? undefined : profile.parseAge(flags["older-than"]);
    const result = await profile.deleteGenerations(options, { olderThanMs });
    if (!this.jsonEnabled()) {
      this.log(result.deleted.length ? `deleted generation${result.deleted.length > 1 ? "s" : ""} ${result.deleted.join(", ")}` : "no generation to delete");
    }
    return { profile: profile.profileLink(options), ...result };
  }
}
