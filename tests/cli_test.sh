#!/usr/bin/env bash
# Drives the command-line tools as a user would: exit codes, rejected-record reports,
# counts that add up, idempotent re-indexing, deletes, answer text, JSON, TREC runs.
# Usage: cli_test.sh BIN_DIR FIXTURES_DIR [DATA_DIR]
set -uo pipefail
bin="$1"; fixtures="$2"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
failures=0; passed=0
check() {  # check NAME COMMAND...: the command must succeed
  local name="$1"; shift
  if "$@"; then passed=$((passed + 1)); else echo "FAIL: $name"; failures=$((failures + 1)); fi
}

# 1. Mixed input: 5 records read, 2 indexed, 3 rejected with file:line reasons; exit 1.
"$bin/medsearch-index" --db "$work/db" "$fixtures/mixed.jsonl" 2>"$work/err"; status=$?
check "mixed input exits 1" test "$status" -eq 1
check "summary counts add up" grep -qx "read 5, indexed 2, rejected 3 (2 passages)" "$work/err"
check "unknown source reported with its line" grep -q "mixed.jsonl:2: field 'source': unknown source 'newsletter'" "$work/err"
check "bad JSON reported with its line" grep -q "mixed.jsonl:3: invalid JSON" "$work/err"
check "empty id reported with its line" grep -q "mixed.jsonl:5: field 'id': is required" "$work/err"

# 2. Re-indexing is idempotent: the same passages, no duplicates.
"$bin/medsearch-index" --db "$work/db" "$fixtures/golden.jsonl" 2>"$work/err"
check "golden indexes cleanly" grep -qx "read 10, indexed 10, rejected 0 (14 passages)" "$work/err"
"$bin/medsearch-search" --db "$work/db" --json --limit 100 --per-record 0 "riluzole" >"$work/a.json"
"$bin/medsearch-index" --db "$work/db" "$fixtures/golden.jsonl" 2>/dev/null; status=$?
check "re-index exits 0" test "$status" -eq 0
"$bin/medsearch-search" --db "$work/db" --json --limit 100 --per-record 0 "riluzole" >"$work/b.json"
strip() { grep -v '"took_ms"' "$1"; }
check "re-index changes nothing" diff <(strip "$work/a.json") <(strip "$work/b.json")

# 3. Delete removes every passage of the record; deleting again is an error (exit 1).
"$bin/medsearch-index" --db "$work/db" --delete l-riluzole 2>"$work/err"; status=$?
check "delete exits 0" test "$status" -eq 0
check "delete says how many passages" grep -q "deleted l-riluzole (3 passages)" "$work/err"
"$bin/medsearch-search" --db "$work/db" --json --limit 100 --per-record 0 "riluzole" >"$work/c.json"
check "deleted record is gone" bash -c "! grep -q '\"record_id\": \"l-riluzole\"' '$work/c.json'"
"$bin/medsearch-index" --db "$work/db" --delete l-riluzole 2>/dev/null; status=$?
check "deleting a missing record exits 1" test "$status" -eq 1

# 4. Usage and I/O errors exit 2.
"$bin/medsearch-index" 2>/dev/null; status=$?
check "missing --db exits 2" test "$status" -eq 2
"$bin/medsearch-index" --db "$work/db2" "$work/no-such-file.jsonl" 2>"$work/err"; status=$?
check "unreadable input exits 2" test "$status" -eq 2
check "unreadable input named" grep -q "no-such-file.jsonl: cannot open" "$work/err"
"$bin/medsearch-search" --db "$work/no-index" "x" 2>/dev/null; status=$?
check "missing index exits 2" test "$status" -eq 2

# 5. The answer text: groups in clinical order, numbered references at the end.
"$bin/medsearch-index" --db "$work/golden" "$fixtures/golden.jsonl" 2>/dev/null
"$bin/medsearch-search" --db "$work/golden" "riluzole" >"$work/answer.txt"
check "text answer has groups in order" bash -c "grep -n -e '^From the Guidelines' -e '^From the FDA Drug Label' -e '^From the Research' -e '^References' '$work/answer.txt' | cut -d: -f2 | tr '\n' '|' | grep -qx 'From the Guidelines|From the FDA Drug Label|From the Research|References|'"
check "text answer cites [1]" grep -q '^  \[1\] Golden Test Academy. Care of people living with ALS. 2024.' "$work/answer.txt"
"$bin/medsearch-search" --db "$work/golden" --json "" >"$work/err.json" 2>/dev/null; status=$?
check "empty question exits 1" test "$status" -eq 1
check "empty question gives a JSON error" grep -q '"code": "invalid_argument"' "$work/err.json"

