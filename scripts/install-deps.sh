#!/usr/bin/env bash
# Installs the Debian 12 packages medsearch needs to build, test (chromium, node and npm for
# the web page's browser test; clang and its runtimes for the sanitizer build and the fuzz
# targets; wrk and gnuplot for the query benchmark), serve and load-test (wrk, scripts/load.sh).
# Idempotent: installs only what is missing. Runs as root (no sudo) or via sudo when available.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  clang libclang-rt-14-dev ccache
  libxapian-dev xapian-tools
  libicu-dev
  nlohmann-json3-dev libsimdjson-dev
  libcpp-httplib-dev
  libgtest-dev googletest
  libcli11-dev
  libpugixml-dev
  libeigen3-dev  # the semantic model's SVD (indexer/semantic.h)
  zlib1g-dev
  libjemalloc-dev
  python3 python3-jsonschema
  curl ca-certificates
  wrk gnuplot-nox  # bench-query.sh and load.sh: HTTP load; gnuplot: the latency plots
  chromium
)
# node and npm drive chromium in the browser test (tests/browser). A node that already comes
# with npm (NodeSource's nodejs bundles it, and conflicts with Debian's npm) is kept.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "install-deps: missing packages (${missing[*]}) and not root; install them or rerun as root" >&2
  exit 2
fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
