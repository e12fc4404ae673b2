#!/usr/bin/env bash
# Figure 4 (`analyze loss-cdf`) end to end: a short sweep, the analysis of its focal-loss trial
# from the final checkpoint, what lands in the loss_cdf table (every curve from 0 to 1, rising;
# for the negatives, each larger gamma's curve below the smaller one's at every point, as the
# paper's figure shows), a rerun replacing the rows, the plot, and the bad inputs (one line, the
# documented exit code, the database unchanged).
#   analyze_test.sh FOCALAB_BINARY SOURCE_DIR
set -uo pipefail
source "$(dirname "$0")/common.sh"

cat >"$tmp/sweep.yaml" <<YAML
name: fig4
base: $src/experiments/configs/tiny.yaml
data: {train_images: 64, val_images: 24}
train: {iterations: 40, batch_size: 4, warmup_iters: 5, lr_steps: [30], log_every: 10}
sweep:
  cases: [{loss.kind: focal, loss.gamma: 2, loss.alpha: 0.25}, {loss.kind: ce}]
YAML
db=$tmp/fig4.db
"$bin" sweep run "$tmp/sweep.yaml" --threads 2 --db "$db" >/dev/null 2>"$tmp/log" ||
  { fail "sweep run: $(tail -3 "$tmp/log")"; finish; }
focal=$(sqlite3 "$db" "SELECT key FROM trials WHERE json_extract(config_json, '\$.\"loss.kind\"') = 'focal'")
ce=$(sqlite3 "$db" "SELECT key FROM trials WHERE json_extract(config_json, '\$.\"loss.kind\"') = 'ce'")
q() { sqlite3 "$db" "$1"; }

expect 0 "trial $focal after 40 iterations, 24 val images: [0-9]+ positive and [0-9]+ negative" -- \
  "$bin" analyze loss-cdf --trial "$focal" --db "$db" --threads 2 --out "$tmp/fig4.png"
[[ -s $tmp/fig4.png && $(head -c 8 "$tmp/fig4.png" | od -An -c | tr -d ' ') == '211PNG\r\n032\n' ]] &&
  ok "fig4.png written" || fail "fig4.png missing or not a PNG"
points=$(q "SELECT count(DISTINCT point) FROM loss_cdf")
[[ $(q "SELECT count(*) FROM loss_cdf") == $((4 * 2 * points)) && $points -gt 100 ]] &&
  ok "4 gammas x 2 sets x $points points" || fail "loss_cdf rows: $(q "SELECT gamma, examples, count(*) FROM loss_cdf GROUP BY 1, 2")"
[[ $(q "SELECT count(*) FROM loss_cdf WHERE (point = 0 AND cumulative != 0) OR (fraction = 1 AND abs(cumulative - 1) > 1e-9)") == 0 ]] &&
  ok "every curve runs from 0 to 1" || fail "curve ends"
[[ $(q "SELECT count(*) FROM (SELECT cumulative - lag(cumulative) OVER (PARTITION BY gamma, examples ORDER BY point) AS d FROM loss_cdf) WHERE d < 0") == 0 ]] &&
  ok "every curve rises" || fail "a curve falls"
[[ $(q "SELECT count(*) FROM loss_cdf a JOIN loss_cdf b USING (trial_id, examples, point) WHERE a.examples = 'negative' AND b.gamma > a.gamma AND b.cumulative > a.cumulative + 1e-12") == 0 ]] &&
  ok "negatives: a larger gamma's curve lies below" || fail "negative curves cross"
# at gamma = 2 the easiest 80% of the negatives carry much less of the loss than under CE
read -r ce80 fl80 < <(q "SELECT (SELECT cumulative FROM loss_cdf WHERE examples = 'negative' AND gamma = 0 AND fraction = 0.8), (SELECT cumulative FROM loss_cdf WHERE examples = 'negative' AND gamma = 2 AND fraction = 0.8)" | tr '|' ' ')
awk -v a="$ce80" -v b="$fl80" 'BEGIN { exit !(b < a / 2) }' &&
  ok "easiest 80% of negatives: $ce80 of the loss (CE) vs $fl80 (gamma 2)" || fail "80%: $ce80 vs $fl80"
[[ $(q "SELECT DISTINCT iteration || ' ' || images FROM loss_cdf") == "40 24" ]] || fail "iteration/images"
[[ $(q "SELECT DISTINCT count FROM loss_cdf WHERE examples = 'positive'") -gt 0 ]] || fail "no positives"

# again with other gammas and fewer images: the trial's rows are replaced; the CE trial too
expect 0 "8 val images" -- "$bin" analyze loss-cdf --trial "$focal" --db "$db" --gammas 0,2 --images 8
[[ $(q "SELECT count(*) FROM loss_cdf") == $((2 * 2 * points)) && $(q "SELECT DISTINCT images FROM loss_cdf") == 8 ]] &&
  ok "rerun replaced the rows" || fail "rerun rows: $(q "SELECT gamma, images, count(*) FROM loss_cdf GROUP BY 1, 2")"
