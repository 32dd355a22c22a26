#!/usr/bin/env bash
# Configures and builds medsearch into build/ (Release, tests included). Used by run.sh and
# test.sh; extra arguments go to cmake's configure step. MEDSEARCH_TARGETS (space-separated)
# builds only those targets.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MEDSEARCH_BUILD_DIR:-$root/build}"
werror=OFF
[ -n "${CI:-}" ] && werror=ON
# ccache (a Debian package) makes a rebuild from a clean build folder, as CI does, cheap. Its
# keys leave out where the checkout is (paths under it become relative; the working directory
# is not hashed), so a fresh clone in another folder reuses earlier compiles; debug info may
# then name the folder of the clone that compiled first.
launcher=()
if command -v ccache >/dev/null 2>&1; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1
fi
cmake -S "$root" -B "$build" "${launcher[@]}" -DCMAKE_BUILD_TYPE=Release -DMEDSEARCH_WERROR="$werror" "$@" >/dev/null
targets=()
for t in ${MEDSEARCH_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build "$build" -j "$(nproc)" "${targets[@]}"
