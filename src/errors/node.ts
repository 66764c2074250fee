/**
 * Errors of the local chain node (src/node/): `pkg node` and the CLI's zero-configuration lookup of the
 * local registry. Codes are stable; the CLI maps them to exit codes and `--json` output.
 */
import { PkgError, type ErrorCode, type PkgErrorOptions } from "./index";

/** The proxy's port is taken: most likely another `pkg node` (or `hardhat node`) already listens there. */
export const ERR_NODE_PORT_IN_USE = "ERR_NODE_PORT_IN_USE";
/** Another live `pkg node` holds the data directory's lock. */
export const ERR_NODE_LOCKED = "ERR_NODE_LOCKED";
/** Replaying the journal gave another chain than the one recorded. */
export const ERR_NODE_REPLAY_DIVERGED = "ERR_NODE_REPLAY_DIVERGED";
/** The journal cannot be read (a damaged line that is not the last one, an unknown format). */
export const ERR_NODE_JOURNAL_CORRUPT = "ERR_NODE_JOURNAL_CORRUPT";
/** A state change could not be written to the journal: the running node stops accepting writes. */
export const ERR_NODE_JOURNAL_WRITE = "ERR_NODE_JOURNAL_WRITE";
/** The internal Hardhat node did not start, or died. */
export const ERR_NODE_START_FAILED = "ERR_NODE_START_FAILED";
/** The internal Hardhat node died while the pkg node was running (the journal still holds every acknowledged change). */
export const ERR_NODE_EXITED = "ERR_NODE_EXITED";
/** An option that cannot be honoured (e.g. a host that is not a loopback address). */
export const ERR_NODE_INVALID_OPTION = "ERR_NODE_INVALID_OPTION";
/** deployment.json exists but is not a deployment record. */
export const ERR_NODE_DEPLOYMENT_CORRUPT = "ERR_NODE_DEPLOYMENT_CORRUPT";

export class NodeError extends PkgError {
  constructor(code: ErrorCode, message: string, options: PkgErrorOptions = {}) {
    super(code, message, options);
    this.name = "NodeError";
  }
}
