#!/usr/bin/env bash
# Evaluates medsearch on a BEIR-format collection: indexes DATASET_DIR/corpus.jsonl, runs every
# query of DATASET_DIR/queries.jsonl, scores those judged in DATASET_DIR/qrels/SPLIT.tsv and
# prints nDCG@10 (linear gain, as trec_eval's ndcg_cut), Recall@100 and MRR@10.
#
#   scripts/eval.sh ../shared/data/scifact train
#   scripts/eval.sh ../shared/data/nfcorpus dev --per-query
#   scripts/eval.sh DIR SPLIT --index /tmp/idx   # keep (and reuse) the index there
#   scripts/eval.sh DIR SPLIT --baseline         # beside plain Xapian BM25 on the same queries
#
# --baseline also indexes the corpus as scripts/bench-query.sh's plain Xapian loop does (whole
# documents, QueryParser with the English stemmer, BM25), scores its run and prints medsearch's
# gain over it per metric: the mean of the per-query differences, its standard error and how
# many queries went up and down (with --per-query, its per-query lines as `baseline_query QID
# ...`). Needs g++ and libxapian-dev (scripts/install-deps.sh).
# Extra arguments after the options go to medsearch-index (e.g. --passage-bytes 2000).
# The binaries are brought up to date first (scripts/build.sh, incremental); MEDSEARCH_BIN, a
# folder of built medsearch-index, -search and -eval, is used as it is instead.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
help() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; }
usage_error() { echo "eval: $1" >&2; help >&2; exit 2; }
for a in "$@"; do case "$a" in -h|--help) help; exit 0 ;; esac; done
[ $# -ge 2 ] || usage_error "expected DATASET_DIR SPLIT"
dataset="$1"; split="$2"; shift 2
per_query=0; baseline=0; index=""; index_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --per-query) per_query=1; shift ;;
    --baseline) baseline=1; shift ;;
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
[ "$baseline" -eq 1 ] || exit 0

# The plain Xapian baseline: the bench's own indexer and a run writer with its loop's parser.
bench="$root/scripts/bench"
for tool in g++ pkg-config; do
  command -v "$tool" >/dev/null || { echo "eval: --baseline needs $tool (scripts/install-deps.sh)" >&2; exit 2; }
done
pkg-config --exists xapian-core || { echo "eval: --baseline needs libxapian-dev (scripts/install-deps.sh)" >&2; exit 2; }
# shellcheck disable=SC2046  # pkg-config's flags are separate words
for tool in xapian_simpleindex xapian_trec_run; do
  g++ -O2 -std=c++17 -o "$work/$tool" "$bench/$tool.cc" $(pkg-config --cflags --libs xapian-core) ||
    { echo "eval: could not compile $bench/$tool.cc" >&2; exit 1; }
done
"$work/xapian_simpleindex" "$work/baseline-index" "$dataset/corpus.jsonl" >&2 || { echo "eval: the baseline's indexing failed" >&2; exit 1; }
"$work/xapian_trec_run" "$work/baseline-index" "$dataset/queries.jsonl" "$work/baseline-run.txt" 100 >&2 ||
  { echo "eval: the baseline's run failed" >&2; exit 1; }
echo "baseline	plain Xapian BM25 (whole documents, QueryParser, English stemmer; scripts/bench/xapian_trec_run.cc)"
"$bin/medsearch-eval" --qrels "$dataset/qrels/$split.tsv" --run "$work/baseline-run.txt" --per-query \
  >"$work/baseline.txt" 2>/dev/null || { echo "eval: the baseline's run could not be scored" >&2; exit 1; }
"$bin/medsearch-eval" --qrels "$dataset/qrels/$split.tsv" --run "$work/run.txt" --per-query \
  >"$work/medsearch.txt" 2>/dev/null || { echo "eval: medsearch's run could not be scored" >&2; exit 1; }
grep -v '=' "$work/baseline.txt" | grep -v '^queries' | sed 's/^/baseline_/'
# With --per-query, the baseline's per-query lines too, marked: baseline_query<TAB>QID<TAB>...
[ "$per_query" -eq 0 ] || grep '=' "$work/baseline.txt" | sed 's/^/baseline_query\t/'
# Per metric over the judged queries (each file has every one of them): medsearch minus the
# baseline, the mean, its standard error (the differences' sample deviation over the square root
# of their count) and the queries that went up and down.
awk -F'\t' '
  FNR == 1 { file++ }
  NF >= 2 && $2 ~ /=/ {
    for (i = 2; i <= NF; i++) {
      split($i, kv, "=")
      if (file == 1) base[$1 SUBSEP kv[1]] = kv[2]
      else if (($1 SUBSEP kv[1]) in base) {
        d = kv[2] - base[$1 SUBSEP kv[1]]
        if (!(kv[1] in n)) order[++metrics] = kv[1]
        n[kv[1]]++; sum[kv[1]] += d; sq[kv[1]] += d * d
        if (d > 1e-9) up[kv[1]]++; else if (d < -1e-9) down[kv[1]]++
      }
    }
  }
  END {
    for (m = 1; m <= metrics; m++) {
      k = order[m]; mean = sum[k] / n[k]
      se = n[k] > 1 ? sqrt((sq[k] - n[k] * mean * mean) / (n[k] - 1) / n[k]) : 0
      printf "gain_%s\t%+.4f\tse %.4f\tqueries %d\tup %d\tdown %d\n", k, mean, se, n[k], up[k], down[k]
    }
  }' "$work/baseline.txt" "$work/medsearch.txt"
