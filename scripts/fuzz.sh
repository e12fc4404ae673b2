#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (tests/fuzz, into build-fuzz/) and runs each for a
# while: the config loader (YAML + overrides), the COCO instances reader, the COCO results reader
# of eval-json and the image decoder. Every run starts from the seeds in tests/fuzz/corpus/TARGET
# and its regressions, grows a working corpus in build-fuzz/corpus/TARGET, and stops at the first
# crash, uncaught exception, leak, timeout (10 s per input) or 2 GB of memory, leaving the input
# in build-fuzz/crashes/TARGET/. Copy such an input to tests/fuzz/regressions/TARGET/ once fixed:
# the test suite replays it (tests/fuzz/corpus_test.cpp).
#
#   scripts/fuzz.sh [SECONDS per target, default 600] [TARGET ...]
#   JOBS=2 scripts/fuzz.sh 600           two targets at a time (default: one per core)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(config coco_instances coco_results image)
jobs=${JOBS:-$(nproc)}
scripts/install-deps.sh --build-only >&2
command -v clang++ >/dev/null || apt-get install -y -qq --no-install-recommends clang >&2
CXX=clang++ cmake -S tests/fuzz -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo >&2
cmake --build build-fuzz -j"$(nproc)" >&2

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export LSAN_OPTIONS=suppressions=$PWD/tests/sanitize/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run_one() {
  local t=$1 dir=build-fuzz
  mkdir -p "$dir/corpus/$t" "$dir/crashes/$t"
  local seeds=("tests/fuzz/corpus/$t")
  [[ -d tests/fuzz/regressions/$t ]] && seeds+=("tests/fuzz/regressions/$t")
  local dict=()
  case $t in
    config) dict=(-dict=tests/fuzz/config.dict) ;;
    coco_*) dict=(-dict=tests/fuzz/coco_json.dict) ;;
  esac
  if "$dir/fuzz_$t" "$dir/corpus/$t" "${seeds[@]}" "${dict[@]}" -max_total_time="$seconds" \
       -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
       -artifact_prefix="$dir/crashes/$t/" >"$dir/$t.log" 2>&1; then
    echo "fuzz $t: $seconds s clean ($(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$dir/$t.log" | grep -o '[0-9]*$') inputs run, corpus $(ls "$dir/corpus/$t" | wc -l))"
  else
    echo "fuzz $t: FAILED, see $dir/$t.log and $dir/crashes/$t/"
    return 1
  fi
}
status=0
running=0
pids=()
for t in "${targets[@]}"; do
  run_one "$t" &
  pids+=($!)
  running=$((running + 1))
  if [[ $running -ge $jobs ]]; then
    wait -n || status=1
    running=$((running - 1))
  fi
done
while [[ $running -gt 0 ]]; do
  wait -n || status=1
  running=$((running - 1))
done
exit $status
