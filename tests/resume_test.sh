#!/usr/bin/env bash
# Resumability: medsearch-index is killed with SIGKILL after it has committed some records;
# the index must still open and hold whole records only, and a rerun on the same input must
# finish with every record exactly once (the unchanged ones skipped, none duplicated). Then
# SIGINT and SIGTERM: a clean stop that commits what was read.
# Usage: resume_test.sh BIN_DIR. Needs xapian-delve (xapian-tools).
set -uo pipefail
bin="$1"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
command -v xapian-delve >/dev/null || { echo "skip: xapian-delve not found (xapian-tools)"; exit 77; }
failures=0; passed=0
check() { local name="$1"; shift; if "$@"; then passed=$((passed + 1)); else echo "FAIL: $name"; failures=$((failures + 1)); fi; }

# 6,000 distinct short abstracts, one passage each, in BEIR form.
records=6000
awk -v n="$records" 'BEGIN { for (i = 0; i < n; i++) printf "{\"_id\": \"doc-%05d\", \"title\": \"Trial %d of drug %d\", \"text\": \"Patients with condition %d received drug %d at dose %d mg; outcome %d improved in %d of %d.\"}\n", i, i, i % 97, i % 53, i % 97, (i % 9) * 10, i % 31, i % 50, 50 }' > "$work/corpus.jsonl"

# Documents (= records here) in all shards of an index, from Xapian itself.
count_docs() {
  local total=0 n
  for shard in "$1"/shard-*; do
    n=$(xapian-delve "$shard" 2>/dev/null | awk '/number of documents/ { print $NF }')
    [ -n "$n" ] || n=0
    total=$((total + n))
  done
  echo "$total"
}

for trial in 1 2 3; do
  db="$work/db-$trial"
  # Kill after the first commit of at least $trial * 400 records (commits every 200 per shard).
  "$bin/medsearch-index" --db "$db" --shards 2 --commit-every 200 --progress none -q "$work/corpus.jsonl" 2>/dev/null &
  pid=$!
  target=$((trial * 400))
  while kill -0 "$pid" 2>/dev/null; do
    [ -d "$db/shard-001" ] && [ "$(count_docs "$db")" -ge "$target" ] && break
    sleep 0.02
  done
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  committed=$(count_docs "$db")
  echo "trial $trial: killed with $committed of $records records committed"
  check "trial $trial: some but not all records were committed" test "$committed" -gt 0 -a "$committed" -le "$records"
  check "trial $trial: the killed index opens as one database" \
    bash -c "xapian-delve '$db' | grep -q 'number of documents'"

  "$bin/medsearch-index" --db "$db" --shards 2 --commit-every 200 --progress none --json-summary "$work/corpus.jsonl" \
    >"$work/summary.json" 2>"$work/err"; status=$?
  check "trial $trial: the rerun exits 0" test "$status" -eq 0
  summary=$(cat "$work/summary.json")
  field() { echo "$summary" | tr ',{}' '\n\n\n' | awk -F: -v k="\"$1\"" '$1 == k { print $2; exit }'; }
  check "trial $trial: read every record" test "$(field read)" -eq "$records"
  check "trial $trial: nothing rejected" test "$(field rejected)" -eq 0
  check "trial $trial: new + unchanged = all ($(field added) + $(field unchanged))" \
    test $(( $(field added) + $(field unchanged) )) -eq "$records"
  check "trial $trial: committed records were skipped, not rewritten" test "$(field unchanged)" -ge "$committed"
  check "trial $trial: the index holds every record exactly once" test "$(count_docs "$db")" -eq "$records"
done

# SIGINT (Ctrl-C) or SIGTERM asks for a clean stop: reading stops, every record read is
# indexed and committed, the summary says so, exit 130; the rerun goes on from there. The input
# comes through a named pipe, so the signal surely arrives while there is more to read: half the
# records, then the signal once some are committed, then the rest.
half=$((records / 2))
for signal in INT TERM; do
  db="$work/db-$signal"
  fifo="$work/fifo-$signal"
  mkfifo "$fifo"
  "$bin/medsearch-index" --db "$db" --shards 2 --commit-every 200 --format beir --progress none -q --json-summary \
    "$fifo" >"$work/stopped.json" 2>"$work/stopped.err" &
  pid=$!
  exec 3>"$fifo"
  head -n "$half" "$work/corpus.jsonl" >&3
  for _ in $(seq 500); do
    [ -d "$db/shard-001" ] && [ "$(count_docs "$db")" -ge 400 ] && break
    sleep 0.02
  done
  kill -"$signal" "$pid"
  tail -n +"$((half + 1))" "$work/corpus.jsonl" >&3 2>/dev/null
  exec 3>&-
  wait "$pid"; status=$?
  summary=$(cat "$work/stopped.json")
  field() { echo "$summary" | tr ',{}' '\n\n\n' | awk -F: -v k="\"$1\"" '$1 == k { print $2; exit }'; }
  echo "SIG$signal: stopped with $(field read) of $records records read"
  check "SIG$signal: exit 130" test "$status" -eq 130
  check "SIG$signal: the summary says interrupted" test "$(field interrupted)" = "true"
  check "SIG$signal: stopped before the end" test "$(field read)" -lt "$records"
  check "SIG$signal: says how to go on" grep -q "interrupted: the $(field read) records read are indexed and committed" \
    "$work/stopped.err"
  check "SIG$signal: every record read is committed" test "$(count_docs "$db")" -eq "$(field read)"
  "$bin/medsearch-index" --db "$db" --shards 2 --progress none -q "$work/corpus.jsonl" 2>/dev/null; status=$?
  check "SIG$signal: the rerun exits 0" test "$status" -eq 0
  check "SIG$signal: the index holds every record exactly once" test "$(count_docs "$db")" -eq "$records"
done

echo "resume: $passed passed, $failures failed"
[ "$failures" -eq 0 ]
