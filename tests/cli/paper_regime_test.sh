#!/usr/bin/env bash
# The paper-regime preset (experiments/configs/paper_regime.yaml) has the statistics it was
# chosen for: `focalab data stats` counts >= 50,000 binary negatives per positive over its training
# images, and one iteration of cross-entropy from the prior init takes >= 99% of its
# classification loss from negatives, most of it from easy ones — as recorded in loss_breakdown
# (iteration 1 is a logging interval of its own) and as the report's "at init" share shows.
# The tiny preset, for contrast, is far from it (< 1,000 per positive).
#   paper_regime_test.sh FOCALAB_BINARY SOURCE_DIR
set -uo pipefail
source "$(dirname "$0")/common.sh"

preset=$src/experiments/configs/paper_regime.yaml
out=$("$bin" data stats "$preset" 2>"$tmp/err")
rc=$?
ratio=$(sed -n 's/^ *binary negatives per positive *\([0-9]*\).*/\1/p' <<<"$out")
share=$(sed -n 's/^ *cross-entropy *\([0-9.]*\)%.*/\1/p' <<<"$out")
images=$(sed -n 's/.*(synthetic data, \([0-9]*\) training images counted).*/\1/p' <<<"$out")
echo "$out"
if [[ $rc == 0 && $images == 4096 && ${ratio:-0} -ge 50000 ]]; then
  ok "data stats: $ratio binary negatives per positive over $images images (>= 50,000)"
else
  fail "data stats: exit $rc, ratio '${ratio}', images '${images}': $(cat "$tmp/err")"
fi
awk -v s="${share:-0}" 'BEGIN {exit !(s >= 99)}' && ok "data stats: CE's expected negative share $share% (>= 99%)" ||
  fail "data stats: CE's expected negative share '$share'"
tiny=$("$bin" data stats "$src/experiments/configs/tiny.yaml" --images 512 2>/dev/null |
  sed -n 's/^ *binary negatives per positive *\([0-9]*\).*/\1/p')
[[ -n $tiny && $tiny -lt 1000 ]] && ok "tiny preset for contrast: $tiny per positive" ||
  fail "tiny preset: '$tiny' per positive"

# COCO data: the same images exported as a COCO dataset (data synth) give the same statistics,
# from the annotations and image sizes alone.
"$bin" data synth --out "$tmp/coco" "$src/experiments/configs/tiny.yaml" --max-images 64 >/dev/null 2>&1
cat >"$tmp/coco.yaml" <<YAML
name: coco-stats
base: $src/experiments/configs/tiny.yaml
data:
  kind: coco
  train: {annotations: $tmp/coco/annotations/instances_train.json, images: $tmp/coco/train}
  val: {annotations: $tmp/coco/annotations/instances_val.json, images: $tmp/coco/val}
  min_size: 128
  max_size: 128
YAML
a=$("$bin" data stats "$tmp/coco.yaml" 2>/dev/null | tail -n +2)
b=$("$bin" data stats "$src/experiments/configs/tiny.yaml" --images 64 2>/dev/null | tail -n +2)
[[ -n $a && $a == "$(sed 's/synthetic data/coco data/' <<<"$b")" || $a == "$b" ]] &&
  grep -q "binary negatives per positive" <<<"$a" &&
  ok "data stats of the COCO export equal the synthetic data's (64 images)" ||
  fail "data stats differ: COCO: $a; synthetic: $b"
expect 3 "data.train.annotations: no such file" -- \
  "$bin" data stats "$tmp/coco.yaml" data.train.annotations="$tmp/none.json"

# One iteration of CE at the prior init, recorded.
"$bin" train "$preset" loss.kind=ce train.iterations=1 train.log_every=1 data.val_images=4 \
  --db "$tmp/one.db" --threads 2 >/dev/null 2>"$tmp/err" || fail "one CE iteration: $(tail -3 "$tmp/err")"
q() { sqlite3 "$tmp/one.db" "$1"; }
neg=$(q "SELECT sum(CASE WHEN category != 'positive' THEN loss_sum END) / sum(loss_sum)
         FROM loss_breakdown WHERE iteration = 1 AND class_id = -1")
easy=$(q "SELECT sum(CASE WHEN category = 'easy_negative' THEN loss_sum END) / sum(loss_sum)
          FROM loss_breakdown WHERE iteration = 1 AND class_id = -1")
echo "iteration 1 of CE: negatives $neg, easy negatives $easy of the classification loss"
awk -v n="${neg:-0}" -v e="${easy:-0}" 'BEGIN {exit !(n >= 0.99 && e > n / 2)}' &&
  ok "iteration 1 of CE: negatives carry $neg of the loss (>= 0.99), easy negatives $easy" ||
  fail "iteration 1 of CE: negatives '$neg', easy '$easy'"
[[ $(q "SELECT iterations FROM loss_intervals WHERE iteration = 1") == 1 ]] &&
  ok "iteration 1 is an interval of its own" || fail "no one-iteration interval at iteration 1"
report=$("$bin" report --db "$tmp/one.db" 2>&1)
grep -q "at init easy" <<<"$report" && grep -qE "\| +9[0-9]\.[0-9]% \|" <<<"$report" &&
  ok "report: the loss share at init" || fail "report has no 'at init' share: $report"
finish
