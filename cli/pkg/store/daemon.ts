import { Flags } from "@oclif/core";
import { BaseCommand } from "../../base";
import { load } from "../../lazy";

export default class StoreDaemon extends BaseCommand<typeof StoreDaemon> {
  static override summary = "Run the store daemon: builds and the local store, served on a unix socket.";
  static override description =
    "One daemon serves one store ($PKG_STORE_DIR, default <data dir>/store); a second one for the same store exits with " +
    "ERR_STORE_LOCKED. On start it recovers the store (removes what an interrupted build or gc left). Other commands start " +
    "it on demand, detached, logging to <store>/daemon.log, with --idle-timeout 1800 ($PKG_STORE_IDLE_TIMEOUT); run it " +
    "yourself to watch it. Ctrl-C (or `pkg store status --shutdown`) stops it; before it stops it settles what meta " +
    "packages stored (for at most 20 s).";
  static override examples = [
    "<%= config.bin %> store daemon",
    "PKG_STORE_DIR=/tmp/store <%= config.bin %> store daemon",
    "<%= config.bin %> store daemon --idle-timeout 600",
  ];
  static override flags = {
    "idle-timeout": Flags.integer({
      summary: "Stop after this many seconds with no client, no build and nothing to settle (0: never).",
      default: 0,
      min: 0,
    }),
  };

  async run() {
    const { flags } = await this.parse(StoreDaemon);
    const daemon = await load.storeDaemon().runDaemon({
      log: (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`),
      idleTimeoutMs: flags["idle-timeout"] * 1000,
    });
    const stop = () => void daemon.close();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    const summary = { pid: process.pid, store: daemon.store.root, socket: daemon.socket };
    if (this.jsonEnabled()) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else this.step(`store daemon ${process.pid}: ${daemon.store.root} on ${daemon.socket}`);
    await daemon.closed;
    return summary;
  }
}
