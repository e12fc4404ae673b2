#!/usr/bin/env bash
# Interrupted sweeps finish with exactly the results of an uninterrupted one: a reference run of
# a small two-trial sweep, then the same sweep stopped by SIGINT (exit 5) and resumed, and the
# same sweep killed with SIGKILL at random moments several times and resumed; every step row,
# loss-breakdown and histogram row and final metric must equal the reference's, the databases
# must pass PRAGMA integrity_check, and every trial must be done exactly once.
#   resume_test.sh FOCALAB_BINARY SOURCE_DIR
set -uo pipefail
source "$(dirname "$0")/common.sh"

cat >"$tmp/sweep.yaml" <<YAML
name: resume
base: $src/experiments/configs/tiny.yaml
data: {train_images: 64, val_images: 16}
train: {iterations: 40, batch_size: 4, warmup_iters: 5, lr_steps: [30], log_every: 5,
        checkpoint_every: 10, eval_every: 20}
sweep:
  cases: [{loss.kind: focal}, {loss.kind: ohem, loss.ohem_batch_size: 64}]
YAML
run() { "$bin" sweep run "$tmp/sweep.yaml" --threads 2 --db "$1" >/dev/null 2>>"$tmp/log"; }

run "$tmp/ref.db" || fail "reference run failed: $(tail -3 "$tmp/log")"

# The step rows in database $1, 0 while it does not exist. The sqlite3 shell would create an empty
# file for a missing one, which focalab then refuses as not a database: it only reads files that
# exist, read-only.
step_rows() {
  if [[ -s $1 ]]; then sqlite3 -readonly "$1" "SELECT count(*) FROM train_steps" 2>/dev/null || echo 0
  else echo 0; fi
}

# Waits until the database has at least $2 step rows.
wait_rows() {
  for _ in $(seq 1 600); do
    n=$(step_rows "$1")
    [[ ${n:-0} -ge $2 ]] && return 0
    sleep 0.05
  done
  return 1
}

# SIGINT (Ctrl-C) and SIGUSR1 (Slurm's warning before the time limit) in the middle of the first
# trial: checkpoint, `interrupted`, exit 5; then resume.
for sig in INT USR1; do
  db="$tmp/$(tr 'A-Z' 'a-z' <<<"$sig").db"
  "$bin" sweep run "$tmp/sweep.yaml" --threads 2 --db "$db" >/dev/null 2>>"$tmp/log" &
  pid=$!
  wait_rows "$db" 3
  signal_child "$sig" $pid
  wait $pid
  rc=$?
  [[ $rc == 5 ]] && ok "SIG$sig: exit 5" || fail "SIG$sig: exit $rc, expected 5"
  st=$(sqlite3 "$db" "SELECT status FROM trials ORDER BY id LIMIT 1")
  [[ $st == interrupted ]] && ok "SIG$sig: trial interrupted" || fail "SIG$sig: trial is $st"
  : >"$tmp/resume.log"
  "$bin" sweep run "$tmp/sweep.yaml" --threads 2 --db "$db" >/dev/null 2>"$tmp/resume.log" ||
    fail "resume after SIG$sig failed: $(tail -3 "$tmp/resume.log")"
  grep -q "resuming after iteration" "$tmp/resume.log" && ok "SIG$sig: resumed from a checkpoint" ||
    fail "SIG$sig: no resume message"
done

# SIGKILL at random moments — after 1 to 6 more step rows, and a random fraction of a second —
# then run to the end.
for k in 1 2 3 4 5; do
  before=$(step_rows "$tmp/kill.db")
  [[ ${before:-0} -ge 17 ]] && break  # 18 rows in all (9 per trial): too close to the end
  "$bin" sweep run "$tmp/sweep.yaml" --threads 2 --db "$tmp/kill.db" >/dev/null 2>>"$tmp/log" &
  pid=$!
  target=$((${before:-0} + RANDOM % 6 + 1))
  wait_rows "$tmp/kill.db" $((target > 17 ? 17 : target))
  sleep "0.$((RANDOM % 10))"
  signal_child 9 $pid
  wait $pid 2>/dev/null
  echo "kill -9 #$k at $(step_rows "$tmp/kill.db") step rows"
