#!/usr/bin/env bash
# Evaluates medsearch on a BEIR-format collection: indexes DATASET_DIR/corpus.jsonl, runs every
# query of DATASET_DIR/queries.jsonl, scores those judged in DATASET_DIR/qrels/SPLIT.tsv and
# prints nDCG@10 (linear gain, as trec_eval's ndcg_cut), Recall@100 and MRR@10.
#
#   scripts/eval.sh ../shared/data/scifact train
#   scripts/eval.sh ../shared/data/nfcorpus dev --per-query
#   scripts/eval.sh DIR SPLIT --index /tmp/idx   # keep (and reuse) the index there
#   scripts/eval.sh DIR SPLIT --baseline xapian  # beside plain Xapian BM25 on the same queries
#   scripts/eval.sh DIR SPLIT --baseline xapian,fts5,lucene
#
# --baseline ENGINES (comma-separated: xapian, fts5, lucene) also indexes the corpus and runs the
# queries as scripts/bench-query.sh's peers do (plain Xapian's loop, SQLite FTS5, Lucene 4.10;
# scripts/bench/README.md), scores each run and prints, per engine, its figures and medsearch's
# gain over it per metric: the mean of the per-query differences, its standard error and how
# many queries went up and down (with --per-query, its per-query lines as `baseline_query ENGINE
# QID ...`). xapian needs g++ and libxapian-dev (scripts/install-deps.sh), fts5 libsqlite3-dev,
# lucene liblucene4.10-java and a JDK (scripts/bench-query.sh installs those two).
# Extra arguments after the options go to medsearch-index (e.g. --passage-bytes 2000).
# The binaries are brought up to date first (scripts/build.sh, incremental); MEDSEARCH_BIN, a
# folder of built medsearch-index, -search and -eval, is used as it is instead.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
help() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; }
usage_error() { echo "eval: $1" >&2; help >&2; exit 2; }
for a in "$@"; do case "$a" in -h|--help) help; exit 0 ;; esac; done
[ $# -ge 2 ] || usage_error "expected DATASET_DIR SPLIT"
dataset="$1"; split="$2"; shift 2
per_query=0; baselines=(); index=""; index_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --per-query) per_query=1; shift ;;
    --baseline)
      [ $# -ge 2 ] || usage_error "--baseline needs engines (xapian, fts5, lucene)"
      IFS=, read -ra given <<< "$2"
      baselines=()
      for e in ${given[@]+"${given[@]}"}; do
        case "$e" in xapian|fts5|lucene) ;; *) usage_error "--baseline: unknown engine '$e' (known: xapian, fts5, lucene)" ;; esac
        [[ " ${baselines[*]-} " == *" $e "* ]] || baselines+=("$e")  # each once
      done
      [ ${#baselines[@]} -gt 0 ] || usage_error "--baseline needs engines (xapian, fts5, lucene)"
      shift 2 ;;
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
# What the baselines need, checked before any work.
needs() { echo "eval: --baseline $1 needs $2" >&2; exit 2; }
lucene_jars=""
for e in ${baselines[@]+"${baselines[@]}"}; do
  case "$e" in
    xapian|fts5)
      command -v g++ >/dev/null && command -v pkg-config >/dev/null || needs "$e" "g++ and pkg-config (scripts/install-deps.sh)"
      if [ "$e" = xapian ]; then
        pkg-config --exists xapian-core || needs xapian "libxapian-dev (scripts/install-deps.sh)"
      else
        pkg-config --exists sqlite3 || needs fts5 "libsqlite3-dev (apt-get install libsqlite3-dev)"
      fi ;;
    lucene)
      command -v javac >/dev/null && command -v java >/dev/null ||
        needs lucene "a JDK (apt-get install default-jdk-headless; scripts/bench-query.sh installs it)"
      for jar in lucene-core lucene-analyzers-common lucene-queryparser; do
        found="$(dpkg -L liblucene4.10-java 2>/dev/null | grep -E "^/usr/share/java/$jar-4\.10[^/]*\.jar$" | sort | tail -1 || true)"
        [ -n "$found" ] || needs lucene "liblucene4.10-java's $jar jar (apt-get install liblucene4.10-java)"
        lucene_jars+="${lucene_jars:+:}$found"
      done ;;
  esac
