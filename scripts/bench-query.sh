#!/usr/bin/env bash
# Query and serving benchmark (issue 9): medsearch through its library and over HTTP against a
# plain Xapian BM25 loop, Lucene 4.10 and SQLite FTS5, on SciFact and on generated corpora of
# 100k and 1M passages (scripts/gen-corpus), all in one run, one engine at a time. Prints a
# Markdown report and writes it to OUT/bench-query.md; with --publish also to docs/PERFORMANCE.md
# with the plots in docs/. Run by hand, not by ctest; see scripts/bench/README.md.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bench="$root/scripts/bench"

usage() {
  cat <<EOF
usage: scripts/bench-query.sh [--sizes LIST] [--quick] [--data DIR] [--out DIR] [--engines LIST]
                              [--queries-per-set N] [--passes T] [--budget-s S] [--wrk-seconds S] [--seed S]
                              [--reuse] [--keep] [--publish] [--rebuild]

  --sizes LIST        comma-separated corpora: 'scifact' (the real 5,183 abstracts) and passage
                      counts to generate (default: scifact,100000,1000000)
  --quick             small and short: --sizes scifact,20000 --queries-per-set 40 --passes 1 --budget-s 20
                      --wrk-seconds 5 (a smoke run, minutes; its numbers are not the report's)
  --data DIR          shared data folder with scifact/ and nfcorpus/ (default ../shared/data)
  --out DIR           corpora, indexes, logs and bench-query.md (default \${TMPDIR:-/tmp}/medsearch-bench-query);
                      must be outside the repository
  --engines LIST      subset of xapian,medsearch,http,lucene,fts5 (default all; xapian always runs,
                      every ratio is taken against it)
  --queries-per-set N SciFact claims and NFCorpus questions taken (the first N of each file; default
                      200), plus the clinical questions (scripts/bench/clinical-questions.jsonl), interleaved
  --passes T          timed passes over the queries (default 3; every engine the same), so that a
                      slow spell of a shared machine weighs on a third of each question's samples
  --budget-s S        a timed run stops taking queries after S seconds (default 120; FTS5 needs it at 1M)
  --wrk-seconds S     duration of each wrk run (default 20)
  --seed S            gen-corpus seed (default 1)
  --reuse             keep corpora and indexes found in OUT from an earlier run with the same size,
                      seed and engine (skips generation and indexing; the report says so)
  --keep              keep corpora and indexes (default: removed at exit, the report stays)
  --publish           also write docs/PERFORMANCE.md and docs/perf-latency-*.png
  --rebuild           build medsearch (scripts/build.sh) even if the binaries exist

environment: MEDSEARCH_BUILD_DIR (default build), MEDSEARCH_INDEX_ARGS (extra medsearch-index
arguments, word-split; default "--compact")
EOF
}

say() { printf '[bench-query %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'bench-query: %s\n' "$*" >&2; exit 2; }

sizes="scifact,100000,1000000"
data="$root/../shared/data"
out="${TMPDIR:-/tmp}/medsearch-bench-query"
engines_arg="xapian,medsearch,http,lucene,fts5"
per_set=200
passes=3
budget=120
wrk_seconds=20
seed=1
reuse=0
keep=0
publish=0
rebuild=0
quick=0
args_given="$*"
while [ $# -gt 0 ]; do
  case "$1" in
    --sizes) [ $# -ge 2 ] || die "--sizes needs a value"; sizes="$2"; shift 2 ;;
    --quick) quick=1; shift ;;
    --data) [ $# -ge 2 ] || die "--data needs a value"; data="$2"; shift 2 ;;
    --out) [ $# -ge 2 ] || die "--out needs a value"; out="$2"; shift 2 ;;
    --engines) [ $# -ge 2 ] || die "--engines needs a value"; engines_arg="$2"; shift 2 ;;
    --queries-per-set) [ $# -ge 2 ] || die "--queries-per-set needs a value"; per_set="$2"; shift 2 ;;
    --passes) [ $# -ge 2 ] || die "--passes needs a value"; passes="$2"; shift 2 ;;
    --budget-s) [ $# -ge 2 ] || die "--budget-s needs a value"; budget="$2"; shift 2 ;;
    --wrk-seconds) [ $# -ge 2 ] || die "--wrk-seconds needs a value"; wrk_seconds="$2"; shift 2 ;;
    --seed) [ $# -ge 2 ] || die "--seed needs a value"; seed="$2"; shift 2 ;;
    --reuse) reuse=1; shift ;;
    --keep) keep=1; shift ;;
    --publish) publish=1; shift ;;
    --rebuild) rebuild=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
