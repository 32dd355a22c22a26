#!/usr/bin/env bash
# Issue 4's latency budget, measured: on one index per BEIR-format collection, every query of
# queries.jsonl through `medsearch-search --queries --run` (top 100 records, as an evaluation
# run) with everything on and with plain BM25 (`--no-rerank`: no feedback, no second stage),
# alternated for N rounds after one unmeasured pass of each (each round starts with the mode the
# last one ended with, so neither mode always runs first). Prints p50 / p95 / p99 per mode and the ratios of each round's
# everything-on figures to the same round's BM25 figures, against the budget: p50 at most 1.5x,
# p99 at most 2x. A benchmark, not a test: this 2-core VM's speed drifts, hence the rounds.
#
#   scripts/bench-latency.sh ../shared/data/scifact ../shared/data/nfcorpus
#   scripts/bench-latency.sh --rounds 5 --index-root /tmp/lat ../shared/data/nfcorpus
#
#   --rounds N        rounds of the two modes (default 3)
#   --index-root DIR  keep each collection's index in DIR/<name> and reuse it when present
#                     (default: indexed afresh into a temporary folder, removed at exit)
#   --limit N         records a query (default 100, as scripts/eval.sh)
# Extra arguments after the options go to medsearch-index (e.g. --passage-bytes 2000).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
die() { printf 'bench-latency: %s\n' "$*" >&2; exit 2; }

rounds=3; index_root=""; limit=100; datasets=(); index_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) [ $# -ge 2 ] || die "--rounds needs a value"; rounds="$2"; shift 2 ;;
    --index-root) [ $# -ge 2 ] || die "--index-root needs a value"; index_root="$2"; shift 2 ;;
    --limit) [ $# -ge 2 ] || die "--limit needs a value"; limit="$2"; shift 2 ;;
    -h|--help) usage ;;
    -*) index_args+=("$1"); shift ;;
    *) datasets+=("$1"); shift ;;
  esac
done
[ "${#datasets[@]}" -gt 0 ] || usage
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a whole number of at least 1, not '$rounds'"
[[ "$limit" =~ ^[1-9][0-9]*$ ]] || die "--limit must be a whole number of at least 1, not '$limit'"
for d in "${datasets[@]}"; do
  for f in corpus.jsonl queries.jsonl; do [ -f "$d/$f" ] || die "$d/$f not found (a BEIR-format folder is needed)"; done
done

bin="${MEDSEARCH_BUILD_DIR:-$root/build}/bin"
if [ ! -x "$bin/medsearch-index" ] || [ ! -x "$bin/medsearch-search" ]; then
  "$root/scripts/install-deps.sh"
  MEDSEARCH_TARGETS="medsearch-index medsearch-search" "$root/scripts/build.sh"
fi
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
[ -n "$index_root" ] && mkdir -p "$index_root"

# run_mode INDEX QUERIES MODE OUT: one pass over the queries (MODE bm25: --no-rerank; all:
# everything on); appends "p50 p95 p99" to OUT.
run_mode() {
  local index="$1" queries="$2" mode="$3" out="$4" args=()
  [ "$mode" = bm25 ] && args+=(--no-rerank)
  if ! "$bin/medsearch-search" --db "$index" --queries "$queries" --run "$work/run.txt" --limit "$limit" \
      "${args[@]}" 2>"$work/search.err"; then
    cat "$work/search.err" >&2
    die "medsearch-search failed on $queries ($mode)"
  fi
  local line
  line=$(grep -m1 '^latency ms per query:' "$work/search.err") || die "medsearch-search printed no latency line"
  # "latency ms per query: p50 3.43, p95 4.41, p99 9.83, mean 3.47"
  awk '{ gsub(",", ""); print $6, $8, $10 }' <<<"$line" >>"$out"
}

