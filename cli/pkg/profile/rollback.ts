import { BaseCommand } from "../../base";
import { load } from "../../lazy";
import { profileFlags } from "../../profile";

export default class ProfileRollback extends BaseCommand<typeof ProfileRollback> {
  static override summary = "Switch your profile back to the generation before the current one.";
  static override description = "Atomic, like nix-env --rollback: the generation you leave stays, so pkg profile switch N returns to it.";
  static override examples = ["<%= config.bin %> profile rollback"];

  static override flags = { ...profileFlags };

  async run() {
    const { flags } = await this.parse(ProfileRollback);
    const profile = load.profile();
    const options = profile.defaultProfileOptions(process.env, flags.profile);
    const result = await profile.rollback(options);
    if (!this.jsonEnabled()) this.log(`switched from generation ${result.from} to ${result.to}`);
    return { profile: profile.profileLink(options), ...result };
  }
}
