import { Flags } from "@oclif/core";
import { BaseCommand } from "../base";
import { load } from "../lazy";

export default class Node extends BaseCommand<typeof Node> {
  static override summary = "Run the local chain: a Hardhat node on 127.0.0.1 with the registry deployed, kept across restarts.";
  static override description =
    "Every state-changing call is journaled (fsync'd before it is answered) in the data directory and replayed when the " +
    "node starts again, with the same block numbers, timestamps and hashes. Other commands find the registry by themselves. " +
    "Stop it with Ctrl-C.";
  static override examples = ["<%= config.bin %> node", "<%= config.bin %> node --port 8546"];
  static override flags = { port: Flags.integer({ char: "p", summary: "Port on 127.0.0.1.", default: 8545, env: "PKG_NODE_PORT" }) };

  async run() {
    const { flags } = await this.parse(Node);
    const { resolveConfig } = load.config();
    const config = await resolveConfig({ config: this.flags.config });
    const node = await load.node().startLocalNode({ dataDir: config.dataDir, port: flags.port, log: (line) => this.step(line) });
    const summary = { url: node.url, chainId: String(node.chainId), registry: node.registry, deployBlock: node.deployBlock, replayed: node.replayed };
    if (this.jsonEnabled()) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else this.log(`chain ${node.chainId} at ${node.url}, registry ${node.registry} (replayed ${node.replayed} journal entries); Ctrl-C stops it`);
    const stop = () => void node.stop();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    const failure = await node.closed;
    if (failure) throw failure;
    // under --json the line printed when the node came up is the output: returning the summary would make
    // oclif print it again, pretty-printed, when the node stops (stdout would not be JSON lines)
    return this.jsonEnabled() ? undefined : summary;
  }
}
