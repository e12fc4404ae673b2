#!/usr/bin/env bash
# Installs what is missing, builds focalab and runs the whole test suite (unit, integration).
# .ci/run calls exactly this.
#
#   scripts/test.sh [ctest options, e.g. -L unit]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh -DFOCALAB_WERROR=ON
cd build
ctest --output-on-failure -j"$(nproc)" "$@"
