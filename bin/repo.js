#!/usr/bin/env node
// `repo`: repository commands (create, publish, lock, ...). Built commands live in dist/cli/repo.
require("./run").run("repo", process.argv.slice(2));