# 6. A BEIR corpus and queries make a TREC run that the evaluator reads.
"$bin/medsearch-index" --db "$work/beir" "$fixtures/beir/corpus.jsonl" 2>"$work/err"
check "BEIR corpus detected and indexed" grep -qx "read 5, indexed 5, rejected 0 (5 passages)" "$work/err"
"$bin/medsearch-search" --db "$work/beir" --queries "$fixtures/beir/queries.jsonl" --run "$work/run.txt" 2>"$work/err"; status=$?
check "batch run exits 0" test "$status" -eq 0
check "run lines have six fields" awk 'NF != 6 || $2 != "Q0" || $6 != "medsearch" { exit 1 }' "$work/run.txt"
check "ranks start at 1 per query" bash -c "awk '\$4 == 1' '$work/run.txt' | cut -d' ' -f1 | sort | tr '\n' ' ' | grep -qx '1 2 3 '"
check "best record first" grep -q '^1 Q0 d1 1 ' "$work/run.txt"
"$bin/medsearch-eval" --qrels "$fixtures/beir/qrels/test.tsv" --run "$work/run.txt" >"$work/eval.txt"
check "evaluator reads the run" grep -qx $'ndcg_cut_10\t1.0000' "$work/eval.txt"
# --timings: one row per query, in the queries' order, the stages inside the query's time.
"$bin/medsearch-search" --db "$work/beir" --queries "$fixtures/beir/queries.jsonl" --run "$work/run3.txt" \
  --timings "$work/timings.tsv" 2>/dev/null; status=$?
check "batch run with --timings exits 0" test "$status" -eq 0
check "timings header" bash -c "head -1 '$work/timings.tsv' | grep -qx \$'query_id\tms\tparse\tfeedback\tmatch\trerank\tspelling\toutput\tstatus'"
check "timings: every query in order, answered" bash -c "tail -n +2 '$work/timings.tsv' | awk -F'\t' '\$9 == \"ok\" && NF == 9 { printf \"%s \", \$1 }' | grep -qx '1 2 3 4 '"
check "timings: stages within the query's time" awk -F'\t' 'NR > 1 && ($3 + $4 + $5 + $6 + $7 + $8 > $2 + 0.01 || $2 <= 0) { bad = 1 } END { exit bad }' "$work/timings.tsv"
check "the run is the same with --timings" cmp -s "$work/run.txt" "$work/run3.txt"
"$bin/medsearch-search" --db "$work/beir" --timings "$work/t2.tsv" "aspirin" >/dev/null 2>"$work/err"; status=$?
check "--timings without --queries exits 2" test "$status" -eq 2
check "--timings without --queries says why" grep -q -- "--timings goes with --queries and --run" "$work/err"
"$bin/medsearch-search" --db "$work/beir" --queries "$fixtures/beir/queries.jsonl" --run "$work/run4.txt" \
  --timings "$work/no-such-dir/t.tsv" >/dev/null 2>"$work/err"; status=$?
check "unwritable --timings exits 2" test "$status" -eq 2
check "unwritable --timings is named" grep -q "no-such-dir/t.tsv: cannot open for writing" "$work/err"

# An empty run, or one whose query ids are not the judged ones, scores 0 as trec_eval -c does,
# with a note that says why; unjudged queries of a run are counted in a note.
: >"$work/empty.run"
"$bin/medsearch-eval" --qrels "$fixtures/beir/qrels/test.tsv" --run "$work/empty.run" >"$work/eval.txt" 2>"$work/err"; status=$?
check "eval of an empty run exits 0" test "$status" -eq 0
check "eval of an empty run scores 0" grep -qx $'ndcg_cut_10\t0.0000' "$work/eval.txt"
check "eval of an empty run says so" grep -q "empty.run has no run lines: every judged query scores 0" "$work/err"
sed 's/^/x/' "$work/run.txt" >"$work/other-ids.run"
"$bin/medsearch-eval" --qrels "$fixtures/beir/qrels/test.tsv" --run "$work/other-ids.run" >/dev/null 2>"$work/err"
check "eval of a run with other query ids says so" grep -q "none of the 3 queries of .*other-ids.run has a relevant document" "$work/err"
{ cat "$work/run.txt"; echo "4 Q0 d5 1 1.0 t"; } >"$work/unjudged.run"
"$bin/medsearch-eval" --qrels "$fixtures/beir/qrels/test.tsv" --run "$work/unjudged.run" >/dev/null 2>"$work/err"
check "eval notes the run's unjudged query" grep -q "1 of the 4 queries of .*unjudged.run have no relevant document .* (the first is 4)" "$work/err"

