# Shared by the shell tests, sourced with the test's arguments (FOCALAB_BINARY SOURCE_DIR): sets
# bin, src, tmp (a fresh directory, removed at exit; background jobs killed), failures, and
# fail / ok / finish (prints the verdict and exits 1 when anything failed).
bin=$1
src=$2
tmp=$(mktemp -d)
trap 'kill -9 $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }
finish() {
  if [[ $failures -gt 0 ]]; then
    echo "$failures failure(s)"
    exit 1
  fi
  echo "all passed"
  exit 0
}
