import path from "node:path";
import { Args, Flags } from "@oclif/core";
import { BaseCommand, chainFlags } from "../base";
import { load } from "../lazy";

export default class Lock extends BaseCommand<typeof Lock> {
  static override summary = "Print (or write with -o) a repository's lock: a published version's, or every package resolved at one block.";
  static override description =
    "With a version: the repo.lock published with it, verified against its CID. Without: every package of the repository " +
    "at its newest version that is not yanked, as of the latest block or --block (a rolling release); the lock records " +
    "the block, and locking again at it gives the same lock. Packages with nothing usable are left out, with a warning.";
  static override examples = [
    "<%= config.bin %> lock crates",
    "<%= config.bin %> lock crates --block 120 -o repo.lock",
    "<%= config.bin %> lock crates:1.0.0 --json",
  ];
  static override args = { id: Args.string({ description: "NAME[:VERSION].", required: true }) };
  static override flags = {
    ...chainFlags,
    block: Flags.integer({ summary: "Resolve as of this block (default: the latest); not with a version.", min: 0 }),
    output: Flags.file({ char: "o", summary: "Write the lock to this file (atomically) instead of printing it." }),
  };

  async run() {
    const { args, flags } = await this.parse(Lock);
    const spec = load.ids().parseRepositorySpec(args.id);
    const repository = load.repository();
    if (spec.version !== null && flags.block !== undefined) {
      const { PkgError } = load.errors();
      throw new PkgError("ERR_ID_SYNTAX", `--block resolves afresh, but ${args.id} names a published version`, { hint: `leave out --block, or write ${spec.name}` });
    }
    const { client, content } = await this.session({ content: spec.version !== null });
    const published = spec.version === null ? null
      : await repository.readRepositoryVersion({ client, content, name: spec.name, version: spec.version });
    const { lock, warnings } = published
      ? { lock: published.lock, warnings: published.yanked ? [`${spec.name}:${published.version} is yanked`] : [] }
      : await repository.lockRepository({ client, name: spec.name, block: flags.block });
    for (const warning of warnings) this.warning(warning);
    const { serializeRepositoryLock, writeRepositoryLock } = load.repolock();
    const file = flags.output === undefined ? null : path.resolve(flags.output);
    if (file !== null) await writeRepositoryLock(file, lock);
    if (!this.jsonEnabled()) {
      if (file === null) this.log((published?.text ?? serializeRepositoryLock(lock)).trimEnd());
      else this.log(`locked ${Object.keys(lock.packages).length} packages of ${spec.name} at block ${lock.block} → ${file}`);
    }
    return { file, name: spec.name, version: published?.version ?? null, meta: published?.meta ?? null, block: lock.block, warnings, lock };
  }
}
