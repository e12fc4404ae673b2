#!/usr/bin/env bash
# Command-line contract: exit codes and one-line error messages for bad input.
#   cli_test.sh FOCALAB_BINARY SOURCE_DIR
set -uo pipefail
source "$(dirname "$0")/common.sh"

expect 0 "^focalab [0-9]+\.[0-9]+\.[0-9]+" -- "$bin" --version
expect 0 "LibTorch [0-9]" -- "$bin" --version
expect 0 "Examples:" -- "$bin" --help
expect 0 "Example" -- "$bin" sweep run --help
expect 0 "Example" -- "$bin" sweep plan --help
expect 0 "Example" -- "$bin" report --help
expect 0 "Example" -- "$bin" query --help
expect 2 "unknown command 'trian'" -- "$bin" trian
expect 2 "unrecognised option|unknown option" -- "$bin" sweep run "$src/experiments/mini/quick.yaml" --bogus
expect 2 "threads" -- "$bin" sweep run "$src/experiments/mini/quick.yaml" --threads many
expect 2 "not found" -- "$bin" sweep plan "$tmp/missing.yaml"

printf 'name: x\nloss:\n  kind: focal\n  gama: 2\n' >"$tmp/typo.yaml"
expect 2 "typo.yaml:4: loss.gama: unknown key \(did you mean 'loss.gamma'\?\)" -- "$bin" sweep plan "$tmp/typo.yaml"
printf 'loss: {alpha: 3}\n' >"$tmp/range.yaml"
expect 2 "range.yaml:1: loss.alpha: 3 is out of range" -- "$bin" sweep plan "$tmp/range.yaml"
printf 'jobs: 0\n' >"$tmp/jobs0.yaml"
expect 2 "jobs0.yaml:1: jobs: 0 is out of range" -- "$bin" sweep plan "$tmp/jobs0.yaml"
printf 'loss: [1, 2\n' >"$tmp/syntax.yaml"
expect 2 "syntax.yaml:[0-9]+: YAML syntax error" -- "$bin" sweep plan "$tmp/syntax.yaml"
printf '\x00\x01\x02binary' >"$tmp/binary.yaml"
expect 2 "binary.yaml" -- "$bin" sweep plan "$tmp/binary.yaml"
expect 2 "command line: loss.gamma: 'x' is not a number" -- "$bin" sweep plan "$src/experiments/mini/quick.yaml" loss.gamma=x
expect 2 "device" -- "$bin" sweep run "$src/experiments/mini/quick.yaml" --device tpu --db "$tmp/x.db"
expect 0 "  0  [0-9a-f]{16}  new +seed=1  loss.kind=ce" -- "$bin" sweep plan "$src/experiments/mini/quick.yaml"
expect 0 '"loss.kind": "ce"' -- "$bin" sweep plan "$src/experiments/mini/quick.yaml" --print-config 0
# one key per line, a list on its key's line
expect 0 '^  "model.anchor_sizes": \[16,32,64,128,256\],$' -- "$bin" sweep plan "$src/experiments/mini/quick.yaml" --print-config 0

expect 4 "no such results database" -- "$bin" report --db "$tmp/none.db"
echo "not a database, just some text that is long enough to not be empty" >"$tmp/junk.db"
expect 4 "junk.db" -- "$bin" report --db "$tmp/junk.db"
expect 4 "junk.db" -- "$bin" sweep run "$src/experiments/mini/quick.yaml" --db "$tmp/junk.db"
# the same through the worker processes of `jobs: 3` (refused before any worker starts)
expect 4 "junk.db" -- "$bin" sweep run "$src/experiments/quick.yaml" --db "$tmp/junk.db"
expect 4 "no such results database" -- "$bin" query results --db "$tmp/none.db"
expect 2 "format 'xml'" -- "$bin" query results --db "$tmp/junk.db" --format xml

