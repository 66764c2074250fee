/**
 * Runs `startLocalNode` in a process of its own, for tests that kill it (SIGKILL of its process group).
 * Usage: node -r ts-node/register/transpile-only test/unit/node/run-node.ts <dataDir>
 * Prints `READY {"url":...,"registry":...}` once the node answers. Does nothing when loaded by mocha.
 */
import { startLocalNode } from "../../../src/node";

if (require.main === module) {
  const dataDir = process.argv[2];
  startLocalNode({ dataDir, port: 0, log: (line) => process.stderr.write(`${line}\n`) }).then(
    (node) => {
      process.stdout.write(`READY ${JSON.stringify({ url: node.url, registry: node.registry, pid: process.pid })}\n`);
      const stop = () => void node.stop().then(() => process.exit(0));
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
    },
    (error: unknown) => {
      process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
      process.exit(1);
    },
  );
}
