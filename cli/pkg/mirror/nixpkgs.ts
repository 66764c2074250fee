import { Args } from "@oclif/core";
import { chainFlags, signerFlags } from "../../base";
import { load } from "../../lazy";
import { MirrorBaseCommand, mirrorFlags } from "../../mirror";

export default class MirrorNixpkgs extends MirrorBaseCommand<typeof MirrorNixpkgs> {
  static override summary = "Mirror a nixpkgs channel's package list (packages.json or packages.json.br) into a repository, one snapshot on chain.";
  static override description =
    "Reads the channel format {\"version\":2,\"packages\":{ATTR:{name, pname, version, system, outputName, outputs, meta}}}: " +
    "each attribute becomes a package (uppercase letters and underscores escaped), its Nix version an exact semver version, " +
    "meta.license its license; the attribute's record (meta, outputs and their store paths) is kept. A second run imports " +
    "only what changed; a run killed at any point resumes where it stopped.";
  static override examples = ["<%= config.bin %> mirror nixpkgs packages.json.br", "<%= config.bin %> mirror nixpkgs packages.json hello gcc"];
  static override strict = false;
  static override args = {
    file: Args.string({ description: "The channel's packages.json, or packages.json.br (brotli).", required: true }),
    attr: Args.string({ description: "Attribute to mirror (repeatable); none: every one." }),
  };
  static override flags = { ...chainFlags, ...signerFlags, ...mirrorFlags };

  async run() {
    const { args, argv, flags } = await this.parse(MirrorNixpkgs);
    const nixpkgs = load.mirrorNixpkgs();
    return this.mirror({
      repository: flags.repository ?? "nixpkgs",
      names: (argv as string[]).slice(1),
      deps: false,
      dryRun: flags["dry-run"],
      concurrency: flags.concurrency,
      source: (repository) => nixpkgs.createNixpkgsSource({ file: args.file, repository }),
    });
  }
}
