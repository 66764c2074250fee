import { subtask } from "hardhat/config";
import { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } from "hardhat/builtin-tasks/task-names";
import type { HardhatUserConfig } from "hardhat/config";
import "@nomicfoundation/hardhat-toolbox";

/** The compiler comes from the npm package `solc` (pinned in package.json); Hardhat's own
 * download cannot work offline (HH502), so the build lookup is answered locally. */
const SOLC_VERSION = "0.8.28";

subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args: { solcVersion: string }, _hre, runSuper) => {
  if (args.solcVersion !== SOLC_VERSION) return runSuper();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const solc = require("solc") as { version(): string };
  return {
    compilerPath: require.resolve("solc/soljson.js"),
    isSolcJs: true,
    version: SOLC_VERSION,
    longVersion: solc.version(),
  };
});

const config: HardhatUserConfig = {
  solidity: {
    version: SOLC_VERSION,
    settings: { optimizer: { enabled: true, runs: 1_000_000 }, evmVersion: "cancun", viaIR: true },
  },
  networks: {
    hardhat: { chainId: 31337 },
    localhost: { url: process.env.PKG_RPC_URL ?? "http://127.0.0.1:8545", chainId: 31337 },
    // Any other EVM network: PKG_RPC_URL + PKG_PRIVATE_KEY (CI) — see README "Deploying".
    custom: {
      url: process.env.PKG_RPC_URL ?? "http://127.0.0.1:8545",
      accounts: process.env.PKG_PRIVATE_KEY ? [process.env.PKG_PRIVATE_KEY] : [],
    },
  },
  typechain: { outDir: "typechain-types", target: "ethers-v6" },
  gasReporter: { enabled: process.env.REPORT_GAS === "true", offline: true },
  mocha: { timeout: 120_000 },
};

export default config;
