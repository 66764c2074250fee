import { Args, Flags } from "@oclif/core";
import { BaseCommand, chainFlags } from "../base";
import { load } from "../lazy";

export default class Instantiate extends BaseCommand<typeof Instantiate> {
  static override summary = "Turn every package a repository version pins into a derivation.";
  static override description =
    "Reads the repository version's repo.lock (without a version: the newest not yanked; a repository with no versions is " +
    "locked now, or at --block) and makes one derivation per package, its inputs taken from the same lock. A package with " +
    "inputs from other repositories is locked as `pkg lock --block` would at the repo.lock's block, keeping this repository's " +
    "pins. An input of this repository that it does not pin is an error for that package, named; the other packages are still " +
    "instantiated, and the command fails at the end if any package did. Derivations are stored in the content store; those " +
    "no other one depends on are pinned. With --json, every derivation is printed, CIDs as {\"/\": cid}.";
  static override examples = ["<%= config.bin %> instantiate crates:1.0.0", "<%= config.bin %> instantiate crates --json", "<%= config.bin %> instantiate crates --block 120"];
  static override args = { id: Args.string({ description: "NAME[:VERSION].", required: true }) };
  static override flags = {
    ...chainFlags,
    block: Flags.integer({ summary: "Rolling repositories: lock their packages as of this block (default: the latest).", min: 0 }),
    system: Flags.string({ summary: "System to instantiate for (default: this machine's, e.g. x86_64-linux).", env: "PKG_SYSTEM" }),
    pin: Flags.boolean({ summary: "Pin the top derivations and their closures (--no-pin: only store the derivations).", default: true, allowNo: true }),
  };

  async run() {
    const { args, flags } = await this.parse(Instantiate);
    const { parseRepositorySpec, packageVersionId } = load.ids();
    const spec = parseRepositorySpec(args.id);
    const session = await this.session();
    const { client, content } = session;
    const { ERR_INSTANTIATE_INCOMPLETE } = load.instantiate();
    const { instantiateRepository } = load.instantiateRepository();
    const chosen = await load.repository().chooseRepositoryLock({ client, content, name: spec.name, version: spec.version, block: flags.block, command: "instantiate" });
    for (const warning of chosen.warnings) this.warning(warning);
    const id = chosen.version === null ? `${spec.name} (rolling, block ${chosen.lock.block})` : `${spec.name}:${chosen.version}`;
    const count = Object.keys(chosen.lock.packages).length;
    this.step(`instantiating ${count} package${count === 1 ? "" : "s"} of ${id}`);
    // resolve: the session's registry client and chain, for inputs of other repositories
    const result = await instantiateRepository({ lock: chosen.lock, content, system: flags.system, pin: flags.pin, resolve: session });
    const derivations = Object.fromEntries([...result.derivations].map(([name, d]) => [name, { cid: d.cid.toString(), derivation: d.derivation }]));
    const failures = result.failures.map((f) => ({ name: f.name, version: f.version, error: f.error.toJSON() }));
    if (!this.jsonEnabled()) {
      for (const [name, d] of result.derivations) this.log(`${packageVersionId({ repository: spec.name, name, version: d.derivation.package?.version ?? "?" })} ${d.cid.toString()}`);
    }
    const outcome = { repository: spec.name, version: chosen.version, meta: chosen.meta, block: chosen.lock.block, derivations, failures };
    if (result.failures.length > 0) {
      if (!this.jsonEnabled()) for (const f of result.failures) process.stderr.write(`failed: ${packageVersionId({ repository: spec.name, ...f })}: ${f.error.toLine()}\n`);
      const { PkgError } = load.errors();
      throw new PkgError(ERR_INSTANTIATE_INCOMPLETE, `${result.failures.length} of ${count} packages of ${id} could not be instantiated`, {
        details: outcome,
        hint: "each failure above names its cause; packages that depend on a failed one fail too",
      });
    }
    return outcome;
  }
}
