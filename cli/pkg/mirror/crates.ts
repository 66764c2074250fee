import { existsSync } from "node:fs";
import { Args, Flags } from "@oclif/core";
import { chainFlags, signerFlags } from "../../base";
import { load } from "../../lazy";
import { MirrorBaseCommand, mirrorFlags } from "../../mirror";

export default class MirrorCrates extends MirrorBaseCommand<typeof MirrorCrates> {
  static override summary = "Mirror crates from a cargo index (sparse over HTTP, or a directory) into a repository, one snapshot on chain.";
  static override description =
    "INDEX is `sparse+URL` (cargo's sparse protocol) or a directory laid out as " +
    "a cargo index (config.json, 1/, 2/, 3/x/, ab/cd/). Each .crate is downloaded through config.json's dl template, checked " +
    "against the index line's cksum, stored byte-identical, and unpacked as the version's src; every index line is kept byte " +
    "for byte and yanked stays yanked. Without names, a directory index is mirrored whole. A second run imports only what " +
    "changed; a run killed at any point resumes where it stopped. Without INDEX (the first argument is a crate name), " +
    "the index cargo itself uses, as cargo reports it.";
  static override examples = [
    "<%= config.bin %> mirror crates itoa memchr",
    "<%= config.bin %> mirror crates sparse+http://127.0.0.1:8080/ itoa",
    "<%= config.bin %> mirror crates ./index serde --deps",
    "<%= config.bin %> mirror crates ./index",
  ];
  static override strict = false;
  static override args = {
    index: Args.string({ description: "sparse+URL of a cargo index, or a directory holding one (default: the index cargo itself uses).", required: true }),
    name: Args.string({ description: "Crate name (repeatable); none: every crate of a directory index." }),
  };
  static override flags = {
    ...chainFlags,
    ...signerFlags,
    ...mirrorFlags,
    deps: Flags.boolean({ summary: "Also mirror the crates they depend on (normal and build dependencies), transitively." }),
  };

  async run() {
    const { argv, flags } = await this.parse(MirrorCrates);
    const crates = load.mirrorCrates();
    // the first argument is the index when it is one (sparse+URL, a path); otherwise every argument is a crate
    // name and the index is the one cargo itself uses, asked of cargo
    const words = argv as string[];
    const explicit = /^sparse\+|^[a-z]+:\/\//.test(words[0]) || words[0].includes("/") || words[0] === "." || existsSync(words[0]);
    const index = explicit ? words[0] : await crates.defaultCratesIndex();
    return this.mirror({
      repository: flags.repository ?? "crates",
      names: explicit ? words.slice(1) : words,
      deps: flags.deps,
      dryRun: flags["dry-run"],
      concurrency: flags.concurrency,
      source: (repository) => crates.createCratesSource({ index, repository }),
    });
  }
}
