import { Flags } from "@oclif/core";
import { BaseCommand } from "../../base";
import { load } from "../../lazy";

export default class StoreGc extends BaseCommand<typeof StoreGc> {
  static override summary = "Delete store paths nothing needs: not reachable from a root (profile generation, pin) or a running build.";
  static override description =
    "Roots: profile generations, outputs of derivations pinned in the content store (what `pkg build` instantiated), and paths " +
    "builds in progress use; everything they reference is kept too. The rest is forgotten in one transaction and deleted " +
    "through the store's trash/, so an interrupted gc leaves nothing half-deleted.";
  static override examples = ["<%= config.bin %> store gc", "<%= config.bin %> store gc --dry-run --json"];
  static override flags = { "dry-run": Flags.boolean({ summary: "Only say what would be deleted.", default: false }) };

  async run() {
    const { flags } = await this.parse(StoreGc);
    const client = await load.storeClient().connectStore();
    try {
      const result = await client.request<{ removed: string[]; freedBytes: number; kept: number }>("gc", { dryRun: flags["dry-run"] });
      if (!this.jsonEnabled()) {
        for (const p of result.removed) this.step(`${flags["dry-run"] ? "would delete" : "deleted"} ${p}`);
        this.log(`${result.removed.length} paths ${flags["dry-run"] ? "would be" : ""} deleted, ${(result.freedBytes / 1048576).toFixed(1)} MiB freed, ${result.kept} kept`.replace("  ", " "));
      }
      return result;
    } finally {
      client.close();
    }
  }
}
