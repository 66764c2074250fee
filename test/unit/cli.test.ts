/**
 * The command line's shape, checked on the command classes and the sources: every command offers the chain
 * flags (--network, --rpc-url, --registry) only if it talks to the chain, and the signer flags (--keystore,
 * --account) only if it sends transactions; the CLI itself never imports ethers nor reaches into the session's
 * registry client (operations in src/ do); and in src/ only the chain client imports ethers and typechain.
 */
import { expect } from "chai";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { chainFlags, signerFlags } from "../../cli/base";

const ROOT = path.resolve(__dirname, "../..");

/** What each command needs of the chain: nothing, reading the registry, or signing transactions. */
type Needs = "none" | "read" | "sign";

const COMMANDS: Record<string, Needs> = {
  "pkg/build": "read",
  "pkg/fetch": "read",
  "pkg/install": "read",
  "pkg/instantiate": "read",
  "pkg/key/create": "none",
  "pkg/lock": "read",
  "pkg/gateway": "sign",
  "pkg/mirror/crates": "sign",
  "pkg/mirror/diff": "none",
  "pkg/mirror/nixpkgs": "sign",
  "pkg/mirror/npm": "sign",
  "pkg/node": "none",
  "pkg/owner/accept": "sign",
  "pkg/owner/add": "sign",
  "pkg/owner/remove": "sign",
  "pkg/owner/transfer": "sign",
  "pkg/profile/history": "none",
  "pkg/profile/list": "none",
  "pkg/profile/rollback": "none",
  "pkg/profile/switch": "none",
  "pkg/profile/wipe-history": "none",
  "pkg/publish": "sign",
  "pkg/store/daemon": "none",
  "pkg/store/gc": "none",
  "pkg/store/status": "none",
  "pkg/store/substitute": "none",
  "pkg/store/verify": "none",
  "pkg/store/serve": "none",
  "pkg/store/export": "none",
  "pkg/store/import": "none",
  "pkg/uninstall": "none",
  "pkg/update": "read",
  "pkg/yank": "sign",
  "repo/accept": "sign",
  "repo/build": "read",
  "repo/create": "sign",
  "repo/curated": "sign",
  "repo/fetch": "read",
  "repo/instantiate": "read",
  "repo/lock": "read",
  "repo/maintainer/add": "sign",
  "repo/maintainer/remove": "sign",
  "repo/publish": "sign",
  "repo/transfer": "sign",
  "repo/yank": "sign",
};

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts"))
    .map((f) => path.join(dir, f).split(path.sep).join("/"));
}

/** The flag names a command class offers (its own and its base's). */
function flagsOf(id: string): string[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const command = (require(path.join(ROOT, "cli", id)) as { default: { flags?: object; baseFlags?: object } }).default;
  return [...Object.keys(command.baseFlags ?? {}), ...Object.keys(command.flags ?? {})];
}

describe("the CLI's commands", () => {
  it("the table below names every command (a new command says here what it needs of the chain)", () => {
    const commands = [...sourceFiles("cli/pkg"), ...sourceFiles("cli/repo")].map((f) => f.slice("cli/".length, -".ts".length)).sort();
    expect(commands).to.deep.equal(Object.keys(COMMANDS).sort());
  });

  for (const [id, needs] of Object.entries(COMMANDS)) {
    const wanted = needs === "none" ? "no chain or signer flags" : needs === "read" ? "the chain flags, no signer flags" : "the chain and signer flags";
    it(`${id.replace("/", " ").replace(/\//g, " ")} offers ${wanted}`, () => {
      const flags = flagsOf(id);
      const has = (group: object) => Object.keys(group).filter((name) => flags.includes(name));
      expect(has(chainFlags), "chain flags").to.deep.equal(needs === "none" ? [] : Object.keys(chainFlags));
      expect(has(signerFlags), "signer flags").to.deep.equal(needs === "sign" ? Object.keys(signerFlags) : []);
      expect(flags, "every command").to.include.members(["config", "quiet"]);
    });
  }
});

describe("ethers stays in src/chain/", () => {
  const importsEthers = /(?:from\s+|require\(\s*|import\(\s*)["'](?:ethers(?:\/[^"']*)?|(?:\.\.\/)+typechain-types[^"']*)["']/;

  it("nothing in cli/ imports ethers or typechain, or reaches into the session's registry client", () => {
    const wrong = sourceFiles("cli").flatMap((file) => {
      const text = readFileSync(path.join(ROOT, file), "utf8");
      return [...(importsEthers.test(text) ? [`${file}: imports ethers`] : []), ...(/session\.client\b/.test(text) ? [`${file}: session.client`] : [])];
    });
    expect(wrong).to.deep.equal([]);
  });

  it("in src/ only chain/ imports ethers or typechain", () => {
    const wrong = sourceFiles("src").filter((file) => !file.startsWith("src/chain/") && importsEthers.test(readFileSync(path.join(ROOT, file), "utf8")));
    expect(wrong).to.deep.equal([]);
  });

  it("the check sees an import of ethers where there is one", () => {
    expect(importsEthers.test(readFileSync(path.join(ROOT, "src/chain/registry.ts"), "utf8"))).to.equal(true);
    expect(importsEthers.test(readFileSync(path.join(ROOT, "src/chain/deploy.ts"), "utf8"))).to.equal(true);
  });
});
