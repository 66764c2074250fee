import { Flags } from "@oclif/core";
import { BaseCommand, chainFlags } from "../base";
import { lockCheckFor, offlineFlag } from "../lock-check";
import { load } from "../lazy";
import type { Session } from "../../src/session";

export default class Instantiate extends BaseCommand<typeof Instantiate> {
  static override summary = "Turn ./pkg.toml and ./pkg.lock into derivations and print the package's derivation CID.";
  static override description =
    "Makes one derivation per package version of the lock, bottom up: builder, args, system, the package's src CID and its " +
    "inputs' derivation CIDs by name ($cargo, $dep). Each is stored in the content store as a DAG-CBOR block; the package's " +
    "derivation is pinned, which keeps everything it references (input derivations and sources, fetched if missing). " +
    "Nothing is built. The same lock always gives the same CID. With --json, every derivation is printed, CIDs as {\"/\": cid}. " +
    "pkg.lock is checked against the registry at its block first (--offline trusts it, and says so).";
  static override examples = ["<%= config.bin %> instantiate", "<%= config.bin %> instantiate -C ./hello --json", "<%= config.bin %> instantiate --system aarch64-linux"];
  static override flags = {
    ...chainFlags,
    dir: Flags.directory({ char: "C", summary: "Package directory (holding pkg.toml and pkg.lock).", default: "." }),
    system: Flags.string({ summary: "System to instantiate for (default: this machine's, e.g. x86_64-linux).", env: "PKG_SYSTEM" }),
    pin: Flags.boolean({ summary: "Pin the derivation and its closure (--no-pin: only store the derivations).", default: true, allowNo: true }),
    offline: offlineFlag,
  };

  async run() {
    const { flags } = await this.parse(Instantiate);
    // --offline: the content store only, no chain
    const session: Session | null = flags.offline ? null : await this.session();
    const { resolveConfig } = load.config();
    const content = session?.content ?? (await load.session().openContent(await resolveConfig({ network: this.flags.network, config: this.flags.config })));
    const { instantiateDirectory } = load.instantiate();
    this.step(`instantiating ${flags.dir}`);
    const checkLock = lockCheckFor(flags.offline, async () => session!, (m) => this.warning(m)).verify;
    const result = await instantiateDirectory({ dir: flags.dir, content, system: flags.system, pin: flags.pin, checkLock }).finally(async () => {
      if (session === null) await content.close();
    });
    const pkg = result.derivation.package;
    if (!this.jsonEnabled()) {
      this.step(`${pkg ? load.ids().packageVersionId(pkg) : result.derivation.name}: ${result.derivations.size + 1} derivations for ${result.derivation.system}`);
      this.log(result.root.toString());
    }
    return {
      root: result.root.toString(),
      system: result.derivation.system,
      lockFile: result.lockFile,
      meta: result.meta.toString(),
      src: result.src.toString(),
      derivation: result.derivation,
      derivations: Object.fromEntries([...result.derivations].map(([key, d]) => [key, { cid: d.cid.toString(), derivation: d.derivation }])),
    };
  }
}
