#!/usr/bin/env bash
# Configures and builds medsearch into build/ (Release, tests included). Used by run.sh and
# test.sh; extra arguments go to cmake's configure step. MEDSEARCH_TARGETS (space-separated)
# builds only those targets.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MEDSEARCH_BUILD_DIR:-$root/build}"
werror=OFF
[ -n "${CI:-}" ] && werror=ON
# shellcheck source=scripts/ccache.sh
. "$root/scripts/ccache.sh"
cmake -S "$root" -B "$build" "${launcher[@]}" -DCMAKE_BUILD_TYPE=Release -DMEDSEARCH_WERROR="$werror" "$@" >/dev/null
targets=()
for t in ${MEDSEARCH_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build "$build" -j "$(nproc)" "${targets[@]}"