# 6b. The semantic model: none for a small index (said, not an error); asked for with too few
# passages, a clear error and exit 2; trained and written once an index is big enough.
"$bin/medsearch-index" --db "$work/beir-small" "$fixtures/beir/corpus.jsonl" 2>"$work/err"
check "small index: no semantic model, and why" grep -q "semantic model: none (fewer than 2,000 passages (5))" "$work/err"
"$bin/medsearch-index" --db "$work/beir" --semantic rebuild 2>"$work/err"; status=$?
check "semantic rebuild of 5 passages exits 2" test "$status" -eq 2
check "semantic rebuild of 5 passages says why" grep -q "needs more than that many passages" "$work/err"
"$bin/medsearch-index" --db "$work/golden" --semantic rebuild --semantic-dims 8 2>"$work/err"; status=$?
check "semantic rebuild with 8 dimensions exits 0" test "$status" -eq 0
check "semantic rebuild says what it did" grep -q "semantic model: trained (--semantic rebuild), 8 dimensions; 14 passage vectors written" "$work/err"
"$bin/medsearch-search" --db "$work/golden" --limit 3 "riluzole dose" >/dev/null 2>&1; status=$?
check "search over an index with a semantic model exits 0" test "$status" -eq 0
"$bin/medsearch-index" --db "$work/missing" --semantic rebuild 2>"$work/err"; status=$?
check "semantic rebuild without an index exits 2" test "$status" -eq 2
check "semantic rebuild without an index says so" grep -q "no index there to train a semantic model for" "$work/err"

# 7. medsearch-train: --features restricts what the model weighs; the model it writes loads.
"$bin/medsearch-train" --set "fixture:$work/beir:$fixtures/beir/queries.jsonl:$fixtures/beir/qrels/test.tsv" \
  --depth 10 --folds 0 --restarts 1 --features coverage,title_idf --out "$work/model.json" >"$work/train.txt" 2>"$work/err"; status=$?
check "train with --features exits 0" test "$status" -eq 0
check "train writes a model" grep -q '"weights"' "$work/model.json"
check "unlisted features get weight 0" python3 -c "
import json, sys
m = json.load(open('$work/model.json'))
w = m['weights']
sys.exit(0 if w['bm25'] == 1.0 and all(v == 0 for k, v in w.items() if k not in ('bm25', 'coverage', 'title_idf'))
         and '--features coverage,title_idf' in m['description'] else 1)"
"$bin/medsearch-search" --db "$work/beir" --queries "$fixtures/beir/queries.jsonl" --run "$work/run2.txt" \
  --rerank-model "$work/model.json" 2>"$work/err"; status=$?
check "search runs with the trained model" test "$status" -eq 0
check "trained model keeps the best record first" grep -q '^1 Q0 d1 1 ' "$work/run2.txt"
"$bin/medsearch-train" --set "fixture:$work/beir:$fixtures/beir/queries.jsonl:$fixtures/beir/qrels/test.tsv" \
  --depth 10 --folds 0 --features coverage,proximty >/dev/null 2>"$work/err"; status=$?
check "unknown feature exits 2" test "$status" -eq 2
check "unknown feature is named" grep -q "unknown feature 'proximty'" "$work/err"

# 8. scripts/bench-latency.sh (issue 4's latency budget): both modes on the same index, a ratio
# and a verdict per collection; a folder that is not a BEIR collection is refused.
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MEDSEARCH_BUILD_DIR="$(dirname "$bin")" bash "$repo/scripts/bench-latency.sh" --rounds 1 --index-root "$work/lat" \
  "$fixtures/beir" >"$work/lat.md" 2>"$work/err"; status=$?
check "bench-latency exits 0" test "$status" -eq 0
check "bench-latency reports BM25" grep -qE '^\| beir \| 4 \| BM25 only \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \|' "$work/lat.md"
check "bench-latency reports a ratio and a verdict" \
  grep -qE '^\| beir \| 4 \| everything on \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \| [0-9.]+x \([0-9.]+x\) \| [0-9.]+x \([0-9.]+x\) \| (yes|no|p50 yes, p99 no|p50 no, p99 yes) \|$' "$work/lat.md"
