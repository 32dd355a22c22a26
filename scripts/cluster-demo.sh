#!/usr/bin/env bash
# Issue 7's cluster demonstration, on one machine over loopback: SciFact in three shards, each
# served by Xapian's own xapian-tcpsrv, a medsearch-server searching them over Xapian's remote
# backend, compared query by query with a single-database index of the same records; then a
# shard stopped (503 naming it, or a partial answer with --partial-results), restarted (picked
# up again without a restart), and the search latency against the shard count (1, 2, 3).
#
# Usage: scripts/cluster-demo.sh [SCIFACT_DIR]   (default ../shared/data/scifact from the repo)
# Environment: MEDSEARCH_BIN (default build/bin), DEMO_QUERIES (compared queries, default 50),
#   DEMO_LATENCY_QUERIES (timed queries per setup, default 20), DEMO_WORK (a folder kept between
#   runs so indexes are reused; default a temporary folder removed at the end),
#   DEMO_PORTS (three tcpsrv ports, default "7001 7002 7003"; busy ones are replaced by free ones).
# Exit status: 0 when every check passed, 1 when one failed, 2 for setup errors.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="${1:-$root/../shared/data/scifact}"
bin="${MEDSEARCH_BIN:-$root/build/bin}"
queries="${DEMO_QUERIES:-50}"
latency_queries="${DEMO_LATENCY_QUERIES:-20}"
read -r -a wanted_ports <<< "${DEMO_PORTS:-7001 7002 7003}"

[ -f "$data/corpus.jsonl" ] || { echo "cluster-demo: no SciFact at $data (give its folder)" >&2; exit 2; }
for tool in medsearch-index medsearch-server; do
  [ -x "$bin/$tool" ] || { echo "cluster-demo: $bin/$tool missing: build first (scripts/build.sh)" >&2; exit 2; }
done
command -v xapian-tcpsrv >/dev/null || { echo "cluster-demo: xapian-tcpsrv missing: scripts/install-deps.sh" >&2; exit 2; }

