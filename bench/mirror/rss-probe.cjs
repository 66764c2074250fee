// Preloaded into a measured process (`node --require bench/mirror/rss-probe.cjs …`): at exit it writes its own
// peak RSS, in bytes (process.resourceUsage().maxRSS is in KiB), to the file $BENCH_RSS_FILE. Worker threads
// are the process's own, so they are counted; child processes are not (they do not load this file).
const { writeFileSync } = require("node:fs");

const file = process.env.BENCH_RSS_FILE;
delete process.env.BENCH_RSS_FILE;
if (file) {
  process.on("exit", () => {
    writeFileSync(file, `${process.resourceUsage().maxRSS * 1024}\n`);
  });
}
