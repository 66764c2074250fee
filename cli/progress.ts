/** Progress bars on stderr, only for a person at a terminal (never under --json, --quiet or in CI logs). */
import type { SingleBar } from "cli-progress";

export interface Progress {
  update(done: number, total: number, label?: string): void;
  stop(): void;
}

const silent: Progress = { update: () => {}, stop: () => {} };

export async function progressBar(enabled: boolean, title: string): Promise<Progress> {
  if (!enabled || !process.stderr.isTTY) return silent;
  const { SingleBar, Presets } = await import("cli-progress");
  const bar: SingleBar = new SingleBar(
    { format: `${title} [{bar}] {value}/{total} {label}`, stream: process.stderr, hideCursor: true, clearOnComplete: true },
    Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, total, label = "") {
      if (!started) {
        bar.start(total, done, { label });
        started = true;
      }
      bar.setTotal(total);
      bar.update(done, { label });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