if [ -n "${DEMO_WORK:-}" ]; then work="$DEMO_WORK"; mkdir -p "$work"; keep=1; else work="$(mktemp -d)"; keep=0; fi
declare -A tcpsrv_pid=()   # "shards/index" -> pid (leader of its own process group)
servers=()
cleanup() {
  for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  for key in "${!tcpsrv_pid[@]}"; do kill -KILL -- "-${tcpsrv_pid[$key]}" 2>/dev/null; wait "${tcpsrv_pid[$key]}" 2>/dev/null; done
  [ "$keep" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT
failed=0
check() { if [ "$1" = ok ]; then echo "  ok: $2"; else echo "  FAIL: $2"; failed=1; fi; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port_busy() { python3 -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null && return 1 || return 0; }
accepts() { python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$1" 2>/dev/null; }

# start_tcpsrv KEY PORT DB: xapian-tcpsrv in its own session, so stopping it (kill the group)
# also ends the connections it forked, as when its machine goes away.
start_tcpsrv() {
  setsid xapian-tcpsrv --quiet --interface 127.0.0.1 --port "$2" "$3" >> "$work/tcpsrv-${1//\//-}.log" 2>&1 &
  tcpsrv_pid[$1]=$!
  for _ in $(seq 1 500); do accepts "$2" && return 0; kill -0 "${tcpsrv_pid[$1]}" 2>/dev/null || break; sleep 0.02; done
  echo "cluster-demo: xapian-tcpsrv on port $2 did not start" >&2
  return 1
}
stop_tcpsrv() { kill -KILL -- "-${tcpsrv_pid[$1]}" 2>/dev/null; wait "${tcpsrv_pid[$1]}" 2>/dev/null; unset "tcpsrv_pid[$1]"; }

# start_server LOG ARGS...: medsearch-server on a free port; sets $server_port.
start_server() {
  local log="$1"; shift
  "$bin/medsearch-server" --port 0 --quiet --web-dir "" "$@" 2> "$log" &
  servers+=($!)
  server_port=""
  for _ in $(seq 1 500); do
    server_port="$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log")"
    [ -n "$server_port" ] && return 0
    kill -0 "${servers[-1]}" 2>/dev/null || break
    sleep 0.02
  done
  echo "cluster-demo: medsearch-server did not start:" >&2; cat "$log" >&2
  return 1
}

echo "== indexing SciFact ($data) into one database and into 2 and 3 shards (reused when present)"
for n in 1 2 3; do
  if [ ! -f "$work/s$n.done" ]; then
    rm -rf "$work/s$n" "$work/s$n-lexicon"
    shard_flag=(--shards "$n")
    "$bin/medsearch-index" --db "$work/s$n" "${shard_flag[@]}" --threads 2 -q --export-lexicon "$work/s$n-lexicon" \
      "$data/corpus.jsonl" || exit 2
    touch "$work/s$n.done"
  fi
done
echo "  $(ls -d "$work"/s3/shard-* | wc -l) shards in $work/s3, lexicon in $work/s3-lexicon"

echo "== three xapian-tcpsrv on loopback"
ports=()
for i in 0 1 2; do
  p="${wanted_ports[$i]:-0}"
  if [ "$p" = 0 ] || port_busy "$p"; then p="$(free_port)"; fi
  ports+=("$p")
  start_tcpsrv "3/$i" "$p" "$work/s3/shard-00$i" || exit 2
  echo "  tcp://127.0.0.1:$p serves $work/s3/shard-00$i"
done
shards3=()
for p in "${ports[@]}"; do shards3+=(--db "tcp://127.0.0.1:$p"); done

start_server "$work/single.log" --db "$work/s1" || exit 2
single_port=$server_port
start_server "$work/cluster.log" "${shards3[@]}" --lexicon "$work/s3-lexicon" --shard-timeout-ms 2000 || exit 2
cluster_port=$server_port
start_server "$work/partial.log" "${shards3[@]}" --lexicon "$work/s3-lexicon" --shard-timeout-ms 2000 --partial-results || exit 2
partial_port=$server_port
echo "  single database: http://127.0.0.1:$single_port   three shards: http://127.0.0.1:$cluster_port" \
     "(partial answers: http://127.0.0.1:$partial_port)"

echo "== the first $queries SciFact queries: three remote shards against one database"
python3 - "$data/queries.jsonl" "$queries" "$single_port" "$cluster_port" <<'PY'
import json, sys, urllib.parse, urllib.request
path, n, single, cluster = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
qs = [json.loads(l)["text"] for l in open(path)][:n]
def search(port, q):
    url = f"http://127.0.0.1:{port}/search?" + urllib.parse.urlencode({"q": q, "limit": 10, "facets": 1})
    with urllib.request.urlopen(url, timeout=120) as r:
        return json.load(r)
bad = 0
for q in qs:
    a, b = search(single, q), search(cluster, q)
    ra = [(h["passage_id"], h["score"]) for h in a["hits"]]
    rb = [(h["passage_id"], h["score"]) for h in b["hits"]]
    same = [x[0] for x in ra] == [y[0] for y in rb] and all(abs(x[1] - y[1]) <= 1e-9 for x, y in zip(ra, rb))
    same = same and a["facets"] == b["facets"] and a["total_estimate"] == b["total_estimate"] and a["spelling"] == b["spelling"]
    if not same:
        bad += 1
        print(f"  DIFFERENT: {q!r}\n    one:    {ra[:5]}\n    shards: {rb[:5]}")
print(f"  {len(qs) - bad} of {len(qs)} queries: same ids, same order, scores within 1e-9, same facets, totals and spelling")
sys.exit(1 if bad else 0)
PY
rc=$?
check "$([ $rc = 0 ] && echo ok)" "rankings identical to the single database"

echo "== shard tcp://127.0.0.1:${ports[1]} stopped"
stop_tcpsrv "3/1"
python3 - "$cluster_port" "$partial_port" "tcp://127.0.0.1:${ports[1]}" <<'PY'
import json, sys, urllib.error, urllib.request
cluster, partial, shard = sys.argv[1:4]
def get(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/search?q=vitamin+D+cancer&limit=5", timeout=60) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)
ok = True
status, body = get(cluster)
print(f"  default:           {status} {json.dumps(body.get('error', body.get('missing_shards')))}")
ok &= status == 503 and body["error"]["param"] == "shard" and shard in body["error"]["message"]
status, body = get(partial)
print(f"  --partial-results: {status} partial={body.get('partial')} missing_shards={body.get('missing_shards')} hits={len(body.get('hits', []))}")
ok &= status == 200 and body.get("partial") is True and body.get("missing_shards") == [shard]
sys.exit(0 if ok else 1)
PY
rc=$?
check "$([ $rc = 0 ] && echo ok)" "503 naming the shard by default, a partial answer listing it with --partial-results"

echo "== shard restarted on the same port"
start_tcpsrv "3/1" "${ports[1]}" "$work/s3/shard-001" || exit 2
python3 - "$cluster_port" "$partial_port" "$single_port" <<'PY'
import json, sys, urllib.request
ports = sys.argv[1:4]
def ids(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/search?q=vitamin+D+cancer&limit=5", timeout=60) as r:
        body = json.load(r)
        return body.get("partial"), [h["passage_id"] for h in body["hits"]]
import time
single = ids(ports[2])
# A shard found down is tried again after a back-off (--shard-retry-ms, 1 s doubling up to
# 30 s): until then the servers keep answering without it, so ask until they have it back.
start = time.monotonic()
while True:
    ok = all(ids(p) == single for p in ports[:2])
    if ok or time.monotonic() - start > 40:
        break
    time.sleep(0.2)
print(f"  both cluster servers answer in full again, as the single database: {ok} "
      f"(after {time.monotonic() - start:.1f} s: the shard's back-off)")
sys.exit(0 if ok else 1)
PY
rc=$?
check "$([ $rc = 0 ] && echo ok)" "reconnected without restarting medsearch-server"

echo "== latency against shard count ($latency_queries queries each, sequential, rerank on; facets on (the HTTP default) and off)"
# One database served locally, and 1, 2, 3 shards each behind its own xapian-tcpsrv.
ports1=()
ports2=()
for n in 1 2; do
  for ((i = 0; i < n; i++)); do
    db="$work/s$n"; [ "$n" -gt 1 ] && db="$work/s$n/shard-00$i"
    p="$(free_port)"; start_tcpsrv "$n/$i" "$p" "$db" || exit 2
    eval "ports$n+=(--db tcp://127.0.0.1:$p)"
  done
done
start_server "$work/r1.log" "${ports1[@]}" --lexicon "$work/s1-lexicon" || exit 2; r1=$server_port
start_server "$work/r2.log" "${ports2[@]}" --lexicon "$work/s2-lexicon" || exit 2; r2=$server_port
python3 - "$data/queries.jsonl" "$latency_queries" "$single_port" "$r1" "$r2" "$cluster_port" <<'PY'
import json, math, statistics, sys, time, urllib.parse, urllib.request
path, n = sys.argv[1], int(sys.argv[2])
setups = [("local, 1 database", sys.argv[3]), ("remote, 1 shard", sys.argv[4]), ("remote, 2 shards", sys.argv[5]),
          ("remote, 3 shards", sys.argv[6])]
qs = [json.loads(l)["text"] for l in open(path)][200:200 + n]
def measure(port, facets):
    times = []
    for q in qs:
        t = time.perf_counter()
        urllib.request.urlopen(f"http://127.0.0.1:{port}/search?" + urllib.parse.urlencode({"q": q, "facets": facets}),
                               timeout=120).read()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    # Nearest rank: the smallest time with at least 95% of the times at or below it.
    return statistics.mean(times), times[len(times) // 2], times[max(0, math.ceil(len(times) * 0.95) - 1)]
print(f"  {'setup':<20} {'facets on: mean':>16} {'p50':>7} {'p95':>7}   {'facets off: mean':>17} {'p50':>7} {'p95':>7}  (ms)")
for name, port in setups:
    for q in qs[:3]:  # warm the page cache and the connections
        urllib.request.urlopen(f"http://127.0.0.1:{port}/search?" + urllib.parse.urlencode({"q": q}), timeout=120).read()
    on, off = measure(port, 1), measure(port, 0)
    print(f"  {name:<20} {on[0]:16.0f} {on[1]:7.0f} {on[2]:7.0f}   {off[0]:17.0f} {off[1]:7.0f} {off[2]:7.0f}")
PY

echo
if [ "$failed" = 0 ]; then echo "cluster-demo: all checks passed"; else echo "cluster-demo: some checks FAILED"; fi
exit "$failed"
