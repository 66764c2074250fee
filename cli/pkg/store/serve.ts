import { Flags } from "@oclif/core";
import { BaseCommand } from "../../base";
import { load } from "../../lazy";

export default class StoreServe extends BaseCommand<typeof StoreServe> {
  static override summary = "Serve the content store read-only over HTTP as a trustless gateway, for other machines' `gateways`.";
  static override description =
    "Answers GET and HEAD /ipfs/{cid}?format=raw (one block) and ?format=car (a DAG), 404 for what this store does not hold; " +
    "never fetches anything itself. Another machine lists the URL in its config's [content] gateways (or PKG_GATEWAYS) and " +
    "verifies every block it gets by its CID. Prints the URL on stdout and runs until interrupted (SIGINT, SIGTERM).";
  static override examples = ["<%= config.bin %> store serve", "<%= config.bin %> store serve --listen 0.0.0.0:8080", "<%= config.bin %> store serve --listen 127.0.0.1:0"];
  static override flags = {
    listen: Flags.string({ summary: "HOST:PORT to listen on (port 0: any free port).", default: "127.0.0.1:8080" }),
  };

  async run() {
    const { flags } = await this.parse(StoreServe);
    const { parseListen, serveContent } = load.shareServe();
    const listen = parseListen(flags.listen);
    const content = await load.session().openContent(await load.config().resolveConfig({ config: flags.config }));
    try {
      const gateway = await serveContent(content, listen);
      this.step(`serving the content store at ${gateway.url} (trustless gateway, read-only; Ctrl-C stops)`);
      this.log(gateway.url);
      await this.untilStopped();
      await gateway.close();
      return { url: gateway.url };
    } finally {
      await content.close();
    }
  }
}
