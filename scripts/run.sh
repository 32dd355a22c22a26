#!/usr/bin/env bash
# Installs what is missing, builds, indexes the embedded sample corpus into var/index
# (unless that index is already current) and serves it, the API and the web page, on
# http://127.0.0.1:$MEDSEARCH_PORT/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
port="${MEDSEARCH_PORT:-8080}"
host="${MEDSEARCH_HOST:-127.0.0.1}"

# Checked before anything is built or indexed, and before the banner says the server is up: a
# second run.sh on a port already served printed "medsearch is serving ..." and then failed to
# bind, and could replace var/index under the first one's feet.
if ! [[ "$port" =~ ^[0-9]+$ ]] || [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then
  echo "run: MEDSEARCH_PORT must be a port number (1-65535), not '$port'" >&2
  exit 2
fi
probe="$host"
case "$probe" in 0.0.0.0|::|'[::]') probe=127.0.0.1 ;; esac
if (: <"/dev/tcp/$probe/$port") 2>/dev/null; then
  echo "run: $host:$port is in use (another medsearch-server or run.sh?); stop it or set MEDSEARCH_PORT" >&2
  exit 1
fi

scripts/install-deps.sh
MEDSEARCH_TARGETS="medsearch-index medsearch-search medsearch-server" scripts/build.sh
bin="$root/build/bin"

# The index is current when it was built from these sample files by this indexer binary.
mkdir -p var
stamp="$( (cat corpus/samples/*.jsonl; cat "$bin/medsearch-index") | sha256sum | cut -d' ' -f1)"
if [ -d var/index ] && [ "$(cat var/index.stamp 2>/dev/null)" = "$stamp" ]; then
  echo "run: var/index is current" >&2
else
  echo "run: indexing corpus/samples into var/index" >&2
  rm -rf var/index.tmp
  "$bin/medsearch-index" --db var/index.tmp corpus/samples/*.jsonl
  rm -rf var/index
  mv var/index.tmp var/index
  echo "$stamp" > var/index.stamp
fi

cat >&2 <<MSG

medsearch is serving the demonstration corpus (not clinical advice) at http://$host:$port/
Open that address in a browser for the web page, or try:
  curl -s 'http://$host:$port/search?q=What+are+the+treatment+options+for+ALS%3F&limit=5'
  $bin/medsearch-search --db var/index "What are the treatment options for ALS?"
Stop with Ctrl-C.

MSG
exec "$bin/medsearch-server" --db var/index --host "$host" --port "$port"
