#!/bin/sh
# Builder of flakes:meta-rustc: $out/bin/meta-rustc (and meta-cc, the same program) compiled from meta-rustc.rs (std only, no crates)
# by the rustc of toolchains:rustc; toolchains:gcc provides the linker (cc) rustc calls.
set -eu
: "${rustc:?toolchains:rustc is not an input}"
: "${gcc:?toolchains:gcc is not an input}"
if [ ! -x "$rustc/bin/rustc" ]; then echo "build.sh: $rustc/bin/rustc is not a program" >&2; exit 1; fi
export PATH="$gcc/bin:$PATH"
mkdir -p "$out/bin"
# -O: it runs once per rustc invocation of every build that uses it
"$rustc/bin/rustc" -O --edition 2021 ./meta-rustc.rs -o "$out/bin/meta-rustc"
chmod 0555 "$out/bin/meta-rustc"
# the same shim as a C/C++ compiler wrapper: it takes its tool from its name (CC="meta-cc cc", like ccache)
ln -s meta-rustc "$out/bin/meta-cc"
# it runs: without a tool to wrap it prints its usage and exits 2
status=0
"$out/bin/meta-rustc" >/dev/null 2>&1 || status=$?
if [ "$status" -ne 2 ]; then echo "build.sh: $out/bin/meta-rustc does not run (exit $status)" >&2; exit 1; fi
