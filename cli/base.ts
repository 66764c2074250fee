/**
 * The one base of every command: global flags, opening the session, human vs --json output, and the single
 * place errors become a line on stderr and an exit code.
 */
import { Command, Flags, type Interfaces } from "@oclif/core";
import type { PkgError } from "../src/errors";
import { exitCodeOf } from "../src/errors/codes";
import type { Session, SessionOptions } from "../src/session";
import { load } from "./lazy";
import { progressBar, type Progress } from "./progress";

/** Code of oclif's parse and usage errors (unknown flag, missing argument, bad flag value) under --json. */
export const ERR_USAGE = "ERR_USAGE";

/** Exit codes by error code: a lookup in the one table, src/errors/codes.ts (stable; documented in the README). */
export { exitCodeOf };

/**
 * Flags of the commands that talk to the chain (read the registry): which network, node and registry. Not on
 * commands that never do (the store, profiles, `pkg node`, `pkg key`): there they would be accepted and ignored.
 */
export const chainFlags = {
  network: Flags.string({ char: "n", summary: "Network name from the config file (default: local).", env: "PKG_NETWORK", helpGroup: "CHAIN" }),
  "rpc-url": Flags.string({ summary: "JSON-RPC URL of the chain node.", env: "PKG_RPC_URL", helpGroup: "CHAIN" }),
  registry: Flags.string({ summary: "Registry contract address.", env: "PKG_REGISTRY", helpGroup: "CHAIN" }),
};

/** Flags of the commands that send transactions: which key signs. Commands that only read never offer them. */
export const signerFlags = {
  keystore: Flags.string({ summary: "Encrypted JSON keystore to sign with (password: PKG_KEYSTORE_PASSWORD or a prompt).", env: "PKG_KEYSTORE", helpGroup: "SIGNER" }),
  account: Flags.integer({ summary: "Local node only: which dev account signs (0-19).", helpGroup: "SIGNER" }),
};

/** The flags a command may have of the chain and signer groups (absent where a command does not offer them). */
type SessionFlags = Partial<Interfaces.InferredFlags<typeof chainFlags & typeof signerFlags>>;

/** A command's parsed flags; those of the chain and signer groups are there (maybe undefined) on every command. */
export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)["baseFlags"] & T["flags"]> & SessionFlags;

export abstract class BaseCommand<T extends typeof Command> extends Command {
  static override enableJsonFlag = true;

  /** Every command's flags; the chain and signer groups above are added by the commands that use them. */
  static override baseFlags = {
    config: Flags.string({ summary: "Config file (default: $XDG_CONFIG_HOME/chainpkg/config.toml).", env: "PKG_CONFIG", helpGroup: "GLOBAL" }),
    quiet: Flags.boolean({ char: "q", summary: "Print only errors and the result.", helpGroup: "GLOBAL" }),
  };

  protected flags!: BaseFlags<T>;
  private openSessions: Session[] = [];
  /** The progress bars this command started: catch() stops those still running before it prints the error. */
  private bars: Progress[] = [];

  public override async init(): Promise<void> {
    await super.init();
    const { flags } = await this.parse({
      flags: this.ctor.flags,
      baseFlags: (this.ctor as typeof BaseCommand).baseFlags,
      enableJsonFlag: this.ctor.enableJsonFlag,
      args: this.ctor.args,
      strict: this.ctor.strict,
    });
    this.flags = flags as BaseFlags<T>;
  }

  /** Opens the registry client and content store from flags, environment and config file. */
  protected async session(options: SessionOptions = {}): Promise<Session> {
    const { resolveConfig } = load.config();
    const { openSession } = load.session();
    const flags = this.flags;
    const config = await resolveConfig({
      network: flags.network,
      rpcUrl: flags["rpc-url"],
      registry: flags.registry,
      keystore: flags.keystore,
      account: flags.account,
      config: flags.config,
    });
    const session = await openSession(config, { prompt: (question) => this.promptHidden(question), ...options });
    this.openSessions.push(session);
    return session;
  }