done
run "$tmp/kill.db" || fail "resume after kill -9 failed: $(tail -3 "$tmp/log")"

same() {  # same DB TABLE-QUERY: the query's rows are equal in ref.db and DB
  local db=$1 what=$2 query=$3
  local diff
  diff=$(sqlite3 "$db" "ATTACH '$tmp/ref.db' AS ref;
    SELECT count(*) FROM (SELECT * FROM ($query) EXCEPT SELECT * FROM (${query//main./ref.}));
    SELECT count(*) FROM (SELECT * FROM (${query//main./ref.}) EXCEPT SELECT * FROM ($query));
    SELECT count(*) FROM ($query);")
  local a b n
  { read -r a; read -r b; read -r n; } <<<"$diff"
  if [[ $a == 0 && $b == 0 && $n -gt 0 ]]; then
    ok "$(basename "$db"): $what equal to the uninterrupted run ($n rows)"
  else
    fail "$(basename "$db"): $what differ from the uninterrupted run ($a extra, $b missing, $n rows)"
  fi
}
for db in "$tmp/int.db" "$tmp/usr1.db" "$tmp/kill.db"; do
  [[ $(sqlite3 "$db" "PRAGMA integrity_check") == ok ]] && ok "$(basename "$db"): integrity ok" ||
    fail "$(basename "$db"): integrity_check"
  n=$(sqlite3 "$db" "SELECT count(*) || ' ' || sum(status = 'done') FROM trials")
  [[ $n == "2 2" ]] && ok "$(basename "$db"): 2 trials, both done" || fail "trials: $n"
  same "$db" "step rows" "SELECT t.key, s.iteration, s.lr, s.loss_cls, s.loss_box, s.loss_total,
    s.num_pos, s.normalizer FROM main.train_steps s JOIN main.trials t ON t.id = s.trial_id"
  same "$db" "loss-breakdown rows" "SELECT t.key, b.iteration, b.category, b.class_id, b.count,
    b.loss_sum FROM main.loss_breakdown b JOIN main.trials t ON t.id = b.trial_id"
  same "$db" "loss intervals" "SELECT t.key, i.iteration, i.iterations, i.ignored_anchors,
    i.normalizer_sum FROM main.loss_intervals i JOIN main.trials t ON t.id = i.trial_id"
  same "$db" "histogram rows" "SELECT t.key, h.* FROM main.loss_histogram h
    JOIN main.trials t ON t.id = h.trial_id"
  same "$db" "periodic and final metrics" "SELECT t.key, e.iteration, e.metric, e.value FROM main.evaluations e
    JOIN main.trials t ON t.id = e.trial_id WHERE e.metric <> 'ms_per_image'"
done

# The paper's CE run without the prior initialization (and the paper's head without GroupNorm)
# diverges: it ends as `diverged` with its iteration, and the sweep goes on (exit 1).
cat >"$tmp/diverge.yaml" <<YAML
name: diverge
base: $src/experiments/configs/tiny.yaml
data: {train_images: 64, val_images: 16}
model: {head_norm: none}
train: {iterations: 30, batch_size: 4, log_every: 5}
sweep:
  cases: [{loss.kind: ce, model.prior_prob: 0}, {loss.kind: focal, model.prior_prob: 0.01}]
YAML
"$bin" sweep run "$tmp/diverge.yaml" --threads 2 --db "$tmp/div.db" >/dev/null 2>"$tmp/err"
rc=$?
got=$(sqlite3 "$tmp/div.db" "SELECT group_concat(status || ':' || ifnull(diverged_at_iter, '-'), ' ')
  FROM (SELECT status, diverged_at_iter FROM trials ORDER BY id)")
if [[ $rc == 1 && $got =~ ^diverged:[0-9]+\ done:-$ ]] && grep -q "DIVERGED at iteration" "$tmp/err"; then
  ok "CE without prior init: $got, exit 1"
else
  fail "divergence: exit $rc, trials '$got'"
fi

finish
