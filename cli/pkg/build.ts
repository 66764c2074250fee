import { Args, Flags } from "@oclif/core";
import { BaseCommand, chainFlags } from "../base";
import { lockCheckFor, offlineFlag, offlineWithIdError } from "../lock-check";
import { load } from "../lazy";

export default class Build extends BaseCommand<typeof Build> {
  static override summary = "Build ./pkg.toml with ./pkg.lock (or a published package) and print its output's store path.";
  static override description =
    "Instantiates the package (no chain needed: only the content store), realises its derivation through the store daemon " +
    "(started on demand; inputs first, each derivation built once) and records the build in pkg.build.toml under --name " +
    "(package, lock, args, metadrv, subderivations, output CID, system). A package already built prints its path at once. " +
    "--rebuild builds it again and compares the outputs (like `nix build --rebuild`): exit 9 if they differ. " +
    "With an id (repo/name[:version]) the published package is fetched, locked now and built in a temporary directory. " +
    "pkg.lock is checked against the registry at its block before it is used (--offline trusts it, and says so).";
  static override examples = ["<%= config.bin %> build", "<%= config.bin %> build --offline", "<%= config.bin %> build -C ./hello --name linux", "<%= config.bin %> build --name release --arg=--release --arg=--features --arg=a,b", "<%= config.bin %> build --rebuild", "<%= config.bin %> build crates/hello:1.0.0"];
  static override args = { id: Args.string({ description: "repo/name[:version] of a published package (default: the package in --dir)." }) };
  static override flags = {
    ...chainFlags,
    dir: Flags.directory({ char: "C", summary: "Package directory (holding pkg.toml and pkg.lock).", default: "." }),
    name: Flags.string({ summary: "Build record name in pkg.build.toml.", default: "default" }),
    system: Flags.string({ summary: "System to build for (default: this machine's).", env: "PKG_SYSTEM" }),
    arg: Flags.string({
      summary: "Argument appended to pkg.toml's args for this variant (repeatable; write --arg=--flag for dashes).",
      description: "A named variant remembers its args in pkg.build.toml: --name N without --arg builds with them again; --arg replaces them.",
      multiple: true,
    }),
    rebuild: Flags.boolean({ summary: "Build again and check that the output is the same (reproducibility).", default: false }),
    "print-build-logs": Flags.boolean({ char: "L", summary: "Print the builds' logs (default: only on failure).", default: false }),
    offline: offlineFlag,
  };

  async run() {
    const { args, flags } = await this.parse(Build);
    if (args.id && flags.offline) throw offlineWithIdError("build");
    const client = await load.storeClient().connectStore();
    const onLog = flags["print-build-logs"] && !this.jsonEnabled() ? (_drv: string, text: string) => process.stderr.write(`${text}\n`) : undefined;
    const onProgress = (drv: string, name: string, phase: string) => (phase === "build" ? this.step(`building ${name} (${drv})`) : undefined);
    const common = { client, name: flags.name, system: flags.system, args: flags.arg, rebuild: flags.rebuild, onLog, onProgress };
    try {
      let result;
      if (args.id) {
        const session = await this.session();
        this.step(`building ${args.id}`);
        result = await load.buildPublished().buildPublished({ ...common, id: args.id, session });
      } else {
        // The local case needs the chain only to check pkg.lock's dependencies (not under --offline, not for a
        // no-op build), and the content store only when instantiation cannot be skipped (the no-op build is
        // benchmarked against cargo's).
        let content: Awaited<ReturnType<Build["openContent"]>> | null = null;
        const lockCheck = lockCheckFor(flags.offline, () => this.session({ content: false }), (m) => this.warning(m));
        try {
          result = await load.buildDirectory().buildDirectory({ ...common, dir: flags.dir, lockCheck, content: async () => (content = await this.openContent()) });
        } finally {
          await (content as { close(): Promise<void> } | null)?.close();
        }
      }
      if (!this.jsonEnabled()) {
        if (result.matched === true) this.step(`rebuilt: the output is the same (${result.output})`);
        this.log(result.outputs.out);
      }
      return result;
    } finally {
      client.close();
    }
  }

  private async openContent() {
    const { resolveConfig } = load.config();
    const config = await resolveConfig({ config: this.flags.config });
    const { openContentStore } = load.content();
    return config.content.backend === "embedded"
      ? openContentStore({ kind: "embedded", directory: config.content.dir, gateways: config.content.gateways })
      : openContentStore({ kind: "kubo", url: config.content.url });
  }
}
