#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite with ctest; then the same
# suite under AddressSanitizer + UndefinedBehaviorSanitizer, and every fuzz target for
# MEDSEARCH_FUZZ_SECONDS (default 20) each. Exits non-zero when anything fails.
# Shared data (../shared/data) is used where present; tests that need it skip with a message
# where it is absent (MEDSEARCH_DATA_DIR overrides). Arguments go to both ctest runs.
# MEDSEARCH_TEST_QUICK=1 skips the sanitizer suite and fuzzing on a local run (never in CI).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/install-deps.sh
data="${MEDSEARCH_DATA_DIR:-$root/../shared/data}"
export MEDSEARCH_DATA_DIR="$data"
stamp() { echo "test: $1 ($(( SECONDS / 60 ))m$(( SECONDS % 60 ))s)"; }

scripts/build.sh -DMEDSEARCH_DATA_DIR="$data"
(cd build && ctest --output-on-failure -j "$(nproc)" --timeout 600 "$@")
stamp "release suite passed"

if [ "${MEDSEARCH_TEST_QUICK:-0}" = 1 ] && [ -z "${CI:-}" ]; then
  echo "test: MEDSEARCH_TEST_QUICK=1: sanitizer suite and fuzzing skipped"
  exit 0
fi

# The whole suite again under ASan + UBSan (one clang build that also holds the fuzz targets).
# Tests over whole real collections take a slice there (every run is several times slower under
# ASan; the release run above covers the whole): crash_test indexes 800 records instead of 2,000
# (16 commit points still), the SciFact sharding and TermGenerator tests read part of the data
# (test::sanitized() in tests/test_util.h), and relevance_test's nDCG floors are skipped.
scripts/sanitize-build.sh
export ASAN_OPTIONS="detect_leaks=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
(cd build-asan && ctest --output-on-failure -j "$(nproc)" --timeout 600 "$@")
stamp "sanitizer suite passed"

scripts/fuzz.sh "${MEDSEARCH_FUZZ_SECONDS:-20}"
stamp "fuzzing found nothing"
