#!/usr/bin/env node
// `pkg`: package commands (publish, lock, fetch, ...). Built commands live in dist/cli/pkg.
require("./run").run("pkg", process.argv.slice(2));
