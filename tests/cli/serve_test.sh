#!/usr/bin/env bash
# `focalab serve` on a database made by a real short sweep, read by curl and by headless Chromium
# (Debian's chromium package):
# - the three pages and their JSON; the sweep page's comparison table is byte for byte the one
#   `focalab report --format html` prints (the same code); the pages' scripts run in the browser
#   and their polls succeed (body data-live="ok"); screenshots of the three pages
#   (FOCALAB_SERVE_SHOTS=DIR keeps them there);
# - live: while a second sweep trains on the same database, the open trial page follows its
#   iterations without a reload (the page records each iteration it was told), and the sweep
#   page lists the running trial;
# - hostile requests (path traversal, malformed and huge parameters, unknown names, a huge URI,
#   markup in a name, POST, 200 concurrent clients): the right status each, never a crash, the
#   database byte for byte unchanged and nothing written next to it;
# - usage: a missing or foreign database (exit 4), a bad port and a port in use (exit 2),
#   SIGTERM stops it (exit 0).
#   serve_test.sh FOCALAB_BINARY SOURCE_DIR
set -uo pipefail
source "$(dirname "$0")/common.sh"

for tool in chromium curl sqlite3 sha256sum; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is missing (scripts/install-deps.sh installs it)"; exit 1; }
done
db=$tmp/runs.db
browser() {  # browser ARGS... URL: headless Chromium, its own profile, bounded
  timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --no-first-run --user-data-dir="$tmp/chromium" "$@" 2>>"$tmp/chromium.err"
}

# --- a real short sweep -----------------------------------------------------------------------
cat >"$tmp/sweep.yaml" <<YAML
name: serve_demo
base: $src/experiments/configs/tiny.yaml
data: {train_images: 8, val_images: 4}
train: {iterations: 12, batch_size: 2, warmup_iters: 1, lr_steps: [10], log_every: 1}
sweep:
  cases: [{loss.kind: ce}, {loss.kind: focal}]
YAML
"$bin" sweep run "$tmp/sweep.yaml" --db "$db" --threads 2 >/dev/null 2>"$tmp/run.err" ||
  { echo "FAIL: the sweep did not run: $(tail -3 "$tmp/run.err")"; exit 1; }
key=$(sqlite3 "$db" "SELECT key FROM trials ORDER BY id LIMIT 1")
# Figure 4 of one trial, for its page
"$bin" analyze loss-cdf --trial "$key" --db "$db" --threads 2 --gammas 0,2 >/dev/null 2>"$tmp/cdf.err" ||
  fail "analyze loss-cdf: $(tail -2 "$tmp/cdf.err")"

server_pid=
url=
start_server() {  # start_server DB: serves it on a free port; sets server_pid and url
  "$bin" serve --db "$1" --port 0 --max-wait 5 >/dev/null 2>"$tmp/serve.err" &
  server_pid=$!
  url=
  for _ in $(seq 100); do
    url=$(grep -o 'http://127.0.0.1:[0-9]*/' "$tmp/serve.err" | head -1)
    [[ -n $url ]] && break
    sleep 0.1
  done
  [[ -n $url ]] || { echo "FAIL: serve did not start: $(cat "$tmp/serve.err")"; exit 1; }
  url=${url%/}
}
start_server "$db"
ok "serve listens at $url"

get() {  # get PATH [curl args...]: prints the HTTP status; the body goes to $tmp/body
  local path=$1
  shift
  curl -s --path-as-is -o "$tmp/body" -w '%{http_code}' --max-time 30 "$@" "$url$path"
}
check() {  # check PATH STATUS PATTERN [curl args...]
  local path=$1 want=$2 pattern=$3
  shift 3
  local got
  got=$(get "$path" "$@")
  if [[ $got != "$want" ]]; then
    fail "GET ${path:0:80}: status $got, expected $want: $(head -c 300 "$tmp/body")"
  elif ! grep -qE -- "$pattern" "$tmp/body"; then
    fail "GET ${path:0:80}: no /$pattern/ in: $(head -c 300 "$tmp/body")"
  else
    ok "GET ${path:0:80} -> $got"
  fi
}

