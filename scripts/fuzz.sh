#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan: scripts/sanitize-build.sh) and runs each for
# SECONDS (default 60), MEDSEARCH_FUZZ_JOBS at a time (default: the number of cores).
#   scripts/fuzz.sh [SECONDS] [TARGET...]     targets: fuzz_reader_medsearch fuzz_reader_beir
#     fuzz_reader_openfda fuzz_reader_spl fuzz_reader_medline fuzz_reader_pubmed_xml fuzz_query
#     fuzz_http fuzz_server (default: all)
# Each target starts from seeds (tests/fixtures, corpus/samples, tests/fuzz/seeds, and the shared
# data's small files where present) and keeps what it finds in build-asan/corpus/TARGET.
# A crash, leak, UB or timeout leaves its input in build-asan/artifacts/TARGET/ and makes the
# script exit 1; reproduce with build-asan/bin/TARGET FILE. Logs: build-asan/logs/TARGET.log.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MEDSEARCH_ASAN_BUILD_DIR:-$root/build-asan}"
data="${MEDSEARCH_DATA_DIR:-$root/../shared/data}"
seconds="${1:-60}"; shift || true
all=(fuzz_reader_medsearch fuzz_reader_beir fuzz_reader_openfda fuzz_reader_spl fuzz_reader_medline
     fuzz_reader_pubmed_xml fuzz_query fuzz_http fuzz_server)
targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
jobs="${MEDSEARCH_FUZZ_JOBS:-$(nproc)}"

MEDSEARCH_ASAN_BUILD_DIR="$build" "$root/scripts/sanitize-build.sh" fuzz

# Seed files for a target. Inputs are capped at 16 KiB (64 KiB for SPL, whose labels are one
# XML document each): small inputs run fast, and a reader's framing does not change with size.
seeds_of() {
  case "$1" in
    fuzz_reader_medsearch) ls "$root"/corpus/samples/*.jsonl "$root"/tests/fixtures/*.jsonl ;;
    fuzz_reader_beir) ls "$root"/tests/fixtures/beir/*.jsonl ;;
    fuzz_reader_openfda) ls "$root"/tests/fixtures/fda/* ;;
    fuzz_reader_spl) ls "$root"/tests/fuzz/seeds/spl/*; ls "$data"/fda-spl-labels-sample/*.xml 2>/dev/null || true ;;
    fuzz_reader_medline) ls "$root"/tests/fixtures/pubmed/*.medline.txt; ls "$data"/pubmed-medline-sample/*.txt 2>/dev/null || true ;;
    fuzz_reader_pubmed_xml) ls "$root"/tests/fixtures/pubmed/*.xml ;;
    fuzz_query) ls "$root"/tests/fuzz/seeds/query/* ;;
    fuzz_http) ls "$root"/tests/fuzz/seeds/http/* ;;
    fuzz_server) ls "$root"/tests/fuzz/seeds/server/* ;;
  esac
}

run_one() {
  local t="$1" seeds="$build/seeds/$1" corpus="$build/corpus/$1" artifacts="$build/artifacts/$1"
  rm -rf "$seeds"; mkdir -p "$seeds" "$corpus" "$artifacts" "$build/logs"
  local i=0 f max=16384
  [ "$t" = fuzz_reader_spl ] && max=65536
  for f in $(seeds_of "$t"); do i=$((i + 1)); head -c "$max" "$f" > "$seeds/$i-$(basename "$f")"; done
  local status=0
  "$build/bin/$t" "$corpus" "$seeds" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 \
    -max_len="$max" -print_final_stats=1 -artifact_prefix="$artifacts/" >"$build/logs/$t.log" 2>&1 || status=$?
  local execs
  execs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$build/logs/$t.log")
  if [ "$status" -eq 0 ]; then
    echo "fuzz: $t: ${execs:-?} executions in ${seconds}s, no crash"
  else
    echo "fuzz: $t: FAILED (exit $status) after ${execs:-?} executions; see $build/logs/$t.log and $artifacts/"
    grep -m3 -E "ERROR: |runtime error|SUMMARY" "$build/logs/$t.log" || true
  fi
  return "$status"
}
export -f run_one seeds_of
export build root data seconds

printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one {}'
