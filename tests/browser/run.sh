#!/usr/bin/env bash
# The web page's end-to-end test in a real browser (ctest label "browser"): installs node,
# npm and Debian's chromium when missing (as root or via sudo), installs playwright-core into
# tests/browser/node_modules (once per package-lock.json), indexes corpus/samples and
# tests/fixtures/web.jsonl (records with markup, script, right-to-left text and long words in
# their titles, text and citations) into a temporary folder, serves it with medsearch-server on a free loopback port (and
# with a second one of one worker and no queue, which the test makes answer 503) and runs
# search.test.mjs against them. The servers are always stopped.
#
# Usage: tests/browser/run.sh [BIN_DIR [ARTIFACTS_DIR]]   (defaults: build/bin, build/artifacts)
# Exit status: 0 passed, 1 failed, 77 skipped (chromium cannot be installed here).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${1:-$root/build/bin}"
artifacts="${2:-$root/build/artifacts}"
chromium="${CHROMIUM:-/usr/bin/chromium}"
kSkip=77

skip() {
  echo "SKIP: $*" >&2
  exit "$kSkip"
}

# ---- node, npm and chromium -----------------------------------------------------------------
missing=()
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
[ -x "$chromium" ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    as_root=()
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
  else
    skip "the browser test needs ${missing[*]}, which is not installed, and this user cannot install it" \
         "(not root, no sudo); run scripts/install-deps.sh as root to enable it"
  fi
  echo "browser: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! { "${as_root[@]}" apt-get update -qq &&
         "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >&2; then
    skip "apt-get could not install ${missing[*]}; the browser test needs them"
  fi
fi
[ -x "$chromium" ] || skip "no chromium at $chromium after installing it"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 18 ]; then
  echo "browser: node $(node --version) is too old; playwright-core needs 18 or later" >&2
  exit 1
fi

# ---- playwright-core, installed once per package-lock.json ----------------------------------
stamp="$here/node_modules/.medsearch-lock"
lock_hash="$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$lock_hash" ]; then
  echo "browser: npm ci in tests/browser" >&2
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error >&2)
  echo "$lock_hash" > "$stamp"
fi

# ---- an index of the samples and a server over it -------------------------------------------
for tool in medsearch-index medsearch-server; do
  [ -x "$bin/$tool" ] || { echo "browser: $bin/$tool is not built" >&2; exit 1; }
done
tmp="$(mktemp -d "${TMPDIR:-/tmp}/medsearch-browser.XXXXXX")"
server_pids=()
cleanup() {
  for pid in "${server_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$bin/medsearch-index" --db "$tmp/index" --progress none -q "$root"/corpus/samples/*.jsonl \
  "$root/tests/fixtures/web.jsonl"

# start_server NAME [OPTION...]: serves the index and the page on a free loopback port and sets
# `url` to its address, which the server prints once it has bound the port the OS chose.
start_server() {
  local name="$1" log="$tmp/$1.log" pid
  shift
  "$bin/medsearch-server" --db "$tmp/index" --host 127.0.0.1 --port 0 --quiet \
    --web-dir "$root/server/web" "$@" 2> "$log" &
  pid=$!
  server_pids+=("$pid")
  url=""
  for _ in $(seq 200); do
    url="$(grep -o 'listening on http://[^ ]*' "$log" | head -1 | cut -d' ' -f3 || true)"
    [ -n "$url" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; echo "browser: the $name server exited" >&2; exit 1; }
    sleep 0.05
  done
  [ -n "$url" ] || { cat "$log" >&2; echo "browser: the $name server did not start" >&2; exit 1; }
  echo "browser: $name medsearch-server at $url" >&2
}

start_server main
main_url="$url"
# A server that is easy to make busy, for the 503 steps: one worker and no queue, so a client
# that connects and sends nothing holds it and the next connection is refused with 503 and
# Retry-After: 1 (code overloaded), as a loaded server refuses. It waits for that client a minute.
start_server busy --threads 1 --max-queued 0 --retry-after 1 --keep-alive-timeout 60 --receive-timeout-ms 60000
busy_url="$url"

# ---- the test -------------------------------------------------------------------------------
mkdir -p "$artifacts"
status=0
MEDSEARCH_URL="$main_url" MEDSEARCH_BUSY_URL="$busy_url" MEDSEARCH_ARTIFACTS="$artifacts" CHROMIUM="$chromium" \
  timeout 180 node "$here/search.test.mjs" || status=$?
echo "browser: screenshots in $artifacts (search-als.png, search-als-phone.png, search-busy.png)"
exit "$status"