check "bench-latency kept the index" test -e "$work/lat/beir"
MEDSEARCH_BUILD_DIR="$(dirname "$bin")" bash "$repo/scripts/bench-latency.sh" "$work/lat" >/dev/null 2>"$work/err"; status=$?
check "bench-latency refuses a folder without corpus.jsonl" test "$status" -eq 2
check "bench-latency names what is missing" grep -q "corpus.jsonl not found" "$work/err"

# 9. CJK text with XAPIAN_CJK_NGRAM set (Xapian splits it into n-grams on both sides): a word
# inside a run of Japanese or Chinese text is found, in the text and with title:.
printf '%s\n' '{"id":"cjk-1","source":"research","title":"糖尿病の治療","text":"糖尿病の治療にはメトホルミンが使われる。高血压治疗指南。"}' \
  '{"id":"cjk-2","source":"research","title":"Hypertension","text":"Hypertension treatment with ACE inhibitors."}' >"$work/cjk.jsonl"
XAPIAN_CJK_NGRAM=1 "$bin/medsearch-index" --db "$work/cjk" -q "$work/cjk.jsonl" 2>/dev/null
for q in 糖尿病 メトホルミン 高血压 title:糖尿病; do
  XAPIAN_CJK_NGRAM=1 "$bin/medsearch-search" --db "$work/cjk" --json "$q" >"$work/cjk.json" 2>/dev/null
  check "CJK n-grams: '$q' finds its record" grep -q '"record_id": "cjk-1"' "$work/cjk.json"
done

# 10. Exit status as the README gives it: 2 for usage errors (bad option values included, in all
# three tools), 1 for input rejected (query lines of a batch run), and no model trained on nothing.
for bad in "--limit 0" "--limit -1" "--offset -5" "--per-record -1" "--year-from 2020 --year-to 2010"; do
  # shellcheck disable=SC2086
  "$bin/medsearch-search" --db "$work/golden" $bad riluzole >/dev/null 2>"$work/err"; status=$?
  check "search $bad exits 2" test "$status" -eq 2
done
# A year is four digits: a shortened one (99: 1999 or 2099?) is a usage error naming the option's
# parameter and the accepted range, as over HTTP; before, --year-from 99 searched every record
# (and --year-to 99 none) with exit 0. In the question, year:99 refuses the question (exit 1).
for bad in "--year-from 99" "--year-to 99" "--year-from 0" "--year-to 10000"; do
  # shellcheck disable=SC2086
  "$bin/medsearch-search" --db "$work/golden" $bad riluzole >/dev/null 2>"$work/err"; status=$?
  check "search $bad exits 2" test "$status" -eq 2
  check "search $bad names the parameter and the range" grep -Eq "year_(from|to): must be a four-digit year between 1000 and 9999" "$work/err"
done
"$bin/medsearch-search" --db "$work/golden" --year-from 1000 --year-to 9999 riluzole >/dev/null 2>&1; status=$?
check "search --year-from 1000 --year-to 9999 exits 0" test "$status" -eq 0
"$bin/medsearch-search" --db "$work/golden" "riluzole year:99" >/dev/null 2>"$work/err"; status=$?
check "search 'riluzole year:99' exits 1" test "$status" -eq 1
check "search 'riluzole year:99' names the range" grep -q "year:99 is not a year: year: takes a four-digit year between 1000 and 9999" "$work/err"
"$bin/medsearch-eval" --qrels "$fixtures/beir/qrels/test.tsv" >/dev/null 2>&1; status=$?
check "eval without --run exits 2" test "$status" -eq 2
"$bin/medsearch-eval" --help >/dev/null 2>&1; status=$?
check "eval --help exits 0" test "$status" -eq 0
"$bin/medsearch-train" --set "fixture:$work/beir:$fixtures/beir/queries.jsonl:$fixtures/beir/qrels/test.tsv" --depth 5 \
  >/dev/null 2>&1; status=$?
check "train --depth out of range exits 2" test "$status" -eq 2
printf 'query-id\tcorpus-id\tscore\n1\td1\t0\n' >"$work/zero.tsv"
"$bin/medsearch-train" --set "zero:$work/beir:$fixtures/beir/queries.jsonl:$work/zero.tsv" --depth 10 --folds 0 \
  --out "$work/zero-model.json" >/dev/null 2>"$work/err"; status=$?
