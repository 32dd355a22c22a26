#!/usr/bin/env bash
# Bulk-indexing benchmark: medsearch-index against a plain Xapian loop, Lucene 4.10 and SQLite FTS5,
# all indexing the same BEIR JSONL file (SciFact repeated to N records) one after another, each into a
# fresh folder under OUT. Prints a Markdown report and writes it to OUT/bench-index.md.
# Run by hand, not by ctest; see scripts/bench/README.md.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bench="$root/scripts/bench"

usage() {
  cat <<EOF
usage: scripts/bench-index.sh [--records N] [--rounds N] [--data DIR] [--out DIR] [--keep] [--engines LIST] [--rebuild]

  --records N     records in the benchmark corpus (default 100000): SciFact repeated with ids <_id>-r<k>
  --rounds N      run every engine N times (default 3), interleaved, each round starting with the next
                  engine, and report each engine's median run by wall time: on a machine whose speed
                  drifts from minute to minute, one run after another can favour whichever ran in a fast
                  minute (1 for a quick look; with an even N the faster of the middle two is shown)
  --data DIR      shared data folder holding scifact/corpus.jsonl (default: ../shared/data from the repo)
  --out DIR       where the indexes and bench-index.md go (default: \${TMPDIR:-/tmp}/medsearch-bench-index);
                  must be outside the repository; each engine gets a fresh OUT/<engine> folder
  --keep          keep the indexes, the corpus, the compiled peers and the logs (default: removed at exit;
                  bench-index.md stays)
  --engines LIST  comma-separated subset of xapian,medsearch,lucene,fts5 (default: all four; the plain
                  Xapian loop is always run, since every ratio is taken against it)
  --rebuild       run scripts/build.sh for medsearch-index even if build/bin/medsearch-index exists

environment:
  MEDSEARCH_INDEX_ARGS  extra arguments for medsearch-index (e.g. "--shards 2"), word-split
  MEDSEARCH_BUILD_DIR   build folder (default: build), as for scripts/build.sh
EOF
}

say() { printf '[bench-index %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'bench-index: %s\n' "$*" >&2; exit 2; }

records=100000
rounds=3
data="$root/../shared/data"
out="${TMPDIR:-/tmp}/medsearch-bench-index"
keep=0
engines_arg="xapian,medsearch,lucene,fts5"
rebuild=0
while [ $# -gt 0 ]; do
  case "$1" in
    --records) [ $# -ge 2 ] || die "--records needs a value"; records="$2"; shift 2 ;;
    --records=*) records="${1#*=}"; shift ;;
    --rounds) [ $# -ge 2 ] || die "--rounds needs a value"; rounds="$2"; shift 2 ;;
    --rounds=*) rounds="${1#*=}"; shift ;;
    --data) [ $# -ge 2 ] || die "--data needs a value"; data="$2"; shift 2 ;;
    --data=*) data="${1#*=}"; shift ;;
    --out) [ $# -ge 2 ] || die "--out needs a value"; out="$2"; shift 2 ;;
    --out=*) out="${1#*=}"; shift ;;
    --engines) [ $# -ge 2 ] || die "--engines needs a value"; engines_arg="$2"; shift 2 ;;
    --engines=*) engines_arg="${1#*=}"; shift ;;
    --keep) keep=1; shift ;;
    --rebuild) rebuild=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

[[ "$records" =~ ^[1-9][0-9]*$ ]] || die "--records must be a positive whole number, not '$records'"
[[ "$rounds" =~ ^[1-9][0-9]?$ ]] || die "--rounds must be a whole number from 1 to 99, not '$rounds'"
source_corpus="$data/scifact/corpus.jsonl"
[ -r "$source_corpus" ] || die "cannot read $source_corpus (give the shared data folder with --data DIR)"
source_corpus="$(cd "$(dirname "$source_corpus")" && pwd)/corpus.jsonl"

# Engines: the plain Xapian loop always runs first (it is the baseline), the others in the order given.
engines=(xapian)
IFS=',' read -ra requested <<< "$engines_arg"
for e in "${requested[@]}"; do
  case "$e" in
    xapian) ;;
    medsearch|lucene|fts5) [[ " ${engines[*]} " == *" $e "* ]] || engines+=("$e") ;;
    *) die "unknown engine '$e' (known: xapian, medsearch, lucene, fts5)" ;;
  esac
done
wants() { [[ " ${engines[*]} " == *" $1 "* ]]; }

