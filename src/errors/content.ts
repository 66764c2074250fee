/**
 * Errors raised by the content store (src/content/). Each code is stable: the CLI maps codes to
 * exit codes and `--json` output, so a code is never renamed once released.
 */
import { PkgError, type PkgErrorOptions } from "./index";

/** A block's bytes do not hash to its CID: corruption on disk, or a lying peer/gateway. */
export class ContentIntegrityError extends PkgError {
  constructor(cid: string, where: string, options: PkgErrorOptions = {}) {
    super("ERR_CONTENT_INTEGRITY", `block ${cid} does not match its hash (${where})`, {
      hint: "the copy is corrupt; remove it and fetch or add the content again",
      ...options,
      details: { cid, where, ...options.details },
    });
    this.name = "ContentIntegrityError";
  }
}

/** A block (or a whole DAG) is neither in the local store nor on any configured gateway. */
export class ContentNotFoundError extends PkgError {
  constructor(cid: string, options: PkgErrorOptions = {}) {
    super("ERR_CONTENT_NOT_FOUND", `content ${cid} is not available`, {
      hint: "add it, import a CAR that holds it, or configure a gateway that has it",
      ...options,
      details: { cid, ...options.details },
    });
    this.name = "ContentNotFoundError";
  }
}

/** The content exists but is not what the operation needs (a directory where a file was asked, a
 * codec or hash function this store does not read, a file type that cannot be stored). */
export class ContentUnsupportedError extends PkgError {
  constructor(message: string, options: PkgErrorOptions = {}) {
    super("ERR_CONTENT_UNSUPPORTED", message, options);
    this.name = "ContentUnsupportedError";
  }
}

/** A path inside a tree is unsafe or malformed (absolute, `..`, duplicate, a name with `/`). */
export class ContentPathError extends PkgError {
  constructor(path: string, reason: string, options: PkgErrorOptions = {}) {
    super("ERR_CONTENT_PATH", `invalid path ${JSON.stringify(path)}: ${reason}`, {
      ...options,
      details: { path, reason, ...options.details },
    });
    this.name = "ContentPathError";
  }
}

/** getTree was asked for a directory (a package's sources) and the DAG's root is a file or a symlink. */
export class ContentNotDirectoryError extends PkgError {
  constructor(cid: string, kind: string, options: PkgErrorOptions = {}) {
    super("ERR_CONTENT_NOT_DIRECTORY", `${cid} is a ${kind}, not a directory`, {
      ...options,
      details: { cid, kind, ...options.details },
    });
    this.name = "ContentNotDirectoryError";
  }
}

/** getTree refuses to replace something that already exists at the destination. */
export class ContentDestinationExistsError extends PkgError {
  constructor(destination: string, options: PkgErrorOptions = {}) {
    super("ERR_CONTENT_DESTINATION_EXISTS", `${destination} already exists`, {
      hint: "choose a new destination or remove the existing one first",
      ...options,
      details: { destination, ...options.details },
    });
    this.name = "ContentDestinationExistsError";
  }
}

/**
 * getTree could not write where it was asked to (permission, a file where a directory should be, a full
 * disk, a file system that takes no new entries): the destination's fault, never the content's.
 */
export class ContentWriteError extends PkgError {
  constructor(destination: string, reason: string, options: PkgErrorOptions = {}) {
    super("ERR_CONTENT_WRITE", `cannot write ${destination}: ${reason}`, {
      hint: "choose a destination in a directory you can write to",
      ...options,
      details: { destination, reason, ...options.details },
    });
    this.name = "ContentWriteError";
  }
}

/** The kubo RPC API or a gateway failed in a way that is not "not found" (down, HTTP 5xx, bad reply). */
export class ContentBackendError extends PkgError {
  constructor(message: string, options: PkgErrorOptions = {}) {
    super("ERR_CONTENT_BACKEND", message, options);
    this.name = "ContentBackendError";
  }
}
