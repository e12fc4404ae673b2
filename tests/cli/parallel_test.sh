#!/usr/bin/env bash
# Several `focalab sweep run` processes on one database cooperate: 4 processes started together
# on a 6-trial sweep — no "database is locked", every trial claimed and run exactly once
# (attempts = 1), every step row present once, and the results equal a single process's run.
#   parallel_test.sh FOCALAB_BINARY SOURCE_DIR
set -uo pipefail
source "$(dirname "$0")/common.sh"

cat >"$tmp/sweep.yaml" <<YAML
name: parallel
base: $src/experiments/configs/tiny.yaml
data: {train_images: 32, val_images: 8}
train: {iterations: 12, batch_size: 2, warmup_iters: 2, lr_steps: [10], log_every: 3}
sweep:
  cases: [{loss.kind: ce}, {loss.kind: alpha_ce, loss.alpha: 0.75}, {loss.kind: focal}]
  seeds: [1, 2]
YAML

"$bin" sweep run "$tmp/sweep.yaml" --threads 1 --db "$tmp/one.db" >/dev/null 2>"$tmp/one.log" ||
  fail "single-process run: $(tail -3 "$tmp/one.log")"

pids=()
for i in 1 2 3 4; do
  "$bin" sweep run "$tmp/sweep.yaml" --threads 1 --db "$tmp/four.db" >/dev/null 2>"$tmp/p$i.log" &
  pids+=($!)
done
codes=()
for pid in "${pids[@]}"; do
  wait "$pid"
  codes+=($?)
done
[[ ${codes[*]} == "0 0 0 0" ]] && ok "4 processes: all exit 0" || fail "exit codes ${codes[*]}"
if grep -il "locked\|busy" "$tmp"/p*.log; then fail "a process saw a locked database"; else
  ok "no 'database is locked'"; fi
ran=$(cat "$tmp"/p*.log | grep -c " done in ")
[[ $ran == 6 ]] && ok "6 trials run in all" || fail "$ran trials run in all, expected 6"
per=$(for i in 1 2 3 4; do grep -c " done in " "$tmp/p$i.log"; done | tr '\n' ' ')
echo "trials per process: $per"
got=$(sqlite3 "$tmp/four.db" "SELECT count(*), sum(status = 'done'), sum(attempts = 1) FROM trials")
[[ $got == "6|6|6" ]] && ok "6 trials done, each claimed once" || fail "trials: $got"
rows=$(sqlite3 "$tmp/four.db" "SELECT count(*) FROM train_steps")
[[ $rows == 30 ]] && ok "30 step rows (5 per trial: iteration 1 alone, then every 3)" ||
  fail "$rows step rows, expected 30"
[[ $(sqlite3 "$tmp/four.db" "PRAGMA integrity_check") == ok ]] && ok "integrity ok" ||
  fail "integrity_check"
