#!/usr/bin/env bash
# The HTTP API against its OpenAPI document, as a client sees it: indexes corpus/samples, starts
# medsearch-server (with an API key) on a free loopback port, sends a request to every endpoint
# (and every error it documents) and validates each response body against the schema
# server/openapi.json gives for that path, method and status. Also: /metrics parses as
# Prometheus text, writes are refused without the key, the follow-up scenario, determinism and
# a committed write visible to the next search without a restart.
# With a third argument "remote" (issue 7): the samples in three shards served by xapian-tcpsrv on
# free loopback ports, the server searching them over Xapian's remote backend (no write API
# there), and at the end a shard stopped: 503 naming it, and from a second server started with
# --partial-results, every read route's answer flagged "partial" with the shard missing.
# Usage: openapi_test.sh BIN_DIR SOURCE_DIR [remote]. Needs python3 with jsonschema (exit 77 without).
set -uo pipefail
bin="$1"
src="$2"
mode="${3:-local}"
if [ "$mode" = remote ] && ! command -v xapian-tcpsrv >/dev/null 2>&1; then
  echo "skip: xapian-tcpsrv is not installed (Debian package xapian-tools)"
  exit 77
fi
if ! python3 -c 'import jsonschema' >/dev/null 2>&1; then
  echo "skip: the python3 jsonschema module is not installed (Debian package python3-jsonschema)"
  exit 77
fi
work="$(mktemp -d)"
server_pid=""
partial_pid=""
tcpsrv_pids=()
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; fi
  if [ -n "$partial_pid" ]; then kill "$partial_pid" 2>/dev/null; wait "$partial_pid" 2>/dev/null; fi
  # Each tcpsrv leads its own process group (setsid): the group holds its forked connections.
  for pid in "${tcpsrv_pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
