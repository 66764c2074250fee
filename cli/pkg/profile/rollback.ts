import { BaseCommand } from "../../base";
import { load } from "../../lazy";

export default class ProfileRollback extends BaseCommand<typeof ProfileRollback> {
  static override summary = "Switch your profile back to the generation before the current one.";
  static override description = "Atomic, like nix-env --rollback: the generation you leave stays, so pkg profile switch N returns to it.";
  static override examples = ["<%= config.bin %> profile rollback"];

  async run() {
    const profile = load.profile();
    const options = profile.defaultProfileOptions();
    const result = await profile.rollback(options);
    if (!this.jsonEnabled()) this.log(`switched from generation ${result.from} to ${result.to}`);
    return { profile: profile.profileLink(options), ...result };
  }
}
