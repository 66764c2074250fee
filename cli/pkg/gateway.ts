import { Flags } from "@oclif/core";
import { BaseCommand, chainFlags, signerFlags } from "../base";
import { load } from "../lazy";

export default class Gateway extends BaseCommand<typeof Gateway> {
  static override summary = "Serve the registry to unmodified npm and cargo: the npm registry API and a cargo sparse index, from the chain and the content store.";
  static override description =
    "npm: GET /NAME (packuments, full or abbreviated), /NAME/-/FILE.tgz (tarballs); point npm at it with --registry URL. " +
    "cargo: sparse+URL/index/ (config.json, index files, .crate downloads), as a [registries] entry or a source replacing " +
    "crates-io. Mirrored packages are served as their upstream registry served them (same integrity, same index lines); " +
    "every byte comes from the content store, verified by CID, under CIDs read from the chain at its head. Read-only " +
    "unless --write: then npm publish (a native version whose pkg.toml names the tarball) and npm deprecate (yank) go " +
    "through it to the chain, signed with your key, for clients that send its token. Prints the URL on stdout and runs " +
    "until interrupted (SIGINT, SIGTERM).";
  static override examples = [
    "<%= config.bin %> gateway",
    "<%= config.bin %> gateway --listen 127.0.0.1:0",
    "npm install --registry http://127.0.0.1:4873/ left-pad",
  ];
  static override flags = {
    ...chainFlags,
    listen: Flags.string({ summary: "HOST:PORT to listen on (port 0: any free port).", default: "127.0.0.1:4873" }),
    "npm-repository": Flags.string({ summary: "The repository npm packages are served from.", default: "npm" }),
    "crates-repository": Flags.string({ summary: "The repository crates are served from.", default: "crates" }),
    ...signerFlags,
    write: Flags.boolean({
      summary: "Also take npm publish and npm deprecate, signed with your key, guarded by a token (PKG_GATEWAY_TOKEN, else one made and kept in <data dir>/gateway/token).",
    }),
  };

  async run() {
    const { flags } = await this.parse(Gateway);
    const listen = load.shareServe().parseListen(flags.listen);
    const { client, content, config } = await this.session({ signer: flags.write });
    const gatewayModule = load.gateway();
    const source = gatewayModule.createPackageSource({ client, content });
    const write = flags.write ? { client, content, token: await gatewayModule.gatewayToken(config.dataDir, process.env.PKG_GATEWAY_TOKEN) } : undefined;
    const gateway = await gatewayModule.startGateway({
      source,
      listen,
      write: write && { client: write.client, content: write.content, token: write.token.value },
      npmRepository: flags["npm-repository"],
      cratesRepository: flags["crates-repository"],
      onError: (error) => this.warning(`a request failed: ${(error as Error).message}`),
      onWarning: (message) => this.warning(message),
    });
    this.step(`serving the registry at ${gateway.url} (npm: --registry ${gateway.url}/; cargo: sparse+${gateway.url}/index/; Ctrl-C stops)`);
    if (write) this.step(`writes (npm publish, npm deprecate) need the token in ${write.token.file ?? "PKG_GATEWAY_TOKEN"}: in .npmrc, //${gateway.url.replace(/^https?:\/\//, "")}/:_authToken=<token>`);
    this.log(gateway.url);
    await this.untilStopped();
    await gateway.close();
    return { url: gateway.url };
  }
}
