#!/usr/bin/env bash
# Relevance floor: indexes each judged collection in ../shared/data, runs its queries and
# fails when nDCG@10 falls below the floor in tests/relevance_floors.txt.
# Usage: relevance_test.sh BIN_DIR FLOORS_FILE DATA_DIR. Exit 77 (skip) when data is absent.
set -uo pipefail
bin="$1"; floors="$2"; data="$3"
if [ -n "${MEDSEARCH_SANITIZED:-}" ]; then
  echo "skip: sanitizer build: the nDCG floors are checked by the release build's run of this test"
  exit 77
fi
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
failures=0; passed=0; ran=0
while read -r dataset split measured floor; do
  case "$dataset" in ''|'#'*) continue ;; esac
  dir="$data/$dataset"
  if [ ! -f "$dir/corpus.jsonl" ] || [ ! -f "$dir/queries.jsonl" ] || [ ! -f "$dir/qrels/$split.tsv" ]; then
    echo "skip: $dataset ($dir) not found"
    continue
  fi
  ran=$((ran + 1))
  "$bin/medsearch-index" --db "$work/$dataset" --quiet "$dir/corpus.jsonl" 2>/dev/null
  "$bin/medsearch-search" --db "$work/$dataset" --queries "$dir/queries.jsonl" --run "$work/$dataset.run" 2>/dev/null
  ndcg=$("$bin/medsearch-eval" --qrels "$dir/qrels/$split.tsv" --run "$work/$dataset.run" | awk -F'\t' '$1 == "ndcg_cut_10" { print $2 }')
  if awk -v n="$ndcg" -v f="$floor" 'BEGIN { exit !(n >= f) }'; then
    echo "ok: $dataset $split nDCG@10 $ndcg >= floor $floor (recorded $measured)"
    passed=$((passed + 1))
  else
    echo "FAIL: $dataset $split nDCG@10 $ndcg < floor $floor (recorded $measured)"
    failures=$((failures + 1))
  fi
done < "$floors"
if [ "$ran" -eq 0 ]; then
  echo "skip: no judged data under $data (set MEDSEARCH_DATA_DIR)"
  exit 77
fi
echo "relevance: $passed passed, $failures failed"
[ "$failures" -eq 0 ]
