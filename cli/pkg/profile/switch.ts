import { Args } from "@oclif/core";
import { BaseCommand } from "../../base";
import { load } from "../../lazy";
import { profileFlags } from "../../profile";

export default class ProfileSwitch extends BaseCommand<typeof ProfileSwitch> {
  static override summary = "Make generation N of your profile the current one.";
  static override description = "Atomic, like nix-env --switch-generation. pkg profile history lists the generations.";
  static override examples = ["<%= config.bin %> profile switch 3"];
  static override args = {
    generation: Args.integer({ description: "Generation number.", required: true, min: 1 }),
  };

  static override flags = { ...profileFlags };

  async run() {
    const { args, flags } = await this.parse(ProfileSwitch);
    const profile = load.profile();
    const options = profile.defaultProfileOptions(process.env, flags.profile);
    const result = await profile.switchGeneration(options, args.generation);
    if (!this.jsonEnabled()) this.log(`switched from generation ${result.from ?? "(none)"} to ${result.to}`);
    return { profile: profile.profileLink(options), ...result };
  }
}
