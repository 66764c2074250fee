import { Args, Flags } from "@oclif/core";
import { BaseCommand, chainFlags } from "../base";
import { load } from "../lazy";

export default class Build extends BaseCommand<typeof Build> {
  static override summary = "Build every package a repository version pins.";
  static override description =
    "Instantiates the repository (as `repo instantiate`), then realises every package through the store daemon: inputs " +
    "before the packages that use them, independent ones in parallel (as many builds as cores), each derivation once. A " +
    "failure is reported and the others go on; the command exits 9 at the end if any package failed.";
  static override examples = ["<%= config.bin %> build crates:1.0.0", "<%= config.bin %> build crates --json"];
  static override args = { id: Args.string({ description: "NAME[:VERSION].", required: true }) };
  static override flags = {
    ...chainFlags,
    block: Flags.integer({ summary: "Rolling repositories: lock their packages as of this block (default: the latest).", min: 0 }),
    system: Flags.string({ summary: "System to build for (default: this machine's).", env: "PKG_SYSTEM" }),
    "print-build-logs": Flags.boolean({ char: "L", summary: "Print the builds' logs.", default: false }),
  };

  async run() {
    const { args, flags } = await this.parse(Build);
    const spec = load.ids().parseRepositorySpec(args.id);
    const { packageVersionId } = load.ids();
    const session = await this.session();
    const chosen = await load.repository().chooseRepositoryLock({ ...session, name: spec.name, version: spec.version, block: flags.block, command: "build" });
    for (const warning of chosen.warnings) this.warning(warning);
    const id = chosen.version === null ? `${spec.name} (rolling, block ${chosen.lock.block})` : `${spec.name}:${chosen.version}`;
    this.step(`building ${Object.keys(chosen.lock.packages).length} packages of ${id}`);
    const core = load.buildRepository();
    const client = await load.storeClient().connectStore();
    try {
      const result = await core.buildRepository({
        lock: chosen.lock,
        content: session.content,
        client,
        system: flags.system,
        // the session's registry client and chain, for inputs of other repositories
        resolve: session,
        onLog: flags["print-build-logs"] && !this.jsonEnabled() ? (drv, text) => process.stderr.write(`${drv.slice(-8)}> ${text}\n`) : undefined,
        onResult: (r) => {
          if (this.jsonEnabled()) return;
          const id = packageVersionId({ repository: spec.name, name: r.name, version: r.version });
          if (r.ok) this.log(`${id} ${r.outputs.out}`);
          else process.stderr.write(`failed: ${id}: ${r.error.toLine()}\n`);
        },
      });
      const outcome = {
        repository: spec.name,
        version: chosen.version,
        results: result.results.map((r) => (r.ok ? r : { ...r, error: r.error.toJSON() })),
      };
      if (result.failures.length > 0) {
        const error = core.incompleteError(result, id);
        Object.assign(error.details, outcome);
        throw error;
      }
      return outcome;
    } finally {
      client.close();
    }
  }
}
