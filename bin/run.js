// Two binaries, one package: each gets its own oclif command tree (and its own name in help and usage)
// by overriding the `oclif` section of package.json when the config loads.
const path = require("node:path");

const TOPICS = {
  pkg: {
    owner: { description: "Manage who may publish and yank a package: maintainers and ownership." },
    key: { description: "Signing keys for real networks (encrypted JSON keystores)." },
    profile: { description: "Profiles: generations of installed packages (list, history, rollback, switch, wipe-history)." },
    mirror: { description: "Mirror registries into repositories as snapshots (npm, crates, nixpkgs), and compare two snapshots (diff)." },
    store: { description: "The local store and its daemon (daemon, status, gc, verify, substitute) and the content store shared with other machines (serve, export, import)." },
  },
  repo: {
    maintainer: { description: "Manage who may publish and yank a repository's versions (and register packages in a curated one)." },
  },
};

async function run(bin, argv) {
  const oclif = require("@oclif/core");
  const root = path.resolve(__dirname, "..");
  const pjson = require("../package.json");
  const config = await oclif.Config.load({
    root,
    pjson: { ...pjson, oclif: { ...pjson.oclif, bin, commands: `./dist/cli/${bin}`, topics: TOPICS[bin] } },
  });
  try {
    await oclif.run(argv, config);
    await oclif.flush();
  } catch (error) {
    await oclif.handle(error);
  }
}

module.exports = { run };