diff=$(sqlite3 "$tmp/four.db" "ATTACH '$tmp/one.db' AS one;
  SELECT count(*) FROM (
    SELECT t.key, s.iteration, s.loss_total, s.num_pos FROM train_steps s
      JOIN trials t ON t.id = s.trial_id
    EXCEPT SELECT t.key, s.iteration, s.loss_total, s.num_pos FROM one.train_steps s
      JOIN one.trials t ON t.id = s.trial_id);
  SELECT count(*) FROM (SELECT t.key, e.metric, e.value FROM evaluations e
      JOIN trials t ON t.id = e.trial_id WHERE e.metric <> 'ms_per_image'
    EXCEPT SELECT t.key, e.metric, e.value FROM one.evaluations e
      JOIN one.trials t ON t.id = e.trial_id);" | tr '\n' ' ')
[[ $diff == "0 0 " ]] && ok "results equal the single process's" || fail "results differ: $diff"

# The line before each trial says where the sweep stands, from the database (so it counts other
# processes' trials too), with an ETA only from trials this process trained. Trial 1 alone
# (--trial), then trials 2 and 3 held by a live process of this host (this shell), then the rest.
key1=$("$bin" sweep plan "$tmp/sweep.yaml" | awk '$1 == 0 {print $2}')
"$bin" sweep run "$tmp/sweep.yaml" --threads 1 --db "$tmp/held.db" --trial "$key1" >/dev/null 2>&1 ||
  fail "--trial $key1: exit $?"
sqlite3 "$tmp/held.db" "UPDATE trials SET status = 'running', host = '$(uname -n)', pid = $$,
  heartbeat_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id IN
  (SELECT id FROM trials WHERE status = 'pending' ORDER BY id LIMIT 2)"
out=$("$bin" sweep run "$tmp/sweep.yaml" --threads 1 --db "$tmp/held.db" 2>&1)
lines=$(grep "^sweep parallel: .* to go" <<<"$out")
want="sweep parallel: 1 done, 0 failed, 0 diverged, 2 running elsewhere, 3 to go
sweep parallel: 1 done, 0 failed, 0 diverged, 2 running elsewhere, 3 to go
sweep parallel: 2 done, 0 failed, 0 diverged, 2 running elsewhere, 2 to go; ETA [0-9hms]+
sweep parallel: 3 done, 0 failed, 0 diverged, 2 running elsewhere, 1 to go; ETA [0-9hms]+"
if [[ $(grep -c "taken by another process" <<<"$out") == 2 && $lines =~ ^$want$ ]]; then
  ok "progress lines: counts from the database, no ETA before a trial was trained here"
else
  fail "progress lines, got:
$lines
expected (regex):
$want"
fi

# --jobs 3: the same through worker processes started by one command.
out=$("$bin" sweep run "$tmp/sweep.yaml" --jobs 3 --threads 3 --db "$tmp/jobs.db" 2>&1)
rc=$?
got=$(sqlite3 "$tmp/jobs.db" "SELECT count(*), sum(status = 'done'), sum(attempts = 1) FROM trials")
same=$(sqlite3 "$tmp/jobs.db" "ATTACH '$tmp/one.db' AS one;
  SELECT count(*) FROM (SELECT t.key, e.metric, e.value FROM evaluations e
      JOIN trials t ON t.id = e.trial_id WHERE e.metric <> 'ms_per_image'
    EXCEPT SELECT t.key, e.metric, e.value FROM one.evaluations e
      JOIN one.trials t ON t.id = e.trial_id)")
if [[ $rc == 0 && $got == "6|6|6" && $same == 0 ]] &&
   grep -q "3 worker processes x 1 threads" <<<"$out" && grep -q "^job 3: " <<<"$out" &&
   grep -q "6 trials: 6 done, 0 failed" <<<"$out"; then
  ok "--jobs 3: 6 trials done once each, results equal the single process's"
else
  fail "--jobs 3: exit $rc, trials $got, $same differing metrics; its output:"
  sed 's/^/  | /' <<<"$out"
  sqlite3 "$tmp/jobs.db" "SELECT key, status, attempts, pid, error FROM trials" | sed 's/^/  | /'
fi

# `jobs:` in the sweep file: the default for --jobs, never more workers than trials (the
# threads go to the workers that have a trial), and --jobs on the command line wins.
cat >"$tmp/jobs.yaml" <<YAML
name: jobs_key
base: $src/experiments/configs/tiny.yaml
jobs: 8
data: {train_images: 32, val_images: 8}
train: {iterations: 6, batch_size: 2, warmup_iters: 2, lr_steps: [5], log_every: 3}
sweep:
  cases: [{loss.kind: ce}, {loss.kind: focal}]
YAML
out=$("$bin" sweep run "$tmp/jobs.yaml" --threads 2 --db "$tmp/jobs_key.db" 2>&1)
rc=$?
got=$(sqlite3 "$tmp/jobs_key.db" "SELECT count(*), sum(status = 'done') FROM trials")
if [[ $rc == 0 && $got == "2|2" ]] && grep -q "2 worker processes x 1 threads" <<<"$out" &&
   ! grep -q "^job 3: " <<<"$out"; then
  ok "jobs: 8 in the file, 2 trials: 2 workers of 1 thread each, both trials done"
else
  fail "jobs: 8 in the file: exit $rc, trials $got; its output:"
  sed 's/^/  | /' <<<"$out"
fi
out=$("$bin" sweep run "$tmp/jobs.yaml" --jobs 1 --threads 1 --db "$tmp/jobs_one.db" 2>&1)
rc=$?
if [[ $rc == 0 ]] && ! grep -q "worker processes" <<<"$out" &&
   grep -q "2 trials: 2 done now" <<<"$out"; then
  ok "--jobs 1 overrides the file's jobs: 8 (no worker processes)"
else
  fail "--jobs 1 over jobs: 8: exit $rc; its output:"
  sed 's/^/  | /' <<<"$out"
fi

# A worker killed in the middle of a trial (kill -9): the parent names the job and the signal,
# marks the trial interrupted (not left `running`) before the dead worker is reaped, exits 70;
# the other worker (if it has not passed the trial yet) or the next run resumes it from its
# checkpoint and finishes the sweep.
cat >"$tmp/kill.yaml" <<YAML
name: killed
base: $src/experiments/configs/tiny.yaml
data: {train_images: 32, val_images: 8}
train: {iterations: 400, batch_size: 2, warmup_iters: 2, lr_steps: [300], log_every: 20,
        checkpoint_every: 20}
sweep:
  cases: [{loss.kind: ce}, {loss.kind: focal}]
YAML
"$bin" sweep run "$tmp/kill.yaml" --jobs 2 --threads 2 --db "$tmp/kill.db" >"$tmp/kill.log" 2>&1 &
parent=$!
victim=
for _ in $(seq 1 1200); do
  if [[ -s $tmp/kill.db ]]; then
    victim=$(sqlite3 -readonly "$tmp/kill.db" "SELECT t.pid FROM trials t WHERE t.status = 'running'
      AND t.checkpoint_path IS NOT NULL LIMIT 1" 2>/dev/null)
  fi
  [[ -n $victim ]] && break
  sleep 0.05
done
if [[ -z $victim ]]; then
  fail "kill -9 of a worker: no trial reached a checkpoint in 60 s"
else
  kill -9 "$victim"  # a worker that is `running` a trial right now
  wait $parent
  rc=$?
  key=$(grep -o "(pid $victim) was killed by signal 9 (Killed) while running trial [0-9a-f]*: marked interrupted" \
    "$tmp/kill.log" | grep -o 'trial [0-9a-f]*' | cut -d' ' -f2)
  st=$(sqlite3 "$tmp/kill.db" "SELECT status FROM trials WHERE key = '$key'")
  # Released by the parent before the dead worker is reaped; a sibling that had not reached the
  # trial yet may then resume it in the same run.
  if [[ $rc == 70 && -n $key && $st == interrupted ]]; then
    ok "kill -9 of a worker: named, exit 70, its trial $key marked interrupted"
  elif [[ $rc == 70 && -n $key && $st == done ]] && grep -q "resuming after iteration" "$tmp/kill.log"; then
    ok "kill -9 of a worker: named, exit 70, its trial $key released and resumed by the other worker"
  else
    fail "kill -9 of worker $victim: exit $rc, trial '$key' is '$st'; output: $(cat "$tmp/kill.log")"
  fi
  "$bin" sweep run "$tmp/kill.yaml" --jobs 2 --threads 2 --db "$tmp/kill.db" >"$tmp/kill2.log" 2>&1
  rc=$?
  got=$(sqlite3 "$tmp/kill.db" "SELECT count(*), sum(status = 'done') FROM trials")
  if [[ $rc == 0 && $got == "2|2" ]] &&
     { [[ $st != interrupted ]] || grep -q "resuming after iteration" "$tmp/kill2.log"; }; then
    ok "the killed worker's trial was resumed from its checkpoint: 2 trials done"
  else
    fail "rerun after kill -9: exit $rc, trials $got: $(tail -3 "$tmp/kill2.log")"
  fi
fi

finish
