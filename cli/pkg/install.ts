import { Args, Flags } from "@oclif/core";
import path from "node:path";
import { BaseCommand, chainFlags } from "../base";
import { lockCheckFor, offlineFlagExcluding, offlineWithIdError } from "../lock-check";
import { load } from "../lazy";
import { profileFlags } from "../profile";

export default class Install extends BaseCommand<typeof Install> {
  static override summary = "Build (or substitute) a package and install it into your profile: a new generation linking its bin/ and share/.";
  static override description =
    "Like nix-env -i: the package is built as `pkg build` builds it (./pkg.toml with ./pkg.lock, or a published package " +
    "fetched and locked now), then its output is linked into a new generation of the profile (in $PKG_PROFILE_DIR, default " +
    "<data dir>/profiles), which becomes current in one atomic switch; the previous generation stays for " +
    "`pkg profile rollback`. Installing a package again replaces its old version. Two packages providing the same file " +
    "conflict unless their --priority differs (lower wins, default 5). --path installs an output already in the store. " +
    "pkg.lock is checked against the registry at its block first (--offline trusts it, and says so).";
  static override examples = [
    "<%= config.bin %> install",
    "<%= config.bin %> install crates/hello:1.0.0",
    "<%= config.bin %> install -C ./hello --priority 4",
    "<%= config.bin %> install --path ~/.local/share/chainpkg/store/paths/<hash>-hello-1.0.0 --json",
  ];
  static override args = {
    id: Args.string({ description: "repo/name[:version] of a published package (default: the package in --dir); with --path, names that output." }),
  };
  static override flags = {
    ...chainFlags,
    ...profileFlags,
    dir: Flags.directory({ char: "C", summary: "Package directory to build and install (holding pkg.toml and pkg.lock).", default: ".", exclusive: ["path"] }),
    path: Flags.string({ summary: "Install this output, already in the store, without building." }),
    priority: Flags.integer({ summary: "Conflict priority: lower wins when two packages provide the same file (default 5)." }),
    "print-build-logs": Flags.boolean({ char: "L", summary: "Print the builds' logs (default: only on failure).", default: false }),
    offline: offlineFlagExcluding(["path"]),
  };

  async run() {
    const { args, flags } = await this.parse(Install);
    if (args.id !== undefined && flags.offline) throw offlineWithIdError("install");
    const options = load.profile().defaultProfileOptions(process.env, flags.profile);
    const built = flags.path === undefined ? await this.build(args.id, flags.dir, flags["print-build-logs"], options.storeRoot, flags.offline) : null;
    const result = await load.install().installOutput({ options, built, path: flags.path, id: args.id, priority: flags.priority });
    if (!this.jsonEnabled()) {
      const id = result.installed;
      this.log(result.created ? `installed ${id} (generation ${result.generation})` : `${id} is installed already (generation ${result.generation})`);
      const programs = (result.provides[id] ?? []).filter((link) => link.startsWith("bin/"));
      if (programs.length > 0 && !this.flags.quiet) this.log(`  ${programs.join(" ")}`);
      if (result.pathHint !== null) {
        // Once per profiles directory (a marker file remembers); stderr keeps stdout the result.
        process.stderr.write(`To run installed programs, put the profile on your PATH (e.g. in ~/.profile):\n  ${result.pathHint}\n`);
      }
    }
    return result;
  }

  private namingOf(id: string) {
    return load.install().namingOfId(id);
  }

  /** `pkg build`'s core: a published package (fetched, locked now) or the package directory; its `out` output. */
  private async build(id: string | undefined, dir: string, printLogs: boolean, storeRoot: string, offline: boolean) {
    const client = await load.storeClient().connectStore({ root: storeRoot });
    const onLog = printLogs && !this.jsonEnabled() ? (_drv: string, text: string) => process.stderr.write(`${text}\n`) : undefined;
    // "building" only for what is really built (as pkg build says it), nothing when the output is there already
    const onProgress = (drv: string, name: string, phase: string) => (phase === "build" ? this.step(`building ${name} (${drv})`) : undefined);
    try {
      if (id !== undefined) {
        const result = await load.buildPublished().buildPublished({ client, id, session: await this.session(), onLog, onProgress });
        return { path: result.outputs.out, drv: result.drv, naming: this.namingOf(result.id) };
      }
      const { readManifest, MANIFEST_FILE_NAME } = load.manifest();
      const manifest = await readManifest(path.resolve(dir, MANIFEST_FILE_NAME));
      // The local case needs the content store only: no chain session, no chain node (as `pkg build`).
      const { resolveConfig } = load.config();
      const content = await load.session().openContent(await resolveConfig({ network: this.flags.network, config: this.flags.config }));
      try {
        const lockCheck = lockCheckFor(offline, () => this.session({ content: false }), (m) => this.warning(m));
        const result = await load.buildDirectory().buildDirectory({ client, dir, content, onLog, onProgress, lockCheck });
        return { path: result.outputs.out, drv: result.drv, naming: { name: manifest.name, repository: manifest.repository, version: manifest.version } };
      } finally {
        await content.close();
      }
    } finally {
      client.close();
    }
  }
}
