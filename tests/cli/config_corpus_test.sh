#!/usr/bin/env bash
# The malformed-config corpus (tests/cli/configs, expectations in configs/EXPECTED): every file
# is rejected by `focalab sweep plan --require-data` (what `sweep run` checks) before anything
# runs, with its exit code and a one-line error naming the file, the line and the key. Every .yaml file there must have an expectation.
#   config_corpus_test.sh FOCALAB_BINARY SOURCE_DIR
set -uo pipefail
bin=$1
dir=$2/tests/cli/configs
failures=0
cases=0
cd "$dir" || exit 1
while IFS=$'\t' read -r file code pattern; do
  [[ -z $file || $file == \#* ]] && continue
  cases=$((cases + 1))
  err=$("$bin" sweep plan "$file" --require-data --db /nonexistent/never.db 2>&1 >/dev/null)
  rc=$?
  if [[ $rc != "$code" ]]; then
    echo "FAIL: $file: exit $rc, expected $code: $err"
    failures=$((failures + 1))
  elif [[ $(wc -l <<<"$err") != 1 ]] || ! grep -qE -- "^focalab: error: $pattern" <<<"$err"; then
    echo "FAIL: $file: error does not match /$pattern/: $err"
    failures=$((failures + 1))
  else
    echo "ok: $file -> $rc"
  fi
done <EXPECTED
for f in *.yaml; do
  grep -q "^$f	" EXPECTED || { echo "FAIL: $f has no line in EXPECTED"; failures=$((failures + 1)); }
done
echo "$cases malformed configs"
[[ $cases -ge 20 && $failures == 0 ]] && echo "all passed" && exit 0
exit 1
