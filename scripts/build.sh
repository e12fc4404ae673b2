#!/usr/bin/env bash
# Configures (Release) and builds focalab and its tests into build/ with every core. Build
# output goes to stderr, so that a caller's stdout carries only data (reports, tables).
#
#   scripts/build.sh [--target TARGET] [extra cmake -D options]
#
# --target builds one target and what it needs (scripts/quickstart.sh: `--target focalab`, the
# command-line tool without the test suite).
set -euo pipefail
cd "$(dirname "$0")/.."
target=()
if [[ ${1:-} == --target ]]; then
  [[ -n ${2:-} ]] || { echo "build.sh: --target needs a target name (e.g. focalab)" >&2; exit 2; }
  target=(--target "$2")
  shift 2
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@" >&2
cmake --build build -j"$(nproc)" "${target[@]}" >&2