printf '| collection | queries | mode | p50 ms | p95 ms | p99 ms | everything on / BM25, p50 | p99 | within budget (p50 ≤ 1.5x, p99 ≤ 2x) |\n'
printf '| --- | ---: | --- | --- | --- | --- | --- | --- | --- |\n'
for d in "${datasets[@]}"; do
  name="$(basename "$(cd "$d" && pwd)")"
  if [ -n "$index_root" ]; then index="$index_root/$name"; else index="$work/index-$name"; fi
  if [ ! -e "$index" ]; then
    printf 'bench-latency: indexing %s into %s\n' "$d/corpus.jsonl" "$index" >&2
    "$bin/medsearch-index" --db "$index" --progress none -q "${index_args[@]}" "$d/corpus.jsonl" >&2
  fi
  queries=$(grep -c . "$d/queries.jsonl")
  # One unmeasured pass of each mode first: the index's blocks in the page cache for both.
  : >"$work/warm"
  run_mode "$index" "$d/queries.jsonl" bm25 "$work/warm"
  run_mode "$index" "$d/queries.jsonl" all "$work/warm"
  : >"$work/bm25"; : >"$work/all"
  first=bm25
  for ((r = 1; r <= rounds; r++)); do
    if [ "$first" = bm25 ]; then order=(bm25 all); else order=(all bm25); fi
    for mode in "${order[@]}"; do run_mode "$index" "$d/queries.jsonl" "$mode" "$work/$mode"; done
    first="${order[1]}"
    printf 'bench-latency: %s round %d of %d: BM25 %s; everything on %s (p50 p95 p99 ms)\n' "$name" "$r" "$rounds" \
      "$(tail -1 "$work/bm25")" "$(tail -1 "$work/all")" >&2
  done
  # Per mode: min-max over rounds of each percentile. Ratios: each round's own, min-max and median.
  paste -d' ' "$work/bm25" "$work/all" | awk -v name="$name" -v q="$queries" '
    function range(a, n,   i, lo, hi) {
      lo = hi = a[1]
      for (i = 2; i <= n; i++) { if (a[i] < lo) lo = a[i]; if (a[i] > hi) hi = a[i] }
      return (lo == hi) ? sprintf("%.2f", lo) : sprintf("%.2f–%.2f", lo, hi)
    }
    function median(a, n,   i, j, t, b) {
      for (i = 1; i <= n; i++) b[i] = a[i]
      for (i = 2; i <= n; i++) for (j = i; j > 1 && b[j - 1] > b[j]; j--) { t = b[j]; b[j] = b[j - 1]; b[j - 1] = t }
      return (n % 2) ? b[(n + 1) / 2] : (b[n / 2] + b[n / 2 + 1]) / 2
    }
    {
      n++
      b50[n] = $1; b95[n] = $2; b99[n] = $3; a50[n] = $4; a95[n] = $5; a99[n] = $6
      r50[n] = ($1 > 0) ? $4 / $1 : 0; r99[n] = ($3 > 0) ? $6 / $3 : 0
    }
    END {
      m50 = median(r50, n); m99 = median(r99, n)
      verdict = (m50 <= 1.5 && m99 <= 2.0) ? "yes" : ((m50 <= 1.5) ? "p50 yes, p99 no" : ((m99 <= 2.0) ? "p50 no, p99 yes" : "no"))
      printf "| %s | %d | BM25 only | %s | %s | %s | | | |\n", name, q, range(b50, n), range(b95, n), range(b99, n)
      printf "| %s | %d | everything on | %s | %s | %s | %.2fx (%sx) | %.2fx (%sx) | %s |\n", name, q,
        range(a50, n), range(a95, n), range(a99, n), m50, range(r50, n), m99, range(r99, n), verdict
    }'
done
printf '\nRatios: the median of the rounds, with their range in brackets; each round compares the two modes run\n'
printf 'one after the other on the same index. %d round(s), top %d records a query, %s.\n' "$rounds" "$limit" \
  "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
