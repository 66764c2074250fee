import { Args } from "@oclif/core";
import { BaseCommand } from "../../base";
import { load } from "../../lazy";

export default class ProfileSwitch extends BaseCommand<typeof ProfileSwitch> {
  static override summary = "Make generation N of your profile the current one.";
  static override description = "Atomic, like nix-env --switch-generation. pkg profile history lists the generations.";
  static override examples = ["<%= config.bin %> profile switch 3"];
  static override args = {
    generation: Args.integer({ description: "Generation number.", required: true, min: 1 }),
  };

  async run() {
    const { args } = await this.parse(ProfileSwitch);
    const profile = load.profile();
    const options = profile.defaultProfileOptions();
    const result = await profile.switchGeneration(options, args.generation);
    if (!this.jsonEnabled()) this.log(`switched from generation ${result.from ?? "(none)"} to ${result.to}`);
    return { profile: profile.profileLink(options), ...result };
  }
}
