import { BaseCommand } from "../../base";
import { load } from "../../lazy";

export default class StoreVerify extends BaseCommand<typeof StoreVerify> {
  static override summary = "Check the store: every registered path exists, is read-only and still has its recorded content CID.";
  static override description =
    "Also reports entries under paths/ that are not registered, and references, roots or outputs naming unregistered paths. " +
    "Exits 8 (ERR_STORE_CORRUPT) when anything is wrong.";
  static override examples = ["<%= config.bin %> store verify", "<%= config.bin %> store verify --json"];

  async run() {
    await this.parse(StoreVerify);
    const client = await load.storeClient().connectStore();
    let result: { ok: boolean; checked: number; problems: { kind: string; path: string; message: string }[] };
    try {
      result = await client.request("verify");
    } finally {
      client.close();
    }
    if (!result.ok) {
      for (const p of result.problems) this.step(`${p.kind}: ${p.message}`);
      const { StoreError, ERR_STORE_CORRUPT } = load.storeErrors();
      throw new StoreError(ERR_STORE_CORRUPT, `store verification found ${result.problems.length} problem(s): ${result.problems[0].message}`, {
        details: { problems: result.problems },
        hint: "restart the daemon to drop unregistered paths; rebuild what is corrupt after `pkg store gc`",
      });
    }
    if (!this.jsonEnabled()) this.log(`${result.checked} store paths verified, no problems`);
    return result;
  }
}
