#!/usr/bin/env bash
# Command-line options a process consumes or bounds:
# - `sweep run --jobs`: the workers' arguments are rebuilt from the parsed options. Every
#   spelling Boost accepts for an option the parent consumes (--jobs, -j, --devices, --threads,
#   --device: separate, attached, `=`, unambiguous prefixes) must start exactly one set of
#   workers — a worker that got --jobs again would start workers of its own, without bound.
# - --threads beyond what the machine can give is refused at once (it hung in LibTorch's pool).
# - `query` stops at its --timeout, at --max-rows, and on SIGINT.
# - `sweep plan` lists a sweep whose data is not on this machine; `sweep run` refuses it before
#   anything is written.
#   options_test.sh FOCALAB_BINARY SOURCE_DIR
set -uo pipefail
source "$(dirname "$0")/common.sh"

cat >"$tmp/sweep.yaml" <<YAML
name: options
base: $src/experiments/configs/tiny.yaml
data: {train_images: 8, val_images: 4}
train: {iterations: 2, batch_size: 2, warmup_iters: 1, lr_steps: [1], log_every: 1}
sweep:
  cases: [{loss.kind: ce}, {loss.kind: focal}]
YAML
db=$tmp/runs.db

# --- 1. every spelling of the options the parent of --jobs workers consumes
spellings=(
  "--jobs 2" "--jobs=2" "-j 2" "-j2" "--job 2" "--jo=2"
  "-j2 --threads 2" "-j2 --threads=2" "-j2 --thread 2"
  "-j2 --device cpu" "-j2 --device=cpu" "-j2 --device=auto"
  "--devices cpu,cpu" "--devices=cpu,cpu" "--devices cpu,cpu --threads=2"
)
for s in "${spellings[@]}"; do
  # shellcheck disable=SC2086
  timeout 300 "$bin" sweep run "$tmp/sweep.yaml" $s --db "$db" >/dev/null 2>"$tmp/err"
  rc=$?
  starts=$(grep -c "worker processes" "$tmp/err")
  if [[ $rc == 0 && $starts == 1 ]] && grep -q "2 trials: 2 done" "$tmp/err"; then
    ok "sweep run $s: one set of workers, 2 trials done"
  else
    fail "sweep run $s: exit $rc, $starts worker starts: $(tail -3 "$tmp/err")"
  fi
done
got=$(sqlite3 "$db" "SELECT count(*), sum(status = 'done'), sum(attempts) FROM trials")
[[ $got == "2|2|2" ]] && ok "2 trials, each run once" || fail "trials: $got"
# A worker never starts workers, even when asked to.
expect 2 "--device 'tpu': allowed" -- "$bin" sweep run "$tmp/sweep.yaml" -j2 --device tpu --db "$db"
expect 2 "--jobs 2: this is a worker process" -- \
  env FOCALAB_JOB=1 "$bin" sweep run "$tmp/sweep.yaml" -j2 --db "$db"

# --- 2. threads: bounded by the machine, refused before anything runs
cores=$(getconf _NPROCESSORS_ONLN)  # as std::thread::hardware_concurrency (nproc follows affinity)
max=$(( cores * 4 > 16 ? cores * 4 : 16 ))
for n in 100000 2147483648 $((max + 1)); do
  start=$SECONDS
  expect 2 "threads $n: allowed 0..$max" -- \
    timeout 60 "$bin" sweep run "$tmp/sweep.yaml" --threads "$n" --db "$tmp/threads.db"
  (( SECONDS - start < 30 )) || fail "--threads $n took $((SECONDS - start)) s"
done
[[ ! -e $tmp/threads.db ]] && ok "no database written for refused thread counts" ||
  fail "a refused --threads wrote $tmp/threads.db"
expect 2 "threads -1: allowed" -- "$bin" bench loss --threads -1 --images 1

# --- 3. query: time, rows, Ctrl-C
forever="WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
start=$SECONDS
expect 2 "query stopped after 2 s \(--timeout" -- "$bin" query "$forever" --timeout 2 --db "$db"
(( SECONDS - start < 15 )) && ok "--timeout 2 stopped within $((SECONDS - start)) s" ||
  fail "--timeout 2 took $((SECONDS - start)) s"
rows="WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c"
expect 2 "query returns more than 1000 rows \(--max-rows" -- \
  "$bin" query "$rows" --max-rows 1000 --db "$db"
expect 2 "query returns more than 1000000 rows" -- bash -c "ulimit -v 4000000; '$bin' query '$rows' --db '$db'"
expect 0 "^1000$" -- "$bin" query "$rows LIMIT 1000" --format csv --max-rows 1000 --db "$db"
expect 2 "--timeout 0: must be > 0" -- "$bin" query trials --timeout 0 --db "$db"
"$bin" query "$forever" --timeout 60 --db "$db" >/dev/null 2>"$tmp/int.err" &
qpid=$!
# Until it has gone: a SIGINT that arrives before the query installs its handler is lost (a
# background job of a non-interactive shell starts with SIGINT ignored).
for _ in $(seq 1 40); do
  sleep 0.5
  signal_child INT "$qpid" || break
done
wait "$qpid"
rc=$?
[[ $rc == 5 ]] && grep -q "query interrupted" "$tmp/int.err" && ok "SIGINT stops a query (exit 5)" ||
  fail "SIGINT: exit $rc: $(cat "$tmp/int.err")"

# --- 4. a sweep whose data is elsewhere: plan lists it, run refuses before writing anything
cat >"$tmp/elsewhere.yaml" <<YAML
name: elsewhere
base: $src/experiments/configs/tiny.yaml
data:
  kind: coco
  train: {annotations: /cluster/coco/instances_train2017.json, images: /cluster/coco/train2017}
  val: {annotations: /cluster/coco/instances_val2017.json, images: /cluster/coco/val2017}
sweep:
  grid: {loss.gamma: [0, 2]}
YAML
out=$("$bin" sweep plan "$tmp/elsewhere.yaml" --db "$tmp/else.db" 2>"$tmp/err")
rc=$?
if [[ $rc == 0 && $(grep -c " missing " <<<"$out") == 2 ]] &&
   grep -q "data.train.annotations: no such file '/cluster/coco/instances_train2017.json'" <<<"$out" &&
   grep -q "loss.gamma=2" <<<"$out"; then
  ok "sweep plan lists 2 trials whose data is missing here, naming the files"
else
  fail "sweep plan without the data: exit $rc: $out $(cat "$tmp/err")"
fi
expect 3 "no such file '/cluster/coco/instances_train2017.json'" -- \
  "$bin" sweep plan "$tmp/elsewhere.yaml" --require-data --db "$tmp/else.db"
expect 3 "no such file '/cluster/coco/instances_train2017.json'" -- \
  "$bin" sweep run "$tmp/elsewhere.yaml" --db "$tmp/else.db"
[[ ! -e $tmp/else.db ]] && ok "sweep run wrote nothing" || fail "sweep run wrote $tmp/else.db"
expect 0 "not on this machine: .*instances_train2017.json" -- \
  "$bin" sweep slurm "$tmp/elsewhere.yaml" --out "$tmp/else.sbatch" --db "$tmp/else.db"

finish