# predict: bad images and weights are data errors (3), bad flags usage errors (2)
printf 'P3\n2 1\n255\n255 0 0 0 255 0\n' >"$tmp/tiny.ppm"
: >"$tmp/empty.png"
echo "this is not a png" >"$tmp/text.png"
echo "not a checkpoint" >"$tmp/junk.pth"
expect 0 "Example" -- "$bin" predict --help
expect 2 "allowed: retinanet_resnet50_fpn" -- "$bin" predict --arch yolo --weights "$tmp/junk.pth" --image "$src/tests/data/rgb_16x20.png"
expect 3 "nope.png: no such image" -- "$bin" predict --arch retinanet_resnet50_fpn --weights "$tmp/junk.pth" --image "$tmp/nope.png"
expect 3 "junk.pth: is not a torch.save file" -- "$bin" predict --arch retinanet_resnet50_fpn --weights "$tmp/junk.pth" --image "$src/tests/data/rgb_16x20.png"
expect 3 "none.pth: no such file" -- "$bin" predict --arch retinanet_resnet50_fpn --weights "$tmp/none.pth" --image "$src/tests/data/rgb_16x20.png"
expect 2 "min-size" -- "$bin" predict --arch retinanet_resnet50_fpn --weights "$tmp/junk.pth" --image "$src/tests/data/rgb_16x20.png" --min-size 0
expect 2 "score-thresh" -- "$bin" predict --arch retinanet_resnet50_fpn --weights "$tmp/junk.pth" --image "$src/tests/data/rgb_16x20.png" --score-thresh 1.5
expect 3 "tiny.ppm: not a readable image" -- "$bin" predict --arch retinanet_resnet50_fpn --weights "$tmp/junk.pth" --image "$tmp/tiny.ppm"
expect 3 "empty.png: empty file" -- "$bin" predict --arch retinanet_resnet50_fpn --weights "$tmp/junk.pth" --image "$tmp/empty.png"
mkdir -p "$tmp/noimages" && echo x >"$tmp/noimages/readme.txt"
expect 3 "holds no image files" -- "$bin" predict --arch retinanet_resnet50_fpn --weights "$tmp/junk.pth" --image "$tmp/noimages"
expect 2 "model.backbone_weights.*no such file" -- "$bin" sweep plan "$src/experiments/mini/quick.yaml" --require-data model.backbone_weights=/nonexistent/r50.pth
# torchvision://NAME: torchvision's ImageNet file in $TORCH_HOME/hub/checkpoints; never downloaded
expect 2 "model.backbone_weights: torchvision://resnet50 is '$tmp/th/hub/checkpoints/resnet50-0676ba61.pth', which is missing \(focalab downloads nothing" -- \
  env TORCH_HOME="$tmp/th" "$bin" sweep plan "$src/experiments/mini/quick.yaml" --require-data model.backbone_weights=torchvision://resnet50
expect 2 "model.backbone_weights: 'torchvision://resnet9': unknown torchvision weights; allowed: torchvision://resnet18, resnet34, resnet50, resnet101" -- \
  "$bin" sweep plan "$src/experiments/mini/quick.yaml" model.backbone_weights=torchvision://resnet9