# --- the pages and their JSON -----------------------------------------------------------------
check / 200 'data-sweep="serve_demo"'
check / 200 'data-col="done">2<'
check /sweep/serve_demo 200 'id="comparison"'
check /sweep/serve_demo 200 'id="plot-loss-curves"'
check "/trial/$key" 200 'id="plot-losses"'
grep -A1 'id="plot-losses"' "$tmp/body" | grep -q '<svg[^>]*data-series="3"' &&
  ok "the trial page draws its curves: classification and box loss, learning rate" ||
  fail "the trial page's loss curves are not an SVG of 3 series"
check "/trial/$key" 200 'id="evaluations"'
check "/trial/$key" 200 'id="class-ap"'
check "/trial/$key" 200 'id="class-loss"'
check "/trial/$key" 200 'id="plot-loss-cdf"'
check "/trial/$key" 200 'kind: (ce|focal)'
check /api/sweeps 200 '"name":"serve_demo","trials":2,"done":2'
check /api/sweep/serve_demo 200 '"running":\[\]'
check "/api/trial/$key" 200 "\"key\":\"$key\",\"status\":\"done\",\"iteration\":12,\"iterations\":12"
# a stored config that is not JSON: the trial's page is an error naming the trial and the column
# (one byte put before it, then taken away again)
key2=$(sqlite3 "$db" "SELECT key FROM trials ORDER BY id LIMIT 1 OFFSET 1")
sqlite3 "$db" "UPDATE trials SET config_json = 'x' || config_json WHERE key = '$key2'"
check "/trial/$key2" 503 "$db: trial $key2: config_json: not valid JSON"
sqlite3 "$db" "UPDATE trials SET config_json = substr(config_json, 2) WHERE key = '$key2'"
check "/trial/$key2" 200 'id="config"'

# The comparison table is the report's, byte for byte.
get /sweep/serve_demo >/dev/null
sed -n '/<div id="comparison">/,/<\/div>/p' "$tmp/body" >"$tmp/served_table"
"$bin" report serve_demo --format html --db "$db" | sed -n '/<div id="comparison">/,/<\/div>/p' \
  >"$tmp/report_table"
if [[ -s $tmp/served_table ]] && cmp -s "$tmp/served_table" "$tmp/report_table"; then
  ok "the sweep page's table is focalab report's ($(grep -c '<tr>' "$tmp/served_table") rows)"
else
  fail "the sweep page's table differs from focalab report's: $(diff "$tmp/served_table" "$tmp/report_table" | head -5)"
fi
# ... and its numbers are the report's JSON: AP, AP50, AP75 of each row, in order.
"$bin" report serve_demo --format json --db "$db" >"$tmp/report.json"
want=$(sqlite3 :memory: "SELECT printf('%.1f %.1f %.1f', json_extract(value, '\$.metrics.AP.mean'),
  json_extract(value, '\$.metrics.AP50.mean'), json_extract(value, '\$.metrics.AP75.mean'))
  FROM json_each(readfile('$tmp/report.json'), '\$.rows')")
got=$(grep -oE '(<td class="num">(<b>)?[^<]*(</b>)?</td>){3}</tr>' "$tmp/served_table" |
  sed -E 's#</?(b|td|tr)[^>]*># #g; s# \[[^]]*\]##g' | tr -s ' ' | sed 's/^ //; s/ $//')
if [[ -n $want && $got == "$want" ]]; then
  ok "the sweep page's AP, AP50, AP75 are report --format json's: $(tr '\n' '|' <<<"$got")"
else
  fail "the sweep page's numbers ($(tr '\n' '|' <<<"$got")) are not report --format json's ($(tr '\n' '|' <<<"$want"))"
fi
# The loss shares (at init, early, mid, late: positives, hard, easy negatives) likewise.
want=$(sqlite3 :memory: "SELECT $(for p in init early mid late; do for c in positive hard_negative easy_negative; do
  printf "printf('%%.1f%%%%', 100 * json_extract(value, '\$.loss_share.%s.%s')) || ' ' || " $p $c; done; done) ''
  FROM json_each(readfile('$tmp/report.json'), '\$.rows')" | sed 's/ $//')
got=$(sed -n '/<div id="loss-share">/,/<\/div>/p' "$tmp/body" | grep '^<tr>' |
  sed -E 's#<td class="num">([^<]*)</td>#\1 #g; s#<td>[^<]*</td>##g; s#</?tr>##g; s# $##')
if [[ $(wc -w <<<"$want") == 24 && $got == "$want" ]]; then
  ok "the sweep page's loss shares are report --format json's: $(tr '\n' '|' <<<"$got")"
