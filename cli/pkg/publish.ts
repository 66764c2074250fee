import { Args, Flags } from "@oclif/core";
import { BaseCommand, chainFlags, signerFlags } from "../base";
import { load } from "../lazy";

export default class Publish extends BaseCommand<typeof Publish> {
  static override summary = "Publish the package in a directory: sources and pkg.toml to the content store, the version on chain.";
  static override description =
    "Validates pkg.toml and its src files, refuses a version that exists before sending anything, registers the package " +
    "on its first version, then publishes. Prints the meta and src CIDs and the transaction hash.";
  static override examples = [
    "<%= config.bin %> publish",
    "<%= config.bin %> publish ./hello --dry-run",
    "<%= config.bin %> publish --from npm ./my-npm-package",
    "<%= config.bin %> publish --from cargo ./my-crate",
  ];
  static override args = { dir: Args.directory({ description: "Package directory (default: the current one).", default: "." }) };
  static override flags = {
    ...chainFlags,
    ...signerFlags,
    "dry-run": Flags.boolean({ summary: "Check and add the content, send no transaction.", exclusive: ["from"] }),
    from: Flags.string({
      summary: "Publish an npm package (package.json) or a crate (Cargo.toml) as `npm publish` / `cargo publish` through `pkg gateway` would: packed by npm or cargo, its pkg.toml generated.",
      options: ["npm", "cargo"],
    }),
    repository: Flags.string({ summary: "With --from: the repository (default npm, or crates).", dependsOn: ["from"] }),
  };

  async run() {
    const { args, flags } = await this.parse(Publish);
    const { client, content, config } = await this.session({ signer: !flags["dry-run"] });
    if (flags.from !== undefined) {
      const from = flags.from as "npm" | "cargo";
      const repository = flags.repository ?? (from === "npm" ? "npm" : "crates");
      const published = await load.publishFrom().publishFrom({ from, dir: args.dir, repository, client, content });
      if (!this.jsonEnabled()) this.log(`published ${published.name}@${published.version} from ${from} into ${repository}`);
      return published;
    }
    const push = config.content.push.map((url) => ({ url, store: load.content().openKuboStore({ url }) }));
    const { publishPackage } = load.publish();
    const result = await publishPackage({
      dir: args.dir,
      client,
      content,
      push,
      dryRun: flags["dry-run"],
      onStep: (line) => this.step(line),
    });
    if (!this.jsonEnabled()) {
      const id = `${result.repository}/${result.name}:${result.version}`;
      this.log(flags["dry-run"] ? `checked ${id} (dry run: nothing sent)` : `published ${id}${result.registered ? " (new package)" : ""}`);
      this.log(`  meta ${result.meta}`);
      this.log(`  src  ${result.src} (${result.files} files)`);
      if (result.tx) this.log(`  tx   ${result.tx.hash} (block ${result.tx.block})`);
    }
    return result;
  }
}
