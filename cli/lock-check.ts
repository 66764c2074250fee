/**
 * What the commands that read a pkg.lock (fetch, instantiate, build, install) share: the --offline flag and
 * the check of the lock against the registry (src/lock-verify.ts), opened only when there is something to check.
 */
import { Flags } from "@oclif/core";
import type { LockCheck } from "../src/lock-verify";
import type { Session } from "../src/session";
import { ERR_USAGE } from "./base";
import { load } from "./lazy";

const offline = {
  summary: "Use pkg.lock as it is, without checking its CIDs against the registry at its block (a warning says so).",
  description: "By default every dependency of pkg.lock must be in the registry, at the lock's block, with the lock's meta and src CIDs.",
  default: false,
} as const;

export const offlineFlag = Flags.boolean(offline);

/** --offline where it excludes other flags (`pkg install --path`). */
export function offlineFlagExcluding(exclusive: string[]) {
  return Flags.boolean({ ...offline, exclusive });
}

/** The check of a command's pkg.lock: `open` gives the chain session (opened only if the lock has dependencies). */
export function lockCheckFor(offline: boolean, open: () => Promise<Pick<Session, "client" | "chain">>, warn: (message: string) => void): LockCheck {
  return load.lockVerify().lockCheck({
    offline,
    registry: open,
    warn,
  });
}

/** --offline with a published id: that lock is made now, from the registry, so there is nothing to trust offline. */
export function offlineWithIdError(command: string): Error {
  const { PkgError } = load.errors();
  return new PkgError(ERR_USAGE, `--offline applies to a package directory's pkg.lock; \`pkg ${command}\` of a published id reads the registry`, {
    hint: `leave out --offline, or run \`pkg ${command}\` in a package directory`,
  });
}
