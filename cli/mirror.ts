/** What the three `pkg mirror` importers share on the command line: flags, the run, its progress and its report. */
import path from "node:path";
import { Flags, type Command } from "@oclif/core";
import { BaseCommand } from "./base";
import { load } from "./lazy";
import type { MirrorResult } from "../src/mirror/import";
import type { MirrorSource } from "../src/mirror/source";

export const mirrorFlags = {
  repository: Flags.string({ summary: "The repository the snapshot is published in (created when missing)." }),
  "dry-run": Flags.boolean({ summary: "Print what would change; download, store and send nothing." }),
  concurrency: Flags.integer({ summary: "Packages imported at once.", default: 8, min: 1, max: 64 }),
};

/** A `pkg mirror` importer command: the run, its progress bar and its report are the same for the three. */
export abstract class MirrorBaseCommand<T extends typeof Command> extends BaseCommand<T> {
  protected async mirror(params: {
    repository: string;
    names: string[];
    deps: boolean;
    dryRun: boolean;
    concurrency: number;
    source: (repository: string) => MirrorSource;
  }): Promise<MirrorResult> {
    const { client, content, config } = await this.session({ signer: !params.dryRun });
    const source = params.source(params.repository);
    const bar = await this.progress(`mirror ${source.kind} → ${params.repository}`);
    const result = await load.mirror().runMirror({
      source,
      repository: params.repository,
      names: params.names,
      deps: params.deps,
      dryRun: params.dryRun,
      client,
      content,
      stateDir: path.join(config.dataDir, "mirror"),
      concurrency: params.concurrency,
      log: (line) => this.warning(line),
      step: (line) => this.step(line),
      onProgress: (p) => {
        const minutes = p.elapsedMs / 60_000;
        const rate = minutes > 0 ? Math.round(p.versions / minutes) : 0;
        bar.update(p.packages, p.total, `packages, ${p.versions} versions stored (${rate}/min)`);
      },
    });
    bar.stop();
    if (!this.jsonEnabled()) report((line) => this.log(line), result);
    return result;
  }
}

function report(log: (line: string) => void, result: MirrorResult): void {
  const changes = result.changes;
  if (result.dryRun) {
    log(`dry run: ${changes.length} version change(s) in ${result.packages.changed} package(s) of ${result.packages.visited} visited; nothing stored or sent`);
    for (const c of changes) log(`  ${c.change} ${result.repository}:${c.package}@${c.version}`);
    return;
  }
  if (result.version === null) {
    log(`${result.repository} is up to date (${result.packages.visited} package(s) checked, snapshot ${result.root || "none"})`);
    return;
  }
  log(`published ${result.repository}:${result.version}: ${result.packages.changed} package(s) changed, ${result.versions.stored} version(s) stored, ${result.versions.total} in the snapshot${result.resumed ? " (resumed)" : ""}`);
  log(`  root ${result.root}`);
  if (result.previous) log(`  previous ${result.previous}`);
  if (result.tx) log(`  tx   ${result.tx.hash} (block ${result.tx.block})`);
}
