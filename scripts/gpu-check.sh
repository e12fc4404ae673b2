#!/usr/bin/env bash
# The GPU check: on a machine with an NVIDIA GPU, CUDA and Python torch, builds focalab against
# that torch's LibTorch and runs, each step logged to OUTDIR/STEP.log:
#   configure, build   CMake + the whole project (tests included), every core
#   tests              ctest -L 'unit|gpu' (the gpu label: CUDA against CPU, tests/gpu)
#   quick_sweep        experiments/quick.yaml shortened to 300 iterations on cuda
#   amp_bf16, amp_fp16 the tiny preset (experiments/configs/tiny.yaml), 300 iterations, with
#                      train.amp=bf16 / fp16 (one trial each, in the quick sweep's db)
#   bench_loss         focal loss forward + backward on cuda (GB/s against a device copy)
#   bench_train        RetinaNet-R50-FPN, 640 x 640 (600 px rounded up to focalab's multiple of
#                      128), batch 16: focalab against torchvision's retinanet_resnet50_fpn on
#                      the same GPU in the same run, with the per-stage profile
#   bench_train_bf16   the same R50 comparison with mixed precision on both sides (--amp bf16)
#   bench_train_tiny   the tiny preset, batch 8, on cuda
# and writes OUTDIR/summary.json (exit code and seconds of each step, the figures parsed from
# the benchmarks). Exits 0 when every step passed. Meant to finish in well under 10 minutes.
#
#   scripts/gpu-check.sh OUTDIR
# Build dependencies: the Debian packages that scripts/gpu-deps.sh downloads into .gpu-debs/ are
# unpacked into a private prefix when present; otherwise the machine's own are used.
# FOCALAB_GPU_CHECK_DEVICE=cpu runs the same steps on the CPU (to try the script anywhere).
set -uo pipefail
if [[ $# != 1 ]]; then
  echo "usage: scripts/gpu-check.sh OUTDIR" >&2
  exit 2
fi
mkdir -p "$1"
out=$(cd "$1" && pwd)
cd "$(dirname "$0")/.."
device=${FOCALAB_GPU_CHECK_DEVICE:-cuda}
python=$(command -v python3)
export FOCALAB_PYTHON=$python   # the interpreter with torch and torchvision (bench comparisons)
build=build-gpu
jobs=$(nproc)

prefix_path=$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null)
if [[ -z $prefix_path ]]; then
  echo "gpu-check: $python cannot import torch" >&2
  exit 3
fi
if compgen -G ".gpu-debs/*.deb" >/dev/null; then
  deps=/tmp/focalab-gpu-deps
  rm -rf "$deps"
  mkdir -p "$deps"
  for f in .gpu-debs/*.deb; do dpkg -x "$f" "$deps"; done
  prefix_path="$prefix_path;$deps/usr"
  export LD_LIBRARY_PATH="$deps/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export PATH="$deps/usr/bin:$PATH"
fi

declare -a names codes secs
step() {
  local name=$1
  shift
  local t0 rc
  t0=$(date +%s%N)
  echo "== $name: $*" | tee "$out/$name.log"
  "$@" >>"$out/$name.log" 2>&1
  rc=$?
  names+=("$name")
  codes+=("$rc")
  secs+=("$(( ($(date +%s%N) - t0) / 1000000 ))")
  echo "   exit $rc after ${secs[-1]} ms"
  [[ $rc == 0 ]] || tail -20 "$out/$name.log"
  return "$rc"
}

step configure cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DFOCALAB_WERROR=OFF \
  "-DCMAKE_PREFIX_PATH=$prefix_path" -DCMAKE_LIBRARY_ARCHITECTURE=x86_64-linux-gnu &&
step build cmake --build "$build" -j"$jobs" &&
step tests ctest --test-dir "$build" -L 'unit|gpu' -j4 --output-on-failure
step quick_sweep "$build/focalab" sweep run experiments/quick.yaml train.iterations=300 \
  --jobs 1 --device "$device" --db "$out/quick.db"
if [[ $device == cpu ]]; then amp_kinds=(bf16); else amp_kinds=(bf16 fp16); fi
for amp in "${amp_kinds[@]}"; do
  step "amp_$amp" "$build/focalab" train experiments/configs/tiny.yaml train.iterations=300 \
    train.amp="$amp" --device "$device" --db "$out/quick.db"
done
step bench_loss "$build/focalab" bench loss --device "$device" --images 16
step bench_train "$build/focalab" bench train --model r50 --device "$device" --size 640 \
  --batch 16 --reps 10 --warmup 3 --profile
step bench_train_bf16 "$build/focalab" bench train --model r50 --device "$device" --size 640 \
  --batch 16 --reps 10 --warmup 3 --amp bf16
step bench_train_tiny "$build/focalab" bench train --model tiny --device "$device" --reps 20 \
  --profile

# summary.json: the steps, and the benchmarks' figures
expected=$((8 + ${#amp_kinds[@]}))
"$python" - "$out" "$device" "$expected" "${#names[@]}" "${names[@]}" "${codes[@]}" "${secs[@]}" <<'PY'
import json, re, sys, os, subprocess
out, device, expected, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
names, codes, secs = sys.argv[5:5 + n], sys.argv[5 + n:5 + 2 * n], sys.argv[5 + 2 * n:5 + 3 * n]
summary = {"device": device, "steps": [{"name": a, "exit": int(b), "seconds": int(c) / 1000}
                                       for a, b, c in zip(names, codes, secs)]}
try:
    import torch
    summary["torch"] = torch.__version__
    if torch.cuda.is_available():
        summary["gpu"] = torch.cuda.get_device_name(0)
except Exception as e:
    summary["torch"] = "unavailable: %s" % e
def read(name):
    p = os.path.join(out, name + ".log")
    return open(p, errors="replace").read() if os.path.exists(p) else ""
rows = {}
for name in ("bench_train", "bench_train_bf16", "bench_train_tiny"):
    for line in read(name).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 8 and re.match(r"^[0-9.]+x$", cells[5]):
            batch = int(cells[1].split()[0])
            tv, fl = float(cells[3]), float(cells[4])
            rows.setdefault(name, {})[cells[0]] = {
                "batch": cells[1], "torchvision_ms": tv, "focalab_ms": fl,
                "focalab_over_torchvision": float(cells[5][:-1]),
                "torchvision_images_per_s": round(1e3 * batch / tv, 1),
                "focalab_images_per_s": round(1e3 * batch / fl, 1)}
summary["train"] = rows
loss = {}
for line in read("bench_loss").splitlines():
    m = re.match(r"^memory copy \(clone\): ([0-9.]+) ms = ([0-9.]+) GB/s", line)
    if m: loss["copy_GBps"] = float(m.group(2))
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) == 5 and cells[0].startswith(("focalab fused", "torchvision")):
        loss[cells[0]] = {"ms": float(cells[1]), "GBps": float(cells[3])}
summary["loss"] = loss
# evaluation time per trial (val split, COCO AP) as the sweep and train steps print it
evals = {}
for name in ["quick_sweep"] + [s["name"] for s in summary["steps"] if s["name"].startswith("amp_")]:
    # "(eval 2s)" or "(eval 1m05s)"
    evals[name] = [60 * int(m.group(1) or 0) + float(m.group(2))
                   for m in re.finditer(r"done in [^(]*\(eval (?:([0-9]+)m)?([0-9.]+)s\)", read(name))]
summary["eval_seconds"] = evals
summary["passed"] = all(s["exit"] == 0 for s in summary["steps"]) and len(summary["steps"]) == expected
json.dump(summary, open(os.path.join(out, "summary.json"), "w"), indent=1)
print(json.dumps(summary, indent=1))
sys.exit(0 if summary["passed"] else 1)
PY
