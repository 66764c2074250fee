import { Flags } from "@oclif/core";
import { mkdir, writeFile, access } from "node:fs/promises";
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
    const { PkgError } = load.errors();
    const file = path.resolve(flags.output);
    if (await access(file).then(() => true, () => false)) {
      throw new PkgError("ERR_KEY_KEYSTORE_EXISTS", `${file} exists already`, { hint: "choose another --output; keystores are never overwritten" });
    }
    const password = process.env.PKG_KEYSTORE_PASSWORD ?? (await this.promptHidden("New keystore password: "));
    if (!password) {
      throw new PkgError("ERR_KEY_PASSWORD_REQUIRED", "a keystore needs a password", { hint: "set PKG_KEYSTORE_PASSWORD or run in a terminal" });
    }
    const { address, json } = await load.keys().createKeystore(password);
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    await writeFile(file, json, { mode: 0o600, flag: "wx" });
    if (!this.jsonEnabled()) this.log(`created ${file}\n  address ${address}`);
    return { file, address };
  }
}
