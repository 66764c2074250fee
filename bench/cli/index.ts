/**
 * The CLI benchmarks: cli-start (pkg --help vs npm --version) and lock-1000 (pkg lock of a 1,000-package
 * graph vs npm's lock-only install of the same graph from a local verdaccio; plus the JSON-RPC requests per
 * lock, lock-1000-rpc and lock-250-rpc). Needs `npm run build`; installs verdaccio into bench/tools on first use.
 *
 *   npx hardhat run bench/cli/index.ts
 */
import { benchLock } from "./lock";
import { benchCliStart } from "./start";

export async function benchCli(): Promise<void> {
  await benchCliStart();
  await benchLock();
}

if (require.main === module) {
  benchCli().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
