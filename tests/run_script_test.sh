#!/usr/bin/env bash
# scripts/run.sh refuses a port that is already served, and a MEDSEARCH_PORT that is not a port,
# before it installs, builds, indexes or prints that it is serving: the second of two run.sh on
# one port printed "medsearch is serving ..." and then failed to bind. Nothing here builds.
# Usage: run_script_test.sh SOURCE_DIR
set -uo pipefail
src="$1"
work="$(mktemp -d)"
listener=""
cleanup() { [ -n "$listener" ] && kill "$listener" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
failures=0
check() {
  local what="$1"; shift
  if "$@"; then echo "ok: $what"; else echo "FAIL: $what"; failures=$((failures + 1)); fi
}

# A listener on a port the OS picks; its number is written once it listens.
python3 - "$work/port" <<'PY' &
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(120)
PY
listener=$!
for _ in $(seq 1 100); do [ -s "$work/port" ] && break; sleep 0.1; done
port="$(cat "$work/port")"

MEDSEARCH_PORT="$port" timeout 60 bash "$src/scripts/run.sh" >"$work/out" 2>"$work/err"; status=$?
check "port in use: exit 1" test "$status" -eq 1
check "port in use: says so" grep -q "run: 127.0.0.1:$port is in use" "$work/err"
check "port in use: no 'serving' banner" bash -c "! grep -q 'medsearch is serving' '$work/out' '$work/err'"
check "port in use: nothing indexed" bash -c "! grep -q 'indexing corpus/samples' '$work/err'"

for bad in abc 0 70000 "80 81"; do
  MEDSEARCH_PORT="$bad" timeout 60 bash "$src/scripts/run.sh" >/dev/null 2>"$work/err"; status=$?
  check "MEDSEARCH_PORT='$bad': exit 2" test "$status" -eq 2
  check "MEDSEARCH_PORT='$bad': says so" grep -q "MEDSEARCH_PORT must be a port number" "$work/err"
done
[ "$failures" -eq 0 ]
