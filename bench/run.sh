#!/bin/sh
# Build the release preset, then run the SOCKS chain benchmark.
# Usage: bench/run.sh [chain.py options]   (see bench/chain.py --help)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cmake --preset release
cmake --build --preset release
exec /usr/bin/python3 "$root/bench/chain.py" "$@"
