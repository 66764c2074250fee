#!/usr/bin/env node
// `pkg`: package commands (publish, lock, fetch, ...). Built commands live in dist/cli/pkg.
const argv = process.argv.slice(2);
const run = () => require("./run").run("pkg", argv);
if (argv[0] === "build") {
  // A no-op `pkg build` is answered before oclif loads (its start-up alone costs more than the whole
  // no-op); whenever the fast path is not sure, it declines and the command runs as always.
  let noop = null;
  try {
    noop = require("../dist/src/build/noop");
  } catch {
    // not built (or broken): the full command says what is wrong
  }
  if (noop === null) run();
  else noop.noopBuild(argv.slice(1)).then((done) => (done ? process.exit() : run()), () => run());
} else {
  run();
}
