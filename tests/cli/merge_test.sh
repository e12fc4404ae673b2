#!/usr/bin/env bash
# Shards and merging: a sweep run as one process equals the same sweep run trial by trial into
# shard databases (`sweep run --trial KEY`) and folded together with `db merge`; merging again
# changes nothing; the script `sweep slurm` writes is valid bash whose array tasks, run one by one
# with the environment Slurm gives them, produce shards that merge into the same results.
#   merge_test.sh FOCALAB_BINARY SOURCE_DIR
set -uo pipefail
source "$(dirname "$0")/common.sh"

cat >"$tmp/sweep.yaml" <<YAML
name: shards
base: $src/experiments/configs/tiny.yaml
data: {train_images: 32, val_images: 8}
train: {iterations: 8, batch_size: 2, warmup_iters: 2, lr_steps: [6], log_every: 4}
sweep:
  cases: [{loss.kind: ce}, {loss.kind: focal}, {loss.kind: ohem, loss.ohem_batch_size: 32}]
YAML
"$bin" sweep run "$tmp/sweep.yaml" --threads 2 --db "$tmp/local.db" >/dev/null 2>"$tmp/log" ||
  fail "local run: $(tail -3 "$tmp/log")"
keys=$("$bin" sweep plan "$tmp/sweep.yaml" | awk 'NR > 1 {print $2}')
[[ $(wc -w <<<"$keys") == 3 ]] || fail "sweep plan listed: $keys"