check "train with no judged queries exits 2" test "$status" -eq 2
check "train with no judged queries says so" grep -q "zero: no judged queries" "$work/err"
check "train with no judged queries writes no model" test ! -e "$work/zero-model.json"
# More folds than any set has queries, a set name given twice: refused (exit 2). Judged queries
# that the queries file lacks: a note naming them, and the others train.
"$bin/medsearch-train" --set "fixture:$work/beir:$fixtures/beir/queries.jsonl:$fixtures/beir/qrels/test.tsv" --depth 10 \
  --folds 4 >"$work/out" 2>"$work/err"; status=$?
check "train --folds above the query count exits 2" test "$status" -eq 2
check "train --folds above the query count says so" grep -q -- "--folds 4 is more than the judged queries of every set (at most 3)" "$work/err"
"$bin/medsearch-train" --set "fixture:$work/beir:$fixtures/beir/queries.jsonl:$fixtures/beir/qrels/test.tsv" --depth 10 \
  --folds 3 >"$work/out" 2>"$work/err"; status=$?
check "train --folds equal to the query count exits 0" test "$status" -eq 0
check "train --folds 3 reports the three queries" grep -qE '^fixture +3 ' "$work/out"
# --cv-queries: each judged query's held-out scores; their means are the printed figures.
"$bin/medsearch-train" --set "fixture:$work/beir:$fixtures/beir/queries.jsonl:$fixtures/beir/qrels/test.tsv" --depth 10 \
  --folds 3 --cv-queries "$work/cvq.tsv" >"$work/out" 2>"$work/err"; status=$?
check "train --cv-queries exits 0" test "$status" -eq 0
check "train --cv-queries: a header" test "$(head -n 1 "$work/cvq.tsv")" = $'set\tquery_id\tfirst_stage\treranked'
check "train --cv-queries: every judged query once, in order" \
  test "$(tail -n +2 "$work/cvq.tsv" | cut -f 1,2 | tr '\t\n' ': ')" = "fixture:1 fixture:2 fixture:3 "
