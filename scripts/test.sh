#!/usr/bin/env bash
# Installs what is missing, builds focalab and runs the whole test suite (unit, integration,
# parity, slurm) except the tests labelled `slow` (whole mini experiments, tens of minutes).
# .ci/run calls exactly this. Tests that cannot run on this machine (no GPU, no torchvision...)
# are reported by ctest as skipped, not passed; the last lines name each one and why.
#
#   scripts/test.sh [ctest options, e.g. -L unit, or -L slow for the slow ones]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh -DFOCALAB_WERROR=ON
cd build
if [[ $# == 0 ]]; then set -- -LE slow; fi
# Tests run side by side (-j nproc), each with its own LibTorch threads: OpenMP threads that
# wait at a barrier sleep instead of spinning on the cores the other tests compute on.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
mkdir -p Testing
set +e
ctest --output-on-failure -j"$(nproc)" "$@" | tee Testing/ctest-summary.txt
rc=${PIPESTATUS[0]}
set -e
scripts_dir=$(cd .. && pwd)/scripts
"$scripts_dir/skip-summary.sh" Testing/ctest-summary.txt Testing/Temporary/LastTest.log
exit "$rc"
