#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite with ctest.
# Exits non-zero when anything fails. Shared data (../shared/data) is used where present;
# tests that need it skip with a message where it is absent (MEDSEARCH_DATA_DIR overrides).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/install-deps.sh
data="${MEDSEARCH_DATA_DIR:-$root/../shared/data}"
scripts/build.sh -DMEDSEARCH_DATA_DIR="$data"
cd build
ctest --output-on-failure -j "$(nproc)" --timeout 600 "$@"
