#!/usr/bin/env bash
# Trained models out of focalab: `focalab export --trial KEY` of an R50-FPN trial (torchvision v1
# layout: P6 from P5, no head norm; v2: P6 from C5, GroupNorm heads) writes a state_dict that
# torchvision loads with load_state_dict(strict=True) through the Python that export prints, and
# torchvision's detections on an image equal `focalab predict --trial KEY`'s (same labels, boxes
# within 0.02 px, scores within 1e-4, same order). Also: `focalab eval --trial KEY` reproduces the
# AP the results database holds for a trial; the exported YAML is the trial's config (`sweep
# plan` on it gives the trial's key); a tiny-backbone trial exports in focalab's layout, which
# `--layout torchvision` refuses; and the errors of --trial (unknown key, a trial not done).
# Usage: export_test.sh FOCALAB SOURCE_DIR
set -uo pipefail
source "$2/tests/cli/common.sh"
py=/usr/bin/python3
if ! $py -c 'import torchvision' 2>/dev/null; then
  echo "SKIPPED: no torchvision (apt-get install python3-torchvision)"
  exit 77  # ctest: SKIP_RETURN_CODE
fi
cd "$tmp"
db=$tmp/e.db
# R50-FPN at 128 px, two iterations: what matters is that the weights are not the init's. The
# score threshold 0 keeps detections of a barely trained model (its config travels to torchvision).
common=(data.num_classes=3 data.train_images=8 data.val_images=2 data.min_objects=1
        data.max_objects=2 model.backbone=resnet50 model.fpn_channels=256 model.head_convs=4
        model.score_thresh=0 train.iterations=2 train.batch_size=2 train.warmup_iters=0
        train.lr_steps=[] train.log_every=1 --threads 2 --db "$db")
"$bin" data synth --out "$tmp/shapes" "$src/experiments/configs/tiny.yaml" data.num_classes=3 \
  data.val_images=2 data.train_images=1 --max-images 1 >/dev/null 2>&1 || fail "data synth"
img=$tmp/shapes/val/000001.png
[[ -f $img ]] || fail "no synthetic image at $img"

for v in v1 v2; do
  if [[ $v == v1 ]]; then arch=(model.p6_from=p5 model.head_norm=none); else arch=(model.p6_from=c5 model.head_norm=gn); fi
  "$bin" train "$src/experiments/configs/tiny.yaml" "${arch[@]}" "${common[@]}" >"$tmp/$v.train" 2>&1 \
    || { fail "train $v: $(tail -3 "$tmp/$v.train")"; continue; }
  key=$("$bin" query "SELECT key FROM trials WHERE json_extract(config_json, '\$.\"model.p6_from\"') = '${arch[0]#model.p6_from=}'" \
        --db "$db" --format csv | tail -1)
  [[ $key =~ ^[0-9a-f]{16}$ ]] || { fail "$v: no trial key ($key)"; continue; }
  expect 0 "torchvision layout" -- "$bin" export --trial "$key" --out "$tmp/$v.pth" --db "$db"
  "$bin" export --trial "$key" --out "$tmp/$v.pth" --db "$db" >"$tmp/$v.py" 2>/dev/null
  [[ -f $tmp/$v.yaml ]] || fail "$v: no $v.yaml beside the weights"
  "$bin" predict --trial "$key" --db "$db" --image "$img" --out "$tmp/$v.focalab.json" --threads 2 \
    2>"$tmp/err" || fail "predict --trial $v: $(cat "$tmp/err")"
  $py - "$tmp/$v.py" "$img" "$tmp/$v.focalab.json" <<'PY' && ok "$v: torchvision = focalab predict" || fail "$v: torchvision parity"
import json, sys
import numpy as np
import torch
from PIL import Image
code = open(sys.argv[1]).read()
scope = {}
exec(code, scope)                      # builds the model and load_state_dict(strict=True)
model = scope["model"]
img = torch.from_numpy(np.asarray(Image.open(sys.argv[2]).convert("RGB"), dtype=np.float32) / 255)
with torch.no_grad():
    out = model([img.permute(2, 0, 1)])[0]
got = json.load(open(sys.argv[3]))
n = len(got)
assert n == len(out["scores"]) and n > 0, (n, len(out["scores"]))
for i, g in enumerate(got):
    x1, y1, x2, y2 = out["boxes"][i].tolist()
    assert g["category_id"] == int(out["labels"][i]) + 1, (i, g, out["labels"][i])
    want = [x1, y1, x2 - x1, y2 - y1]
    assert max(abs(a - b) for a, b in zip(g["bbox"], want)) < 0.02, (i, g["bbox"], want)
    assert abs(g["score"] - float(out["scores"][i])) < 1e-4, (i, g["score"], out["scores"][i])