# Equal results: trials, steps, breakdown, histogram, metrics, per-class AP.
same_as_local() {  # same_as_local DB LABEL
  local q n
  n=0
  for q in \
    "SELECT key, status, seed, config_json FROM DB.trials" \
    "SELECT t.key, s.iteration, s.loss_total, s.loss_cls, s.num_pos FROM DB.train_steps s JOIN DB.trials t ON t.id = s.trial_id" \
    "SELECT t.key, b.iteration, b.category, b.class_id, b.count, b.loss_sum FROM DB.loss_breakdown b JOIN DB.trials t ON t.id = b.trial_id" \
    "SELECT t.key, h.iteration, h.grp, h.bin, h.count, h.loss_sum FROM DB.loss_histogram h JOIN DB.trials t ON t.id = h.trial_id" \
    "SELECT t.key, e.metric, e.value FROM DB.evaluations e JOIN DB.trials t ON t.id = e.trial_id WHERE e.metric <> 'ms_per_image'" \
    "SELECT t.key, c.class_id, c.class_name, c.ap FROM DB.class_ap c JOIN DB.trials t ON t.id = c.trial_id" \
    "SELECT s.name, t.key, st.position FROM DB.sweep_trials st JOIN DB.sweeps s ON s.id = st.sweep_id JOIN DB.trials t ON t.id = st.trial_id"; do
    local a=${q//DB./main.} b=${q//DB./l.}
    local d
    d=$(sqlite3 "$1" "ATTACH '$tmp/local.db' AS l; SELECT count(*) FROM ($a EXCEPT $b);
      SELECT count(*) FROM ($b EXCEPT $a);" | tr '\n' ' ')
    [[ $d == "0 0 " ]] || { fail "$2: differs from the local run in: $q ($d)"; n=1; }
  done
  [[ $n == 0 ]] && ok "$2: equal to the local run (trials, steps, breakdown, histogram, metrics, class AP)"
}

# Canned queries on it.
first=$(head -1 <<<"$keys")
steps=$("$bin" query steps --trial "$first" --format csv --db "$tmp/local.db")
[[ $(head -1 <<<"$steps") == "iteration,lr,loss_cls,loss_box,loss_total,num_pos,normalizer,ms_per_iter,data_ms" &&
   $(cut -d, -f1 <<<"$steps" | tail -n +2 | tr '\n' ' ') == "1 4 8 " ]] &&
  ok "query steps --trial: iterations 1 (alone, at init), 4 and 8" || fail "query steps: $steps"
shares=$("$bin" query breakdown --trial "$first" --format csv --db "$tmp/local.db" |
  awk -F, 'NR > 1 {s[$1] += $5} END {for (i in s) printf "%.3f ", s[i]}')
[[ $shares == "1.000 1.000 1.000 " ]] && ok "query breakdown --trial: shares sum to 1 per interval" ||
  fail "query breakdown: $shares"
[[ $("$bin" query trials --format csv --db "$tmp/local.db" | wc -l) == 4 ]] &&
  ok "query trials: 3 trials" || fail "query trials"
err=$("$bin" query steps --db "$tmp/local.db" 2>&1)
[[ $? == 2 && $err == *"needs --trial KEY"* ]] && ok "query steps without --trial: exit 2" ||
  fail "query steps without --trial: $err"

# Trial by trial into shards, then merged.
for k in $keys; do
  "$bin" sweep run "$tmp/sweep.yaml" --trial "$k" --threads 2 --db "$tmp/shard-$k.db" \
    >/dev/null 2>>"$tmp/log" || fail "shard $k: $(tail -2 "$tmp/log")"
  [[ $(sqlite3 "$tmp/shard-$k.db" "SELECT count(*) FROM trials WHERE status = 'done'") == 1 ]] ||
    fail "shard $k: not exactly one trial done"
done
"$bin" db merge "$tmp"/shard-*.db --into "$tmp/merged.db" 2>"$tmp/merge.log" ||
  fail "db merge: $(cat "$tmp/merge.log")"
same_as_local "$tmp/merged.db" "merged shards"
before=$(sqlite3 "$tmp/merged.db" .dump | md5sum)
"$bin" db merge "$tmp"/shard-*.db --into "$tmp/merged.db" 2>"$tmp/merge2.log"
after=$(sqlite3 "$tmp/merged.db" .dump | md5sum)
[[ $before == "$after" ]] && grep -q "0 trials added, 0 replaced (further along), 3 kept" \
  "$tmp/merge2.log" && ok "merging again changes nothing" || fail "second merge changed the DB"
"$bin" report --db "$tmp/merged.db" --sweep shards | grep -q "3 trials, 3 done" &&
  ok "report on the merged database" || fail "report on the merged database"
[[ $("$bin" report shards --db "$tmp/merged.db") == "$("$bin" report --db "$tmp/merged.db" --sweep shards)" ]] &&
  ok "report NAME is report --sweep NAME" || fail "report NAME differs from --sweep NAME"

# An interrupted copy of a trial does not replace a finished one; a finished one replaces it.
first=$(head -1 <<<"$keys")
cp "$tmp/shard-$first.db" "$tmp/stale.db"
sqlite3 "$tmp/stale.db" "UPDATE trials SET status = 'interrupted'; DELETE FROM evaluations"
"$bin" db merge "$tmp/stale.db" --into "$tmp/merged.db" 2>/dev/null
same_as_local "$tmp/merged.db" "after merging a stale copy"
cp "$tmp/stale.db" "$tmp/partial.db"
"$bin" db merge "$tmp/shard-$first.db" --into "$tmp/partial.db" 2>"$tmp/merge3.log"
grep -q "0 trials added, 1 replaced" "$tmp/merge3.log" &&
  [[ $(sqlite3 "$tmp/partial.db" "SELECT count(*) FROM evaluations") == 13 ]] &&
  ok "a done trial replaces an interrupted one" || fail "replace: $(cat "$tmp/merge3.log")"
err=$("$bin" db merge "$tmp/nope.db" --into "$tmp/merged.db" 2>&1)
[[ $? == 4 && $err == *"nope.db: no such results database"* ]] && ok "missing shard: exit 4" ||
  fail "missing shard: $err"

# The sbatch script: valid bash; its tasks run as Slurm would run them, then merged.
"$bin" sweep slurm "$tmp/sweep.yaml" --out "$tmp/job.sbatch" --partition cpu --time 00:10:00 \
  --cpus-per-task 2 --db "$tmp/none.db" >/dev/null 2>"$tmp/slurm.log" ||
  fail "sweep slurm: $(cat "$tmp/slurm.log")"
if bash -n "$tmp/job.sbatch" && grep -q "^#SBATCH --array=0-2$" "$tmp/job.sbatch" &&
   grep -q "^#SBATCH --signal=USR1@120$" "$tmp/job.sbatch" &&
   grep -q "^#SBATCH --partition=cpu$" "$tmp/job.sbatch" &&
   grep -q "^KEYS=($(tr '\n' ' ' <<<"$keys" | sed 's/ $//'))$" "$tmp/job.sbatch"; then
  ok "sbatch script: 3 array tasks, USR1@120, the trial keys"
else
  fail "sbatch script: $(cat "$tmp/job.sbatch")"
fi
for i in 0 1 2; do
  SLURM_ARRAY_TASK_ID=$i SLURM_JOB_ID=77 SLURM_ARRAY_JOB_ID=77 TMPDIR="$tmp" \
    bash "$tmp/job.sbatch" >/dev/null 2>>"$tmp/log" || fail "array task $i: $(tail -2 "$tmp/log")"
done
"$bin" db merge "$tmp"/job.sbatch-shards/shard-*.db --into "$tmp/slurm.db" 2>/dev/null
same_as_local "$tmp/slurm.db" "array tasks merged"
"$bin" sweep slurm "$tmp/sweep.yaml" --out "$tmp/again.sbatch" --db "$tmp/slurm.db" 2>"$tmp/e"
grep -q "every trial is done" "$tmp/e" && [[ ! -e "$tmp/again.sbatch" ]] &&
  ok "sweep slurm skips done trials" || fail "sweep slurm with everything done: $(cat "$tmp/e")"

finish
