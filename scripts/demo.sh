#!/usr/bin/env bash
# The demo: a fresh local chain and content store, then publish → yank → lock → fetch → build → install → run →
# uninstall of the example packages (examples/dep, examples/hello, built with this machine's toolchains), each step printed. Leaves nothing behind but a temp dir it removes.
#
#   npm run demo             (after `npm ci`; builds first if needed)
#   KEEP=1 npm run demo      keep the chain and store (prints where)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

[ -f dist/cli/pkg/publish.js ] && [ -d typechain-types ] || npm run --silent build

work="$(mktemp -d "${TMPDIR:-/tmp}/chainpkg-demo.XXXXXX")"
export PKG_DATA_DIR="$work/data" PKG_CONFIG="$work/config.toml"
port="${PKG_NODE_PORT:-$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')}"
export PKG_RPC_URL="http://127.0.0.1:$port"
pkg() { "$root/bin/pkg" "$@"; }  # the installed entry (a no-op build answered by its native client)
repo() { node "$root/bin/repo.js" "$@"; }
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

node_pid=""
cleanup() {
  # the store daemon `pkg build` started on demand for this data dir
  node "$root/bin/pkg.js" store status --shutdown >/dev/null 2>&1 || true
  # SIGTERM: a non-interactive shell starts background jobs with SIGINT ignored
  [ -n "$node_pid" ] && kill -TERM "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null || true
  if [ "${KEEP:-}" = 1 ]; then echo "kept: $work (PKG_DATA_DIR=$PKG_DATA_DIR)"; else rm -rf "$work"; fi
}
trap cleanup EXIT

say "pkg node --port $port   # local Hardhat chain + registry, state journaled in $PKG_DATA_DIR/node"
# node directly (not through the pkg function), so that $! is the node and the cleanup reaches it
node "$root/bin/pkg.js" node --port "$port" > "$work/node.log" 2>&1 &
node_pid=$!
for _ in $(seq 1 120); do grep -q "Ctrl-C" "$work/node.log" 2>/dev/null && break; kill -0 "$node_pid" 2>/dev/null || { cat "$work/node.log"; exit 1; }; sleep 0.5; done
cat "$work/node.log"

cp -r examples/dep examples/hello "$work/"

say "repo create crates"
repo create crates

say "repo create toolchains   # this machine's rustc, cargo, gcc, node as packages (bootstrap)"
repo create toolchains
# generated here, not copied: their pkg.toml names this machine's programs and versions
(cd "$root" && npx --no-install ts-node --transpile-only scripts/toolchains.ts "$work/toolchains")
for t in rustc cargo gcc node; do
  say "pkg publish            # toolchains:$t"
  (cd "$work/toolchains/$t" && pkg publish)
done

say "repo create flakes      # meta packages: flakes:meta-rustc, cargo's RUSTC_WRAPPER"
repo create flakes
cp -r examples/toolchains/meta-rustc "$work/"
say "pkg publish            # flakes:meta-rustc"
(cd "$work/meta-rustc" && pkg publish)

say "pkg publish            # crates:dep 0.2.0"
(cd "$work/dep" && pkg publish)

sed -i 's/^version = "0.2.0"/version = "0.2.1"/' "$work/dep/pkg.toml" "$work/dep/Cargo.toml"
say "pkg publish            # crates:dep 0.2.1"
(cd "$work/dep" && pkg publish)

say "pkg yank crates/dep:0.2.1"
pkg yank crates/dep:0.2.1

say "pkg publish            # crates:hello 1.0.0, built by toolchains:cargo; inputs: crates:dep = \"0.2\""
(cd "$work/hello" && pkg publish)

say "pkg lock               # must pick crates:dep 0.2.0: 0.2.1 is yanked"
(cd "$work/hello" && pkg lock && cat pkg.lock)
grep -q 'version = "0.2.0"' "$work/hello/pkg.lock" || { echo "demo: the lock did not pick 0.2.0" >&2; exit 1; }

say "pkg fetch              # every locked dependency into the content store, verified"
(cd "$work/hello" && pkg fetch)

say "pkg fetch crates/hello:1.0.0 -o hello-fetched"
pkg fetch crates/hello:1.0.0 -o "$work/hello-fetched"
(cd "$work/hello-fetched" && find . -type f | sort)

say "pkg build              # cargo through meta-rustc in the sandbox; the store daemon starts on demand"
(cd "$work/hello" && pkg build --print-build-logs && cat pkg.build.toml)

say "pkg build --rebuild    # again from scratch (a reproducibility check): every rustc invocation comes from the store"
(cd "$work/hello" && pkg build --rebuild)

say "pkg build              # nothing changed: a no-op, answered by the store daemon to bin/pkg's native client (no node)"
(cd "$work/hello" && PKG_TRACE_FASTPATH=1 pkg build)

say "pkg install            # the output's bin/ into a new profile generation"
(cd "$work/hello" && pkg install)

say "$PKG_DATA_DIR/profiles/default/bin/hello"
"$PKG_DATA_DIR/profiles/default/bin/hello"

say "pkg uninstall hello"
pkg uninstall hello
pkg profile history

say "pkg store verify"
pkg store verify

echo
echo "demo: publish → yank → lock → fetch → build → install → run → uninstall done."
