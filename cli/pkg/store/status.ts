import { Flags } from "@oclif/core";
import { BaseCommand } from "../../base";
import { load } from "../../lazy";

export default class StoreStatus extends BaseCommand<typeof StoreStatus> {
  static override summary = "Show the store daemon: pid, store, socket, what it is building.";
  static override examples = ["<%= config.bin %> store status", "<%= config.bin %> store status --start --json", "<%= config.bin %> store status --shutdown"];
  static override flags = {
    start: Flags.boolean({ summary: "Start the daemon when none runs.", default: false }),
    shutdown: Flags.boolean({ summary: "Ask the running daemon to stop.", default: false, exclusive: ["start"] }),
  };

  async run() {
    const { flags } = await this.parse(StoreStatus);
    const { connectStore } = load.storeClient();
    const { isPkgError } = load.errors();
    let client;
    try {
      client = await connectStore({ start: flags.start });
    } catch (error) {
      if (!isPkgError(error, "ERR_STORE_DAEMON_UNREACHABLE") || flags.start) throw error;
      if (!this.jsonEnabled()) this.log("no store daemon is running");
      return { running: false };
    }
    try {
      const status = await client.request<{ pid: number; store: string; socket: string; building: string[]; version: number }>("status");
      if (flags.shutdown) await client.request("shutdown");
      if (!this.jsonEnabled()) {
        this.log(`store daemon ${status.pid}${flags.shutdown ? " (stopping)" : ""}: ${status.store} on ${status.socket}`);
        this.log(status.building.length === 0 ? "building nothing" : `building: ${status.building.join(", ")}`);
      }
      return { running: !flags.shutdown, ...status };
    } finally {
      client.close();
    }
  }
}
