#!/bin/sh
# Builder of flakes:meta-rustc: $out/bin/meta-rustc = meta-rustc.js run by the node of toolchains:node.
set -eu
: "${node:?toolchains:node is not an input}"
if [ ! -x "$node/bin/node" ]; then echo "build.sh: $node/bin/node is not a program" >&2; exit 1; fi
mkdir -p "$out/bin"
{ printf '#!%s/bin/node\n' "$node"; cat ./meta-rustc.js; } > "$out/bin/meta-rustc"
chmod 0555 "$out/bin/meta-rustc"
# it runs: without a tool to wrap it prints its usage and exits 2
status=0
"$out/bin/meta-rustc" >/dev/null 2>&1 || status=$?
if [ "$status" -ne 2 ]; then echo "build.sh: $out/bin/meta-rustc does not run (exit $status)" >&2; exit 1; fi
