#!/usr/bin/env bash
# Configures (Release) and builds focalab and its tests into build/ with every core. Build
# output goes to stderr, so that a caller's stdout carries only data (reports, tables).
#
#   scripts/build.sh [extra cmake -D options]
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@" >&2
cmake --build build -j"$(nproc)" >&2
