/**
 * Entry point of the `meta-rustc` binary (cargo's RUSTC_WRAPPER): `meta-rustc <rustc> <args…>`.
 * Bundled with core.ts and rustc.ts into one file by bundle.ts; never imported.
 */
import { runShim } from "./core";
import { rustcTool } from "./rustc";

runShim(rustcTool, process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`meta-rustc: internal error: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(101);
  },
);
