#!/usr/bin/env bash
# Prints how many tests ctest skipped and why: ctest lists skipped tests without their reason,
# which is in each test's output (a line with "SKIPPED:" or GoogleTest's message after "Skipped").
#
#   scripts/skip-summary.sh CTEST_STDOUT LastTest.log
set -uo pipefail
summary=$1 log=$2
mapfile -t skipped < <(sed -n 's/^[[:space:]]*[0-9]* - \(.*\) (Skipped)$/\1/p' "$summary")
[[ ${#skipped[@]} == 0 ]] && { echo "skipped: none"; exit 0; }
echo "skipped: ${#skipped[@]} test(s)"
for name in "${skipped[@]}"; do
  why=$(awk -v t="$name" '
    $0 ~ /^[0-9]+\/[0-9]+ Test: / { sub(/^[0-9]+\/[0-9]+ Test: /, ""); cur = ($0 == t); out = 0; next }
    cur && /^Output:$/ { out = 1; next }
    /^<end of output>$/ { out = 0 }
    !out { next }
    cur && /SKIPPED:/ { sub(/.*SKIPPED: */, ""); print; exit }
    cur && after_skip { print; exit }
    cur && /: Skipped$/ { after_skip = 1 }' "$log")
  echo "  $name: ${why:-no reason printed}"
done
