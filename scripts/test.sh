#!/usr/bin/env bash
# Sets up this machine, builds xsup and runs every test: a short run of every fuzz target,
# then unit and integration tests on the release build and again on the ASan+UBSan build.
# XSUP_FUZZ_SECONDS=0 skips fuzzing; XSUP_TEST_PRESETS="release" limits the builds
# (default "release asan").
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
if [ "${XSUP_FUZZ_SECONDS:-15}" != 0 ]; then
  echo "== fuzz"
  ./scripts/fuzz.sh
fi
presets=${XSUP_TEST_PRESETS:-release asan}
for preset in $presets; do
  echo "== $preset: build"
  ./scripts/build.sh "$preset"
  echo "== $preset: test"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "build/$preset" --output-on-failure -j 2
done
