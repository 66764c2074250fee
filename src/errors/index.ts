/**
 * Every error the core raises on purpose. One base class with a stable `code` (for exit codes and
 * `--json` output), a one-line `message` that names the file/line/field where there is one, `details`
 * for machines, and a `hint` saying what to do. Secrets never go into any of them. Codes are those of the
 * one table in ./codes.ts (their exit codes and summaries); the constructor takes no other.
 */
import type { ErrorCode } from "./codes";

export { ERROR_CODES, exitCodeOf, isErrorCode, type ErrorCode, type ErrorCodeInfo, type ExitCode } from "./codes";

export interface PkgErrorOptions {
  /** Machine-readable context: file, line, field, cid, ... */
  details?: Record<string, unknown>;
  /** One sentence: what the user should do next. */
  hint?: string;
  cause?: unknown;
}

export class PkgError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;
  readonly hint?: string;

  constructor(code: ErrorCode, message: string, options: PkgErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "PkgError";
    this.code = code;
    this.details = options.details ?? {};
    this.hint = options.hint;
  }

  /** The one line a CLI prints: message, then the hint. */
  toLine(): string {
    return this.hint ? `${this.message} (${this.hint})` : this.message;
  }

  toJSON(): { code: ErrorCode; message: string; details: Record<string, unknown>; hint?: string } {
    return { code: this.code, message: this.message, details: this.details, hint: this.hint };
  }
}

export function isPkgError(error: unknown, code?: ErrorCode): error is PkgError {
  return error instanceof PkgError && (code === undefined || error.code === code);
}
