import { Args, Flags } from "@oclif/core";
import { chainFlags, signerFlags } from "../../base";
import { load } from "../../lazy";
import { MirrorBaseCommand, mirrorFlags } from "../../mirror";

export default class MirrorCrates extends MirrorBaseCommand<typeof MirrorCrates> {
  static override summary = "Mirror crates from a cargo index (sparse over HTTP, or a directory) into a repository, one snapshot on chain.";
  static override description =
    "INDEX is `sparse+URL` (cargo's sparse protocol; crates.io's is sparse+https://index.crates.io/) or a directory laid out as " +
    "a cargo index (config.json, 1/, 2/, 3/x/, ab/cd/). Each .crate is downloaded through config.json's dl template, checked " +
    "against the index line's cksum, stored byte-identical, and unpacked as the version's src; every index line is kept byte " +
    "for byte and yanked stays yanked. Without names, a directory index is mirrored whole. A second run imports only what " +
    "changed; a run killed at any point resumes where it stopped.";
  static override examples = [
    "<%= config.bin %> mirror crates sparse+https://index.crates.io/ itoa memchr",
    "<%= config.bin %> mirror crates ./index serde --deps",
    "<%= config.bin %> mirror crates ./index",
  ];
  static override strict = false;
  static override args = {
    index: Args.string({ description: "sparse+URL of a cargo index, or a directory holding one.", required: true }),
    name: Args.string({ description: "Crate name (repeatable); none: every crate of a directory index." }),
  };
  static override flags = {
    ...chainFlags,
    ...signerFlags,
    ...mirrorFlags,
    deps: Flags.boolean({ summary: "Also mirror the crates they depend on (normal and build dependencies), transitively." }),
  };

  async run() {
    const { args, argv, flags } = await this.parse(MirrorCrates);
    const crates = load.mirrorCrates();
    return this.mirror({
      repository: flags.repository ?? "crates",
      names: (argv as string[]).slice(1),
      deps: flags.deps,
      dryRun: flags["dry-run"],
      concurrency: flags.concurrency,
      source: (repository) => crates.createCratesSource({ index: args.index, repository }),
    });
  }
}