done
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
# Scored once with every query's line; those are shown with --per-query and joined with the
# baselines' below.
"$bin/medsearch-eval" --qrels "$dataset/qrels/$split.tsv" --run "$work/run.txt" --per-query >"$work/medsearch.txt"
if [ "$per_query" -eq 1 ]; then cat "$work/medsearch.txt"; else grep -v '=' "$work/medsearch.txt" || true; fi
awk -v s="$start" -v e="$end" -v q="$queries" 'BEGIN { if (q > 0) printf "mean_ms_per_query\t%.2f\n", (e - s) * 1000 / q }'
[ ${#baselines[@]} -gt 0 ] || exit 0

# The baselines: each peer's own indexer from the bench and a run writer that searches as the
# bench's loop does (scripts/bench/README.md), compiled here.
bench="$root/scripts/bench"
compile() {  # $1: program, $2: pkg-config package
  # shellcheck disable=SC2046  # pkg-config's flags are separate words
  g++ -O2 -std=c++17 -I"$bench" -o "$work/$1" "$bench/$1.cc" $(pkg-config --cflags --libs "$2") ||
    { echo "eval: could not compile $bench/$1.cc" >&2; exit 1; }
}
for e in "${baselines[@]}"; do
  index_dir="$work/baseline-$e"
  case "$e" in
    xapian)
      about="plain Xapian BM25: whole documents, QueryParser with the English stemmer (scripts/bench/xapian_trec_run.cc)"
      compile xapian_simpleindex xapian-core; compile xapian_trec_run xapian-core
      index_cmd=("$work/xapian_simpleindex" "$index_dir" "$dataset/corpus.jsonl")
      run_cmd=("$work/xapian_trec_run") ;;
    fts5)
      about="SQLite FTS5 bm25(): title and text, porter unicode61, the words OR'ed (scripts/bench/sqlite_fts5_trec_run.cc)"
      compile sqlite_fts5_index sqlite3; compile sqlite_fts5_trec_run sqlite3
      index_cmd=("$work/sqlite_fts5_index" "$index_dir" "$dataset/corpus.jsonl")
      run_cmd=("$work/sqlite_fts5_trec_run") ;;
    lucene)
      about="Lucene 4.10 BM25: title and text, EnglishAnalyzer (scripts/bench/LuceneTrecRun.java)"
      mkdir -p "$work/java"
      javac -nowarn -d "$work/java" -cp "$lucene_jars" "$bench/LuceneIndex.java" "$bench/LuceneTrecRun.java" ||
        { echo "eval: could not compile the Lucene programs" >&2; exit 1; }
      index_cmd=(java -cp "$lucene_jars:$work/java" LuceneIndex "$index_dir" "$dataset/corpus.jsonl")
      run_cmd=(java -cp "$lucene_jars:$work/java" LuceneTrecRun) ;;
  esac
  "${index_cmd[@]}" >&2 || { echo "eval: the $e baseline's indexing failed" >&2; exit 1; }
  "${run_cmd[@]}" "$index_dir" "$dataset/queries.jsonl" "$work/baseline-$e.run" 100 >&2 ||
    { echo "eval: the $e baseline's run failed" >&2; exit 1; }
  "$bin/medsearch-eval" --qrels "$dataset/qrels/$split.tsv" --run "$work/baseline-$e.run" --per-query \
    >"$work/baseline-$e.txt" 2>/dev/null || { echo "eval: the $e baseline's run could not be scored" >&2; exit 1; }
  printf 'baseline\t%s\t%s\n' "$e" "$about"
  grep -v '=' "$work/baseline-$e.txt" | grep -v '^queries' | sed "s/^\([^\t]*\)\t/baseline_\1\t$e\t/"
  # With --per-query, its per-query lines too: baseline_query<TAB>ENGINE<TAB>QID<TAB>...
  [ "$per_query" -eq 0 ] || grep '=' "$work/baseline-$e.txt" | sed "s/^/baseline_query\t$e\t/"
  # Per metric over the judged queries (each file has every one of them): medsearch minus the
  # baseline, the mean, its standard error (the differences' sample deviation over the square
  # root of their count) and the queries that went up and down.
  awk -F'\t' -v engine="$e" '
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
        printf "gain_%s\t%s\t%+.4f\tse %.4f\tqueries %d\tup %d\tdown %d\n", k, engine, mean, se, n[k], up[k], down[k]
      }
    }' "$work/baseline-$e.txt" "$work/medsearch.txt"
done