else
  fail "the sweep page's loss shares ($(tr '\n' '|' <<<"$got")) are not report --format json's ($(tr '\n' '|' <<<"$want"))"
fi
# Each plot is an SVG with the series `focalab plot` draws for the same sweep and kind.
for kind in loss-curves loss-share ap-vs-gamma; do
  served=$(sed -n "/<figure id=\"plot-$kind\">/,/<\/figure>/p" "$tmp/body" | grep -o 'data-series="[0-9]*"' | tr -dc '0-9')
  drawn=$("$bin" plot --sweep serve_demo --kind "$kind" --out "$tmp/$kind.svg" --db "$db" 2>&1 | grep -o '[0-9]* series' | tr -dc '0-9')
  if [[ -n $served && $served -gt 0 && $served == "$drawn" ]] && grep -q "data-series=\"$drawn\"" "$tmp/$kind.svg"; then
    ok "plot $kind on the sweep page: an SVG of $served series, as focalab plot draws it"
  else
    fail "plot $kind on the sweep page: '$served' series, focalab plot: '$drawn'"
  fi
done

# The report's HTML is one self-contained page: its plots inline, nothing fetched.
"$bin" report serve_demo --format html --db "$db" >"$tmp/report.html"
if grep -q '<svg' "$tmp/report.html" && ! grep -qE '(src|href)="https?:' "$tmp/report.html"; then
  ok "report --format html: $(grep -c '<svg' "$tmp/report.html") inline figure(s), no external asset"
else
  fail "report --format html is not self-contained"
fi

