#!/usr/bin/env bash
# The light front: `focalab` does not link LibTorch, runs the commands that need no model itself,
# and hands every other one to focalab-torch beside it, unchanged.
#   light_front_test.sh FOCALAB_BINARY SOURCE_DIR
set -uo pipefail
source "$(dirname "$0")/common.sh"
torch_bin="$(dirname "$bin")/focalab-torch"

needed=$(readelf -d "$bin" | grep NEEDED)
if grep -Eq "libtorch|libc10|libgomp-|libcaffe2" <<<"$needed"; then
  fail "focalab links LibTorch: $(grep -E 'libtorch|libc10' <<<"$needed" | tr -s ' ' | head -3)"
else
  ok "focalab links $(grep -c . <<<"$needed") shared libraries, none of LibTorch"
fi
grep -q "libtorch" <(readelf -d "$torch_bin" | grep NEEDED) && ok "focalab-torch links LibTorch" ||
  fail "focalab-torch does not link LibTorch"

# The light commands, run by the front itself.
expect 0 "^focalab [0-9]+\.[0-9]+\.[0-9]+ \(git " -- "$bin" --version
expect 0 "loss.gamma +float" -- "$bin" config keys
printf '[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9}]' >"$tmp/dt.json"
printf '{"images": [{"id": 1, "width": 20, "height": 20}], "categories": [{"id": 1, "name": "a"}], "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0}]}' >"$tmp/gt.json"
expect 0 "Average Precision  \(AP\) @\[ IoU=0.50:0.95 \| area=   all \| maxDets=100 \] = 1.000" -- \
  "$bin" eval-json --gt "$tmp/gt.json" --dt "$tmp/dt.json"
expect 4 "missing.db" -- "$bin" query trials --db "$tmp/missing.db"

# A handed-over command: the same output and exit code as focalab-torch's own.
plan_front=$("$bin" sweep plan "$src/experiments/mini/quick.yaml" 2>&1)
rc_front=$?
plan_torch=$("$torch_bin" sweep plan "$src/experiments/mini/quick.yaml" 2>&1)
[[ $rc_front == 0 && "$plan_front" == "$plan_torch" ]] && ok "sweep plan handed over unchanged" ||
  fail "sweep plan through the front (rc $rc_front) differs from focalab-torch's"
expect 2 "unknown command 'trian'" -- "$bin" trian
expect 0 "CUDA: " -- "$bin" devices
# sweep slurm writes the front's path into the script, not focalab-torch's
"$bin" sweep slurm "$src/experiments/mini/quick.yaml" --out "$tmp/job.sbatch" --db "$tmp/s.db" >/dev/null 2>&1
grep -Fq "$(readlink -f "$bin")' " "$tmp/job.sbatch" && ok "sbatch script runs focalab" ||
  fail "sbatch script does not run $(readlink -f "$bin"): $(grep -m1 focalab "$tmp/job.sbatch")"

# Without focalab-torch beside it: the light commands still work, the others fail in one line.
mkdir "$tmp/alone" && cp "$bin" "$tmp/alone/focalab"
expect 0 "loss.gamma" -- "$tmp/alone/focalab" config keys
expect 70 "cannot run .*alone/focalab-torch: No such file or directory" -- \
  "$tmp/alone/focalab" sweep plan "$src/experiments/mini/quick.yaml"
finish
