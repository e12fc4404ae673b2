#!/usr/bin/env bash
# Installs what is missing, builds focalab and runs the whole test suite (unit, integration,
# parity, slurm) except the tests labelled `slow` (whole mini experiments, tens of minutes).
# .ci/run calls exactly this.
#
#   scripts/test.sh [ctest options, e.g. -L unit, or -L slow for the slow ones]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh -DFOCALAB_WERROR=ON
cd build
if [[ $# == 0 ]]; then set -- -LE slow; fi
ctest --output-on-failure -j"$(nproc)" "$@"
