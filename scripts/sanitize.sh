#!/usr/bin/env bash
# The whole test suite under AddressSanitizer + UndefinedBehaviorSanitizer: installs what is
# missing, builds focalab and its tests into build-asan/ (RelWithDebInfo, -fsanitize=address,
# undefined; LibTorch itself is not instrumented) and runs ctest there. Any report fails the test
# it happens in (UBSan halts on the first error, ASan always does). LeakSanitizer's reports of
# LibTorch's and OpenMP's process-lifetime allocations are suppressed by
# tests/sanitize/lsan.supp, nothing else. Takes almost two hours on 2 cores (build 75 minutes,
# tests 33); run it before a release and after changes to memory-handling code
# (docs/TESTING.md, with the last run's result).
#
#   scripts/sanitize.sh [ctest options, e.g. -L unit]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# -g1: line tables for the reports' stack traces, a fraction of the full debug info's build time
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" \
  -DFOCALAB_SANITIZE=ON -DFOCALAB_WERROR=ON >&2
cmake --build build-asan -j"$(nproc)" >&2
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1
export LSAN_OPTIONS=suppressions=$PWD/tests/sanitize/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
cd build-asan
if [[ $# == 0 ]]; then set -- -LE slow; fi
ctest --output-on-failure -j"$(nproc)" "$@"
