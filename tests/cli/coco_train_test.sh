#!/usr/bin/env bash
# Training on COCO-format datasets end to end: `focalab train` / `sweep run` with data.kind coco
# on (1) the synthetic benchmark exported as a COCO dataset (PNG) and (2) real photographs as
# JPEGs of several sizes and kinds (grayscale, CMYK, progressive) from Debian's python3-skimage;
# what lands in the results database; the bad-data policy (data.on_bad) with its messages and
# exit codes.
#   coco_train_test.sh FOCALAB_BINARY SOURCE_DIR
set -uo pipefail
source "$(dirname "$0")/common.sh"
sql() { sqlite3 "$1" "$2"; }

# --- 1. the synthetic benchmark as a COCO dataset --------------------------------------------
"$bin" data synth --out "$tmp/synth" "$src/experiments/configs/tiny.yaml" data.train_images=48 \
  data.val_images=16 >/dev/null 2>&1 ||
  fail "data synth"
cat >"$tmp/coco.yaml" <<YAML
base: $src/experiments/configs/tiny.yaml
data:
  kind: coco
  train: {annotations: $tmp/synth/annotations/instances_train.json, images: $tmp/synth/train}
  val: {annotations: $tmp/synth/annotations/instances_val.json, images: $tmp/synth/val}
  min_size: 128
  max_size: 128
train: {iterations: 30, batch_size: 4, warmup_iters: 10, lr_steps: [25], log_every: 10}
YAML
out=$("$bin" train "$tmp/coco.yaml" --db "$tmp/a.db" --threads 2 2>"$tmp/err")
rc=$?
if [[ $rc != 0 ]]; then
  fail "train on the synthetic COCO export exited $rc: $(tail -3 "$tmp/err")"
else
  grep -q "Average Precision  (AP) @\[ IoU=0.50:0.95 | area=   all | maxDets=100 \]" <<<"$out" ||
    fail "train printed no COCO summary: $out"
  grep -qE "data train .*instances_train.json: 48 images, [0-9]+ boxes" "$tmp/err" ||
    fail "no dataset line: $(head -3 "$tmp/err")"
  grep -qE "data wait [0-9]+%" "$tmp/err" || fail "no data-wait share in the step log"
  [[ $(sql "$tmp/a.db" "SELECT status FROM trials") == done ]] || fail "trial not done"
  [[ $(sql "$tmp/a.db" "SELECT count(*) FROM train_steps WHERE data_ms IS NOT NULL") == 4 ]] ||
    fail "train_steps: expected 4 rows with data_ms (iteration 1 alone, then every 10)"
  [[ $(sql "$tmp/a.db" "SELECT count(*) FROM evaluations WHERE split = 'val'") == 13 ]] ||
    fail "evaluations: expected the 12 COCO metrics and ms_per_image"
  ms=$(sql "$tmp/a.db" "SELECT value > 0 AND value < 60000 FROM evaluations WHERE metric = 'ms_per_image'")
  [[ $ms == 1 ]] || fail "ms_per_image: not a positive time below a minute"
  names=$(sql "$tmp/a.db" "SELECT group_concat(class_name, ',') FROM (SELECT class_name FROM class_ap ORDER BY class_id)")
  [[ $names == "rectangle,ellipse,triangle,cross" ]] || fail "class_ap names: '$names'"
  ok "train on the synthetic COCO export: done, 3 step rows, 12 metrics, classes $names"
fi
# Running it again prints the stored result and trains nothing.
out2=$("$bin" train "$tmp/coco.yaml" --db "$tmp/a.db" --threads 2 2>"$tmp/err2")
if [[ $? == 0 && $out2 == "$out" ]] && grep -q "every trial is already done" "$tmp/err2"; then
  ok "train again: stored result, nothing run"
else
  fail "train again: $(cat "$tmp/err2")"
fi

# --- 2. bad data: one-line errors with exit code 3, or counted skips ---------------------------
ann="$tmp/synth/annotations/instances_train.json"
mv "$tmp/synth/train/000003.png" "$tmp/moved.png"
expect 3 "instances_train.json: image 3: .*000003.png is missing \(data.on_bad is error" -- \
  "$bin" train "$tmp/coco.yaml" data.on_bad=error --db "$tmp/b.db"
[[ ! -e "$tmp/b.db" ]] && ok "nothing written before the data was checked" || fail "b.db written"
expect 0 "skipped 1 missing images, e.g. image 3" -- \
  "$bin" train "$tmp/coco.yaml" data.on_bad=skip train.iterations=2 --db "$tmp/c.db" --threads 2
mv "$tmp/moved.png" "$tmp/synth/train/000003.png"
expect 3 "no such file '$tmp/none.json'" -- \
  "$bin" train "$tmp/coco.yaml" data.train.annotations="$tmp/none.json" --db "$tmp/b.db"
printf '{"images": [' >"$tmp/broken.json"
expect 3 "broken.json" -- \
  "$bin" train "$tmp/coco.yaml" data.train.annotations="$tmp/broken.json" --db "$tmp/b.db"
