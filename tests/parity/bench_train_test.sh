#!/usr/bin/env bash
# `focalab bench train` against torchvision: both models are built, trained on the same boxes
# and timed in one run. Asserted: the tiny preset's and R50-FPN's torchvision counterparts have
# exactly as many trainable parameters as focalab's (the bench prints a line when they differ),
# each row has the times of both (torchvision also with focalab's allocator settings) and the
# ratios, and --profile lists every stage of the iteration with a
# total equal to the sum of the stages. Timings themselves are not asserted.
# Usage: bench_train_test.sh FOCALAB
set -uo pipefail
focalab=$1
if ! /usr/bin/python3 -c 'import torchvision' 2>/dev/null; then
  echo "SKIPPED: no torchvision (apt-get install python3-torchvision)"
  exit 77  # ctest: SKIP_RETURN_CODE
fi
fail=0
out=$("$focalab" bench train --model both --size 256 --reps 1 --warmup 0 --threads 2 --profile 2>&1)
rc=$?
echo "$out"
[[ $rc == 0 ]] || { echo "FAIL: bench train exited $rc"; exit 1; }
row='\| +[0-9.]+ \| +[0-9.]+ \| +[0-9.]+x \| +[0-9.]+ \| +[0-9.]+x \|$'
for model in "RetinaNet-R50-FPN, 91 classes .*2 x 256 x 256" "tiny preset .*8 x 128 x 128"; do
  if grep -qE "^\| $model.*$row" <<<"$out"; then echo "ok: a timed row for /$model/"; else
    echo "FAIL: no row with both times and a ratio for /$model/"; fail=1; fi
done
if grep -q "parameters differ\|not measured" <<<"$out"; then
  echo "FAIL: the torchvision models are not focalab's, or were not measured"; fail=1
else
  echo "ok: same trainable parameter counts"
fi
for stage in "data to device" backbone fpn heads matching loss backward optimizer logging total; do
  n=$(grep -cE "^\| $stage +\| +[0-9.]+ \| +[0-9.]+% \|$" <<<"$out")
  if [[ $n == 2 ]]; then echo "ok: stage '$stage' in both profiles"; else
    echo "FAIL: stage '$stage' in $n of 2 profiles"; fail=1; fi
done
# the profile's total is the sum of its stages (to the printed rounding)
sums=$(awk -F'|' '/^\| (data to device|backbone|fpn|heads|matching|loss|backward|optimizer|logging) +\|/ {s += $3}
                  /^\| total +\|/ {printf "%.2f %.2f\n", s, $3; s = 0}' <<<"$out")
while read -r s t; do
  if awk -v s="$s" -v t="$t" 'BEGIN {exit !((s - t) < 0.1 && (t - s) < 0.1)}'; then
    echo "ok: stages sum to the total ($s ms)"; else echo "FAIL: stages sum to $s, total $t"; fail=1; fi
done <<<"$sums"
exit $fail
