#!/usr/bin/env bash
# Builds the engines the tests (and users who have none of their own) run: Kubo's `ipfs` (the reference IPFS
# node) and go-ethereum's `geth`, at pinned versions, from the Go module proxy. Built once per version into
# $PKG_ENGINES_DIR (default ~/.cache/chainpkg/engines), with Go's own module and build caches between runs.
#
#   scripts/engines.sh            build what is missing; prints the bin directory (ipfs, geth) on stdout
#   scripts/engines.sh --check    exit 0 if both are built, 1 if not (builds nothing)
#
# `go install MODULE/cmd/X@VERSION` refuses modules whose go.mod has replace or exclude directives (Kubo's has),
# so the module is downloaded (`go mod download -json`) and built inside its directory with `go build`.
set -euo pipefail

KUBO_MODULE=github.com/ipfs/kubo
# v0.43.1 (the newest) replaces go-libp2p with a fork the Go module proxy does not serve: v0.42.0 has no replace.
KUBO_VERSION=v0.42.0
GETH_MODULE=github.com/ethereum/go-ethereum
GETH_VERSION=v1.17.10

engines_dir="${PKG_ENGINES_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/chainpkg/engines}"
bin="$engines_dir/bin"

say() { printf 'engines: %s\n' "$*" >&2; }

# build NAME MODULE VERSION PACKAGE: $engines_dir/NAME-VERSION, linked as $bin/NAME
build() {
  local name=$1 module=$2 version=$3 package=$4
  local target="$engines_dir/$name-$version"
  if [ ! -x "$target" ]; then
    if [ "${check:-0}" = 1 ]; then return 1; fi
    command -v go >/dev/null 2>&1 || { say "go is not installed: cannot build $name (install Go 1.26+, or put your own $name on PATH)"; return 1; }
    say "building $name $version from the Go module proxy (minutes, once per version)"
    local json dir
    json=$(go mod download -json "$module@$version")
    dir=$(printf '%s' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' | head -n 1)
    [ -n "$dir" ] && [ -d "$dir" ] || { say "go mod download $module@$version gave no directory: $json"; return 1; }
    mkdir -p "$engines_dir"
    local tmp="$target.tmp.$$"
    # -trimpath: the binary does not name this machine's paths; GOFLAGS=-mod=mod would write into the read-only module cache
    (cd "$dir" && GOFLAGS=-mod=readonly go build -trimpath -o "$tmp" "$package")
    mv -f "$tmp" "$target"
  fi
  mkdir -p "$bin"
  ln -sfn "$target" "$bin/$name.tmp.$$" && mv -Tf "$bin/$name.tmp.$$" "$bin/$name"
}

check=0
if [ "${1:-}" = "--check" ]; then check=1; fi
build ipfs "$KUBO_MODULE" "$KUBO_VERSION" ./cmd/ipfs
build geth "$GETH_MODULE" "$GETH_VERSION" ./cmd/geth
printf '%s\n' "$bin"