/usr/bin/env sed 's/"category_id": *2,/"category_id": 42,/' "$ann" >"$tmp/unknown_cat.json"
expect 3 "annotation [0-9]+: category_id 42 is not in categories" -- \
  "$bin" train "$tmp/coco.yaml" data.train.annotations="$tmp/unknown_cat.json" \
  data.on_bad=error --db "$tmp/b.db"
expect 2 "data.on_bad: 'maybe' is not one of skip, error|data.on_bad.*skip, error" -- \
  "$bin" train "$tmp/coco.yaml" data.on_bad=maybe --db "$tmp/b.db"
printf 'data: {kind: coco}\n' >"$tmp/incomplete.yaml"
expect 2 "data.train.annotations: data.kind coco needs" -- \
  "$bin" train "$tmp/incomplete.yaml" --db "$tmp/b.db"
expect 2 "expands to 3 trials" -- \
  "$bin" train "$src/experiments/quick.yaml" --db "$tmp/b.db"

# --- 3. real photographs (JPEG, varied sizes) --------------------------------------------------
photos=/usr/lib/python3/dist-packages/skimage/data
if [[ -f $photos/astronaut.png ]] && /usr/bin/python3 -c "import PIL" 2>/dev/null; then
  /usr/bin/python3 "$src/tests/data/photos/make_photos.py" "$photos" "$tmp/photos" >/dev/null
  check=$("$bin" data check --annotations "$tmp/photos/instances.json" \
            --images "$tmp/photos/images" 2>&1)
  if grep -qE "images +6 \(0 without annotations, 0 missing, 0 unreadable\)" <<<"$check" &&
     grep -qE "annotations +7 \(0 crowd" <<<"$check" &&
     grep -qE "99 +rocket +2" <<<"$check" && grep -q "no problems found" <<<"$check"; then
    ok "data check on 6 photographs"
  else
    fail "data check on the photographs: $check"
  fi
  cat >"$tmp/photos.yaml" <<YAML
base: $src/experiments/configs/tiny.yaml
data:
  kind: coco
  train: {annotations: $tmp/photos/instances.json, images: $tmp/photos/images}
  val: {annotations: $tmp/photos/instances.json, images: $tmp/photos/images}
  min_size: 192
  max_size: 320
train: {iterations: 12, batch_size: 3, warmup_iters: 4, lr_steps: [10], log_every: 4}
YAML
  out=$("$bin" train "$tmp/photos.yaml" --db "$tmp/p.db" --threads 2 2>"$tmp/err")
  rc=$?
  if [[ $rc == 0 ]] && grep -q "Average Precision" <<<"$out" &&
     grep -qE "data train .*instances.json: 6 images, 7 boxes \(0 crowd regions\), 5 categories" \
       "$tmp/err" &&
     [[ $(sql "$tmp/p.db" "SELECT count(*) FROM class_ap") == 5 ]] &&
     [[ $(sql "$tmp/p.db" "SELECT class_name FROM class_ap WHERE class_id = 4") == rocket ]] &&
     [[ $(sql "$tmp/p.db" "SELECT count(*) FROM train_steps WHERE loss_total > 0") == 4 ]]; then
    ok "train on 6 photographs (JPEG RGB, grayscale, CMYK, progressive; 300..741 px wide)"
  else
    fail "train on the photographs exited $rc: $(tail -5 "$tmp/err")"
  fi
  # A sweep on the same data: two losses, recorded side by side.
  cat >"$tmp/photos_sweep.yaml" <<YAML
name: photos-losses
base: $tmp/photos.yaml
train: {iterations: 4, log_every: 2}
sweep:
  cases: [{loss.kind: ce}, {loss.kind: focal}]
YAML
  if "$bin" sweep run "$tmp/photos_sweep.yaml" --db "$tmp/p.db" --threads 2 2>"$tmp/err" &&
     [[ $(sql "$tmp/p.db" "SELECT count(*) FROM results WHERE sweep = 'photos-losses' AND status = 'done' AND AP IS NOT NULL") == 2 ]]; then
    ok "sweep run on the photographs: 2 trials done with AP"
  else
    fail "sweep run on the photographs: $(tail -3 "$tmp/err")"
  fi
  # A JPEG cut short: an error naming the file (exit 3), or skipped and counted.
  head -c 20000 "$tmp/photos/images/chelsea.jpg" >"$tmp/cut.jpg"
  mv "$tmp/cut.jpg" "$tmp/photos/images/chelsea.jpg"
  expect 3 "chelsea.jpg: truncated or corrupt JPEG" -- \
    "$bin" train "$tmp/photos.yaml" data.on_bad=error --db "$tmp/q.db"
  expect 0 "skipped 1 unreadable images, e.g. image 3: .*chelsea.jpg: truncated" -- \
    "$bin" train "$tmp/photos.yaml" train.iterations=2 --db "$tmp/q.db" --threads 2
else
  photos_skipped=1
fi

# Part of this test could not run: ctest reports it skipped (SKIP_RETURN_CODE 77), not passed.
if [[ ${photos_skipped:-0} == 1 && $failures == 0 ]]; then
  echo "SKIPPED: real photographs: python3-skimage's sample photographs or /usr/bin/python3 with"
  echo "         PIL are missing (scripts/install-deps.sh installs them); the rest passed"
  exit 77
fi
finish
