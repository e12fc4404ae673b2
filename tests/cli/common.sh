# Shared by the shell tests, sourced with the test's arguments (FOCALAB_BINARY SOURCE_DIR): sets
# bin, src, tmp (a fresh directory, removed at exit; background jobs killed), failures, and
# fail / ok / finish (prints the verdict and exits 1 when anything failed) and expect.
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

# signal_child SIGNAL PID: sends the signal only while PID is still a child of this shell. Once
# a background job has exited, the shell has reaped it and its pid is free: on a busy machine
# another test's process may get it.
signal_child() {
  local stat
  stat=$(cat "/proc/$2/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  local ppid=${stat#* }
  ppid=${ppid%% *}
  [[ $ppid == "$$" || $ppid == "$BASHPID" ]] || return 1
  kill -"$1" "$2" 2>/dev/null
}

# expect CODE PATTERN -- command...: runs it and checks the exit code; an error (CODE != 0) must
# be exactly one line on stderr matching PATTERN, a success must match PATTERN on stdout or stderr.
expect() {
  local code=$1 pattern=$2
  shift 3
  local out err rc
  out=$("$@" 2>"$tmp/err")
  rc=$?
  err=$(cat "$tmp/err")
  local text=$err
  [[ $code == 0 ]] && text="$out"$'\n'"$err"
  if [[ $rc != "$code" ]]; then
    fail "'$*' exited $rc, expected $code; stderr: $(tail -3 <<<"$err")"
  elif ! grep -qE -- "$pattern" <<<"$text"; then
    fail "'$*' output does not match /$pattern/: $text"
  elif [[ $code != 0 && $(wc -l <<<"$err") != 1 ]]; then
    fail "'$*' error is not one line: $err"
  else
    ok "$* -> $rc"
  fi
}
