#!/usr/bin/env bash
# Evaluates medsearch on a BEIR-format collection: indexes DATASET_DIR/corpus.jsonl, runs every
# query of DATASET_DIR/queries.jsonl, scores those judged in DATASET_DIR/qrels/SPLIT.tsv and
# prints nDCG@10 (linear gain, as trec_eval's ndcg_cut), Recall@100 and MRR@10.
#
#   scripts/eval.sh ../shared/data/scifact train
#   scripts/eval.sh ../shared/data/nfcorpus dev --per-query
#   scripts/eval.sh DIR SPLIT --index /tmp/idx   # keep (and reuse) the index there
#
# Extra arguments after the options go to medsearch-index (e.g. --passage-bytes 2000).
# The binaries are brought up to date first (scripts/build.sh, incremental); MEDSEARCH_BIN, a
# folder of built medsearch-index, -search and -eval, is used as it is instead.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
help() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }
usage_error() { echo "eval: $1" >&2; help >&2; exit 2; }
for a in "$@"; do case "$a" in -h|--help) help; exit 0 ;; esac; done
[ $# -ge 2 ] || usage_error "expected DATASET_DIR SPLIT"
dataset="$1"; split="$2"; shift 2
per_query=0; index=""; index_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --per-query) per_query=1; shift ;;
    --index) [ $# -ge 2 ] || usage_error "--index needs a folder"; index="$2"; shift 2 ;;
    *) index_args+=("$1"); shift ;;
  esac
done
for f in corpus.jsonl queries.jsonl; do
  [ -f "$dataset/$f" ] || { echo "eval: $dataset/$f not found" >&2; exit 2; }
done
if [ ! -f "$dataset/qrels/$split.tsv" ]; then
  splits="$(cd "$dataset/qrels" 2>/dev/null && ls -- *.tsv 2>/dev/null | sed 's/\.tsv$//' | tr '\n' ' ' | sed 's/ $//' || true)"
  echo "eval: $dataset/qrels/$split.tsv not found (splits there: ${splits:-none})" >&2
  exit 2
fi
if [ -n "${MEDSEARCH_BIN:-}" ]; then
  bin="$MEDSEARCH_BIN"
else
  # Built every time (a no-op when current): binaries that existed were used as they were, so
  # a change to the ranking code was evaluated with the binary from before it.
  bin="$root/build/bin"
  if [ ! -x "$bin/medsearch-eval" ] || [ ! -x "$bin/medsearch-index" ] || [ ! -x "$bin/medsearch-search" ]; then
    "$root/scripts/install-deps.sh"
  fi
  MEDSEARCH_TARGETS="medsearch-index medsearch-search medsearch-eval" "$root/scripts/build.sh" >&2
fi
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
if [ -z "$index" ]; then index="$work/index"; fi
if [ ! -e "$index" ]; then
  "$bin/medsearch-index" --db "$index" --progress none -q "${index_args[@]}" "$dataset/corpus.jsonl" >&2
fi
start=$(date +%s.%N)
"$bin/medsearch-search" --db "$index" --queries "$dataset/queries.jsonl" --run "$work/run.txt" --limit 100 \
  2>"$work/search.err" || { cat "$work/search.err" >&2; exit 1; }
end=$(date +%s.%N)
cat "$work/search.err" >&2
# Every query run, those without a result too (counting the run's query ids left them out).
queries=$(sed -n 's/^queries \([0-9]*\), failed.*/\1/p' "$work/search.err")
echo "dataset	$(basename "$dataset") ($split)"
args=(--qrels "$dataset/qrels/$split.tsv" --run "$work/run.txt")
[ "$per_query" -eq 1 ] && args+=(--per-query)
"$bin/medsearch-eval" "${args[@]}"
awk -v s="$start" -v e="$end" -v q="$queries" 'BEGIN { if (q > 0) printf "mean_ms_per_query\t%.2f\n", (e - s) * 1000 / q }'
