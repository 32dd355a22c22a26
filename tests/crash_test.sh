#!/usr/bin/env bash
# Crash safety: medsearch-index is killed with SIGKILL at random moments of a bulk run (a
# fixed seed, so the moments are the same every run; CRASH_SEED changes them). After every
# kill the index must open and each shard hold exactly its last commit (crash_check: the
# first K records routed to it, K a multiple of --commit-every, each with all its passages);
# a rerun on the same input must then finish with exact counts: the committed records
# unchanged, the rest added, nothing rejected, lost or duplicated. Then the semantic model's
# pass is killed the same way (crash_check --semantic): the records stay whole, and the next
# run leaves one model in every shard and every passage with its vector in it.
# Usage: crash_test.sh BIN_DIR DATA_DIR. Uses the first CRASH_RECORDS (default 2,000) SciFact
# records when DATA_DIR/scifact exists, else as many generated ones. The sanitizer build runs
# it on 800 (ASan makes each run several times slower; commits every 50 still give 16 points).
set -uo pipefail
bin="$1"; data="${2:-}"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
seed="${CRASH_SEED:-8}"
records="${CRASH_RECORDS:-2000}"; every=50; want=10; max_trials=20
if [ -f "$data/scifact/corpus.jsonl" ]; then
  head -n "$records" "$data/scifact/corpus.jsonl" > "$work/corpus.jsonl"
else
  # Several sentences each, so long records make more than one passage.
  awk -v n="$records" 'BEGIN { for (i = 0; i < n; i++) { t = ""; for (s = 0; s < 3 + i % 40; s++) t = t sprintf("Patients with condition %d received drug %d at dose %d mg and outcome %d improved in trial arm %d. ", i % 97, (i + s) % 53, s * 10, i % 31, s); printf "{\"_id\": \"doc-%05d\", \"title\": \"Trial %d\", \"text\": \"%s\"}\n", i, i, t } }' > "$work/corpus.jsonl"
fi
failures=0; passed=0
check() { local name="$1"; shift; if "$@"; then passed=$((passed + 1)); else echo "FAIL: $name"; failures=$((failures + 1)); fi; }
field() { tr ',{}' '\n\n\n' < "$1" | awk -F: -v k="\"$2\"" '$1 == k { print $2; exit }'; }
# --semantic off: the kills are to land among the records' commits (the semantic model's pass
# after them has its own interruption test, tests/semantic_test.cc).
index() { "$bin/medsearch-index" --db "$1" --shards "$2" --commit-every "$every" --progress none --semantic off "${@:3}" "$work/corpus.jsonl"; }

# The complete index (passages per record) and how long an uninterrupted run takes.
start=$(date +%s%N)
index "$work/ref" 2 -q 2>/dev/null || { echo "FAIL: the reference run"; exit 1; }
run_ms=$(( ($(date +%s%N) - start) / 1000000 ))
passages=$(xapian-delve "$work/ref" 2>/dev/null | awk '/number of documents/ { print $NF }')
# The fixed cost before the first record (start-up, loading the vocabulary): a one-record run.
# Large under sanitizers, where it would otherwise take most of the kill moments.
head -n 1 "$work/corpus.jsonl" > "$work/one.jsonl"
start=$(date +%s%N)
"$bin/medsearch-index" --db "$work/one" --progress none -q "$work/one.jsonl" 2>/dev/null
startup_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$startup_ms" -lt "$run_ms" ] || startup_ms=0
echo "reference: $records records, $passages passages, ${run_ms} ms uninterrupted, ${startup_ms} ms of it start-up"

