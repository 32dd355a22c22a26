#!/usr/bin/env bash
# Configures and builds the sanitizer build into build-asan/ (MEDSEARCH_ASAN_BUILD_DIR): clang,
# -O1, AddressSanitizer + UndefinedBehaviorSanitizer (UB stops the program), with libFuzzer
# coverage, so the one build serves both the test suite under sanitizers (scripts/test.sh) and
# the fuzz targets (scripts/fuzz.sh). Extra arguments are targets to build (default: all).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MEDSEARCH_ASAN_BUILD_DIR:-$root/build-asan}"
data="${MEDSEARCH_DATA_DIR:-$root/../shared/data}"
werror=OFF
[ -n "${CI:-}" ] && werror=ON
# shellcheck source=scripts/ccache.sh
. "$root/scripts/ccache.sh"
CXX=clang++ cmake -S "$root" -B "$build" "${launcher[@]}" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" \
  -DMEDSEARCH_SANITIZE=ON -DMEDSEARCH_FUZZ=ON -DMEDSEARCH_WERROR="$werror" -DMEDSEARCH_DATA_DIR="$data" >/dev/null
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake --build "$build" -j "$(nproc)" "${targets[@]}"
