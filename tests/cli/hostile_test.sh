#!/usr/bin/env bash
# The hostile-input corpus (tests/cli/hostile/CASES and *.cases): bad command-line arguments, datasets,
# images, results databases and checkpoints. Each case must exit with its code and one line
# matching its pattern — no crash, no uncaught exception, no LibTorch stack trace — and the
# results database the cases point at must be intact afterwards (PRAGMA integrity_check and the
# same rows).
#   hostile_test.sh FOCALAB_BINARY SOURCE_DIR
set -uo pipefail
source "$(dirname "$0")/common.sh"

# --- fixtures
synth=$tmp/synth
"$bin" data synth --out "$synth" "$src/experiments/configs/tiny.yaml" --max-images 6 >/dev/null 2>&1 ||
  { fail "data synth"; finish; }
cat >"$tmp/sweep.yaml" <<YAML
name: hostile
base: $src/experiments/configs/tiny.yaml
data: {train_images: 16, val_images: 4}
train: {iterations: 4, batch_size: 2, warmup_iters: 1, lr_steps: [3], log_every: 2}
YAML
yaml=$tmp/sweep.yaml
db=$tmp/good.db
"$bin" sweep run "$yaml" --threads 2 --db "$db" >/dev/null 2>"$tmp/log" || { fail "sweep: $(tail -2 "$tmp/log")"; finish; }
key=$(sqlite3 "$db" "SELECT key FROM trials")
ckpt=$(sqlite3 "$db" "SELECT checkpoint_path FROM trials")
"$bin" sweep run "$yaml" model.fpn_channels=32 --threads 2 --db "$tmp/other_arch.db" >/dev/null 2>&1 ||
  fail "other-architecture sweep"
cp "$(sqlite3 "$tmp/other_arch.db" "SELECT checkpoint_path FROM trials")" "$tmp/other_arch.pth"
cat >"$tmp/coco.yaml" <<YAML
name: hostile-coco
base: $src/experiments/configs/tiny.yaml
data:
  kind: coco
  train: {annotations: $synth/annotations/instances_train.json, images: $synth/train}
  val: {annotations: $synth/annotations/instances_val.json, images: $synth/val}
train: {iterations: 2, batch_size: 2, warmup_iters: 1, lr_steps: [1], log_every: 1}
YAML
coco=$tmp/coco.yaml
cp -r "$synth/train" "$tmp/zero_train" && : >"$tmp/zero_train/000001.png"
echo '{"images": [' >"$tmp/instances_bad.json"
head -c 200 "$synth/annotations/instances_val.json" >"$tmp/instances_truncated.json"
: >"$tmp/empty.json"
echo '{"annotations": [], "categories": []}' >"$tmp/no_images_key.json"
: >"$tmp/zero.png"
echo "this is text, not a JPEG" >"$tmp/text.jpg"
img=$(ls "$synth/val" | head -1)
cp "$synth/val/$img" "$tmp/img.png"
/usr/bin/python3 - "$tmp" <<'PY' 2>/dev/null || cp "$tmp/img.png" "$tmp/truncated.jpg"
import io, struct, sys, zlib
from PIL import Image
d = sys.argv[1]
buf = io.BytesIO()
Image.new("RGB", (64, 48), (200, 30, 30)).save(buf, "JPEG")
open(d + "/truncated.jpg", "wb").write(buf.getvalue()[: len(buf.getvalue()) // 2])
# a PNG whose header claims 100000 x 100000 pixels
def chunk(t, data):
    return struct.pack(">I", len(data)) + t + data + struct.pack(">I", zlib.crc32(t + data))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0))
png += chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b"")
open(d + "/huge.png", "wb").write(png)
PY
echo '[{"image_id": 999, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.5}]' >"$tmp/detections.json"
printf '[{"image_id": 1, "category_id": ' >"$tmp/junk_results.json"
echo "not a database, just text" >"$tmp/junk.db"
sqlite3 "$tmp/other.db" "CREATE TABLE customers (id INTEGER, name TEXT); INSERT INTO customers VALUES (1, 'x');"
cp "$db" "$tmp/newer.db" && sqlite3 "$tmp/newer.db" "UPDATE schema_version SET version = 99"
mkdir "$tmp/adir.db"
cp "$db" "$tmp/full.db"
full_limit=$(( $(stat -c %s "$tmp/full.db") / 1024 + 8 ))
ro=$(mktemp -d /tmp/focalab-ro-XXXXXX)
trap 'kill -9 $(jobs -p) 2>/dev/null; rm -rf "$tmp" "$ro"' EXIT
chmod 755 "$ro"
# root ignores file permissions: the read-only cases run as an unprivileged user
asuser=""
[[ $(id -u) == 0 ]] && asuser="runuser -u nobody --"
cp "$yaml" "$ro/sweep.yaml" && chmod 644 "$ro/sweep.yaml"
cp "$db" "$ro/readonly.db" && chmod 444 "$ro/readonly.db"
mkdir "$ro/rodir" && chmod 555 "$ro/rodir"
head -c 5000 "$ckpt" >"$tmp/truncated.pth"
echo "junk" >"$tmp/junk.pth"
: >"$tmp/empty.pth"
/usr/bin/python3 -c "
import torch, torchvision, sys
m = torchvision.models.resnet18()
torch.save({k: v for k, v in m.state_dict().items()}, sys.argv[1])" "$tmp/backbone_only.pth" 2>/dev/null ||
  cp "$tmp/truncated.pth" "$tmp/backbone_only.pth"

