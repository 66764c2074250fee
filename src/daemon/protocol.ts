/**
 * What the store daemon and its clients say to each other (docs/build-layer.md, "Daemon protocol"):
 * the version both check, and the shapes of answers more than one module reads. Types and constants only,
 * so the thin no-op clients can load it for nothing.
 */

/**
 * The daemon protocol's version, in `status`: the CLI refuses a daemon of another one (an older
 * install's daemon still running after an upgrade). Bump it when a change breaks old clients or daemons.
 */
export const DAEMON_PROTOCOL_VERSION = 2;

/** What the daemon answers to `realise`. */
export interface RealiseAnswer {
  outputs: Record<string, string>;
  built: boolean;
  subderivations: string[];
  cids: Record<string, string>;
  matched?: boolean;
  sandbox?: string;
  substituted?: true;
}

/** A build's progress, as `realise` reports it: a build starts (`build`), ends (`built`) or fails (`failed`). */
export type BuildPhase = "build" | "built" | "failed";

/** An event line sent before the answer. */
export type DaemonEvent = { event: "log"; drv: string; text: string } | { event: "progress"; drv: string; name: string; phase: BuildPhase };
