/** Skipping a test that this machine cannot run, always with the reason printed (a silent skip hides lost coverage). */

/** Prints `(skipped: <reason>)` under the test's title and skips it (or the rest of its suite, from a hook). */
export function skipBecause(context: Mocha.Context, reason: string): never {
  console.log(`    (skipped: ${reason})`);
  context.skip();
}
