import { Args, Flags } from "@oclif/core";
import path from "node:path";
import { BaseCommand } from "../base";
import { load } from "../lazy";
import type { ProfileEntryInput } from "../../src/profile";

export default class Install extends BaseCommand<typeof Install> {
  static override summary = "Install a package into your profile: a new generation whose bin/ and share/ link into the store.";
  static override description =
    "Like nix-env -i: the package's output is linked into a new generation of the profile (in $PKG_PROFILE_DIR, default " +
    "<data dir>/profiles), which then becomes current in one atomic switch; the previous generation stays for " +
    "`pkg profile rollback`. Installing a package again replaces its old version. Two packages providing the same file " +
    "conflict unless their --priority differs (lower wins, default 5). --path installs an output already in the store.";
  static override examples = [
    "<%= config.bin %> install --path ~/.local/share/chainpkg/store/paths/<hash>-hello-1.0.0",
    "<%= config.bin %> install crates/hello:1.0.0 --path <store path> --priority 4",
    "<%= config.bin %> install --path <store path> --json",
  ];
  static override args = {
    id: Args.string({ description: "Package id ({repo}/{pkg}:{version}); names what --path is." }),
  };
  static override flags = {
    path: Flags.string({ summary: "Store path of an output to install (a registered path of the store)." }),
    priority: Flags.integer({ summary: "Conflict priority: lower wins when two packages provide the same file (default 5)." }),
  };

  async run() {
    const { args, flags } = await this.parse(Install);
    const profile = load.profile();
    const { PkgError } = load.errors();
    const options = profile.defaultProfileOptions();
    if (flags.path === undefined) {
      // The build (src/build/package.ts) is not part of this tree yet; an output made another way can be installed.
      throw new PkgError("ERR_PROFILE_BUILD_UNAVAILABLE", `cannot build ${args.id ?? "./pkg.toml"}: building is not part of this pkg yet`, {
        hint: "build the package, then install its output: pkg install --path <store path>",
      });
    }
    const info = profile.describeStorePath(options.storeRoot, path.resolve(flags.path));
    let naming = { ...profile.parseStorePathName(info.path), repository: null as string | null };
    if (args.id !== undefined) {
      const spec = load.ids().parsePackageSpec(args.id);
      naming = { name: spec.name, repository: spec.repository.name, version: spec.version ?? naming.version };
    }
    const entry: ProfileEntryInput = {
      ...naming,
      id: naming.repository === null ? `${naming.name}:${naming.version}` : `${naming.repository}/${naming.name}:${naming.version}`,
      drv: info.drv,
      path: info.path,
      cid: info.cid,
      priority: flags.priority,
    };
    const result = await profile.installPackages(options, [entry]);
    const pathHint = await profile.takePathHint(options);
    if (!this.jsonEnabled()) {
      this.log(`installed ${entry.id} (generation ${result.generation})`);
      const mine = result.links.filter((link) => link.startsWith("bin/"));
      if (mine.length > 0 && !this.flags.quiet) this.log(`  ${mine.join(" ")}`);
      if (pathHint !== null) {
        // Once per profiles directory (a marker file remembers); stderr keeps stdout the result.
        process.stderr.write(`To run installed programs, put the profile on your PATH (e.g. in ~/.profile):\n  ${pathHint}\n`);
      }
    }
    return { profile: profile.profileLink(options), installed: entry.id, ...result, pathHint };
  }
}
