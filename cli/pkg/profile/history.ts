import { BaseCommand } from "../../base";
import { load } from "../../lazy";
import { profileFlags } from "../../profile";

export default class ProfileHistory extends BaseCommand<typeof ProfileHistory> {
  static override summary = "List the generations of your profile: number, date, which is current, and what each changed.";
  static override description = "Like nix profile history. Every generation stays usable (pkg profile switch N) until deleted with pkg profile wipe-history.";
  static override examples = ["<%= config.bin %> profile history", "<%= config.bin %> profile history --json"];

  static override flags = { ...profileFlags };

  async run() {
    const { flags } = await this.parse(ProfileHistory);
    const profile = load.profile();
    const options = profile.defaultProfileOptions(process.env, flags.profile);
    const generations = await profile.listGenerations(options);
    if (!this.jsonEnabled()) {
      if (generations.length === 0) this.step("no generations yet (pkg install)");
      for (const g of generations) {
        const { added, removed, changed } = g.changes;
        const what = [...added.map((id) => `+${id}`), ...removed.map((id) => `-${id}`), ...changed.map((c) => `${c.name}: ${c.from} -> ${c.to}`)];
        const date = g.created.replace("T", " ").replace(/\.\d+Z$/, "Z");
        this.log(`${String(g.number).padStart(4)}  ${date}${g.current ? "  (current)" : ""}${what.length ? `  ${what.join(", ")}` : "  (no change)"}`);
      }
    }
    return { profile: profile.profileLink(options), generations };
  }
}
