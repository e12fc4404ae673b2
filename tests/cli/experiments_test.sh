#!/usr/bin/env bash
# The shipped experiment files expand as documented: every sweep in experiments/paper/ with the
# one override that points at COCO (data.root; here an empty stand-in with the files in their
# places) and torchvision's ImageNet weights found in $TORCH_HOME; every sweep in
# experiments/mini/ as it is. Checks each one's trial count, its reference table and that the
# paper's numbers are matched to the rows they belong to.
#   experiments_test.sh FOCALAB_BINARY SOURCE_DIR
set -uo pipefail
source "$(dirname "$0")/common.sh"

coco="$tmp/coco"
mkdir -p "$coco/annotations" "$coco/train2017" "$coco/val2017" "$tmp/torch/hub/checkpoints"
echo '{}' >"$coco/annotations/instances_train2017.json"
echo '{}' >"$coco/annotations/instances_val2017.json"
touch "$tmp/torch/hub/checkpoints/resnet50-0676ba61.pth" "$tmp/torch/hub/checkpoints/resnet101-63fe2227.pth"
export TORCH_HOME="$tmp/torch"

# plan FILE TRIALS REFERENCE [overrides...]: `sweep plan` exits 0 with that many trials
plan() {
  local file=$1 n=$2 ref=$3
  shift 3
  local out
  out=$("$bin" sweep plan "$src/experiments/$file" "$@" --db "$tmp/plan.db" 2>&1)
  if [[ $? == 0 && $out == *": $n trials, reference $ref"* ]]; then
    ok "$file: $n trials, reference $ref"
  else
    fail "$file: expected $n trials with reference $ref: $(head -3 <<<"$out")"
  fi
  printf '%s\n' "$out" >"$tmp/plan.txt"
}

plan paper/table1a_alpha.yaml 8 lin2017/table1a data.root="$coco"
grep -q "loss.kind=ce" "$tmp/plan.txt" && [[ $(grep -c "loss.kind=alpha_ce" "$tmp/plan.txt") == 7 ]] ||
  fail "table1a: expected CE and 7 alpha-CE trials"
plan paper/table1b_gamma.yaml 7 lin2017/table1b data.root="$coco"
plan paper/table1c_anchors.yaml 7 lin2017/table1c data.root="$coco"
plan paper/table1d_ohem.yaml 10 lin2017/table1d data.root="$coco"
plan paper/table1e_speed.yaml 10 lin2017/table1e data.root="$coco"
plan paper/appendix_fl_star.yaml 4 lin2017/table3 data.root="$coco"
plan paper/prior_init.yaml 4 lin2017/prior_init data.root="$coco"
# The same trials wherever COCO is mounted: data.root is not part of the trial key.
cp -r "$coco" "$tmp/elsewhere"
a=$("$bin" sweep plan "$src/experiments/paper/table1b_gamma.yaml" data.root="$coco" --db "$tmp/k.db" 2>&1 | awk 'NR > 1 {print $2}')
b=$("$bin" sweep plan "$src/experiments/paper/table1b_gamma.yaml" data.root="$tmp/elsewhere/" --db "$tmp/k.db" 2>&1 | awk 'NR > 1 {print $2}')
[[ -n $a && $a == "$b" ]] && ok "data.root elsewhere: the same 7 trial keys" || fail "keys differ: $a / $b"
# Without the override, plan lists the trials and names what is missing; --require-data (what
# sweep run checks) stops with the error naming the key and what to do.
out=$("$bin" sweep plan "$src/experiments/paper/table1b_gamma.yaml" --db "$tmp/plan.db" 2>&1)
[[ $? == 0 && $(grep -c " missing " <<<"$out") == 7 && $out == *"data.train.annotations: no such file"* ]] &&
  ok "table1b without COCO: 7 trials listed as missing" || fail "plan without COCO: $(head -3 <<<"$out")"
expect 3 "data.train.annotations: no such file 'annotations/instances_train2017.json' \(relative to the working directory; set data.root=DIR" -- \
  "$bin" sweep plan "$src/experiments/paper/table1b_gamma.yaml" --require-data --db "$tmp/plan.db"
rm "$tmp/torch/hub/checkpoints/resnet101-63fe2227.pth"
expect 2 "model.backbone_weights: torchvision://resnet101 is '.*resnet101-63fe2227.pth', which is missing" -- \
  "$bin" sweep plan "$src/experiments/paper/table1d_ohem.yaml" data.root="$coco" --require-data --db "$tmp/plan.db"

for f in "$src"/experiments/mini/*.yaml; do
  name=$(basename "$f")
  [[ $name == base.yaml || $name == quick.yaml ]] && continue
  out=$("$bin" sweep plan "$f" --db "$tmp/plan.db" 2>&1)
  n=$(grep -oE ': [0-9]+ trials' <<<"$out" | grep -oE '[0-9]+')
  seeds=$(awk 'NR > 1' <<<"$out" | grep -oE 'seed=[0-9]+' | sort -u | wc -l)
  if [[ -n $n && $seeds == 3 && $out == *"reference lin2017/"* ]]; then
    ok "mini/$name: $n trials over 3 seeds"
  else
    fail "mini/$name: $(head -3 <<<"$out")"
  fi
done

# The quick sweeps (one seed): the paper's regime (README) and the mild benchmark's.
plan quick.yaml 3 lin2017/table1a,lin2017/table1b
# on the paper-regime preset for its 1,600 iterations, without the learning-rate steps
cfg=$("$bin" sweep plan "$src/experiments/quick.yaml" --print-config 2 --db "$tmp/plan.db" 2>&1)
grep -q '"data.num_classes": 102,' <<<"$cfg" && grep -q '"train.iterations": 1600,' <<<"$cfg" &&
  grep -q '"train.lr_steps": \[\],' <<<"$cfg" && grep -q '"loss.kind": "focal",' <<<"$cfg" ||
  fail "quick.yaml: not the paper-regime focal-loss trial of 1,600 iterations without steps: $cfg"
plan mini/quick.yaml 3 lin2017/table1a,lin2017/table1b

# The paper-regime sweeps: trial counts, 3 seeds, the reference of each table.
for spec in "table1a_alpha 24 lin2017/table1a" "table1b_gamma 21 lin2017/table1b" \
            "prior_init 12 lin2017/prior_init" "imbalance 30 -" \
            "fl_vs_alpha_ce 9 lin2017/table1a,lin2017/table1b"; do
  read -r name n ref <<<"$spec"
  out=$("$bin" sweep plan "$src/experiments/regime/$name.yaml" --db "$tmp/plan.db" 2>&1)
  seeds=$(awk 'NR > 1' <<<"$out" | grep -oE 'seed=[0-9]+' | sort -u | wc -l)
  if [[ $out == *": $n trials"* && $seeds == 3 && ($ref == - || $out == *"reference $ref"*) &&
        $out != *missing* ]]; then
    ok "regime/$name.yaml: $n trials over 3 seeds"
  else
    fail "regime/$name.yaml: expected $n trials, reference $ref: $(head -3 <<<"$out")"
  fi
done
[[ $(ls "$src"/experiments/regime/*.yaml | wc -l) == 5 ]] || fail "experiments/regime has a sweep this test does not check"
finish
