#!/bin/sh
# Compiles the native no-op client (native/pkg-noop.c) into dist/native/pkg-noop; part of `npm run build`.
# bin/pkg uses it when it is there; without a C compiler the no-op `pkg build` is answered through node.
set -eu
cd "$(dirname "$0")/.."
cc="${CC:-cc}"
if ! command -v "$cc" >/dev/null 2>&1; then
  echo "native: no C compiler ($cc): a no-op pkg build is answered through node instead"
  exit 0
fi
mkdir -p dist/native
"$cc" -O2 -std=c11 -Wall -Wextra -Werror -o dist/native/pkg-noop.tmp native/pkg-noop.c
mv dist/native/pkg-noop.tmp dist/native/pkg-noop