snapshot() {  # integrity and every table's row count
  sqlite3 "$1" "PRAGMA integrity_check; SELECT (SELECT count(*) FROM trials), (SELECT count(*) FROM train_steps),
    (SELECT count(*) FROM loss_breakdown), (SELECT count(*) FROM evaluations), (SELECT group_concat(status) FROM trials)" | tr '\n' ' '
}
trial_rows() {  # integrity and the rows of trial $key
  sqlite3 "$1" "PRAGMA integrity_check; SELECT t.status, (SELECT count(*) FROM train_steps s WHERE s.trial_id = t.id),
    (SELECT count(*) FROM loss_breakdown b WHERE b.trial_id = t.id), (SELECT group_concat(value) FROM evaluations e
    WHERE e.trial_id = t.id) FROM trials t WHERE t.key = '$key'" | tr '\n' ' '
}
before=$(snapshot "$db")
full_before=$(trial_rows "$tmp/full.db")
# Every input file the cases read (not the databases and checkpoints they may write): its sha256
# before, checked after — a refused input must be left exactly as it was.
find "$tmp" "$ro" -type f ! -name '*.db' ! -name '*.db-*' ! -path '*-checkpoints/*' \
  ! -name 'sums.sha256' -print0 2>/dev/null | sort -z | xargs -0 sha256sum >"$tmp/sums.sha256"
inputs=$(wc -l <"$tmp/sums.sha256")

# --- the cases, each in bounded time and memory: a hang ends at the timeout (exit 124), an
# allocation beyond the address-space limit fails inside focalab (and must still be one line)
case_timeout=120
case_vmem_kib=$((6 * 1024 * 1024))
export bin src tmp db key ckpt yaml synth coco ro asuser full_limit img
cases=0
while IFS=$'\t' read -r code pattern command; do
  [[ -z $code || $code == \#* ]] && continue
  cases=$((cases + 1))
  err=$(cd "$tmp" && ulimit -v "$case_vmem_kib" && timeout "$case_timeout" bash -c "$command" 2>&1 >/dev/null)
  rc=$?
  # progress lines may come first (sweep run); the error is one line, the last
  line=$(grep "^focalab: error:" <<<"$err")
  if [[ $rc != "$code" ]]; then
    fail "exit $rc, expected $code: $command: $(tail -3 <<<"$err")"
  elif grep -qE "Exception raised from|frame #|terminate called|Traceback" <<<"$err"; then
    fail "stack trace: $command: $err"
  elif [[ $(grep -c "^focalab: error:" <<<"$err") != 1 || $(tail -1 <<<"$err") != "$line" ]]; then
    fail "not one error line at the end: $command: $err"
  elif ! grep -qE -- "^focalab: error: .*($pattern)" <<<"$line"; then
    fail "error does not match /$pattern/: $command: $line"
  else
    ok "$code $line"
  fi
done < <(cat "$src/tests/cli/hostile/CASES" "$src"/tests/cli/hostile/*.cases 2>/dev/null)

changed=$(sha256sum --quiet -c "$tmp/sums.sha256" 2>&1)
[[ -z $changed ]] && ok "$inputs input files unchanged (sha256)" || fail "inputs changed: $changed"
[[ $(snapshot "$db") == "$before" ]] && ok "results database unchanged: $before" ||
  fail "results database changed: $before -> $(snapshot "$db")"
after=$(trial_rows "$tmp/full.db")
[[ $after == "$full_before" && ${after%% *} == ok ]] &&
  ok "full disk: database intact, the done trial's rows kept" || fail "full disk: $full_before -> $after"
[[ $cases -ge 40 ]] || fail "only $cases cases"
echo "$cases hostile inputs"
finish
