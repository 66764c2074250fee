/** Assertions on the core's coded errors, shared by the tests. */
import { expect } from "chai";
import { isPkgError, type ErrorCode, type PkgError } from "../../src/errors";

/** Awaits `promise`, expecting it to fail with a PkgError of `code`; returns the error for more checks. */
export async function rejectsWith(promise: Promise<unknown>, code: ErrorCode): Promise<PkgError> {
  try {
    await promise;
  } catch (error) {
    expect(isPkgError(error, code), `expected ${code}, got ${(error as Error).message}`).to.equal(true);
    return error as PkgError;
  }
  throw new Error(`expected ${code}, but it succeeded`);
}

/** Runs `run`, expecting it to throw a PkgError of `code`. */
export function throwsWith(run: () => unknown, code: ErrorCode): PkgError {
  try {
    run();
  } catch (error) {
    expect(isPkgError(error, code), `expected ${code}, got ${(error as Error).message}`).to.equal(true);
    return error as PkgError;
  }
  throw new Error(`expected ${code}, but it succeeded`);
}

/** Awaits `promise`, expecting it to fail; returns what it failed with (a PkgError, for the tests that use it). */
export async function rejection(promise: Promise<unknown>): Promise<PkgError> {
  try {
    await promise;
  } catch (error) {
    return error as PkgError;
  }
  throw new Error("expected a rejection");
}
