#!/usr/bin/env bash
# A shortened mini table end to end (label slow: a few minutes on 2 cores): the Table 1(b) mini
# sweep exactly as shipped (7 gamma/alpha pairs x 3 seeds) with a shorter schedule and smaller
# splits, then what docs/REPRODUCTION.md is made of — `report` with seed statistics and the
# paper's numbers, `plot --kind ap-vs-gamma`, and `analyze loss-cdf` on a gamma = 2 model —
# checking what landed in the database.
#   mini_table_test.sh FOCALAB_BINARY SOURCE_DIR
set -uo pipefail
source "$(dirname "$0")/common.sh"
db="$tmp/mini.db"
short=(train.iterations=40 train.warmup_iters=10 train.lr_steps=[30,35] train.log_every=10
       data.train_images=128 data.val_images=32)

out=$("$bin" sweep run "$src/experiments/mini/table1b_gamma.yaml" "${short[@]}" --db "$db" 2>&1)
rc=$?
got=$(sqlite3 "$db" "SELECT count(*), sum(status = 'done'), count(DISTINCT seed) FROM trials")
[[ $rc == 0 && $got == "21|21|3" ]] && ok "21 trials done over 3 seeds" ||
  fail "sweep run exit $rc, trials $got: $(tail -3 <<<"$out")"
n=$(sqlite3 "$db" "SELECT count(*) FROM evaluations WHERE metric = 'AP' AND value BETWEEN 0 AND 1")
[[ $n == 21 ]] && ok "21 final APs in [0, 1]" || fail "final APs: $n"
n=$(sqlite3 "$db" "SELECT count(DISTINCT trial_id) FROM loss_breakdown WHERE category = 'easy_negative'")
[[ $n == 21 ]] && ok "loss breakdown of every trial" || fail "loss breakdown: $n trials"

# report: one row per gamma/alpha pair, n = 3, mean ± std, the paper's AP beside it
rep=$("$bin" report table1b_gamma --db "$db" --format csv 2>&1)
[[ $(grep -c '' <<<"$rep") -ge 8 ]] || fail "report: expected a header and 7 rows: $rep"
for paper in 31.1 31.4 31.9 32.9 33.7 34.0 32.2; do
  grep -qE ",${paper/./\\.}0*,[0-9.]+,[0-9.]+,-?[0-9.]+," <<<"$rep" || fail "report: paper AP $paper missing"
done
md=$("$bin" report table1b_gamma --db "$db" 2>&1)
[[ $(grep -cE '\| done +\| 3 \| +(\*\*)?[0-9.]+ ± [0-9.]+' <<<"$md") == 7 ]] && ok "report: 7 rows of 3 seeds with mean ± std" ||
  fail "report rows: $md"

"$bin" plot --sweep table1b_gamma --kind ap-vs-gamma --out "$tmp/gamma.svg" --db "$db" >/dev/null 2>&1 &&
  [[ $(grep -c '<circle' "$tmp/gamma.svg") -ge 7 ]] && ok "ap-vs-gamma plot" || fail "plot ap-vs-gamma"

key=$(sqlite3 "$db" "SELECT key FROM results WHERE loss = 'focal' AND gamma = 2 AND seed = 1")
"$bin" analyze loss-cdf --trial "$key" --db "$db" --out "$tmp/cdf.svg" >"$tmp/cdf.txt" 2>&1
n=$(sqlite3 "$db" "SELECT count(*) FROM loss_cdf l JOIN trials t ON t.id = l.trial_id WHERE t.key = '$key'")
[[ $n == $((4 * 2 * 209)) && -s $tmp/cdf.svg ]] && ok "Figure 4 of the gamma = 2 model: $n points" ||
  fail "analyze loss-cdf: $n rows: $(tail -2 "$tmp/cdf.txt")"
finish