mid=0; trial=0
while [ "$mid" -lt "$want" ] && [ "$trial" -lt "$max_trials" ]; do
  trial=$((trial + 1))
  shards=$(( trial % 2 + 1 ))
  db="$work/db-$trial"
  # A moment between 10% and 90% of an uninterrupted run's work after start-up: the sleep is
  # the random moment itself, not a wait for a condition.
  delay=$(awk -v s="$seed" -v t="$trial" -v ms="$run_ms" -v su="$startup_ms" 'BEGIN { srand(s * 1000 + t); printf "%.3f", (su + (ms - su) * (0.1 + 0.8 * rand())) / 1000 }')
  # The binary itself in the background (not a shell function, whose subshell would take the
  # SIGKILL while the indexer carried on).
  "$bin/medsearch-index" --db "$db" --shards "$shards" --commit-every "$every" --progress none --semantic off -q \
    "$work/corpus.jsonl" 2>/dev/null &
  pid=$!
  sleep "$delay"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  if [ -e "$db" ]; then
    out=$("$bin/crash_check" "$db" "$work/corpus.jsonl" "$every" "$work/ref" 2>"$work/check.err"); status=$?
    cat "$work/check.err"
    committed=${out#committed }
    check "trial $trial: after the kill, the index opens and holds whole commits only" test "$status" -eq 0
  else
    committed=0  # killed before it created anything
  fi
  [ -n "$committed" ] || committed=0
  [ "$committed" -gt 0 ] && [ "$committed" -lt "$records" ] && mid=$((mid + 1))
  echo "trial $trial: $shards shard(s), killed after ${delay}s with $committed of $records records committed"

  index "$db" "$shards" --json-summary >"$work/summary.json" 2>"$work/err"; status=$?
  check "trial $trial: the rerun exits 0" test "$status" -eq 0
  [ "$status" -eq 0 ] || head -5 "$work/err"
  check "trial $trial: the rerun read every record" test "$(field "$work/summary.json" read)" -eq "$records"
  check "trial $trial: nothing rejected" test "$(field "$work/summary.json" rejected)" -eq 0
  check "trial $trial: the committed records were unchanged ($(field "$work/summary.json" unchanged) = $committed)" \
    test "$(field "$work/summary.json" unchanged)" -eq "$committed"
  check "trial $trial: the others were added ($(field "$work/summary.json" added) = $records - $committed)" \
    test "$(field "$work/summary.json" added)" -eq $((records - committed))
  out=$("$bin/crash_check" "$db" "$work/corpus.jsonl" "$every" "$work/ref"); status=$?
  check "trial $trial: after the rerun every record is held once, whole ($out)" \
    test "$status" -eq 0 -a "$out" = "committed $records"
  check "trial $trial: as many passages as the complete index" \
    test "$(xapian-delve "$db" 2>/dev/null | awk '/number of documents/ { print $NF }')" -eq "$passages"
  rm -rf "$db"
done
check "at least $want kills landed mid-run ($mid of $trial trials)" test "$mid" -ge "$want"

# The semantic model's pass (after the records; here rebuilt alone on a copy of the complete
# index), killed at random moments: the records stay whole, and the next run on the same input
# leaves one model in both shards and, when it is complete, every passage with its vector.
semantic() { "$bin/medsearch-index" --db "$1" --semantic rebuild --semantic-dims 16 --commit-every "$every" --progress none -q 2>/dev/null; }
cp -r "$work/ref" "$work/sem-ref"
start=$(date +%s%N)
semantic "$work/sem-ref" || { echo "FAIL: the semantic reference run"; failures=$((failures + 1)); }
sem_ms=$(( ($(date +%s%N) - start) / 1000000 ))
sem_mid=0
for t in 1 2 3 4; do
  db="$work/sem-$t"
  cp -r "$work/ref" "$db"
  delay=$(awk -v s="$seed" -v t="$t" -v ms="$sem_ms" -v su="$startup_ms" 'BEGIN { srand(s * 7000 + t); printf "%.3f", (su + (ms - su) * (0.1 + 0.8 * rand())) / 1000 }')
  "$bin/medsearch-index" --db "$db" --semantic rebuild --semantic-dims 16 --commit-every "$every" --progress none -q 2>/dev/null &
  pid=$!
  sleep "$delay"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  out=$("$bin/crash_check" "$db" "$work/corpus.jsonl" "$every" "$work/ref" 2>"$work/check.err"); status=$?
  cat "$work/check.err"
  check "semantic trial $t: after the kill, every record is still held whole ($out)" \
    test "$status" -eq 0 -a "$out" = "committed $records"
  # Right after the kill the shards may disagree (the model is written, then marked complete,
  # one shard at a time); what must hold is what the next run leaves.
  state=$("$bin/crash_check" --semantic "$db" 2>/dev/null)
  case "$state" in *incomplete*) sem_mid=$((sem_mid + 1)) ;; esac
  echo "semantic trial $t: killed after ${delay}s of ${sem_ms} ms: $state"
  "$bin/medsearch-index" --db "$db" --semantic-dims 16 --commit-every "$every" --progress none -q \
    "$work/corpus.jsonl" >/dev/null 2>"$work/err"; status=$?
  check "semantic trial $t: the next run exits 0" test "$status" -eq 0
  [ "$status" -eq 0 ] || head -5 "$work/err"
  state=$("$bin/crash_check" --semantic "$db" 2>"$work/check.err"); status=$?
  cat "$work/check.err"
  check "semantic trial $t: after it, one model, every passage with its vector or no model ($state)" \
    bash -c "test $status -eq 0 && case '$state' in 'semantic none'|'semantic complete, $passages of $passages '*) true ;; *) false ;; esac"
  rm -rf "$db"
done
echo "semantic: 4 trials, $sem_mid killed while writing vectors"
echo "crash: $trial trials, $mid killed mid-run; $passed checks passed, $failures failed"
[ "$failures" -eq 0 ]