if [ "$quick" -eq 1 ]; then
  [[ " $args_given " == *" --sizes "* ]] || sizes="scifact,20000"
  [[ " $args_given " == *" --queries-per-set "* ]] || per_set=40
  [[ " $args_given " == *" --budget-s "* ]] || budget=20
  [[ " $args_given " == *" --passes "* ]] || passes=1
  [[ " $args_given " == *" --wrk-seconds "* ]] || wrk_seconds=5
fi
for v in per_set passes budget wrk_seconds seed; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "--${v//_/-} must be a whole number, not '${!v}'"
done
[ "$passes" -ge 1 ] || die "--passes must be at least 1"
IFS=',' read -ra size_list <<< "$sizes"
for s in "${size_list[@]}"; do
  [[ "$s" == scifact || "$s" =~ ^[1-9][0-9]*$ ]] || die "--sizes: '$s' is neither 'scifact' nor a passage count"
done
for f in scifact/corpus.jsonl scifact/queries.jsonl nfcorpus/corpus.jsonl nfcorpus/queries.jsonl; do
  [ -r "$data/$f" ] || die "cannot read $data/$f (give the shared data folder with --data DIR)"
done
data="$(cd "$data" && pwd)"

engines=(xapian)
IFS=',' read -ra requested <<< "$engines_arg"
for e in "${requested[@]}"; do
  case "$e" in
    xapian) ;;
    medsearch|http|lucene|fts5) [[ " ${engines[*]} " == *" $e "* ]] || engines+=("$e") ;;
    *) die "unknown engine '$e' (known: xapian, medsearch, http, lucene, fts5)" ;;
  esac
done
wants() { [[ " ${engines[*]} " == *" $1 "* ]]; }

