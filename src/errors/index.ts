/**
 * Every error the core raises on purpose. One base class with a stable `code` (for exit codes and
 * `--json` output), a one-line `message` that names the file/line/field where there is one, `details`
 * for machines, and a `hint` saying what to do. Secrets never go into any of them.
 */
export interface PkgErrorOptions {
  /** Machine-readable context: file, line, field, cid, ... */
  details?: Record<string, unknown>;
  /** One sentence: what the user should do next. */
  hint?: string;
  cause?: unknown;
}

export class PkgError extends Error {
  readonly code: string;
  readonly details: Record<string, unknown>;
  readonly hint?: string;

  constructor(code: string, message: string, options: PkgErrorOptions = {}) {
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

  toJSON(): { code: string; message: string; details: Record<string, unknown>; hint?: string } {
    return { code: this.code, message: this.message, details: this.details, hint: this.hint };
  }
}

export function isPkgError(error: unknown, code?: string): error is PkgError {
  return error instanceof PkgError && (code === undefined || error.code === code);
}
