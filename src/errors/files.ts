import { PkgError, type ErrorCode } from "./index";

/**
 * Where in a package, lock or build file a problem is. `line` is 1-based and absent when the
 * problem has no single place (a missing table, a file that does not exist); `field` is the TOML
 * path as the user would search for it: `[package].version`, `[dependencies]."crates:dep".meta`,
 * `[[build]][2].output`.
 */
export interface FileErrorDetails {
  file: string;
  line?: number;
  column?: number;
  field?: string;
  [key: string]: unknown;
}

/**
 * A file that cannot be used as it is: bad TOML, a missing or malformed field, a source path that
 * escapes the package. The message is one line, `file:line: field: problem`, so editors and CI
 * logs can jump to it; the same parts are in `details` for `--json`.
 */
export class FileFormatError extends PkgError {
  declare readonly details: FileErrorDetails;

  constructor(code: ErrorCode, message: string, details: FileErrorDetails, hint?: string, cause?: unknown) {
    super(code, message, { details, hint, cause });
    this.name = "FileFormatError";
  }
}

/** Details of an error about a package or repository id typed on the command line. */
export interface IdErrorDetails {
  /** The text as given. */
  input: string;
  /** Which part is wrong: `repository`, `repository version`, `name`, `version`, or `id`. */
  field: string;
  [key: string]: unknown;
}

/** An id on the command line (or a `repo:name` key) that does not follow the grammar. */
export class IdError extends PkgError {
  declare readonly details: IdErrorDetails;

  constructor(code: ErrorCode, message: string, details: IdErrorDetails, hint?: string) {
    super(code, message, { details, hint });
    this.name = "IdError";
  }
}
