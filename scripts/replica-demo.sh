#!/usr/bin/env bash
# Issue 7's read-replica demonstration, on loopback: the samples indexed on a "master" with
# changesets on (XAPIAN_MAX_CHANGESETS), xapian-replicate-server serving it, xapian-replicate
# keeping a replica, and medsearch-server serving the replica both directly (a local folder)
# and through xapian-tcpsrv. A record added on the master reaches the replica by an
# incremental changeset, a second one by a forced full copy (Xapian then replaces the
# replica's database, which readers must close and reopen); each time the running servers
# find the new record on the next request, without a restart.
#
# Usage: scripts/replica-demo.sh   Environment: MEDSEARCH_BIN (default build/bin).
# Exit status: 0 when every check passed, 1 when one failed, 2 for setup errors.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${MEDSEARCH_BIN:-$root/build/bin}"
for tool in xapian-replicate xapian-replicate-server xapian-tcpsrv; do
  command -v "$tool" >/dev/null || { echo "replica-demo: $tool missing: scripts/install-deps.sh" >&2; exit 2; }
done
work="$(mktemp -d)"
pids=()
groups=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  for pid in "${groups[@]}"; do kill -KILL -- "-$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
failed=0
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
accepts() { python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$1" 2>/dev/null; }
wait_port() { for _ in $(seq 1 500); do accepts "$1" && return 0; sleep 0.02; done; echo "replica-demo: nothing on port $1" >&2; exit 2; }
start_server() {
  local log="$1"; shift
  "$bin/medsearch-server" --port 0 --quiet --web-dir "" "$@" 2> "$log" &
  pids+=($!)
  server_port=""
  for _ in $(seq 1 500); do
    server_port="$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log")"
    [ -n "$server_port" ] && return 0
    sleep 0.02
  done
  echo "replica-demo: medsearch-server did not start" >&2; cat "$log" >&2; exit 2
}
# found PORT WORD: the record of the best hit for WORD when it contains the word, else "none"
# (feedback expansion fills the page with loosely related passages).
found() {
  python3 -c '
import json, sys, urllib.request
hits = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/search?q={sys.argv[2]}&limit=1", timeout=30))["hits"]
print(hits[0]["record_id"] if hits and sys.argv[2] in hits[0]["snippet"] else "none")' "$1" "$2"
}
add_record() {  # add_record ID WORD [env...]
  printf '{"id":"%s","source":"research","title":"Replication check %s","text":"The %s marker shows this record reached the replica."}\n' "$1" "$2" "$2" > "$work/$1.jsonl"
  env "${@:3}" "$bin/medsearch-index" --db "$work/master/index" -q "$work/$1.jsonl" 2>/dev/null || exit 2
}
replicate() {  # one pass of xapian-replicate, as its --interval loop would do
  xapian-replicate --host 127.0.0.1 --port "$repl_port" --master index --one-shot --quiet --reader-time 0 "$@" \
    "$work/replica/index" || { echo "replica-demo: xapian-replicate failed" >&2; exit 2; }
}
check() {  # check WORD EXPECTED WHAT
  local direct remote
  direct="$(found "$direct_port" "$1")"; remote="$(found "$remote_port" "$1")"
  if [ "$direct" = "$2" ] && [ "$remote" = "$2" ]; then echo "  ok: $3 (replica folder: $direct, via tcpsrv: $remote)"
  else echo "  FAIL: $3 (replica folder: $direct, via tcpsrv: $remote, expected $2)"; failed=1; fi
}

echo "== master: the samples, one database, changesets kept (XAPIAN_MAX_CHANGESETS=10)"
mkdir -p "$work/master" "$work/replica"
XAPIAN_MAX_CHANGESETS=10 "$bin/medsearch-index" --db "$work/master/index" --shards 1 -q "$root"/corpus/samples/*.jsonl 2>/dev/null || exit 2
repl_port="$(free_port)"
# In its own session: on SIGTERM xapian-replicate-server signals its whole process group, which
# must not be ours; it is stopped by killing its group.
setsid xapian-replicate-server --interface 127.0.0.1 --port "$repl_port" "$work/master" > "$work/replicate-server.log" 2>&1 &
groups+=($!)
wait_port "$repl_port"
replicate
echo "  replica at $work/replica/index: $(grep -v '^#' "$work/replica/index/XAPIANDB")"

tcp_port="$(free_port)"
setsid xapian-tcpsrv --quiet --interface 127.0.0.1 --port "$tcp_port" "$work/replica/index" > "$work/tcpsrv.log" 2>&1 &
groups+=($!)
wait_port "$tcp_port"
start_server "$work/direct.log" --db "$work/replica/index"; direct_port=$server_port
start_server "$work/remote.log" --db "tcp://127.0.0.1:$tcp_port"; remote_port=$server_port
check zymurgical none "before the update, the marker is nowhere"

echo "== a record added on the master, replicated as a changeset"
add_record replica-check-1 zymurgical XAPIAN_MAX_CHANGESETS=10
replicate
check zymurgical replica-check-1 "the running servers see the incremental update"

echo "== a second record, replicated as a full copy (the replica's database is replaced)"
add_record replica-check-2 quodlibetical XAPIAN_MAX_CHANGESETS=10
replicate --force-copy
echo "  replica now: $(grep -v '^#' "$work/replica/index/XAPIANDB")"
check quodlibetical replica-check-2 "the running servers close and reopen onto the new copy"
check zymurgical replica-check-1 "and still find the first record"

echo
if [ "$failed" = 0 ]; then echo "replica-demo: all checks passed"; else echo "replica-demo: some checks FAILED"; fi
exit "$failed"