  /**
   * A progress bar for a person at a terminal (none under --json, --quiet or without a TTY). The command stops
   * it when its work is done; if the work fails, catch() stops it, so that the error starts a clean line.
   */
  protected async progress(title: string): Promise<Progress> {
    const bar = await progressBar(!this.jsonEnabled() && !this.flags?.quiet, title);
    this.bars.push(bar);
    return bar;
  }

  /** A progress line for humans (stderr, so stdout stays the result). */
  protected step(message: string): void {
    if (!this.jsonEnabled() && !this.flags?.quiet) process.stderr.write(`${message}\n`);
  }

  /** Warnings said under --json: they go into the result (`warnings`), since stderr stays quiet there. */
  private jsonWarnings: string[] = [];

  /** Resolves on Ctrl-C or SIGTERM: how a serving command (`pkg gateway`, `pkg store serve`) is told to stop. */
  protected untilStopped(): Promise<void> {
    return new Promise<void>((resolve) => {
      process.once("SIGINT", resolve);
      process.once("SIGTERM", resolve);
    });
  }

  protected warning(message: string): void {
    if (!this.jsonEnabled()) process.stderr.write(`warning: ${message}\n`);
    else this.jsonWarnings.push(message);
  }

  protected override toSuccessJson(result: unknown): unknown {
    if (this.jsonWarnings.length === 0 || typeof result !== "object" || result === null || Array.isArray(result)) return result;
    return { ...result, warnings: [...this.jsonWarnings] };
  }

  /** Asks for a secret on the terminal without echo; null without a terminal (CI). */
  protected async promptHidden(question: string): Promise<string | null> {
    if (!process.stdin.isTTY || !process.stderr.isTTY) return null;
    const { createInterface } = await import("node:readline");
    return new Promise((resolve) => {
      const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
      const write = (rl as unknown as { _writeToOutput(s: string): void })._writeToOutput.bind(rl);
      (rl as unknown as { _writeToOutput(s: string): void })._writeToOutput = (s: string) => write(s.startsWith(question) ? s : "");
      rl.question(question, (answer) => {
        rl.close();
        process.stderr.write("\n");
        resolve(answer);
      });
    });
  }

  protected override async finally(error: Error | undefined): Promise<void> {
    for (const session of this.openSessions.splice(0)) await session.close().catch(() => {});
    return super.finally(error);
  }

  protected override async catch(error: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<unknown> {
    for (const bar of this.bars.splice(0)) bar.stop();
    for (const session of this.openSessions.splice(0)) await session.close().catch(() => {});
    const { isPkgError } = load.errors();
    if (!isPkgError(error)) {
      if (error.oclif?.exit !== undefined) {
        // this.exit() (EEXIT) passes through; oclif's parse/usage errors print themselves, or under --json
        // become one JSON error with the usage exit code
        if ((error as { code?: string }).code === "EEXIT" || !this.jsonEnabled()) throw error;
        const lines = error.message.split("\n").map((line) => line.trim());
        const message = lines.filter((line) => line !== "" && !/^see more help/i.test(line)).join(": ");
        const hint = `see \`${this.config.bin} ${this.id ?? ""} --help\``.replace(/ +`$/, "`");
        this.logJson({ error: { code: ERR_USAGE, message, details: {}, hint } });
        return this.exit(exitCodeOf(ERR_USAGE));
      }
      if (this.jsonEnabled()) {
        this.logJson({ error: { code: "ERR_INTERNAL", message: error.message } });
        return this.exit(exitCodeOf("ERR_INTERNAL"));
      }
      throw error;
    }
    const pkgError = error as PkgError;
    if (this.jsonEnabled()) {
      this.logJson({ error: pkgError.toJSON() });
    } else {
      process.stderr.write(`error: ${pkgError.message}\n`);
      if (pkgError.hint) process.stderr.write(`  hint: ${pkgError.hint}\n`);
    }
    return this.exit(exitCodeOf(pkgError.code));
  }
}
