#!/usr/bin/env bash
# Installs what is missing, builds focalab, runs the quick sweep on the built-in synthetic data
# and prints its report. Safe to run again: finished trials are not run twice.
#
#   scripts/quickstart.sh [DB]      (default DB: ./focalab.db)
set -euo pipefail
cd "$(dirname "$0")/.."
db=${1:-focalab.db}
scripts/install-deps.sh --build-only
scripts/build.sh --target focalab
build/focalab sweep run experiments/quick.yaml --db "$db"
build/focalab report --db "$db" --sweep quick
