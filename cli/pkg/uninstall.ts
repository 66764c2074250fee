import { Args } from "@oclif/core";
import { BaseCommand } from "../base";
import { load } from "../lazy";
import { profileFlags } from "../profile";

export default class Uninstall extends BaseCommand<typeof Uninstall> {
  static override summary = "Remove packages from your profile (in a new generation; `pkg profile rollback` undoes it).";
  static override description =
    "Each NAME is a package name (hello), {repo}/{name} when two repositories' packages share a name, or the full id " +
    "as `pkg profile list` shows it. Nothing is deleted from the store: older generations still use it.";
  static override examples = ["<%= config.bin %> uninstall hello", "<%= config.bin %> uninstall crates/hello npm/left-pad --json"];
  static override strict = false;
  static override args = {
    name: Args.string({ description: "Installed package(s) to remove.", required: true }),
  };

  static override flags = { ...profileFlags };

  async run() {
    const { argv, flags } = await this.parse(Uninstall);
    const names = argv as string[];
    const profile = load.profile();
    const options = profile.defaultProfileOptions(process.env, flags.profile);
    const result = await profile.uninstallPackages(options, names);
    if (!this.jsonEnabled()) this.log(`uninstalled ${result.changes.removed.join(", ")} (generation ${result.generation})`);
    return { profile: profile.profileLink(options), uninstalled: result.changes.removed, ...result };
  }
}
