import path from "node:path";
import { Args, Flags } from "@oclif/core";
import { BaseCommand, chainFlags, signerFlags } from "../base";
import { load } from "../lazy";

export default class Publish extends BaseCommand<typeof Publish> {
  static override summary = "Publish a repository version: its repo lock (every package version and CID it pins) to the content store, the version on chain.";
  static override description =
    "Without --lock, every package of the repository is locked at the current block at its newest version that is not " +
    "yanked (as `lock NAME` prints). With --lock, that file is published after checking it names this repository and " +
    "chain and only published package versions with their exact CIDs. An existing version is refused before anything is sent.";
  static override examples = [
    "<%= config.bin %> publish crates 1.0.0",
    "<%= config.bin %> publish crates 1.1.0 --lock ./repo.lock",
    "<%= config.bin %> publish crates:1.2.0 --dry-run",
  ];
  static override args = {
    name: Args.string({ description: "Repository name (or NAME:VERSION).", required: true }),
    version: Args.string({ description: "The new version, e.g. 1.0.0." }),
  };
  static override flags = {
    ...chainFlags, ...signerFlags,
    lock: Flags.file({ char: "l", summary: "Publish this repo.lock instead of locking at the current block.", exists: true }),
    "dry-run": Flags.boolean({ summary: "Check and add the lock to the content store, send no transaction." }),
  };

  async run() {
    const { args, flags } = await this.parse(Publish);
    const { PkgError } = load.errors();
    const spec = load.ids().parseRepositorySpec(args.name);
    if (spec.version !== null && args.version !== undefined) {
      throw new PkgError("ERR_ID_SYNTAX", `the version is given twice (${args.name} and ${args.version})`, { hint: `write ${spec.name} ${args.version}` });
    }
    const version = args.version ?? spec.version;
    if (version === null) {
      throw new PkgError("ERR_ID_SYNTAX", `no version to publish ${spec.name} as`, { hint: `write ${spec.name} VERSION, e.g. ${spec.name} 1.0.0` });
    }
    const lockFile = flags.lock === undefined ? undefined : path.resolve(flags.lock);
    const lock = lockFile === undefined ? undefined : await load.repolock().readRepositoryLock(lockFile);
    const { client, content } = await this.session({ signer: !flags["dry-run"] });
    const result = await load.repository().publishRepository({
      client,
      content,
      name: spec.name,
      version,
      lock,
      lockFile,
      dryRun: flags["dry-run"],
      onStep: (line) => this.step(line),
    });
    for (const warning of result.warnings) this.warning(warning);
    if (!this.jsonEnabled()) {
      const id = `${result.name}:${result.version}`;
      this.log(flags["dry-run"] ? `checked ${id} (dry run: nothing sent)` : `published ${id}`);
      this.log(`  meta ${result.meta} (${result.packages} packages, locked at block ${result.block})`);
      if (result.tx) this.log(`  tx   ${result.tx.hash} (block ${result.tx.block})`);
    }
    return result;
  }
}
