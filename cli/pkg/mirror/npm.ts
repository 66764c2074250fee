import { Args, Flags } from "@oclif/core";
import { chainFlags, signerFlags } from "../../base";
import { load } from "../../lazy";
import { MirrorBaseCommand, mirrorFlags } from "../../mirror";

export default class MirrorNpm extends MirrorBaseCommand<typeof MirrorNpm> {
  static override summary = "Mirror npm packages into a repository: tarballs verified and unpacked into the content store, one snapshot on chain.";
  static override description =
    "Reads each package's packument from the registry (default: the one npm is configured with, `npm config get registry`), " +
    "checks every tarball against dist.integrity and shasum, stores it byte-identical and its unpacked tree as the version's " +
    "src, and publishes one repository version whose meta CID is the root of the snapshot index. Scoped names become " +
    "scope__name. A second run imports only what changed; a run killed at any point resumes where it stopped.";
  static override examples = [
    "<%= config.bin %> mirror npm left-pad",
    "<%= config.bin %> mirror npm express --deps --registry http://127.0.0.1:4873/",
    "<%= config.bin %> mirror npm @types/node --dry-run",
  ];
  static override strict = false;
  static override args = { name: Args.string({ description: "npm package name (repeatable), e.g. left-pad or @scope/name.", required: true }) };
  static override flags = {
    network: chainFlags.network,
    "rpc-url": chainFlags["rpc-url"],
    // `--registry` is npm's word for the registry URL (as `npm --registry`); the contract's address moves aside
    "chain-registry": Flags.string({ summary: "Registry contract address.", env: "PKG_REGISTRY", helpGroup: "CHAIN" }),
    ...signerFlags,
    ...mirrorFlags,
    registry: Flags.string({ summary: "The npm registry URL (default: `npm config get registry`)." }),
    deps: Flags.boolean({ summary: "Also mirror every dependency, transitively (dependencies, optional and peer ones)." }),
  };

  async run() {
    const { argv, flags } = await this.parse(MirrorNpm);
    const npm = load.mirrorNpm();
    const registry = flags.registry ?? (await npm.defaultNpmRegistry());
    // the session reads the contract's address from `registry`, as on every other command
    this.flags = { ...this.flags, registry: flags["chain-registry"] };
    return this.mirror({
      repository: flags.repository ?? "npm",
      names: argv as string[],
      deps: flags.deps,
      dryRun: flags["dry-run"],
      concurrency: flags.concurrency,
      source: (repository) => npm.createNpmSource({ registry, repository }),
    });
  }
}
