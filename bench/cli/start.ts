/**
 * cli-start: wall time of `node bin/pkg.js --help` (oclif loading the command list; the core is loaded lazily,
 * see cli/lazy.ts) against `npm --version`, 20 runs each after 3 warm-ups, interleaved; medians.
 *
 *   npx hardhat run bench/cli/start.ts
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { bench, median, note, ROOT, runOk } from "./util";

const WARMUPS = 3;
const RUNS = 20;

export async function benchCliStart(): Promise<void> {
  if (!existsSync(path.join(ROOT, "dist", "cli", "pkg"))) throw new Error("dist/ is not built: run `npm run build` first");
  const pkg = () => runOk(process.execPath, [path.join(ROOT, "bin", "pkg.js"), "--help"], { cwd: ROOT });
  const npm = () => runOk("npm", ["--version"], { cwd: ROOT });
  for (let i = 0; i < WARMUPS; i++) {
    await pkg();
    await npm();
  }
  const pkgTimes: number[] = [];
  const npmTimes: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    pkgTimes.push((await pkg()).ms);
    npmTimes.push((await npm()).ms);
  }
  const pkgMs = median(pkgTimes);
  const npmMs = median(npmTimes);
  bench("cli-start", pkgMs, "ms", "npm-version", npmMs);
  note(
    `pkg --help min ${Math.min(...pkgTimes).toFixed(0)} / max ${Math.max(...pkgTimes).toFixed(0)} ms; ` +
      `npm --version min ${Math.min(...npmTimes).toFixed(0)} / max ${Math.max(...npmTimes).toFixed(0)} ms; ` +
      `ratio ${(pkgMs / npmMs).toFixed(2)}× (goal ≤ 1.5×)`,
  );
}

if (require.main === module) {
  benchCliStart().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
