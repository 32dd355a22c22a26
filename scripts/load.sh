#!/usr/bin/env bash
# Load and abuse test of medsearch-server on loopback (issue 8, part 5; docs/RELIABILITY.md).
#
#   1. Builds medsearch-index and medsearch-server if needed, indexes SciFact (../shared/data)
#      and corpus/samples into a temporary folder, starts the server on a free loopback port.
#   2. Saturation: wrk for --duration seconds (default 60) over real questions (SciFact claims,
#      NFCorpus questions, the clinical questions of the web page's examples and the samples),
#      GET and POST /search and /suggest, with 1 in 50 requests deliberately bad (a 400).
#      Reports requests/s, p50 and p99 latency and answers by status; fails on any non-2xx
#      other than those deliberate 400s, and on socket errors or timeouts.
#   3. Abuse: --abuse requests (default 10,000) from scripts/abuse.py: random bytes, huge
#      parameters, bad JSON, deep nesting, slowloris-style trickles and more; fails on any 5xx
#      other than 503.
#   4. The server must still be running and answer a normal search.
# Prints a Markdown summary; exits 0 only when every check held.
#
# Usage: scripts/load.sh [--duration S] [--connections N] [--wrk-threads N] [--server-threads N]
#                        [--abuse N] [--seed N] [--keep]
# Environment: MEDSEARCH_DATA_DIR (default ../shared/data), MEDSEARCH_BUILD_DIR (default build/).
# Talks only to 127.0.0.1. Needs wrk (scripts/install-deps.sh installs it) and python3.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MEDSEARCH_BUILD_DIR:-$root/build}"
bin="$build/bin"
data="${MEDSEARCH_DATA_DIR:-$root/../shared/data}"

duration=60
connections=8
wrk_threads=2
server_threads=8
abuse=10000
seed=1
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    --wrk-threads) wrk_threads="$2"; shift 2 ;;
    --server-threads) server_threads="$2"; shift 2 ;;
    --abuse) abuse="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "load.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

say() { echo "load.sh: $*" >&2; }
command -v wrk >/dev/null 2>&1 || { say "wrk is not installed (scripts/install-deps.sh installs it)"; exit 2; }
command -v python3 >/dev/null 2>&1 || { say "python3 is not installed"; exit 2; }
[ -f "$data/scifact/corpus.jsonl" ] || { say "no SciFact at $data/scifact (set MEDSEARCH_DATA_DIR)"; exit 2; }

if [ ! -x "$bin/medsearch-index" ] || [ ! -x "$bin/medsearch-server" ]; then
  say "building medsearch-index and medsearch-server"
  MEDSEARCH_TARGETS="medsearch-index medsearch-server" "$root/scripts/build.sh" >&2
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/medsearch-load-XXXXXX")"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ "$keep" = 1 ]; then say "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

