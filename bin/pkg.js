#!/usr/bin/env node
// `pkg`: package commands (publish, lock, fetch, ...). Built commands live in dist/cli/pkg.
const argv = process.argv.slice(2);
const run = () => require("./run").run("pkg", argv);
// Set by the native no-op client (bin/pkg) when the daemon declined: asking again would only decline again.
const declined = process.env.PKG_NOOP_DECLINED === "1";
delete process.env.PKG_NOOP_DECLINED;
if (argv[0] === "build" && !declined) {
  // A no-op `pkg build` is answered by the store daemon before oclif loads (its start-up alone costs more
  // than the whole no-op); whenever the daemon is not sure, it declines and the command runs as always.
  let client = null;
  try {
    client = require("../dist/src/noop/client");
  } catch {
    // not built (or broken): the full command says what is wrong
  }
  if (client === null) run();
  else client.noopBuild(argv.slice(1)).then((done) => (done ? process.exit() : run()), () => run());
} else {
  run();
}