mkdir -p "$out"
out="$(cd "$out" && pwd -P)"
root_real="$(cd "$root" && pwd -P)"
case "$out/" in
  "$root_real"/*) die "--out $out is inside the repository; give a folder outside it (default: \${TMPDIR:-/tmp}/medsearch-bench-index)" ;;
esac

# ---------------------------------------------------------------------------------------------------
# Packages: checked every run, installed (as root, or via sudo) only when missing. Idempotent.
ensure_packages() {
  local packages=(g++ pkg-config libxapian-dev nlohmann-json3-dev time python3)
  wants fts5 && packages+=(libsqlite3-dev)
  wants lucene && packages+=(liblucene4.10-java)
  wants lucene && ! command -v javac >/dev/null 2>&1 && packages+=(default-jdk-headless)
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

# ---------------------------------------------------------------------------------------------------
# Work folder (corpus, compiled peers, logs) and the index folders, all under OUT on one disk.
work="$(mktemp -d "$out/work.XXXXXX")"
index_dirs=()
cleanup() {
  local status=$?
  if [ "$keep" -eq 1 ]; then
    say "kept: $work (corpus, programs, logs) and ${index_dirs[*]:-no indexes}"
  else
    rm -rf "$work"
    local d
    for d in "${index_dirs[@]}"; do rm -rf "$d"; done
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------------
# Corpus: SciFact repeated to exactly N records, ids <_id>-r<k> (k = the pass over SciFact, from 0).
corpus="$work/scifact-x-$records.jsonl"
say "writing $records records from $source_corpus to $corpus"
python3 - "$source_corpus" "$records" "$corpus" <<'PY'
import json, sys
source, wanted, target = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(source, encoding="utf-8") as f:
    rows = [json.loads(line) for line in f if line.strip()]
if not rows:
    sys.exit(f"bench-index: {source} has no records")
written = 0
with open(target, "w", encoding="utf-8") as out:
    k = 0
    while written < wanted:
        for row in rows:
            if written == wanted:
                break
            row = dict(row)
            row["_id"] = f'{row["_id"]}-r{k}'
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            written += 1
        k += 1
PY
corpus_bytes=$(stat -c %s "$corpus")
corpus_lines=$(wc -l < "$corpus")
[ "$corpus_lines" -eq "$records" ] || die "corpus has $corpus_lines lines, wanted $records"
corpus_mb=$(awk -v b="$corpus_bytes" 'BEGIN { printf "%.1f", b / 1e6 }')
say "corpus: $records records, $corpus_mb MB ($corpus_bytes bytes), $(awk -v b="$corpus_bytes" -v n="$records" 'BEGIN { printf "%.0f", b / n }') bytes a record"

# ---------------------------------------------------------------------------------------------------
# Programs.
say "compiling the plain Xapian loop"
# shellcheck disable=SC2046
g++ -O2 -std=c++17 -o "$work/xapian_simpleindex" "$bench/xapian_simpleindex.cc" $(pkg-config --cflags --libs xapian-core)

if wants fts5; then
  say "compiling the SQLite FTS5 loader"
  # shellcheck disable=SC2046
  g++ -O2 -std=c++17 -o "$work/sqlite_fts5_index" "$bench/sqlite_fts5_index.cc" $(pkg-config --cflags --libs sqlite3)
fi

lucene_cp=""
if wants lucene; then
  find_jar() {  # $1: artifact name, e.g. lucene-core; prefers the versioned 4.10 jar of liblucene4.10-java
    dpkg -L liblucene4.10-java | grep -E "^/usr/share/java/$1-4\.10[^/]*\.jar$" | sort | tail -1
  }
  core_jar="$(find_jar lucene-core)"
  analyzers_jar="$(find_jar lucene-analyzers-common)"
  if [ -z "$core_jar" ] || [ -z "$analyzers_jar" ]; then
    die "liblucene4.10-java ships no lucene-core / lucene-analyzers-common 4.10 jar"
  fi
  mkdir -p "$work/java"
  say "compiling LuceneIndex.java against $(basename "$core_jar") and $(basename "$analyzers_jar")"
  javac -nowarn -d "$work/java" -cp "$core_jar:$analyzers_jar" "$bench/LuceneIndex.java"
  lucene_cp="$core_jar:$analyzers_jar:$work/java"
fi

medsearch_rev="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [ -n "$(git -C "$root" status --porcelain -- indexer corpus 2>/dev/null || true)" ]; then
  medsearch_rev+=" with indexer/ or corpus/ changes"
fi
build_dir="${MEDSEARCH_BUILD_DIR:-$root/build}"
medsearch_bin="$build_dir/bin/medsearch-index"
medsearch_extra=()
if wants medsearch; then
  read -ra medsearch_extra <<< "${MEDSEARCH_INDEX_ARGS:-}"
  if [ "$rebuild" -eq 1 ] || [ ! -x "$medsearch_bin" ]; then
    say "building medsearch-index with scripts/build.sh"
    "$root/scripts/install-deps.sh"
    MEDSEARCH_TARGETS=medsearch-index "$root/scripts/build.sh"
  fi
  [ -x "$medsearch_bin" ] || die "no $medsearch_bin after scripts/build.sh"
  # A private copy, so that a rebuild in build/ during the run cannot swap the binary under us.
  medsearch_built="$(date -r "$medsearch_bin" '+%Y-%m-%d %H:%M')"
  cp "$medsearch_bin" "$work/medsearch-index"
  medsearch_bin="$work/medsearch-index"
fi

# ---------------------------------------------------------------------------------------------------
# Running and measuring one engine. Results go to the associative arrays below, keyed by engine.
declare -A label wall cpu pct rss size docs verified note load
label[xapian]="plain Xapian loop"
label[medsearch]="medsearch-index"
label[lucene]="Lucene 4.10"
label[fts5]="SQLite FTS5"

# run_engine NAME INDEX_PATH COMMAND...: a fresh INDEX_PATH, page cache flushed of earlier writes,
# then COMMAND under /usr/bin/time -v; wall clock from date(1) in nanoseconds.
run_engine() {
  local name="$1" dir="$2"
  shift 2
  rm -rf "$dir"
  [ "$name" != fts5 ] || mkdir -p "$dir"  # SQLite writes a file; the others create their folder
  index_dirs+=("$dir")
  sync
  say "indexing with ${label[$name]}: $*"
  local start end rc=0
  load[$name]="$(cut -d' ' -f1 /proc/loadavg)"  # the 1-minute load before the run: others' work
  start=$(date +%s%N)
  /usr/bin/time -v -o "$work/$name.time" "$@" >"$work/$name.log" 2>&1 || rc=$?
  end=$(date +%s%N)
  if [ "$rc" -ne 0 ] && ! { [ "$name" = medsearch ] && [ "$rc" -eq 1 ]; }; then
    say "${label[$name]} failed (exit $rc); last lines of its output:"
    tail -n 20 "$work/$name.log" >&2
    die "${label[$name]} failed"
  fi
  wall[$name]=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.2f", (e - s) / 1e9 }')
  cpu[$name]=$(awk -F': ' '/User time \(seconds\)/ { u = $2 } /System time \(seconds\)/ { s = $2 } END { printf "%.2f", u + s }' "$work/$name.time")
  rss[$name]=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/$name.time")
  pct[$name]=$(awk -F': ' '/Percent of CPU this job got/ { print $2 }' "$work/$name.time")
  size[$name]=$(du -sb "$dir" | cut -f1)
  say "${label[$name]}: ${wall[$name]} s wall, ${cpu[$name]} s CPU = ${pct[$name]} of a core (load before: ${load[$name]})"
}

# check_count NAME COUNT: the verified record count must be the corpus's.
check_count() {
  docs[$1]="$2"
  if [ "$2" = "$records" ]; then verified[$1]=yes; else verified[$1]=NO; fi
  say "${label[$1]}: index holds $2 records (expected $records): ${verified[$1]}"
}

# run_one ENGINE: one indexing run of ENGINE into a fresh folder, then its record count verified.
run_one() {
  case "$1" in
    xapian)
      # The plain Xapian loop: Xapian's default flush threshold, whatever the caller's environment says.
      run_engine xapian "$out/xapian" env -u XAPIAN_FLUSH_THRESHOLD "$work/xapian_simpleindex" "$out/xapian" "$corpus"
      check_count xapian "$("$work/xapian_simpleindex" --check "$out/xapian" | awk '$1 == "docs" { print $2 }')"
      ;;
    medsearch)
      run_engine medsearch "$out/medsearch" "$medsearch_bin" --db "$out/medsearch" --format beir "${medsearch_extra[@]}" "$corpus"
      summary="$(grep -E '^read [0-9]+, indexed' "$work/medsearch.log" | tail -1 || true)"
      say "medsearch-index says: ${summary:-nothing}"
      # Records are counted as distinct XR<record id> terms; documents are passages.
      check_out="$("$work/xapian_simpleindex" --check "$out/medsearch" XR)"
      passages=$(awk '$1 == "docs" { print $2 }' <<< "$check_out")
      check_count medsearch "$(awk '$1 == "terms" { print $2 }' <<< "$check_out")"
      note[medsearch]="$passages passages (Xapian documents)"
      [ -z "${MEDSEARCH_INDEX_ARGS:-}" ] || note[medsearch]+="; MEDSEARCH_INDEX_ARGS=${MEDSEARCH_INDEX_ARGS}"
      if grep -qE 'rejected [1-9]' <<< "$summary"; then note[medsearch]+="; $(grep -oE 'rejected [0-9]+' <<< "$summary")"; fi
      ;;
    lucene)
      run_engine lucene "$out/lucene" java -cp "$lucene_cp" LuceneIndex "$out/lucene" "$corpus"
      check_count lucene "$(java -cp "$lucene_cp" LuceneIndex --check "$out/lucene" | awk '$1 == "docs" { print $2 }')"
      note[lucene]="JVM start-up included"
      ;;
    fts5)
      run_engine fts5 "$out/fts5" "$work/sqlite_fts5_index" "$out/fts5/index.db" "$corpus"
      check_count fts5 "$("$work/sqlite_fts5_index" --check "$out/fts5/index.db" | awk '$1 == "docs" { print $2 }')"
      ;;
  esac
}

# Rounds: round r starts with engine r (mod the count) so that no engine always runs first or
# last. Every run's figures are kept; the report shows each engine's median run by wall time.
declare -A runs_wall runs_cpu runs_pct runs_rss runs_size runs_load
for ((round = 0; round < rounds; ++round)); do
  [ "$rounds" -eq 1 ] || say "round $((round + 1)) of $rounds"
  for ((i = 0; i < ${#engines[@]}; ++i)); do
    e="${engines[$(((i + round) % ${#engines[@]}))]}"
    run_one "$e"
    runs_wall[$e]+="${wall[$e]} "; runs_cpu[$e]+="${cpu[$e]} "; runs_pct[$e]+="${pct[$e]} "
    runs_rss[$e]+="${rss[$e]} "; runs_size[$e]+="${size[$e]} "; runs_load[$e]+="${load[$e]} "
  done
done
# pick LIST K: the K-th (from 1) word of LIST.
pick() { awk -v k="$2" '{ print $k }' <<< "$1"; }
for e in "${engines[@]}"; do
  # The median run by wall time (the lower middle one of an even count).
  k=$(tr ' ' '\n' <<< "${runs_wall[$e]}" | awk 'NF { print NR, $1 }' | sort -k2,2g | awk -v n="$rounds" 'NR == int((n + 1) / 2) { print $1 }')
  wall[$e]=$(pick "${runs_wall[$e]}" "$k"); cpu[$e]=$(pick "${runs_cpu[$e]}" "$k"); pct[$e]=$(pick "${runs_pct[$e]}" "$k")
  rss[$e]=$(pick "${runs_rss[$e]}" "$k"); size[$e]=$(pick "${runs_size[$e]}" "$k"); load[$e]=$(pick "${runs_load[$e]}" "$k")
done

# ---------------------------------------------------------------------------------------------------
# Report.
cpu_model="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
mem_gib="$(awk '/^MemTotal/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)"
fs="$(df -P "$out" | awk 'NR == 2 { print $1 }')"
xapian_version="$(pkg-config --modversion xapian-core)"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'; }

report="$out/bench-index.md"
{
  echo "# medsearch bulk-indexing benchmark"
  echo
  echo "- Date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- Machine: $(nproc) cores, ${cpu_model:-unknown CPU}, ${mem_gib} GiB memory; indexes on $fs"
  echo "- Corpus: SciFact ($source_corpus) repeated to $records records, ids \`<_id>-r<k>\`:" \
       "$corpus_mb MB of BEIR JSONL ($(awk -v b="$corpus_bytes" -v n="$records" 'BEGIN { printf "%.0f", b / n }') bytes a record)"
  versions="medsearch tree at $medsearch_rev${medsearch_built:+ (binary built $medsearch_built)}; Xapian $xapian_version"
  wants lucene && versions+="; Lucene $(basename "$core_jar" .jar | sed 's/^lucene-core-//') on $(java -version 2>&1 | head -1 | tr -d '"')"
  wants fts5 && versions+="; SQLite $(pkg-config --modversion sqlite3)"
  echo "- Versions: $versions"
  [ -z "${MEDSEARCH_INDEX_ARGS:-}" ] || echo "- MEDSEARCH_INDEX_ARGS: \`${MEDSEARCH_INDEX_ARGS}\`"
  echo "- Engines ran one after another, each into a fresh folder; MB = 10^6 bytes; CPU time, CPU % (of one core) and peak RSS from /usr/bin/time -v"
  if [ "$rounds" -gt 1 ]; then
    echo "- $rounds rounds, interleaved; each engine's median run by wall time is shown. Wall seconds of every run:" \
         "$(for e in "${engines[@]}"; do printf '%s %s; ' "${label[$e]}" "$(sed 's/ $//; s/ /, /g' <<< "${runs_wall[$e]}")"; done | sed 's/; $//')"
    # Each round's own ratio (the plain loop's wall time over the engine's, same round): the
    # spread the machine's drift puts around the median's ratio.
    paired=""
    for e in "${engines[@]}"; do
      [ "$e" = xapian ] && continue
      paired+="${label[$e]} $(awk -v a="${runs_wall[xapian]}" -v b="${runs_wall[$e]}" 'BEGIN {
        n = split(a, x, " "); split(b, y, " "); out = ""
        for (i = 1; i <= n; ++i) out = out (i > 1 ? ", " : "") (y[i] + 0 > 0 ? sprintf("%.2fx", x[i] / y[i]) : "n/a")
        print out }'); "
    done
    [ -z "$paired" ] || echo "- Speed against the plain Xapian loop round by round: ${paired%; }"
  fi
  busy=""
  for e in "${engines[@]}"; do
    awk -v l="${load[$e]}" 'BEGIN { exit !(l > 0.5) }' && busy+=" ${label[$e]} (${load[$e]})"
  done
  echo "- 1-minute load average before each run: $(for e in "${engines[@]}"; do printf '%s %s; ' "${label[$e]}" "${load[$e]}"; done | sed 's/; $//')"
  [ -z "$busy" ] || echo "- **Warning**: the machine was busy before:$busy; other work shares the $(nproc) cores, so those timings are pessimistic"
  echo
  echo "| Engine | Records | Verified | Wall s | CPU s (user+sys) | CPU % | Records/s | MB/s | Index MB | Peak RSS MB | Notes |"
  echo "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
  for e in "${engines[@]}"; do
    awk -v name="${label[$e]}" -v n="$records" -v ok="${verified[$e]} (${docs[$e]})" -v w="${wall[$e]}" \
        -v c="${cpu[$e]}" -v p="${pct[$e]}" -v b="$corpus_bytes" -v s="${size[$e]}" -v r="${rss[$e]}" -v note="${note[$e]:-}" \
      'BEGIN { printf "| %s | %d | %s | %.2f | %.2f | %s | %.0f | %.2f | %.1f | %.0f | %s |\n",
               name, n, ok, w, c, p, n / w, b / 1e6 / w, s / 1e6, r / 1024, note }'
  done
  echo
  echo "Ratios to the plain Xapian loop (speed above 1 is faster; time, size and memory above 1 are more):"
  echo
  echo "| Engine | Speed (records/s) | Wall time | CPU time | Index size | Peak RSS |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: |"
  for e in "${engines[@]}"; do
    echo "| ${label[$e]} | $(ratio "${wall[xapian]}" "${wall[$e]}")x | $(ratio "${wall[$e]}" "${wall[xapian]}")x" \
         "| $(ratio "${cpu[$e]}" "${cpu[xapian]}")x | $(ratio "${size[$e]}" "${size[xapian]}")x | $(ratio "${rss[$e]}" "${rss[xapian]}")x |"
  done
} > "$report"

echo
cat "$report"
echo
say "report written to $report"

failed=()
for e in "${engines[@]}"; do [ "${verified[$e]}" = yes ] || failed+=("${label[$e]}"); done
if [ ${#failed[@]} -gt 0 ]; then
  say "verification FAILED for: ${failed[*]} (their numbers do not count)"
  exit 1
fi