# In the browser: the scripts run and their polls succeed; screenshots.
shots=${FOCALAB_SERVE_SHOTS:-$tmp/shots}
mkdir -p "$shots"
for page in "sweeps:/" "sweep:/sweep/serve_demo" "trial:/trial/$key"; do
  name=${page%%:*}
  path=${page#*:}
  browser --dump-dom --virtual-time-budget=4000 "$url$path" >"$tmp/dom.html"
  if grep -q 'data-live="ok"' "$tmp/dom.html"; then
    ok "chromium: $path ran its script, live"
  else
    fail "chromium: $path is not live: $(grep -o '<body[^>]*>' "$tmp/dom.html") $(tail -3 "$tmp/chromium.err")"
  fi
  browser --screenshot="$shots/serve-$name.png" --window-size=1280,1400 --hide-scrollbars \
    --virtual-time-budget=2000 "$url$path" >/dev/null
  size=$(stat -c %s "$shots/serve-$name.png" 2>/dev/null || echo 0)
  ((size > 20000)) && ok "screenshot of $path: $size bytes" ||
    fail "screenshot of $path: $size bytes"
done

# --- live: a sweep training on the database while its pages are open --------------------------
cat >"$tmp/live.yaml" <<YAML
name: serve_live
base: $src/experiments/configs/tiny.yaml
data: {train_images: 16, val_images: 4}
train: {iterations: 3000, batch_size: 4, warmup_iters: 1, lr_steps: [2900], log_every: 1}
sweep:
  cases: [{loss.kind: focal}]
YAML
"$bin" sweep run "$tmp/live.yaml" --db "$db" --threads 1 >/dev/null 2>"$tmp/live.err" &
live_pid=$!
live_key=
for _ in $(seq 600); do
  live_key=$(sqlite3 "$db" "SELECT t.key FROM trials t WHERE t.status = 'running' AND
    (SELECT count(*) FROM train_steps s WHERE s.trial_id = t.id) >= 2" 2>/dev/null)
  [[ -n $live_key ]] && break
  sleep 0.1
done
if [[ -z $live_key ]]; then
  fail "the live sweep did not start: $(tail -3 "$tmp/live.err")"
else
  browser --dump-dom --virtual-time-budget=6000 "$url/trial/$live_key" >"$tmp/dom.html"
  seen=$(grep -o 'data-seen="[0-9 ]*"' "$tmp/dom.html" | tr -dc '0-9 ')
  read -ra its <<<"$seen"
  increasing=1
  for ((i = 1; i < ${#its[@]}; i++)); do ((its[i] > its[i - 1])) || increasing=0; done
  if ((${#its[@]} >= 3 && increasing)); then
    ok "chromium: the open trial page followed the running trial: iterations ${its[*]}"
  else
    fail "chromium: the trial page did not follow the running trial (seen: '$seen'): $(grep -o '<body[^>]*>' "$tmp/dom.html")"
  fi
  browser --dump-dom --virtual-time-budget=3000 "$url/sweep/serve_live" >"$tmp/dom.html"
  grep -q "<tr data-key=\"$live_key\">" "$tmp/dom.html" && grep -q 'data-live="ok"' "$tmp/dom.html" &&
    ok "chromium: the sweep page lists the running trial, live" ||
    fail "chromium: the sweep page does not list the running trial $live_key"
  check "/api/sweep/serve_live" 200 "\"running\":1"
  check "/api/trial/$live_key?after=0&wait=5" 200 '"status":"running"'
fi
signal_child TERM "$live_pid"
wait "$live_pid" 2>/dev/null

# --- hostile requests: statuses, no crash, the database untouched ---------------------------
# The sweep's -wal is folded in by the last connection to close (a page's read may have held one
# open when the sweep closed): one more writer's open and close.
sqlite3 "$db" "SELECT count(*) FROM trials" >/dev/null
for f in "$db-wal" "$db-shm"; do [[ -e $f ]] && fail "$f is still there before the checks"; done
before=$(sha256sum <"$db")
check "/../../../../etc/passwd" 404 'Not Found'
check "/sweep/..%2F..%2F..%2Fetc%2Fpasswd" 404 'no sweep'
check "/sweep/%3Cscript%3Ealert(1)%3C%2Fscript%3E" 404 '&lt;script&gt;'
check "/sweep/$(head -c 5000 /dev/zero | tr '\0' x)" 400 '1 to 4096 bytes'
check /trial/zzz 400 '16 lowercase hex'
check /trial/0123456789abcdef 404 'no trial'
check "/api/trial/$key?after=abc" 400 'whole number'
check "/api/trial/$key?after=99999999999999999999" 400 'whole number'
check "/api/trial/$key?wait=100000" 400 '0\.\.5'
check "/api/trial/$key?bogus=1" 400 "unknown parameter 'bogus'"
check "/?x=1" 400 'takes none'
check /nothing/here 404 'no page'
check / 404 '' -X POST -d 'status=done'
check / 400 '' -H "X-Big: $(head -c 20000 /dev/zero | tr '\0' y)"
got=$(get "/sweep/$(head -c 100000 /dev/zero | tr '\0' z)")
[[ $got == 414 || $got == 400 ]] && ok "a 100 KB URI -> $got" || fail "a 100 KB URI -> $got"
codes=$(seq 200 | xargs -P 50 -I{} curl -s -o /dev/null -w '%{http_code}\n' --max-time 60 \
  "$url/api/sweeps" | sort | uniq -c | tr -s ' ')
[[ $codes == " 200 200" ]] && ok "200 concurrent requests: all 200" || fail "200 concurrent requests: $codes"
kill -0 "$server_pid" 2>/dev/null && ok "the server is alive" || fail "the server died"
check / 200 'serve_live'
after=$(sha256sum <"$db")
[[ $before == "$after" ]] && ok "the database is byte for byte unchanged" ||
  fail "the database changed while served"
# Reading a WAL database that a writer may change needs SQLite's -shm index (it may create an
# empty -wal beside it): nothing is written into either.
[[ -e $db-journal ]] && fail "serve created $db-journal"
[[ -s $db-wal ]] && fail "$db-wal has content: something was written"

# --- stopping and usage errors ------------------------------------------------------------------
signal_child TERM "$server_pid"
wait "$server_pid"
rc=$?
[[ $rc == 0 ]] && ok "SIGTERM stops serve (exit 0)" || fail "serve exited $rc on SIGTERM"
expect 4 "no-such.db" -- "$bin" serve --db "$tmp/no-such.db" --port 0
sqlite3 "$tmp/foreign.db" "CREATE TABLE notes(x); INSERT INTO notes VALUES (1);"
expect 4 "not a focalab results database" -- "$bin" serve --db "$tmp/foreign.db" --port 0
expect 2 "--port 70000: allowed 0..65535" -- "$bin" serve --db "$db" --port 70000
expect 2 "--max-wait 0: allowed 1..300" -- "$bin" serve --db "$db" --max-wait 0
start_server "$db"
port=${url##*:}
expect 2 "--port $port: cannot listen" -- timeout 20 "$bin" serve --db "$db" --port "$port"
signal_child TERM "$server_pid"
wait "$server_pid"
finish