expect 0 "negative" -- "$bin" analyze loss-cdf --trial "$ce" --db "$db" --gammas 0,1,2 --max-negatives 5000
[[ $(q "SELECT DISTINCT count FROM loss_cdf WHERE examples = 'negative' AND trial_id = (SELECT id FROM trials WHERE key = '$ce')") -le 5000 ]] ||
  fail "--max-negatives not applied"
expect 0 "4 panel\(s\), 10 series" -- "$bin" plot --kind loss-cdf --db "$db" --out "$tmp/all.svg"
expect 0 "2 panel\(s\), 6 series" -- "$bin" plot --kind loss-cdf --db "$db" --trial "$ce" --out "$tmp/ce.svg"
# the legend, read back from the PDF of the same figure (pdftotext: poppler-utils, which may
# close up the spaces around "=")
expect 0 "2 panel\(s\), 6 series" -- "$bin" plot --kind loss-cdf --db "$db" --trial "$ce" --out "$tmp/ce.pdf"
legend=$(pdftotext "$tmp/ce.pdf" -)
grep -Eq "γ ?= ?2" <<<"$legend" && ok "legend names gamma" || fail "legend: $(tr "\n" "|" <<<"$legend")"

# a database and its checkpoints moved elsewhere (the recorded path relative to where the sweep
# ran): the checkpoint is found beside --db
mkdir -p "$tmp/run" "$tmp/moved" && cp "$tmp/sweep.yaml" "$tmp/run/"
(cd "$tmp/run" && "$bin" sweep run sweep.yaml --trial "$ce" --db rel.db >/dev/null 2>&1) || fail "relative run"
mv "$tmp/run/rel.db" "$tmp/run/rel.db-checkpoints" "$tmp/moved/"
expect 0 "trial $ce after 40 iterations" -- "$bin" analyze loss-cdf --trial "$ce" --db "$tmp/moved/rel.db" --gammas 0,2 --images 4

# bad input: one line, its exit code, the database unchanged
# (rounded: a rerun re-inserts a trial's rows after the others', and a float sum depends on order)
cdf_sum="SELECT count(*), round(sum(cumulative), 9) FROM loss_cdf"
before=$(q "$cdf_sum")
expect 2 "allowed: loss-cdf" -- "$bin" analyze loss-pdf --trial "$focal" --db "$db"
expect 2 "a trial key is 16 hex digits" -- "$bin" analyze loss-cdf --trial xyz --db "$db"
expect 2 "no such trial" -- "$bin" analyze loss-cdf --trial 0123456789abcdef --db "$db"
expect 2 "--gammas '0,-1': '-1' is not allowed" -- "$bin" analyze loss-cdf --trial "$focal" --gammas 0,-1 --db "$db"
expect 2 "--gammas '0,,2'" -- "$bin" analyze loss-cdf --trial "$focal" --gammas 0,,2 --db "$db"
expect 2 "--images must be >= 0" -- "$bin" analyze loss-cdf --trial "$focal" --images -3 --db "$db"
expect 2 "--out x.gif: the file name must end in .svg, .png or .pdf" -- "$bin" analyze loss-cdf --trial "$focal" --out x.gif --db "$db"
expect 2 "required" -- "$bin" analyze loss-cdf --db "$db"
expect 4 "missing.db" -- "$bin" analyze loss-cdf --trial "$focal" --db "$tmp/missing.db"
ckpt=$(q "SELECT checkpoint_path FROM trials WHERE key = '$focal'")
head -c 3000 "$ckpt" >"$tmp/truncated.pth"
expect 3 "truncated.pth" -- "$bin" analyze loss-cdf --trial "$focal" --checkpoint "$tmp/truncated.pth" --db "$db"
mv "$ckpt" "$tmp/moved.pth"
expect 3 "checkpoint of trial $focal not found \(moved\? pass --checkpoint" -- "$bin" analyze loss-cdf --trial "$focal" --db "$db"
expect 0 "trial $focal" -- "$bin" analyze loss-cdf --trial "$focal" --checkpoint "$tmp/moved.pth" --gammas 0,2 --images 8 --db "$db"
q "UPDATE trials SET status = 'interrupted' WHERE key = '$ce'"
expect 2 "the trial is interrupted; analyze loss-cdf needs a done trial" -- "$bin" analyze loss-cdf --trial "$ce" --db "$db"
expect 2 "trial 0123456789abcdef has no loss-CDF results in sweep fig4" -- "$bin" plot --kind loss-cdf --db "$db" --sweep fig4 --trial 0123456789abcdef --out "$tmp/x.svg"
[[ $(q "$cdf_sum") == "$before" && $(q "PRAGMA integrity_check") == ok ]] &&
  ok "failed runs left the database as it was" || fail "database changed: $before -> $(q "$cdf_sum")"

finish
