/**
 * Errors of the local store, its daemon and builds (src/store/). Codes are stable: their exit codes are in
 * the one table of src/errors/codes.ts, and the CLI prints them under --json.
 */
import { isErrorCode, PkgError, type ErrorCode, type PkgErrorOptions } from "../errors";

/** The request named something that is not a CID (or not a derivation CID). */
export const ERR_STORE_BAD_CID = "ERR_STORE_BAD_CID";
/** The derivation (or a source it names) is not in the content store. */
export const ERR_STORE_UNKNOWN_DERIVATION = "ERR_STORE_UNKNOWN_DERIVATION";
/** A store path was named that the store does not hold (add-root of an unregistered path). */
export const ERR_STORE_PATH_NOT_FOUND = "ERR_STORE_PATH_NOT_FOUND";
/** A request the daemon does not understand (bad JSON, unknown op, missing parameter). */
export const ERR_STORE_BAD_REQUEST = "ERR_STORE_BAD_REQUEST";
/** A path the store was asked to add is not a file or directory (a symbolic link is never followed). */
export const ERR_STORE_BAD_PATH = "ERR_STORE_BAD_PATH";
/** No daemon answers on the socket and none could be started. */
export const ERR_STORE_DAEMON_UNREACHABLE = "ERR_STORE_DAEMON_UNREACHABLE";
/** Another live daemon already serves this store. */
export const ERR_STORE_LOCKED = "ERR_STORE_LOCKED";
/** The socket's directory belongs to someone else (they could stand in for the daemon). */
export const ERR_STORE_SOCKET_DIR_UNSAFE = "ERR_STORE_SOCKET_DIR_UNSAFE";
/** The daemon cannot create or listen on its socket. */
export const ERR_STORE_SOCKET_UNUSABLE = "ERR_STORE_SOCKET_UNUSABLE";
/** The daemon on the socket serves another store, or speaks another protocol version. */
export const ERR_STORE_DAEMON_MISMATCH = "ERR_STORE_DAEMON_MISMATCH";
/** The daemon went away in the middle of a request. */
export const ERR_STORE_DAEMON_GONE = "ERR_STORE_DAEMON_GONE";
/** `pkg store verify` found problems (each in the details). */
export const ERR_STORE_CORRUPT = "ERR_STORE_CORRUPT";
/** The builder ran and failed (non-zero exit, signal, timeout). */
export const ERR_BUILD_FAILED = "ERR_BUILD_FAILED";
/** The builder exited 0 but did not create an output it must create. */
export const ERR_BUILD_NO_OUTPUT = "ERR_BUILD_NO_OUTPUT";
/** An input derivation failed, so this one was not built. */
export const ERR_BUILD_INPUT_FAILED = "ERR_BUILD_INPUT_FAILED";
/** `--rebuild`: the second build's output differs from the first (not reproducible). */
export const ERR_BUILD_NOT_REPRODUCIBLE = "ERR_BUILD_NOT_REPRODUCIBLE";
/** `repo build`: some packages failed (each failure is in the details). */
export const ERR_BUILD_INCOMPLETE = "ERR_BUILD_INCOMPLETE";

export class StoreError extends PkgError {
  constructor(code: ErrorCode, message: string, options: PkgErrorOptions = {}) {
    super(code, message, options);
    this.name = "StoreError";
  }
}

/**
 * A PkgError sent over the socket as data, made an error again on the client's side. The code is checked
 * against the table (src/errors/codes.ts) where it enters: one this pkg does not know (a daemon of another
 * version, a garbled answer) becomes ERR_INTERNAL, the daemon's code kept in `details.code`.
 */
export function errorFromData(data: { code?: unknown; message?: unknown; hint?: unknown; details?: unknown }): PkgError {
  const { code } = data;
  const sent = typeof data.details === "object" && data.details !== null ? (data.details as Record<string, unknown>) : {};
  const details = isErrorCode(code) || code === undefined ? sent : { ...sent, code: typeof code === "string" ? code.slice(0, 200) : typeof code };
  return new PkgError(isErrorCode(code) ? code : "ERR_INTERNAL", typeof data.message === "string" ? data.message : "unknown daemon error", {
    details,
    hint: typeof data.hint === "string" ? data.hint : undefined,
  });
}