say "indexing SciFact and corpus/samples into $work/index"
t0=$(date +%s)
"$bin/medsearch-index" --db "$work/index" --progress none -q --format beir "$data/scifact/corpus.jsonl" >/dev/null
"$bin/medsearch-index" --db "$work/index" --progress none -q "$root"/corpus/samples/*.jsonl >/dev/null
index_s=$(( $(date +%s) - t0 ))

# --port 0: the OS picks a free port, which the server prints.
"$bin/medsearch-server" --db "$work/index" --host 127.0.0.1 --port 0 --quiet --web-dir "" \
  --threads "$server_threads" >"$work/server.log" 2>&1 &
server_pid=$!
port=""
for _ in $(seq 1 600); do
  port="$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/server.log")"
  [ -n "$port" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; say "the server did not start"; exit 1; }
  sleep 0.1
done
[ -n "$port" ] || { say "the server did not say its port"; exit 1; }
say "server on 127.0.0.1:$port (pid $server_pid, $server_threads workers)"

# The questions, as a Lua table of request lines (method, path, body).
python3 - "$data" "$root" "$work/requests.lua" <<'PY'
import glob, json, sys, urllib.parse
data, root, out = sys.argv[1:4]
def texts(path):
    try:
        with open(path) as f:
            return [json.loads(line)["text"] for line in f if line.strip()]
    except OSError:
        return []
scifact = texts(f"{data}/scifact/queries.jsonl")
nfcorpus = texts(f"{data}/nfcorpus/queries.jsonl")
clinical = [
    "What are the treatment options for ALS?", "apixaban dose reduction in atrial fibrillation",
    "metformin in reduced kidney function", "first-line treatment of plaque psoriasis",
    "SGLT2 inhibitors in heart failure", "riluzole", "non-invasive ventilation",
    "urate-lowering therapy after a gout flare", "inhaled corticosteroids in COPD exacerbations",
    "levothyroxine dose in older adults", "statin intensity for hypercholesterolaemia",
    "antiepileptic drugs in pregnancy", "blood pressure target in chronic kidney disease",
    "anticoagulation duration after a first venous thromboembolism", "triptans for acute migraine",
    "bisphosphonate drug holiday in osteoporosis", "antiretroviral therapy when to start",
    "methotrexate monitoring in rheumatoid arthritis", "proton pump inhibitor step-down in GERD",
    "amoxicillin for community-acquired pneumonia in adults",
]
mix, i = [], 0
pools = [scifact, nfcorpus, clinical]
longest = max(len(p) for p in pools)
for n in range(longest):
    for pool in pools:
        if pool:
            mix.append(pool[n % len(pool)])
requests = []
for n, q in enumerate(mix[:3000]):
    if n % 50 == 49:  # deliberate 400s: limit out of range
        requests.append(("GET", "/search?q=" + urllib.parse.quote(q) + "&limit=0", ""))
    elif n % 20 == 7:
        requests.append(("POST", "/search", json.dumps({"q": q, "limit": 10})))
    elif n % 20 == 13:
        word = q.split()[0].strip("?,.").lower()[:6] or "ri"
        requests.append(("GET", "/suggest?prefix=" + urllib.parse.quote(word), ""))
    else:
        requests.append(("GET", "/search?q=" + urllib.parse.quote(q), ""))
def lua(s):
    return '"' + "".join(c if c.isalnum() or c in " /?=&%-_.:,{}[]" else "\\%03d" % ord(c) for c in s) + '"'
with open(out, "w") as f:
    f.write("return {\n")
    for method, path, body in requests:
        f.write(f"  {{{lua(method)}, {lua(path)}, {lua(body)}}},\n")
    f.write("}\n")
print(len(requests), file=sys.stderr)
PY

cat >"$work/load.lua" <<LUA
-- Cycles through the questions; each wrk thread starts at its own offset. Counts answers by
-- status class in per-thread globals that done() adds up.
local requests = dofile("$work/requests.lua")
local threads = {}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
function init(args)
  i = id * 997
  ok, bad400, other4xx, s503, other5xx = 0, 0, 0, 0, 0
end
function request()
  i = i + 1
  local r = requests[(i % #requests) + 1]
  if r[1] == "POST" then
    return wrk.format("POST", r[2], {["Content-Type"] = "application/json"}, r[3])
  end
  return wrk.format("GET", r[2])
end
function response(status, headers, body)
  if status >= 200 and status < 300 then ok = ok + 1
  elseif status == 400 then bad400 = bad400 + 1
  elseif status == 503 then s503 = s503 + 1
  elseif status >= 500 then other5xx = other5xx + 1
  else other4xx = other4xx + 1 end
end
function done(summary, latency, requests)
  local t = {ok = 0, bad400 = 0, other4xx = 0, s503 = 0, other5xx = 0}
  for _, thread in ipairs(threads) do
    for k, _ in pairs(t) do t[k] = t[k] + thread:get(k) end
  end
  local e = summary.errors
  io.write(string.format("RESULT requests=%d seconds=%.1f rps=%.1f p50_ms=%.1f p90_ms=%.1f p99_ms=%.1f max_ms=%.1f " ..
    "ok=%d bad400=%d other4xx=%d s503=%d other5xx=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    t.ok, t.bad400, t.other4xx, t.s503, t.other5xx, e.connect, e.read, e.write, e.timeout))
end
LUA

load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
say "saturation: wrk -t$wrk_threads -c$connections -d${duration}s"
wrk -t"$wrk_threads" -c"$connections" -d"${duration}s" --timeout 30s -s "$work/load.lua" \
  "http://127.0.0.1:$port" >"$work/wrk.txt" 2>&1 || true
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"
result="$(grep '^RESULT ' "$work/wrk.txt" || true)"
[ -n "$result" ] || { cat "$work/wrk.txt" >&2; say "wrk gave no result"; exit 1; }
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<" ${result#RESULT }"; }

say "abuse: $abuse random and malformed requests"
abuse_status=0
python3 "$root/scripts/abuse.py" --port "$port" --count "$abuse" --seed "$seed" >"$work/abuse.json" || abuse_status=$?
alive=no
if kill -0 "$server_pid" 2>/dev/null; then
  if python3 - "$port" <<'PY'
import json, sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/search?q=riluzole+in+ALS", timeout=30) as r:
    sys.exit(0 if r.status == 200 and json.load(r)["hits"] else 1)
PY
  then alive=yes; fi
fi

failures=()
[ "$(field other4xx)" = 0 ] || failures+=("saturation: $(field other4xx) 4xx answers besides the deliberate 400s")
[ "$(field s503)" = 0 ] || failures+=("saturation: $(field s503) answers 503")
[ "$(field other5xx)" = 0 ] || failures+=("saturation: $(field other5xx) 5xx answers")
for e in connect read write timeout; do
  [ "$(field "$e")" = 0 ] || failures+=("saturation: $(field "$e") socket $e errors")
done
[ "$(field ok)" != 0 ] || failures+=("saturation: no 2xx answer")
[ "$abuse_status" = 0 ] || failures+=("abuse: 5xx answers other than 503, or no answer afterwards (see below)")
[ "$alive" = yes ] || failures+=("the server is not running or does not answer a search afterwards")

python3 - "$work/abuse.json" "$result" "$duration" "$connections" "$wrk_threads" "$server_threads" \
  "$index_s" "$load_before" "$load_after" "$alive" "$(nproc)" "${#failures[@]}" "${failures[@]}" <<'PY'
import json, sys
(abuse_path, result, duration, conns, wrk_threads, server_threads, index_s, load_before, load_after,
 alive, cores, nfail, *failures) = sys.argv[1:]
r = dict(kv.split("=") for kv in result.split()[1:])
try:
    a = json.load(open(abuse_path))
except (OSError, ValueError):
    a = {"requests": 0, "seconds": 0, "by_status": {}, "by_kind": {}, "server_errors": "?", "first_failures": []}
print("## medsearch load test")
print()
print(f"Machine: {cores} cores, load average {load_before} before and {load_after} after the saturation run; "
      f"index: SciFact + corpus/samples, built in {index_s} s; server: {server_threads} workers, defaults otherwise.")
print()
print(f"### Saturation: wrk, {wrk_threads} threads, {conns} connections, {duration} s")
print()
print("| requests | requests/s | p50 ms | p90 ms | p99 ms | max ms | 2xx | deliberate 400 | other 4xx | 503 | other 5xx | socket errors |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
errors = sum(int(r[k]) for k in ("connect", "read", "write", "timeout"))
print(f"| {r['requests']} | {r['rps']} | {r['p50_ms']} | {r['p90_ms']} | {r['p99_ms']} | {r['max_ms']} | {r['ok']} | "
      f"{r['bad400']} | {r['other4xx']} | {r['s503']} | {r['other5xx']} | {errors} |")
print()
print(f"### Abuse: {a['requests']} random and malformed requests in {a['seconds']} s")
print()
print("| status | count |")
print("| --- | --- |")
for status, n in a["by_status"].items():
    print(f"| {'closed, no answer' if status == '0' else status} | {n} |")
print()
print("By kind: " + "; ".join(f"{k} " + ", ".join(f"{s}×{n}" for s, n in v.items()) for k, v in a["by_kind"].items()))
print()
print(f"5xx other than 503: {a['server_errors']}. Server alive and answering a search afterwards: {alive}.")
for f in a.get("first_failures", []):
    print(f"- failure: {f}")
print()
print("**PASS**" if nfail == "0" else "**FAIL**: " + "; ".join(failures))
PY

[ ${#failures[@]} -eq 0 ]
