import path from "node:path";
import { Args, Flags } from "@oclif/core";
import { BaseCommand, chainFlags } from "../base";
import { lockCheckFor, offlineFlag, offlineWithIdError } from "../lock-check";
import { load } from "../lazy";
import type { ContentStore } from "../../src/content";
import type { Session } from "../../src/session";

export default class Fetch extends BaseCommand<typeof Fetch> {
  static override summary = "Download and verify a package's sources and pkg.toml into a directory; with no id, every dependency of ./pkg.lock into the store.";
  static override description =
    "A published tree is checked as it is written: its root must be a directory, its pkg.toml, pkg.lock and pkg.build.toml regular files, " +
    "and nothing is written through a symlink. A pkg.lock is checked against the registry at its block first (--offline trusts it).";
  static override examples = ["<%= config.bin %> fetch crates/hello:1.0.0", "<%= config.bin %> fetch crates/hello -o ./hello", "<%= config.bin %> fetch", "<%= config.bin %> fetch --offline"];
  static override args = { id: Args.string({ description: "repo/name[:version] (default: the newest version not yanked)." }) };
  static override flags = {
    ...chainFlags,
    output: Flags.string({ char: "o", summary: "Directory to create (default: ./NAME-VERSION)." }),
    dir: Flags.directory({ char: "C", summary: "Package directory whose pkg.lock to fetch (no id).", default: "." }),
    offline: offlineFlag,
  };

  async run() {
    const { args, flags } = await this.parse(Fetch);
    if (args.id) {
      if (flags.offline) throw offlineWithIdError("fetch");
      const spec = load.ids().parsePackageSpec(args.id);
      const { client, content } = await this.session();
      const fetched = await load.fetch().fetchPackage({ spec, destination: flags.output ?? null, client, content });
      if (fetched.yanked) this.warning(`${fetched.id} is yanked`);
      if (!this.jsonEnabled()) this.log(`fetched ${fetched.id} → ${fetched.destination}\n  meta ${fetched.meta}\n  src  ${fetched.src}`);
      return fetched;
    }
    const { LOCKFILE_FILE_NAME, readLockfile, checkLockfileChain } = load.lockfile();
    const { fetchLocked, yankedInLock } = load.fetch();
    const file = path.resolve(flags.dir, LOCKFILE_FILE_NAME);
    const lock = await readLockfile(file);
    // online: the chain session (the lock is checked, yanked versions are named); --offline: the content store only
    const session: Session | null = flags.offline ? null : await this.session();
    await lockCheckFor(flags.offline, async () => session!, (m) => this.warning(m)).verify(lock, file);
    if (session !== null) {
      checkLockfileChain(lock, session.chain, file);
      for (const id of await yankedInLock(lock, session)) this.warning(`${id} is yanked; the lock still uses it (\`pkg update\` moves off it)`);
    }
    const content: ContentStore = session?.content ?? (await this.openContent());
    try {
      const bar = await this.progress("fetching");
      const result = await fetchLocked({ lock, content, onProgress: (done, total, key) => bar.update(done, total, key) });
      bar.stop();
      if (!this.jsonEnabled()) this.log(`fetched and pinned ${result.pinned} dependencies of ${file}`);
      return { file, ...result };
    } finally {
      if (session === null) await content.close();
    }
  }

  private async openContent(): Promise<ContentStore> {
    const { resolveConfig } = load.config();
    return load.session().openContent(await resolveConfig({ network: this.flags.network, config: this.flags.config }));
  }
}