print(f"{n} detections equal, first score {got[0]['score']:.6f}")
PY
  # torchvision's own builder of this architecture takes the file as well
  builder=retinanet_resnet50_fpn; [[ $v == v2 ]] && builder=retinanet_resnet50_fpn_v2
  $py -c "
import torch, torchvision.models.detection as d
m = d.$builder(weights=None, weights_backbone=None, num_classes=3)
print(m.load_state_dict(torch.load('$tmp/$v.pth'), strict=True))" >/dev/null 2>"$tmp/err" \
    && ok "$v: $builder(num_classes=3).load_state_dict(strict=True)" || fail "$v: $builder: $(tail -2 "$tmp/err")"
  # the YAML beside the weights is the trial's config: the same trial key
  plan_key=$("$bin" sweep plan "$tmp/$v.yaml" --db "$tmp/plan.db" 2>/dev/null | grep -oE '[0-9a-f]{16}' | head -1)
  [[ $plan_key == "$key" ]] && ok "$v: $v.yaml plans trial $key" || fail "$v: $v.yaml plans '$plan_key', not $key"
done

# a tiny-backbone trial, trained enough to detect something: eval --trial reproduces the AP the
# database holds (its own val split, bit for bit) and scores it on the same images as PNG files
# (data synth; 8-bit pixels, so within 0.01); it exports in focalab's layout; torchvision's is refused
"$bin" train "$src/experiments/configs/tiny.yaml" data.num_classes=3 data.train_images=256 \
  data.val_images=16 train.iterations=120 train.warmup_iters=20 train.lr_steps=[] \
  train.log_every=40 --threads 2 --db "$tmp/tiny.db" >/dev/null 2>&1 || fail "train tiny"
tkey=$("$bin" query "SELECT key FROM trials" --db "$tmp/tiny.db" --format csv | tail -1)
stored=$("$bin" query "SELECT AP FROM results WHERE key = '$tkey'" --db "$tmp/tiny.db" --format csv | tail -1)
ap=$("$bin" eval --trial "$tkey" --db "$tmp/tiny.db" --json --threads 2 2>/dev/null | $py -c 'import json,sys; print(json.load(sys.stdin)["AP"])')
$py -c "import sys; a, b = float('$ap'), float('$stored'); sys.exit(0 if abs(a - b) < 1e-9 and a > 0.05 else 1)" \
  && ok "eval --trial: AP $ap = stored $stored" || fail "eval --trial AP '$ap', stored '$stored'"
"$bin" data synth --out "$tmp/tiny_shapes" "$src/experiments/configs/tiny.yaml" data.num_classes=3 \
  data.train_images=1 data.val_images=16 >/dev/null 2>&1 || fail "data synth (tiny)"
ap_png=$("$bin" eval --trial "$tkey" --db "$tmp/tiny.db" --annotations "$tmp/tiny_shapes/annotations/instances_val.json" \
  --images "$tmp/tiny_shapes/val" --json --threads 2 2>/dev/null | $py -c 'import json,sys; print(json.load(sys.stdin)["AP"])')
$py -c "import sys; a, b = float('$ap_png'), float('$stored'); sys.exit(0 if abs(a - b) < 0.01 else 1)" \
  && ok "eval --trial on the val images as PNG: AP $ap_png" || fail "eval --trial on PNGs: AP '$ap_png', stored '$stored'"
expect 2 "go with --annotations and --images" -- "$bin" eval --trial "$tkey" --db "$tmp/tiny.db" --limit 3
expect 2 "--annotations' is required" -- "$bin" eval --trial "$tkey" --db "$tmp/tiny.db" --images "$tmp/tiny_shapes/val"
expect 0 "focalab layout.*model.backbone tiny" -- "$bin" export --trial "$tkey" --out "$tmp/t.pth" --db "$tmp/tiny.db"
$py - "$tmp/t.pth" <<'PY' && ok "tiny: focalab names" || fail "tiny: exported names"
import sys, torch
sd = torch.load(sys.argv[1])
assert "head.classification_head.cls_logits.weight" in sd and any(k.startswith("fpn.") for k in sd), list(sd)[:5]
assert not any(k.startswith("backbone.body.") for k in sd)
PY
expect 2 "--layout torchvision: model.backbone tiny" -- "$bin" export --trial "$tkey" --out "$tmp/t2.pth" --layout torchvision --db "$tmp/tiny.db"
[[ ! -e $tmp/t2.pth ]] || fail "a refused export wrote t2.pth"
expect 2 "--trial 0123456789abcdef: no such trial" -- "$bin" export --trial 0123456789abcdef --out "$tmp/x.pth" --db "$tmp/tiny.db"
expect 2 "--trial 'nothex': a trial key is 16 hex digits" -- "$bin" predict --trial nothex --image "$img" --db "$tmp/tiny.db"
expect 2 "--trial and --arch" -- "$bin" predict --trial "$tkey" --arch retinanet_resnet50_fpn --image "$img" --db "$tmp/tiny.db"
finish
