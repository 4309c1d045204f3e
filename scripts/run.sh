#!/usr/bin/env bash
# Sets up this machine, builds xsup and runs it in the foreground: on the bundled
# quick-start config, or on the config files given (`scripts/run.sh -c config.json`).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh release
exec ./build/release/xsup run "$@"
