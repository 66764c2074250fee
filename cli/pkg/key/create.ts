import { Flags } from "@oclif/core";
import path from "node:path";
import { BaseCommand } from "../../base";
import { load } from "../../lazy";

export default class KeyCreate extends BaseCommand<typeof KeyCreate> {
  static override summary = "Create a new key in an encrypted JSON keystore (ethers), for signing on real networks.";
  static override description = "The password comes from PKG_KEYSTORE_PASSWORD or a prompt. The key is never printed; only its address is.";
  static override examples = ["<%= config.bin %> key create --output ~/.config/chainpkg/keys/me.json"];
  static override flags = { output: Flags.string({ char: "o", summary: "Keystore file to create.", required: true }) };

  async run() {
    const { flags } = await this.parse(KeyCreate);
    const { checkKeystoreFree, createKeystoreFile } = load.keys();
    const file = path.resolve(flags.output);
    await checkKeystoreFree(file); // before asking for a password
    const password = process.env.PKG_KEYSTORE_PASSWORD ?? (await this.promptHidden("New keystore password: ")) ?? "";
    const created = await createKeystoreFile(file, password);
    if (!this.jsonEnabled()) this.log(`created ${created.file}\n  address ${created.address}`);
    return created;
  }
}
