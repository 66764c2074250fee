#!/usr/bin/env bash
# Installs the test-only js-ipfs server (ipfs-core + ipfs-http-server, ~250 MB) from the lock file.
# Called by the kubo backend tests when node_modules is missing; safe to run by hand.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --loglevel=error
