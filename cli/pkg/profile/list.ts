import { BaseCommand } from "../../base";
import { load } from "../../lazy";
import { profileFlags } from "../../profile";

export default class ProfileList extends BaseCommand<typeof ProfileList> {
  static override summary = "List the packages installed in the current generation of your profile.";
  static override description = "One line per package: its id, priority when not the default, and the store path its links point into.";
  static override examples = ["<%= config.bin %> profile list", "<%= config.bin %> profile list --json"];

  static override flags = { ...profileFlags };

  async run() {
    const { flags } = await this.parse(ProfileList);
    const profile = load.profile();
    const options = profile.defaultProfileOptions(process.env, flags.profile);
    const generation = await profile.currentGenerationNumber(options);
    const packages = await profile.installedPackages(options);
    if (!this.jsonEnabled()) {
      if (packages.length === 0) this.step(generation === null ? "nothing installed yet (pkg install)" : `generation ${generation} is empty`);
      for (const p of packages) {
        this.log(`${p.id}${p.priority === profile.DEFAULT_PRIORITY ? "" : ` (priority ${p.priority})`}  ${p.path}`);
      }
    }
    return { profile: profile.profileLink(options), generation, packages };
  }
}
