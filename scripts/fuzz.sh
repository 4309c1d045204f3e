#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, `fuzz` preset) and runs each for a short while,
# starting from its seeds in tests/fuzz/seeds/<target>/ (inputs that once failed; they are
# replayed first). XSUP_FUZZ_SECONDS sets the time per target (default 15). A failure
# prints the fuzzer's report and keeps the input under build/fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${XSUP_FUZZ_SECONDS:-15}
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz --target fuzz_targets -j "$(nproc)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p build/fuzz/artifacts
status=0
for target in build/fuzz/*_fuzz; do
  name=$(basename "$target")
  echo "== fuzz $name for ${seconds}s"
  corpus=("$work/$name")
  mkdir -p "$work/$name"
  [ -d "tests/fuzz/seeds/$name" ] && corpus+=("tests/fuzz/seeds/$name")
  if "$target" -max_total_time="$seconds" -print_final_stats=1 \
      -artifact_prefix="build/fuzz/artifacts/$name-" "${corpus[@]}" >"$work/$name.log" 2>&1; then
    tail -n 3 "$work/$name.log"
  else
    status=1
    echo "!! $name failed; its report:"
    grep -v -E '^(#[0-9]+|INFO:|"|###)' "$work/$name.log" | tail -n 60
    ls build/fuzz/artifacts/"$name"-* 2>/dev/null || true
  fi
done
exit "$status"