check "train --cv-queries: the means are the printed figures" bash -c "
  printed=\$(awk '\$1 == \"fixture\" && \$2 == 3 { print \$3, \$4 }' '$work/out')
  means=\$(awk -F'\t' 'NR > 1 { a += \$3; b += \$4; n++ } END { printf \"%.4f %.4f\", a / n, b / n }' '$work/cvq.tsv')
  [ -n \"\$printed\" ] && [ \"\$printed\" = \"\$means\" ]"
"$bin/medsearch-train" --set "fixture:$work/beir:$fixtures/beir/queries.jsonl:$fixtures/beir/qrels/test.tsv" --depth 10 \
  --folds 0 --cv-queries "$work/cvq0.tsv" >/dev/null 2>"$work/err"; status=$?
check "train --cv-queries without folds exits 2" test "$status" -eq 2
check "train --cv-queries without folds says so" grep -q -- "--cv-queries needs --folds 2 or more" "$work/err"
"$bin/medsearch-train" --set "fixture:$work/beir:$fixtures/beir/queries.jsonl:$fixtures/beir/qrels/test.tsv" --depth 10 \
  --folds 3 --cv-queries "$work/no-such-folder/cvq.tsv" >"$work/out" 2>"$work/err"; status=$?
check "train --cv-queries unwritable exits 2 before training" bash -c "[ $status -eq 2 ] && ! grep -q 'judged queries' '$work/err'"
check "train --cv-queries unwritable says why" grep -q -- "--cv-queries $work/no-such-folder/cvq.tsv: $work/no-such-folder is not a writable folder" "$work/err"
check "train --cv-queries without folds creates no file" test ! -e "$work/cvq0.tsv"
"$bin/medsearch-train" --set "a:$work/beir:$fixtures/beir/queries.jsonl:$fixtures/beir/qrels/test.tsv" \
  --set "a:$work/beir:$fixtures/beir/queries.jsonl:$fixtures/beir/qrels/test.tsv" --depth 10 --folds 0 >/dev/null 2>"$work/err"; status=$?
check "train with a set name twice exits 2" test "$status" -eq 2
check "train with a set name twice says so" grep -q "the name a is given twice" "$work/err"
printf 'query-id\tcorpus-id\tscore\n1\td1\t1\n9\td3\t1\n' >"$work/extra-judged.tsv"
"$bin/medsearch-train" --set "x:$work/beir:$fixtures/beir/queries.jsonl:$work/extra-judged.tsv" --depth 10 --folds 0 \
  >/dev/null 2>"$work/err"; status=$?
check "train with judged queries not in the queries file exits 0" test "$status" -eq 0
check "train names the judged queries it lacks" grep -q "x: note: 1 judged query of $work/extra-judged.tsv not in .*queries.jsonl (left out; the first is 9)" "$work/err"

# A model file that cannot be written is refused before training, not after it.
"$bin/medsearch-train" --set "fixture:$work/beir:$fixtures/beir/queries.jsonl:$fixtures/beir/qrels/test.tsv" --depth 10 \
  --folds 0 --out "$work/no-such-folder/model.json" >"$work/out" 2>"$work/err"; status=$?
check "train --out in a missing folder exits 2" test "$status" -eq 2
check "train --out in a missing folder says so" grep -q "no-such-folder is not a writable folder" "$work/err"
check "train --out in a missing folder trains nothing" bash -c "! grep -q 'judged queries' '$work/err' && ! grep -q fitted '$work/out'"
"$bin/medsearch-train" --set "fixture:$work/beir:$fixtures/beir/queries.jsonl:$fixtures/beir/qrels/test.tsv" --depth 10 \
  --folds 0 --out "$work" >/dev/null 2>"$work/err"; status=$?
check "train --out a folder exits 2" test "$status" -eq 2
{ head -n 2 "$fixtures/beir/queries.jsonl"; echo 'not json'; head -n 1 "$fixtures/beir/queries.jsonl"; } >"$work/bad-queries.jsonl"
"$bin/medsearch-search" --db "$work/beir" --queries "$work/bad-queries.jsonl" --run "$work/bad.run" 2>"$work/err"; status=$?
check "batch run with rejected lines exits 1" test "$status" -eq 1
check "rejected query line named" grep -q "bad-queries.jsonl:3: invalid JSON" "$work/err"
check "duplicate query id named" grep -q "bad-queries.jsonl:4: duplicate '_id' 1 (first on line 1)" "$work/err"
check "the other queries still run" bash -c "cut -d' ' -f1 '$work/bad.run' | sort -u | tr '\n' ' ' | grep -qx '1 2 '"
# Options that only shape a single answer are refused with --queries/--run, not dropped.
for extra in "--source research" "--offset 5" "--per-record 2" "--year-from 2000" "--json" "riluzole"; do
  # shellcheck disable=SC2086
  "$bin/medsearch-search" --db "$work/beir" --queries "$fixtures/beir/queries.jsonl" --run "$work/x.run" $extra \
    >/dev/null 2>"$work/err"; status=$?
  check "batch run with $extra exits 2" test "$status" -eq 2
done
check "the refused option is named" grep -q "does not apply to --queries/--run\|not both" "$work/err"

# scripts/eval.sh's arguments (refused before anything is built or indexed): --help is not an
# error and shows the comment only, a split without qrels names the splits there, --index needs
# a folder.
eval_script="$(cd "$fixtures/../.." && pwd)/scripts/eval.sh"
bash "$eval_script" --help >"$work/help" 2>&1; status=$?
check "eval.sh --help exits 0" test "$status" -eq 0
check "eval.sh --help shows the usage" grep -q "scripts/eval.sh DIR SPLIT --index" "$work/help"
check "eval.sh --help shows no code" bash -c "! grep -q 'set -euo' '$work/help'"
bash "$eval_script" "$fixtures/beir" >/dev/null 2>"$work/err"; status=$?
check "eval.sh without SPLIT exits 2" test "$status" -eq 2
bash "$eval_script" "$fixtures/beir" train >/dev/null 2>"$work/err"; status=$?
check "eval.sh with a split without qrels exits 2" test "$status" -eq 2
check "eval.sh names the splits there" grep -q "qrels/train.tsv not found (splits there: test)" "$work/err"
bash "$eval_script" "$fixtures/beir" test --index >/dev/null 2>"$work/err"; status=$?
check "eval.sh --index without a folder exits 2" test "$status" -eq 2
check "eval.sh --index without a folder says so" grep -q -- "--index needs a folder" "$work/err"

# The whole of scripts/eval.sh on the BEIR fixture with these binaries (MEDSEARCH_BIN: no build).
MEDSEARCH_BIN="$bin" bash "$eval_script" "$fixtures/beir" test >"$work/evalsh.txt" 2>"$work/err"; status=$?
check "eval.sh on the fixture exits 0" test "$status" -eq 0
check "eval.sh on the fixture scores it" grep -qx $'ndcg_cut_10\t1.0000' "$work/evalsh.txt"
check "eval.sh prints the mean time" grep -qE $'^mean_ms_per_query\t[0-9.]+$' "$work/evalsh.txt"
# Its mean time is over every query run, not only those with a result: stand-in binaries whose
# search takes 0.8 s for 4 queries of which 1 has a result give about 200 ms, not 800.
mkdir -p "$work/stub-bin"
printf '#!/bin/sh\nexit 0\n' >"$work/stub-bin/medsearch-index"
printf '#!/bin/sh\nwhile [ "$1" != --run ]; do shift; done\necho "1 Q0 d1 1 1.0 t" >"$2"\nsleep 0.8\necho "queries 4, failed 0, run lines 1 -> $2" >&2\n' \
  >"$work/stub-bin/medsearch-search"
printf '#!/bin/sh\necho "ndcg_cut_10\t1.0000"\n' >"$work/stub-bin/medsearch-eval"
chmod +x "$work/stub-bin/"*
MEDSEARCH_BIN="$work/stub-bin" bash "$eval_script" "$fixtures/beir" test >"$work/evalsh.txt" 2>"$work/err"
check "eval.sh runs MEDSEARCH_BIN's binaries" grep -q "queries 4, failed 0, run lines 1 ->" "$work/err"
check "eval.sh's mean is over every query run" \
  awk -F'\t' '$1 == "mean_ms_per_query" { found = 1; if ($2 > 500) exit 1 } END { exit !found }' "$work/evalsh.txt"

# eval.sh --baseline: plain Xapian BM25 beside medsearch on the same judged queries. On two
# questions, one only the vocabulary answers (*heart attack*: the relevant record says
# *myocardial infarction*, a distractor says *heart*) and one both answer, the baseline scores
# 0.5 and the gain is +0.5 with a standard error of 0.5 (differences 1 and 0).
mkdir -p "$work/beir-vocab/qrels"
cat >"$work/beir-vocab/corpus.jsonl" <<'EOF'
{"_id": "d1", "title": "Reperfusion after myocardial infarction", "text": "Early reperfusion after acute myocardial infarction lowers mortality."}
{"_id": "d2", "title": "Aspirin and colorectal cancer", "text": "Daily aspirin lowers the incidence of colorectal cancer."}
{"_id": "d3", "title": "Heart failure treatment", "text": "Heart failure with reduced ejection fraction is treated with four drug classes."}
EOF
printf '{"_id": "1", "text": "heart attack"}\n{"_id": "2", "text": "aspirin colorectal cancer"}\n' \
  >"$work/beir-vocab/queries.jsonl"
printf 'query-id\tcorpus-id\tscore\n1\td1\t1\n2\td2\t1\n' >"$work/beir-vocab/qrels/test.tsv"
MEDSEARCH_BIN="$bin" bash "$eval_script" "$work/beir-vocab" test --baseline xapian >"$work/evalsh.txt" 2>"$work/err"; status=$?
check "eval.sh --baseline xapian exits 0" test "$status" -eq 0
check "eval.sh --baseline: medsearch finds both" grep -qx $'ndcg_cut_10\t1.0000' "$work/evalsh.txt"
check "eval.sh --baseline: plain Xapian finds one" grep -qx $'baseline_ndcg_cut_10\txapian\t0.5000' "$work/evalsh.txt"
check "eval.sh --baseline: the gain, its error and the counts" \
  grep -qx $'gain_ndcg_cut_10\txapian\t+0.5000\tse 0.5000\tqueries 2\tup 1\tdown 0' "$work/evalsh.txt"
check "eval.sh --baseline without --per-query: no per-query lines" bash -c "! grep -q '=' '$work/evalsh.txt'"
MEDSEARCH_BIN="$bin" bash "$eval_script" "$work/beir-vocab" test --baseline xapian --per-query >"$work/evalsh.txt" 2>"$work/err"
check "eval.sh --baseline --per-query: the baseline's miss" \
  grep -qx $'baseline_query\txapian\t1\tndcg_cut_10=0.0000\trecall_100=0.0000\trecip_rank_10=0.0000' "$work/evalsh.txt"
bash "$eval_script" "$work/beir-vocab" test --baseline bm25 >/dev/null 2>"$work/err"; status=$?
check "eval.sh --baseline with an unknown engine exits 2" test "$status" -eq 2
check "eval.sh --baseline names the engines it knows" grep -q "unknown engine 'bm25' (known: xapian, fts5, lucene)" "$work/err"
bash "$eval_script" "$work/beir-vocab" test --baseline >/dev/null 2>"$work/err"; status=$?
check "eval.sh --baseline without engines exits 2" test "$status" -eq 2
bash "$eval_script" "$work/beir-vocab" test --baseline , >/dev/null 2>"$work/err"; status=$?
check "eval.sh --baseline with an empty list exits 2" test "$status" -eq 2
MEDSEARCH_BIN="$bin" bash "$eval_script" "$work/beir-vocab" test --baseline xapian,xapian >"$work/evalsh.txt" 2>"$work/err"
check "eval.sh --baseline runs an engine named twice once" test "$(grep -c '^baseline	' "$work/evalsh.txt")" -eq 1
# The FTS5 and Lucene baselines where their packages are here (scripts/bench-query.sh installs
# them; scripts/install-deps.sh does not): the same two questions, the same miss.
for engine in fts5 lucene; do
  MEDSEARCH_BIN="$bin" bash "$eval_script" "$work/beir-vocab" test --baseline "$engine" >"$work/evalsh.txt" 2>"$work/err"; status=$?
  if [ "$status" -eq 2 ] && grep -q "eval: --baseline $engine needs" "$work/err"; then
    echo "skip: eval.sh --baseline $engine: $(cat "$work/err")"
    continue
  fi
  check "eval.sh --baseline $engine exits 0" test "$status" -eq 0
  check "eval.sh --baseline $engine: the gain" \
    grep -qx $'gain_ndcg_cut_10\t'"$engine"$'\t+0.5000\tse 0.5000\tqueries 2\tup 1\tdown 0' "$work/evalsh.txt"
done

# scripts/train-rerank.sh: an option given to it replaces the shipped model's setting instead of
# reaching medsearch-train twice (which CLI11 refuses). The printed command, no training.
train_script="$(cd "$fixtures/../.." && pwd)/scripts/train-rerank.sh"
mkdir -p "$work/fake-data/scifact/qrels" "$work/fake-data/nfcorpus/qrels"
touch "$work/fake-data/scifact/corpus.jsonl" "$work/fake-data/scifact/qrels/train.tsv" \
  "$work/fake-data/nfcorpus/corpus.jsonl" "$work/fake-data/nfcorpus/qrels/dev.tsv"
# A missing queries file is refused before the minutes of indexing, not by medsearch-train after.
MEDSEARCH_TRAIN_PRINT=1 bash "$train_script" --data "$work/fake-data" >/dev/null 2>"$work/err"; status=$?
check "train-rerank: no queries.jsonl exits 2" test "$status" -eq 2
check "train-rerank: names the missing queries file" grep -q "cannot read $work/fake-data/scifact/queries.jsonl" "$work/err"
touch "$work/fake-data/scifact/queries.jsonl" "$work/fake-data/nfcorpus/queries.jsonl"
bash "$train_script" --data >/dev/null 2>"$work/err"; status=$?
check "train-rerank: --data without a value exits 2" test "$status" -eq 2
check "train-rerank: --data without a value says so" grep -q -- "--data needs a folder" "$work/err"
bash "$train_script" --help >"$work/help" 2>&1; status=$?
check "train-rerank --help exits 0" test "$status" -eq 0
check "train-rerank --help ends its sentence" grep -q -- "--feedback-docs 0 to train without feedback" "$work/help"
MEDSEARCH_TRAIN_PRINT=1 bash "$train_script" --data "$work/fake-data" --depth 100 --feedback-docs=0 >"$work/train-args" 2>&1
check "train-rerank: --depth given once (100)" test "$(grep -c '^--depth' "$work/train-args")" -eq 1
check "train-rerank: the given --depth wins" bash -c "grep -A1 -x -- '--depth' '$work/train-args' | grep -qx 100"
check "train-rerank: --feedback-docs=0 replaces the default" test "$(grep -c '^--feedback-docs' "$work/train-args")" -eq 1
check "train-rerank: the other settings stay" grep -qx -- '--feedback-terms' "$work/train-args"

echo "cli: $passed passed, $failures failed"
[ "$failures" -eq 0 ]