mkdir -p "$out"
out="$(cd "$out" && pwd -P)"
case "$out/" in
  "$(cd "$root" && pwd -P)"/*) die "--out $out is inside the repository; give a folder outside it" ;;
esac

# ---------------------------------------------------------------------------------------------------
# Packages: checked every run, installed (as root, or via sudo) only when missing.
ensure_packages() {
  local packages=(g++ pkg-config libxapian-dev nlohmann-json3-dev time python3 gnuplot-nox)
  wants fts5 && packages+=(libsqlite3-dev)
  wants lucene && packages+=(liblucene4.10-java)
  wants lucene && ! command -v javac >/dev/null 2>&1 && packages+=(default-jdk-headless)
  wants http && packages+=(wrk curl)
  local missing=() p
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local as_root=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "missing packages (${missing[*]}) and not root; install them or rerun as root"
    as_root=(sudo)
  fi
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
ensure_packages

work="$out/work"
mkdir -p "$work"
server_pid=""
cleanup() {
  local status=$?
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill "$server_pid" 2>/dev/null || true; fi
  if [ "$keep" -eq 0 ] && [ "$reuse" -eq 0 ]; then
    rm -rf "$out"/corpus-* "$work"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------------
# Programs: medsearch's from the build (private copies), the peers compiled here as in bench-index.sh.
build_dir="${MEDSEARCH_BUILD_DIR:-$root/build}"
need_targets="medsearch-index medsearch-query-bench medsearch-server"
missing_bin=0
for t in $need_targets; do [ -x "$build_dir/bin/$t" ] || missing_bin=1; done
if [ "$rebuild" -eq 1 ] || [ "$missing_bin" -eq 1 ]; then
  say "building $need_targets with scripts/build.sh"
  MEDSEARCH_TARGETS="$need_targets" "$root/scripts/build.sh"
fi
mkdir -p "$work/bin"
for t in $need_targets; do
  [ -x "$build_dir/bin/$t" ] || die "no $build_dir/bin/$t after scripts/build.sh"
  cp "$build_dir/bin/$t" "$work/bin/$t"
done
medsearch_built="$(date -r "$build_dir/bin/medsearch-query-bench" '+%Y-%m-%d %H:%M')"

say "compiling the peers"
# shellcheck disable=SC2046
g++ -O2 -std=c++17 -o "$work/bin/xapian_simpleindex" "$bench/xapian_simpleindex.cc" $(pkg-config --cflags --libs xapian-core)
# shellcheck disable=SC2046
g++ -O2 -std=c++17 -I"$bench" -o "$work/bin/xapian_simplesearch" "$bench/xapian_simplesearch.cc" $(pkg-config --cflags --libs xapian-core) -pthread
if wants fts5; then
  # shellcheck disable=SC2046
  g++ -O2 -std=c++17 -o "$work/bin/sqlite_fts5_index" "$bench/sqlite_fts5_index.cc" $(pkg-config --cflags --libs sqlite3)
  # shellcheck disable=SC2046
  g++ -O2 -std=c++17 -I"$bench" -o "$work/bin/sqlite_fts5_search" "$bench/sqlite_fts5_search.cc" $(pkg-config --cflags --libs sqlite3) -pthread
fi
lucene_cp=""
if wants lucene; then
  find_jar() { dpkg -L liblucene4.10-java | grep -E "^/usr/share/java/$1-4\.10[^/]*\.jar$" | sort | tail -1; }
  jars="$(find_jar lucene-core):$(find_jar lucene-analyzers-common):$(find_jar lucene-queryparser)"
  [[ "$jars" != *::* && "$jars" != :* && "$jars" != *: ]] || die "liblucene4.10-java lacks core, analyzers-common or queryparser 4.10 jars"
  mkdir -p "$work/java"
  javac -nowarn -d "$work/java" -cp "$jars" "$bench/LuceneIndex.java" "$bench/LuceneSearch.java"
  lucene_cp="$jars:$work/java"
fi

# ---------------------------------------------------------------------------------------------------
# Queries: the first N SciFact claims and NFCorpus questions and the clinical questions,
# interleaved (so a run cut by --budget-s still has every set), as "set<TAB>id<TAB>text", and the
# same as /search URL paths for wrk.
queries="$work/queries.tsv"
python3 - "$data" "$bench/clinical-questions.jsonl" "$per_set" "$queries" "$work/paths.txt" <<'PY'
import json, sys, urllib.parse
data, clinical, n, tsv, paths = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
def load(path, limit=None):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                text = " ".join(r["text"].split())
                if text:
                    rows.append((r["_id"], text))
    return rows[:limit] if limit else rows
sets = [("scifact", load(f"{data}/scifact/queries.jsonl", n)), ("nfcorpus", load(f"{data}/nfcorpus/queries.jsonl", n)),
        ("clinical", load(clinical))]
out = []
for i in range(max(len(s) for _, s in sets)):
    for name, rows in sets:
        if i < len(rows):
            out.append((name,) + rows[i])
with open(tsv, "w", encoding="utf-8") as f, open(paths, "w", encoding="utf-8") as p:
    for name, qid, text in out:
        f.write(f"{name}\t{qid}\t{text}\n")
        p.write("/search?limit=10&q=" + urllib.parse.quote(text, safe="") + "\n")
print(" ".join(f"{name}={len(rows)}" for name, rows in sets), file=sys.stderr)
PY
query_count=$(wc -l < "$queries")
say "queries: $query_count in $queries"

# ---------------------------------------------------------------------------------------------------
# Measuring. results.tsv: one row per timed run; sets.tsv: per-query-set percentiles (1 thread).
results="$out/results.tsv"
sets_tsv="$out/sets.tsv"
printf 'corpus\tkind\tpassages\tengine\tthreads\tn\terrors\tp50\tp95\tp99\tmean\tqps\trss_kb\tindex_bytes\tload\tcorpus_note\tcpu_p50\tcpu_p99\n' > "$results"
printf 'corpus\tengine\tset\tn\tp50\tp99\n' > "$sets_tsv"
loads=()

# record CORPUS KIND PASSAGES ENGINE THREADS LATENCY_FILE SUMMARY_LINE TIME_FILE INDEX_BYTES NOTE
record() {
  local corpus="$1" kind="$2" passages="$3" engine="$4" threads="$5" lat="$6" summary="$7" timef="$8" ibytes="$9" note="${10}"
  local st qps rss load
  st=$(python3 "$bench/query_report.py" stats "$lat")
  qps=$(awk '{ for (i = 1; i < NF; i++) if ($i == "qps") print $(i + 1) }' <<< "$summary")
  rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$timef")
  load="$(cut -d' ' -f1 /proc/loadavg)"
  read -r n errors p50 p95 p99 mean cpu50 cpu99 <<< "$(head -1 <<< "$st")"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$corpus" "$kind" "$passages" "$engine" "$threads" \
    "$n" "$errors" "$p50" "$p95" "$p99" "$mean" "$qps" "$rss" "$ibytes" "$load" "$note" "$cpu50" "$cpu99" >> "$results"
  if [ "$threads" = 1 ]; then
    tail -n +2 <<< "$st" | awk -v c="$corpus" -v e="$engine" '{ printf "%s\t%s\t%s\t%s\t%s\t%s\n", c, e, $2, $3, $4, $5 }' >> "$sets_tsv"
  fi
  say "$corpus $engine x$threads: n=$n errors=$errors p50=$p50 p95=$p95 p99=$p99 ms (CPU p50 $cpu50 p99 $cpu99), $qps q/s, RSS $((rss / 1024)) MB (load $load)"
}

# timed ENGINE_LABEL TIME_FILE LOG COMMAND...: runs COMMAND under /usr/bin/time -v; prints its summary line.
timed() {
  local label="$1" timef="$2" log="$3"
  shift 3
  if ! /usr/bin/time -v -o "$timef" "$@" >"$log" 2>"$log.err"; then
    tail -n 20 "$log.err" >&2
    die "$label failed: $*"
  fi
  grep -E '^queries [0-9]+' "$log" | tail -1
}

# index_once ENGINE DIR COMMAND...: builds DIR unless --reuse finds it complete.
index_once() {
  local engine="$1" dir="$2"
  shift 2
  if [ "$reuse" -eq 1 ] && [ -e "$dir.done" ]; then
    say "reusing $dir"
    return 0
  fi
  rm -rf "$dir" "$dir.done"
  [ "$engine" != fts5 ] || mkdir -p "$dir"
  say "indexing with $engine: $*"
  local start end rc=0
  start=$(date +%s%N)
  "$@" >"$dir.log" 2>&1 || rc=$?
  end=$(date +%s%N)
  if [ "$rc" -ne 0 ] && ! { [ "$engine" = medsearch ] && [ "$rc" -eq 1 ]; }; then
    tail -n 20 "$dir.log" >&2
    die "indexing with $engine failed (exit $rc)"
  fi
  awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f\n", (e - s) / 1e9 }' > "$dir.seconds"
  touch "$dir.done"
}

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

for size in "${size_list[@]}"; do
  if [ "$size" = scifact ]; then
    corpus="SciFact"; kind=real; cdir="$out/corpus-scifact"
    mkdir -p "$cdir"
    peer_input="$data/scifact/corpus.jsonl"; ms_input="$data/scifact/corpus.jsonl"; ms_format=beir
    passages=$(wc -l < "$peer_input")
    note="The real corpus: the peers index its $passages abstracts as documents, medsearch splits them into passages (the same text)."
  else
    corpus="generated $(awk -v n="$size" 'BEGIN { if (n >= 1e6 && n % 1e6 == 0) printf "%dM", n / 1e6; else if (n >= 1e3 && n % 1e3 == 0) printf "%dk", n / 1e3; else print n }')"
    kind=generated; cdir="$out/corpus-$size-s$seed"
    if [ "$reuse" -eq 1 ] && [ -s "$cdir/manifest.json" ]; then
      say "reusing $cdir"
    else
      say "generating $size passages into $cdir"
      "$root/scripts/gen-corpus" --passages "$size" --seed "$seed" --data "$data" --out "$cdir"
    fi
    peer_input="$cdir/passages.jsonl"; ms_input="$cdir/native.jsonl"; ms_format=medsearch
    passages="$size"
    note="$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); b=m["by_source"]; print("Generated by scripts/gen-corpus --seed %d: %d records, passages %s; every engine indexes the same passages (peers: scripts/gen-corpus passages.jsonl)." % (m["seed"], m["records"], ", ".join("%s %d" % (k, v["passages"]) for k, v in sorted(b.items()))))' "$cdir/manifest.json")"
  fi

  # Indexes.
  index_once xapian "$cdir/xapian" env -u XAPIAN_FLUSH_THRESHOLD "$work/bin/xapian_simpleindex" "$cdir/xapian" "$peer_input"
  if wants medsearch || wants http; then
    read -ra ms_extra <<< "${MEDSEARCH_INDEX_ARGS:---compact}"
    index_once medsearch "$cdir/medsearch" "$work/bin/medsearch-index" --db "$cdir/medsearch" --format "$ms_format" -q --progress none "${ms_extra[@]}" "$ms_input"
    ms_passages=$("$work/bin/xapian_simpleindex" --check "$cdir/medsearch" 2>/dev/null | awk '$1 == "docs" { print $2 }')
    [ "$kind" = real ] && note+=" medsearch: $ms_passages passages."
    if [ "$kind" = generated ] && [ "$ms_passages" != "$size" ]; then
      say "warning: medsearch holds $ms_passages passages, generated $size"
      note+=" medsearch holds $ms_passages passages."
    fi
  fi
  wants lucene && index_once lucene "$cdir/lucene" java -cp "$lucene_cp" LuceneIndex "$cdir/lucene" "$peer_input"
  wants fts5 && index_once fts5 "$cdir/fts5" "$work/bin/sqlite_fts5_index" "$cdir/fts5/index.db" "$peer_input"

  size_of() { du -sb "$1" | cut -f1; }
  sync

  # Library paths, 1 then 2 threads.
  for threads in 1 2; do
    s=$(timed xapian "$work/t.time" "$work/run.log" "$work/bin/xapian_simplesearch" --index "$cdir/xapian" \
          --queries "$queries" --out "$work/lat.tsv" --threads "$threads" --warmup 1 --passes "$passes" --budget-s "$budget")
    record "$corpus" "$kind" "$passages" xapian "$threads" "$work/lat.tsv" "$s" "$work/t.time" "$(size_of "$cdir/xapian")" "$note"
  done
  if wants medsearch; then
    # HTTP follows these runs, before the peers': its target is a share of the full library
    # rate at 2 threads, and this machine's speed drifts over the minutes the peers' runs take.
    # Full runs first, as the targets are its figures: at 1M whichever configuration runs first
    # after the plain loop can come out slower (scripts/bench/README.md).
    for config in full bare; do
      if [ "$config" = full ]; then flags=(--snippets 300 --facets 1); else flags=(--snippets 0 --facets 0); fi
      for threads in 1 2; do
        s=$(timed medsearch "$work/t.time" "$work/run.log" "$work/bin/medsearch-query-bench" --index "$cdir/medsearch" \
              --queries "$queries" --out "$work/lat.tsv" --threads "$threads" --warmup 1 --passes "$passes" --budget-s "$budget" "${flags[@]}")
        record "$corpus" "$kind" "$passages" "medsearch-$config" "$threads" "$work/lat.tsv" "$s" "$work/t.time" "$(size_of "$cdir/medsearch")" "$note"
      done
    done
  fi
  # HTTP: medsearch-server as shipped (default worker threads), wrk on the same machine cycling the
  # same queries as GET /search?q=...&limit=10 (facets and 300-byte snippets on: the server's defaults).
  if wants http; then
    port=$(free_port)
    "$work/bin/medsearch-server" --db "$cdir/medsearch" --port "$port" --quiet >"$work/server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 300); do
      curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
      kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; die "medsearch-server exited"; }
      sleep 0.1
    done
    curl -fsS "http://127.0.0.1:$port/health" >/dev/null || die "medsearch-server did not answer on port $port"
    # Warm-up: one pass over the queries, as the library runs get.
    wrk -t1 -c1 -d"$(( wrk_seconds / 4 + 1 ))"s --timeout 10s -s "$bench/wrk-queries.lua" "http://127.0.0.1:$port" -- "$work/paths.txt" >/dev/null
    # Connections 1 (unloaded latency), then 2, 4 and 8: the report takes the fewest that reach
    # 95% of the best throughput as saturation; past it, more connections only queue.
    for conf in "1 1" "2 2" "2 4" "2 8"; do
      read -r wt wc <<< "$conf"
      wrk -t"$wt" -c"$wc" -d"${wrk_seconds}"s --timeout 10s --latency -s "$bench/wrk-queries.lua" "http://127.0.0.1:$port" -- "$work/paths.txt" > "$work/wrk.log"
      req=$(awk '$1 == "wrk_requests" { print $2 }' "$work/wrk.log")
      secs=$(awk '$1 == "wrk_seconds" { print $2 }' "$work/wrk.log")
      errs=$(awk '$1 == "wrk_errors" { print $2 }' "$work/wrk.log")
      p() { awk -v k="wrk_p$1_ms" '$1 == k { print $2 }' "$work/wrk.log"; }
      rss=$(awk '/^VmHWM/ { print $2 }' "/proc/$server_pid/status")
      threads_label=$wc  # HTTP rows are keyed by connections
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\t\n' "$corpus" "$kind" "$passages" http "$threads_label" \
        "$req" "$errs" "$(p 50)" "$(p 95)" "$(p 99)" "" "$(awk -v r="$req" -v s="$secs" 'BEGIN { printf "%.2f", r / s }')" \
        "$rss" "$(size_of "$cdir/medsearch")" "$(cut -d' ' -f1 /proc/loadavg)" "$note" >> "$results"
      say "$corpus http wrk -t$wt -c$wc: $req requests in $secs s, errors $errs, p50 $(p 50) p99 $(p 99) ms, server VmHWM $((rss / 1024)) MB"
    done
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
  if wants lucene; then
    for threads in 1 2; do
      # JIT warm-up: at least three passes and 5,000 queries (within the budget) before the clock starts.
      s=$(timed lucene "$work/t.time" "$work/run.log" java -cp "$lucene_cp" LuceneSearch --index "$cdir/lucene" \
            --queries "$queries" --out "$work/lat.tsv" --threads "$threads" --warmup 3 --warmup-queries 5000 --passes "$passes" --budget-s "$budget")
      record "$corpus" "$kind" "$passages" lucene "$threads" "$work/lat.tsv" "$s" "$work/t.time" "$(size_of "$cdir/lucene")" "$note"
    done
  fi
  if wants fts5; then
    for threads in 1 2; do
      s=$(timed fts5 "$work/t.time" "$work/run.log" "$work/bin/sqlite_fts5_search" --index "$cdir/fts5/index.db" \
            --queries "$queries" --out "$work/lat.tsv" --threads "$threads" --warmup 1 --passes "$passes" --budget-s "$budget")
      record "$corpus" "$kind" "$passages" fts5 "$threads" "$work/lat.tsv" "$s" "$work/t.time" "$(size_of "$cdir/fts5")" "$note"
    done
  fi

  loads+=("$corpus: $(cut -d' ' -f1-3 /proc/loadavg)")
  if [ "$keep" -eq 0 ] && [ "$reuse" -eq 0 ]; then rm -rf "$cdir"; fi
done

# ---------------------------------------------------------------------------------------------------
# Report.
cpu_model="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
mem_gib="$(awk '/^MemTotal/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)"
rev="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
[ -z "$(git -C "$root" status --porcelain -- searcher server corpus 2>/dev/null || true)" ] || rev+=" with local changes in searcher/, server/ or corpus/"
{
  echo "# Query and serving performance"
  echo
  echo "Measured by \`scripts/bench-query.sh\` (issue 9): every engine answers the same questions over the same"
  echo "text, one engine at a time on one machine, top 10 hits; figures are ratios within this run."
  echo
  echo "- Date: $(date -u +%Y-%m-%dT%H:%M:%SZ); medsearch at $rev (binaries built $medsearch_built); Xapian $(pkg-config --modversion xapian-core)"
  wants lucene && echo "- Lucene $(basename "$(dpkg -L liblucene4.10-java | grep -E '/usr/share/java/lucene-core-4' | head -1)" .jar | sed 's/lucene-core-//') on $(java -version 2>&1 | head -1 | tr -d '"'); SQLite $(pkg-config --modversion sqlite3 2>/dev/null || echo '?'); $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)"
  echo "- Machine: $(nproc) cores, ${cpu_model:-unknown CPU}, ${mem_gib} GiB memory, Linux $(uname -r); shared with other engineers' builds"
  echo "- Load average (1, 5, 15 min) after each corpus: $(printf '%s; ' "${loads[@]}" | sed 's/; $//')"
  awk -F'\t' 'NR > 1 && $15 > 2 { busy = 1 } END { exit !busy }' "$results" && \
    echo "- **Warning**: the machine was busy (1-minute load above 2 during some runs): absolute numbers are pessimistic and noisy; compare ratios"
  echo "- Queries: $query_count a pass, interleaved: the first $per_set SciFact claims, the first $per_set NFCorpus queries and $(wc -l < "$bench/clinical-questions.jsonl") clinical questions (\`scripts/bench/clinical-questions.jsonl\`); one untimed warm-up pass (for Lucene's JIT: at least three passes and 5,000 queries), then $passes timed pass(es), cut after $budget s (the last column shows how many queries were timed)"
  echo "- medsearch index: \`medsearch-index ${MEDSEARCH_INDEX_ARGS:---compact}\` (2 shards while indexing, compacted into one database); peers as in scripts/bench/README.md"
  echo "- HTTP: wrk $wrk_seconds s, \`-t1 -c1\`, then \`-t2\` with \`-c2\`, \`-c4\` and \`-c8\` (saturation: the fewest connections reaching 95% of the best throughput), \`--timeout 10s\` (wrk's default of 2 s would count slow answers as errors), GET /search?q=…&limit=10 on medsearch-server with its default worker threads, run right after medsearch's library runs (all on, then bare; HTTP's target compares it with the 2-thread all-on run), before the peers'"
} > "$out/env.md"
{
  echo "## Rerunning"
  echo
  echo '```sh'
  echo "scripts/install-deps.sh && scripts/build.sh                  # release build: medsearch-query-bench, -server, -index"
  echo "scripts/bench-query.sh $args_given"
  echo "scripts/bench-query.sh --quick                               # a few minutes: SciFact and 20k passages"
  echo "scripts/gen-corpus --passages 100000 --seed 1 --out /tmp/gen100k   # just the corpus"
  echo '```'
} > "$out/commands.md"

python3 "$bench/query_report.py" report "$out" "$out/bench-query.md" "$out"
if [ "$publish" -eq 1 ]; then
  python3 "$bench/query_report.py" report "$out" "$root/docs/PERFORMANCE.md" "$root/docs"
  say "published docs/PERFORMANCE.md and docs/perf-latency-*.png"
fi
cat "$out/bench-query.md"
say "report written to $out/bench-query.md"