accepts() { python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$1" 2>/dev/null; }

if [ "$mode" = remote ]; then
  "$bin/medsearch-index" --db "$work/index" --shards 3 -q --export-lexicon "$work/lexicon" "$src"/corpus/samples/*.jsonl || exit 1
  shard_args=()
  for i in 0 1 2; do
    up=""
    for _ in 1 2 3 4 5; do  # a port taken between free_port and tcpsrv's bind: pick another
      port_i="$(free_port)"
      setsid xapian-tcpsrv --quiet --interface 127.0.0.1 --port "$port_i" "$work/index/shard-00$i" > "$work/tcpsrv-$i.log" 2>&1 &
      pid=$!
      for _ in $(seq 1 300); do
        accepts "$port_i" && { up=1; break; }
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.02
      done
      [ -n "$up" ] && break
      kill -KILL -- "-$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    done
    [ -n "$up" ] || { echo "xapian-tcpsrv did not start"; exit 1; }
    tcpsrv_pids+=("$pid")
    shard_args+=(--db "tcp://127.0.0.1:$port_i")
  done
  echo "" > "$work/key"
  "$bin/medsearch-server" "${shard_args[@]}" --lexicon "$work/lexicon" --port 0 2> "$work/server.log" &
  server_pid=$!
else
  "$bin/medsearch-index" --db "$work/index" --shards 2 -q "$src"/corpus/samples/*.jsonl || exit 1
  echo "test-key-$$" > "$work/key"
  "$bin/medsearch-server" --db "$work/index" --port 0 --api-key-file "$work/key" 2> "$work/server.log" &
  server_pid=$!
fi
port=""
for _ in $(seq 1 500); do
  port="$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/server.log")"
  [ -n "$port" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log"; exit 1; }
  sleep 0.02
done
[ -n "$port" ] || { echo "server did not start"; cat "$work/server.log"; exit 1; }

python3 - "$port" "$src/server/openapi.json" "$(cat "$work/key")" "$work/server.log" "$mode" <<'PY'
import json, re, sys, urllib.request, urllib.error
import jsonschema

port, spec_path, key, log_path, mode = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
remote = mode == "remote"
base = f"http://127.0.0.1:{port}"
spec = json.load(open(spec_path))
jsonschema.Draft202012Validator.check_schema({"$defs": spec["components"]["schemas"]})
failures = []
checked = 0

def fail(what):
    failures.append(what)
    print("FAIL:", what)

def call(method, path, body=None, headers=None, ctype="application/json"):
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else (json.dumps(body).encode() if not isinstance(body, str) else body.encode())
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()

def template_of(path):
    p = path.split("?")[0]
    for t in spec["paths"]:
        rx = "^" + re.sub(r"\{[^}]+\}", "[^/]+", re.escape(t).replace(r"\{", "{").replace(r"\}", "}")) + "$"
        if re.match(rx, p):
            return t
    return None

def validate(method, path, status, headers, body):
    global checked
    t = template_of(path)
    op = spec["paths"].get(t, {}).get(method.lower()) if t else None
    if op is None and status in (404, 405):
        # No such path or method: nothing to document per operation, but the body is still an Error.
        op = {"responses": {str(status): {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}}
    if op is None:
        fail(f"{method} {path}: not in openapi.json")
        return None
    resp = op["responses"].get(str(status))
    if resp is None:
        fail(f"{method} {path}: status {status} is not documented")
        return None
    content = resp.get("content", {})
    ctype = headers.get("Content-Type", "")
    if "application/json" in content:
        if not ctype.startswith("application/json"):
            fail(f"{method} {path}: content type {ctype}")
            return None
        doc = json.loads(body)
        schema = dict(content["application/json"]["schema"])
        schema["components"] = spec["components"]
        try:
            jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)
            checked += 1
        except jsonschema.ValidationError as e:
            fail(f"{method} {path} {status}: {e.message} at {list(e.absolute_path)}")
        return doc
    return body

def expect(method, path, status, body=None, headers=None, ctype="application/json", param=None):
    s, h, b = call(method, path, body, headers, ctype)
    if s != status:
        fail(f"{method} {path}: status {s}, expected {status}: {b[:300]!r}")
        return None
    doc = validate(method, path, s, h, b)
    if param is not None and isinstance(doc, dict) and doc.get("error", {}).get("param") != param:
        fail(f"{method} {path}: error param {doc.get('error')}, expected {param}")
    return doc

q = "What+are+the+treatment+options+for+ALS%3F"
# Search, GET and POST, with every filter; facets add up to the total when exact.
for path in [f"/search?q={q}", f"/search?q={q}&limit=100", "/search?q=riluzole&per_record=0&limit=50&facets=0",
             "/search?q=riluzole&drug=riluzole&section=adverse_reactions,warnings_and_cautions",
             "/search?q=trial&evidence=randomized_controlled_trial&source=research&year_from=1990&year_to=2030",
             "/search?q=amyotrophic+lateral+sclerossis", "/search?q=riluzle"]:
    d = expect("GET", path, 200)
    if d and d["facets"] and d["facets"]["exact"] and "per_record=0" not in path:
        total = sum(v["count"] for v in d["facets"]["source"])
        if total != d["total_estimate"]:
            fail(f"{path}: source facets add to {total}, total_estimate {d['total_estimate']}")
d = expect("GET", "/search?q=amyotrophic+lateral+sclerossis", 200)
if d and d["spelling"]["suggestion"] != "amyotrophic lateral sclerosis":
    fail(f"spelling: {d['spelling']}")
d = expect("GET", "/search?q=rilutekk+survival", 200)
if d and d["spelling"]["suggestion"] != "rilutek survival":
    fail(f"spelling of a drug: {d['spelling']}")
get = expect("GET", f"/search?q={q}&limit=5&source=guideline,research", 200)
post = expect("POST", "/search", 200, {"q": "What are the treatment options for ALS?", "limit": 5, "sources": ["research", "guideline"]})
if get and post:
    get.pop("took_ms"); post.pop("took_ms")
    if get != post:
        fail("POST /search differs from the equivalent GET")
# Determinism: the same request twice, the same bytes apart from took_ms.
a = call("GET", f"/search?q={q}&limit=10")[2]
b = call("GET", f"/search?q={q}&limit=10")[2]
strip = lambda raw: re.sub(rb'"took_ms":[0-9.eE+-]+', b"", raw)
if strip(a) != strip(b):
    fail("equal searches gave different bytes")
for body, param in [({"q": "x", "bogus": 1}, "bogus"), ({"q": "x", "limit": "5"}, "limit"), ({"q": "x", "limit": 5.5}, "limit"),
                    ({"q": "x", "sources": "guideline"}, "sources"), ({"q": "x", "sources": ["pubmed"]}, "sources"),
                    ({"q": "x", "facets": 1}, "facets"), ({"q": "x", "evidence_levels": ["rct"]}, "evidence_levels"),
                    ({"q": 5}, "q"), ({}, "q"), ([1, 2], "body"), ({"q": "x", "year_from": 99}, "year_from"),
                    ({"q": "x", "year_to": 0}, "year_to")]:
    expect("POST", "/search", 400, body, param=param)
expect("POST", "/search", 400, "{not json", param="body")
for path, param in [("/search", "q"), ("/search?q=x&limit=0", "limit"), ("/search?q=x&section=Bad+Key", "section"),
                    ("/search?q=x&evidence=rct", "evidence"), ("/search?q=x&facets=2", "facets"), ("/search?q=x&drug=", "drug"),
                    ("/search?q=x&year_from=99", "year_from"), ("/search?q=x&year_to=10000", "year_to"),
                    ("/search?q=x+year%3A99", "q"),
                    ("/suggest", "prefix"), ("/suggest?prefix=", "prefix"), ("/suggest?prefix=ril&limit=0", "limit"),
                    ("/suggest?prefix=ril&limit=51", "limit")]:
    expect("GET", path, 400, param=param)

# Suggest.
d = expect("GET", "/suggest?prefix=RIL", 200)
if d and (not d["suggestions"] or d["suggestions"][0]["text"] != "riluzole"):
    fail(f"suggest ril: {d}")
expect("GET", "/suggest?prefix=amyo&limit=3", 200)

# Context: the follow-up scenario.
first = "What are the treatment options for ALS?"
c1 = expect("POST", "/context", 200, {"question": first})
c2 = expect("POST", "/context", 200, {"question": "what are its side effects?", "history": [{"question": first}]})
c3 = expect("POST", "/context", 200, {"question": "and the dose of riluzole?", "history": [{"question": first}, {"question": "what are its side effects?", "answer": None}], "budget_tokens": 800})
def has(c, record, section):
    return c and any(p["record_id"] == record and p["section"] == section for p in c["passages"])
if not has(c2, "als-riluzole-label", "adverse_reactions"):
    fail(f"follow-up 'its side effects' misses riluzole's adverse reactions: {c2 and c2['resolved_query']}")
if not has(c3, "als-riluzole-label", "dosage_and_administration"):
    fail("follow-up 'dose of riluzole' misses riluzole's dosage section")
for c in (c1, c2, c3):
    if c and c["used_tokens"] > c["budget_tokens"]:
        fail("context over budget")
# An empty prompt block says why (a misspelt drug, a budget no passage fits); none otherwise.
c4 = expect("POST", "/context", 200, {"question": "what are the side effects of rilozole?"})
if c4 and (c4["passages"] or not any("riluzole" in w for w in c4["warnings"])):
    fail(f"context for a misspelt drug: {c4['warnings']}")
c5 = expect("POST", "/context", 200, {"question": first, "budget_tokens": 50})
if c5 and (c5["passages"] or not any("budget_tokens" in w for w in c5["warnings"])):
    fail(f"context with no passage in the budget: {c5['warnings']}")
if c1 and c1["warnings"]:
    fail(f"context warnings for the seed question: {c1['warnings']}")
x = call("POST", "/context", {"question": "what are its side effects?", "history": [{"question": first}]})[2]
y = call("POST", "/context", {"question": "what are its side effects?", "history": [{"question": first}]})[2]
if strip(x) != strip(y):
    fail("equal context requests gave different bytes")
for body, param in [({}, "question"), ({"question": "x", "budget_tokens": 1}, "budget_tokens"), ({"question": "x", "history": "no"}, "history"),
                    ({"question": "x", "history": [{"q": "y"}]}, "history"), ({"question": "x", "extra": 1}, "extra")]:
    expect("POST", "/context", 400, body, param=param)

# Passages, health, stats, openapi, errors.
expect("GET", "/passages/als-riluzole-label:p1", 200)
expect("GET", "/passages/nope:p0", 404)
expect("GET", "/health", 200)
stats = expect("GET", "/stats", 200)
expect("GET", "/openapi.json", 200)
expect("GET", "/no/such/path", 404)
for method, path in [("DELETE", "/search"), ("GET", "/context"), ("PUT", "/stats"), ("GET", "/records")]:
    expect(method, path, 405)
s, h, b = call("POST", "/search", "x" * ((1 << 20) + 1))
if s != 413:
    fail(f"oversized body: {s}")
else:
    validate("POST", "/search", s, h, b)

# Writes: refused without the key or with a wrong one; accepted with it, visible at once.
# (Not over remote shards: the write API needs one local index.)
def writes():
    record = {"id": "api-test-record", "source": "research", "title": "Zygomycete prophylaxis with posaconazole",
              "text": "Posaconazole prophylaxis reduced invasive zygomycete infections in this cohort.", "drugs": ["posaconazole"]}
    jsonl = json.dumps(record) + "\n" + "{broken\n" + json.dumps({"id": "no title", "source": "research", "text": "x"}) + "\n"
    s, h, b = call("DELETE", "/records/api-test-record", headers={"X-API-Key": key + "x"})
    if s != 401: fail(f"delete with a wrong key: {s}")
    for s_expected, (s, h, b) in [(401, call("POST", "/records", jsonl, {"Authorization": "Bearer wrong"}, "application/x-ndjson")),
                                  (401, call("POST", "/records", jsonl, None, "application/x-ndjson"))]:
        if s != s_expected: fail(f"write without the key: {s}")
        else: validate("POST", "/records", s, h, b)
    d = expect("POST", "/records", 200, jsonl, headers={"Authorization": f"Bearer {key}"}, ctype="application/x-ndjson")
    if d:
        if (d["read"], d["indexed"], d["rejected"], d["added"]) != (3, 1, 2, 1):
            fail(f"write counts: {d}")
        if not (d["errors"] and d["errors"][0].startswith("line 2:") and d["errors"][1].startswith("line 3:")):
            fail(f"write errors: {d['errors']}")
    d = expect("GET", "/search?q=zygomycete+posaconazole", 200)
    if not d or not d["hits"] or d["hits"][0]["record_id"] != "api-test-record":
        fail("a written record is not found by the next search")
    expect("POST", "/records", 400, "\n\n", headers={"X-API-Key": key}, ctype="application/x-ndjson", param="body")
    expect("DELETE", "/records/api-test-record", 200, headers={"X-API-Key": key})
    expect("DELETE", "/records/api-test-record", 404, headers={"X-API-Key": key})
    d = expect("GET", "/search?q=zygomycete+posaconazole", 200)
    if d and d["hits"]:
        fail("a deleted record is still found")

if not remote:
    writes()

# Metrics: Prometheus text format 0.0.4.
s, h, b = call("GET", "/metrics")
text = b.decode()
if s != 200 or not h.get("Content-Type", "").startswith("text/plain"):
    fail(f"/metrics: {s} {h.get('Content-Type')}")
sample = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*",?)*\})? [-+]?([0-9.]+([eE][-+]?[0-9]+)?|\+Inf|NaN)$')
types = {}
for line in text.splitlines():
    if line.startswith("# TYPE "):
        _, _, name, kind = line.split(" ", 3)
        types[name] = kind
    elif line.startswith("#") or not line:
        continue
    elif not sample.match(line):
        fail(f"/metrics line does not parse: {line}")
for name, kind in [("medsearch_http_requests_total", "counter"), ("medsearch_http_request_duration_seconds", "histogram"),
                   ("medsearch_index_documents", "gauge"), ("medsearch_index_revision", "gauge")]:
    if types.get(name) != kind:
        fail(f"/metrics: {name} is not a {kind}")
if 'route="/search",status="200"' not in text or (not remote and 'route="/records",status="401"' not in text):
    fail("/metrics lacks request counts by route and status")
if f"medsearch_index_documents {stats['passages']}" not in text:
    fail("/metrics: document count differs from /stats")

# One JSON access-log line per request.
lines = [l for l in open(log_path) if l.startswith("{")]
if not lines or not all({"ts", "method", "path", "status", "ms"} <= set(json.loads(l)) for l in lines):
    fail("access log lines are not JSON with ts, method, path, status, ms")

print(f"openapi: {checked} responses validated, {len(failures)} failures")
sys.exit(1 if failures else 0)
PY
status=$?
if [ "$mode" = remote ] && [ "$status" -eq 0 ]; then
  # A shard down, partial answers off: 503 naming it, as openapi.json documents.
  kill -KILL -- "-${tcpsrv_pids[1]}"; wait "${tcpsrv_pids[1]}" 2>/dev/null
  python3 - "$port" "$src/server/openapi.json" "${shard_args[3]}" <<'PY' || status=1
import json, sys, urllib.request, urllib.error
import jsonschema
port, spec_path, shard = sys.argv[1], sys.argv[2], sys.argv[3]
spec = json.load(open(spec_path))
for _ in range(3):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/search?q=riluzole", timeout=30)
        sys.exit("FAIL: a search with a shard down answered 200")
    except urllib.error.HTTPError as e:
        body = json.loads(e.read())
        schema = {"$ref": "#/components/schemas/Error", "components": spec["components"]}
        jsonschema.validate(body, schema, cls=jsonschema.Draft202012Validator)
        if e.code != 503 or body["error"]["param"] != "shard" or shard not in body["error"]["message"]:
            sys.exit(f"FAIL: shard down: {e.code} {body}")
print("shard down: 503 naming", shard)
PY
  # The same shard down, partial answers on: every read route answers from the others and says
  # so with "partial" and "missing_shards"; /health is "degraded"; a passage the shards that
  # answered lack is a 503 naming the missing one. Each body against openapi.json.
  if [ "$status" -eq 0 ]; then
    "$bin/medsearch-server" "${shard_args[@]}" --lexicon "$work/lexicon" --port 0 --partial-results 2> "$work/partial.log" &
    partial_pid=$!
    partial_port=""
    for _ in $(seq 1 500); do
      partial_port="$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/partial.log")"
      [ -n "$partial_port" ] && break
      kill -0 "$partial_pid" 2>/dev/null || break
      sleep 0.02
    done
    if [ -z "$partial_port" ]; then
      echo "FAIL: the --partial-results server did not start"; cat "$work/partial.log"; status=1
    else
      python3 - "$partial_port" "$src/server/openapi.json" "${shard_args[3]}" <<'PY' || status=1
import json, sys, urllib.request, urllib.error
import jsonschema
port, spec_path, shard = sys.argv[1], sys.argv[2], sys.argv[3]
spec = json.load(open(spec_path))
failures = []
def call(method, path, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"} if body is not None else {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())
def check(method, path, template, status, body=None, partial=True):
    s, doc = call(method, path, body)
    if s != status:
        failures.append(f"{method} {path}: {s}, expected {status}: {doc}")
        return doc
    schema = dict(spec["paths"][template][method.lower()]["responses"][str(status)]["content"]["application/json"]["schema"])
    schema["components"] = spec["components"]
    try:
        jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)
    except jsonschema.ValidationError as e:
        failures.append(f"{method} {path} {status}: {e.message} at {list(e.absolute_path)}")
    if status == 200 and partial and (doc.get("partial") is not True or doc.get("missing_shards") != [shard]):
        failures.append(f"{method} {path}: not flagged partial with {shard}: {str(doc)[:200]}")
    if status == 200 and not partial and "partial" in doc:
        failures.append(f"{method} {path}: a whole passage flagged partial")
    return doc
found = check("GET", "/search?q=riluzole", "/search", 200)
check("POST", "/search", "/search", 200, {"q": "riluzole"})
check("POST", "/context", "/context", 200, {"question": "riluzole dose"})
check("GET", "/suggest?prefix=ri", "/suggest", 200)
check("GET", "/stats", "/stats", 200)
health = check("GET", "/health", "/health", 200)
if health.get("status") != "degraded":
    failures.append(f"/health: {health}")
if found and found.get("hits"):
    check("GET", "/passages/" + found["hits"][0]["passage_id"], "/passages/{id}", 200, partial=False)
error = check("GET", "/passages/nope:p0", "/passages/{id}", 503)
if error.get("error", {}).get("param") != "shard" or shard not in error.get("error", {}).get("message", ""):
    failures.append(f"/passages/nope:p0 with a shard down: {error}")
for f in failures:
    print("FAIL:", f)
if failures:
    sys.exit(1)
print("shard down, partial answers: every read route flagged, naming", shard)
PY
    fi
    kill -TERM "$partial_pid"; wait "$partial_pid" 2>/dev/null
    partial_pid=""
  fi
fi
# Graceful stop on SIGTERM: exit 0.
kill -TERM "$server_pid"
wait "$server_pid"
stop=$?
server_pid=""
if [ "$stop" -ne 0 ]; then echo "FAIL: server exited $stop after SIGTERM"; cat "$work/server.log" | tail -5; exit 1; fi
exit $status