mkdir -p "$tmp/th/hub/checkpoints" "$tmp/xdg/torch/hub/checkpoints"
touch "$tmp/th/hub/checkpoints/resnet50-0676ba61.pth" "$tmp/xdg/torch/hub/checkpoints/resnet50-0676ba61.pth"
k1=$(env TORCH_HOME="$tmp/th" "$bin" sweep plan "$src/experiments/mini/quick.yaml" model.backbone_weights=torchvision://resnet50 2>&1)
k2=$(env -u TORCH_HOME XDG_CACHE_HOME="$tmp/xdg" "$bin" sweep plan "$src/experiments/mini/quick.yaml" model.backbone_weights=torchvision://resnet50 2>&1)
[[ $? == 0 && $k1 == "$k2" && $k1 == *"3 trials"* ]] &&
  ok "torchvision://resnet50 found in \$TORCH_HOME and in \$XDG_CACHE_HOME/torch; same trials" ||
  fail "torchvision:// lookup: '$k1' vs '$k2'"
expect 2 "model.box_weights.*needs 4" -- "$bin" sweep plan "$src/experiments/mini/quick.yaml" "model.box_weights=[1, 2]"
# eval-json and eval: malformed and empty files are data errors (3)
cat >"$tmp/gt.json" <<'JSON'
{"images": [{"id": 1, "file_name": "x.png"}], "categories": [{"id": 1, "name": "a"}],
 "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0}]}
JSON
echo '[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9}]' >"$tmp/dt.json"
expect 0 "Average Precision  \(AP\) @\[ IoU=0.50:0.95 \| area=   all \| maxDets=100 \] = 1.000" -- "$bin" eval-json --gt "$tmp/gt.json" --dt "$tmp/dt.json"
expect 0 '^  "AP": 0.99999999999999(99|98),$' -- "$bin" eval-json --gt "$tmp/gt.json" --dt "$tmp/dt.json" --json
echo '[]' >"$tmp/empty_dt.json"
expect 3 "empty_dt.json: holds no detections" -- "$bin" eval-json --gt "$tmp/gt.json" --dt "$tmp/empty_dt.json"
echo '[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10], "score": 0.9}]' >"$tmp/bad_box.json"
expect 3 "bad_box.json: \[0\].bbox: has 3 numbers" -- "$bin" eval-json --gt "$tmp/gt.json" --dt "$tmp/bad_box.json"
echo '[{"image_id": 2, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9}]' >"$tmp/other_image.json"
expect 3 "image_id 2 is not an image of" -- "$bin" eval-json --gt "$tmp/gt.json" --dt "$tmp/other_image.json"
echo '[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9' >"$tmp/truncated.json"
expect 3 "truncated.json: not valid JSON" -- "$bin" eval-json --gt "$tmp/gt.json" --dt "$tmp/truncated.json"
echo '{"images": []}' >"$tmp/no_categories.json"
expect 3 'no_categories.json: missing "categories"' -- "$bin" eval-json --gt "$tmp/no_categories.json" --dt "$tmp/dt.json"
expect 3 "--gt .*nope.json: no such file" -- "$bin" eval-json --gt "$tmp/nope.json" --dt "$tmp/dt.json"
expect 2 "the option '--dt' is required" -- "$bin" eval-json --gt "$tmp/gt.json"
expect 3 "x.png: no such image file" -- "$bin" eval --arch retinanet_resnet50_fpn --weights "$tmp/junk.pth" --annotations "$tmp/gt.json" --images "$tmp"
expect 2 "--labels 'foo'" -- "$bin" eval --arch retinanet_resnet50_fpn --weights "$tmp/junk.pth" --annotations "$tmp/gt.json" --images "$tmp" --labels foo
# data synth writes a COCO dataset that data check and eval-json read back
expect 0 "wrote 20 images" -- "$bin" data synth --out "$tmp/shapes" "$src/experiments/mini/quick.yaml" --max-images 10
expect 0 "no problems found" -- "$bin" data check --annotations "$tmp/shapes/annotations/instances_val.json" --images "$tmp/shapes/val"
/usr/bin/python3 -c "
import json, sys
gt = json.load(open(sys.argv[1]))
json.dump([{'image_id': a['image_id'], 'category_id': a['category_id'], 'bbox': a['bbox'], 'score': 0.5}
           for a in gt['annotations']], open(sys.argv[2], 'w'))
gt['annotations'].append(dict(gt['annotations'][0], id=999, category_id=77))
gt['annotations'].append(dict(gt['annotations'][0], id=1000, bbox=[5, 5, 0, 3]))
json.dump(gt, open(sys.argv[3], 'w'))
" "$tmp/shapes/annotations/instances_val.json" "$tmp/perfect.json" "$tmp/broken_gt.json"
expect 0 '^  "AP": 1,$' -- "$bin" eval-json --gt "$tmp/shapes/annotations/instances_val.json" --dt "$tmp/perfect.json" --json
expect 0 '^  "AP50": 1,$' -- "$bin" eval-json --gt "$tmp/shapes/annotations/instances_val.json" --dt "$tmp/perfect.json" --json
rm "$tmp/shapes/val/000003.png"
expect 3 "1 problem\\(s\\), the first: image 3: .*000003.png is missing" -- "$bin" data check --annotations "$tmp/shapes/annotations/instances_val.json" --images "$tmp/shapes/val"
expect 3 "broken_gt.json: 3 problem\\(s\\)" -- "$bin" data check --annotations "$tmp/broken_gt.json" --images "$tmp/shapes/val"
report=$("$bin" data check --annotations "$tmp/broken_gt.json" --images "$tmp/shapes/val" 2>/dev/null)
for line in "annotation 999: category_id 77 is not in categories" "annotation 1000: bbox \\[5, 5, 0, 3\\] has no area"; do
  if grep -qE -- "$line" <<<"$report"; then echo "ok: data check reports /$line/"; else
    echo "FAIL: data check report lacks /$line/: $report"; failures=$((failures + 1)); fi
done
expect 2 "unknown subcommand 'foo'" -- "$bin" data foo
expect 2 "unknown benchmark 'foo'" -- "$bin" bench foo
expect 2 "--model: 'r99' is not one of r50, tiny, regime, both, all" -- "$bin" bench train --model r99
expect 2 "--size: must be a multiple of 128 in \\[128, 2048\\], got 100" -- "$bin" bench train --size 100
expect 2 "--amp: 'fp8' is not one of off, bf16, fp16" -- "$bin" bench train --amp fp8
expect 2 "--amp: fp16 needs a CUDA device" -- "$bin" bench train --amp fp16 --device cpu
expect 2 "train.amp: fp16 needs a CUDA device, this run's is cpu \\(use bf16 or off\\)" -- "$bin" train "$src/experiments/configs/tiny.yaml" train.amp=fp16 --device cpu --db "$tmp/amp.db"

# The synthetic data is what it was: the first images of tiny.yaml, pixel for pixel (PNG files
# written by `data synth`), as the benchmark of every recorded result made them. The hashes come
# from focalab before data.class_colors existed (commit 96da640); a change to the generator's draws
# changes them and every trial's data with them.
"$bin" data synth --out "$tmp/pixels" "$src/experiments/configs/tiny.yaml" --max-images 3 >/dev/null 2>&1
got=$(cd "$tmp/pixels" && sha256sum train/*.png val/*.png | awk '{print substr($1, 1, 16)}' | tr '\n' ' ')
want="fa99731266c1c2fd 0bca6ae950ab0796 0593b0b5cd8a25b2 1f4b993e18c9838d 8a4899f92c772319 8f1b8eacdc51a12a "
[[ $got == "$want" ]] && ok "synthetic images as before, pixel for pixel" || fail "synthetic images changed: $got"
finish
