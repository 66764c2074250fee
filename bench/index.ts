/**
 * `npm run bench`: every benchmark of bench/, each in its own process (so memory figures are its own),
 * printing `BENCH <id> <value> <unit> vs <anchor> <anchor-value>` lines. Not part of CI.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";

const root = path.resolve(__dirname, "..");
const benches = [
  "bench/gas.ts",
  "bench/content/index.ts",
  "bench/cli/index.ts",
  "bench/build/index.ts",
  "bench/engines/lock-geth.ts",
  "bench/engines/content-kubo.ts",
  "bench/mirror/lookup.ts",
  "bench/mirror/npm.ts",
  "bench/mirror/crates.ts",
  "bench/gateway/npm.ts",
  "bench/gateway/packument.ts",
  "bench/gateway/cargo.ts",
].filter((file) => existsSync(path.join(root, file)));

let failed = 0;
for (const file of benches) {
  console.log(`\n== ${file}`);
  const result = spawnSync("npx", ["hardhat", "run", file], { cwd: root, stdio: "inherit" });
  if (result.status !== 0) {
    failed++;
    console.error(`${file} failed (exit ${result.status})`);
  }
}
process.exitCode = failed === 0 ? 0 : 1;
