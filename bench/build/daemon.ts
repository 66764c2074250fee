/**
 * A store daemon with its own store and embedded content store, for benchmarks and experiments:
 * `npx ts-node --transpile-only bench/build/daemon.ts <dir>` serves `<dir>/store.sock` until killed.
 * The benchmarks call {@link startBenchDaemon} in-process instead.
 */
import path from "node:path";
import { openEmbeddedStore } from "../../src/content/embedded";
import { runDaemon, type RunningDaemon } from "../../src/daemon/daemon";

export interface BenchDaemon {
  socket: string;
  daemon: RunningDaemon;
  close(): Promise<void>;
}

export async function startBenchDaemon(dir: string): Promise<BenchDaemon> {
  const content = await openEmbeddedStore({ directory: path.join(dir, "content") });
  const daemon = await runDaemon({ root: path.join(dir, "store"), socket: path.join(dir, "store.sock"), content, log: () => {} });
  return {
    socket: daemon.socket,
    daemon,
    async close() {
      await daemon.close();
      await content.close();
    },
  };
}

if (require.main === module) {
  const dir = path.resolve(process.argv[2] ?? ".");
  startBenchDaemon(dir).then(
    (d) => console.log(`ready ${d.socket}`),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
