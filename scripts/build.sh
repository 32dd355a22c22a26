#!/usr/bin/env bash
# Configures and builds medsearch into build/ (Release, tests included). Used by run.sh and
# test.sh; extra arguments go to cmake's configure step. MEDSEARCH_TARGETS (space-separated)
# builds only those targets.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MEDSEARCH_BUILD_DIR:-$root/build}"
werror=OFF
[ -n "${CI:-}" ] && werror=ON
# ccache (a Debian package) makes a rebuild from a clean build folder, as CI does, cheap.
launcher=()
command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$root" -B "$build" "${launcher[@]}" -DCMAKE_BUILD_TYPE=Release -DMEDSEARCH_WERROR="$werror" "$@" >/dev/null
targets=()
for t in ${MEDSEARCH_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build "$build" -j "$(nproc)" "${targets[@]}"
