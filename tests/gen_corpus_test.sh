#!/usr/bin/env bash
# scripts/gen-corpus at a tiny size (issue 9): the same seed gives byte-identical files, another
# seed different text; the shape is what bench-query.sh relies on: exactly N passages, one BEIR
# line per medsearch passage with the passage id, sections under the 1,200-byte passage limit,
# fresh unique ids, all three sources, and native records valid against corpus/record.schema.json
# (when python3-jsonschema is installed). Medsearch-index then writes exactly N passages.
# Usage: gen_corpus_test.sh BIN_DIR SOURCE_DIR DATA_DIR   (exit 77 = skipped: no shared data)
set -euo pipefail
bin="$1" src="$2" data="$3"
if [ ! -r "$data/scifact/corpus.jsonl" ] || [ ! -r "$data/nfcorpus/corpus.jsonl" ]; then
  echo "skip: no SciFact/NFCorpus under $data"
  exit 77
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# An --out that cannot be a folder is a message and exit 2 (it was a Python traceback, exit 1),
# and so is a data folder without the collections (exit 1).
touch "$tmp/a-file"
for out in "$tmp/a-file" "$tmp/a-file/sub"; do
  status=0; "$src/scripts/gen-corpus" --passages 10 --data "$data" --out "$out" 2>"$tmp/err" || status=$?
  [ "$status" -eq 2 ] || { echo "FAIL: --out $out exits $status, want 2"; exit 1; }
  grep -q "^gen-corpus: --out $out: " "$tmp/err" || { echo "FAIL: --out $out: $(cat "$tmp/err")"; exit 1; }
  ! grep -q Traceback "$tmp/err" || { echo "FAIL: --out $out gave a traceback"; exit 1; }
done
status=0; "$src/scripts/gen-corpus" --passages 10 --data "$tmp/no-data" --out "$tmp/x" 2>"$tmp/err" || status=$?
[ "$status" -eq 2 ] && grep -q "cannot read $tmp/no-data/scifact/corpus.jsonl" "$tmp/err" ||
  { echo "FAIL: a missing --data exits $status: $(cat "$tmp/err")"; exit 1; }
echo "ok: --out and --data errors"

gen() { "$src/scripts/gen-corpus" --passages 400 --data "$data" "$@" 2>/dev/null; }
gen --seed 3 --out "$tmp/a"
gen --seed 3 --out "$tmp/b"
gen --seed 4 --out "$tmp/c"
for f in native.jsonl passages.jsonl manifest.json; do
  cmp -s "$tmp/a/$f" "$tmp/b/$f" || { echo "FAIL: $f differs between two runs with seed 3"; exit 1; }
done
if cmp -s "$tmp/a/native.jsonl" "$tmp/c/native.jsonl"; then echo "FAIL: seeds 3 and 4 gave the same corpus"; exit 1; fi

python3 - "$tmp/a" "$src" <<'PY'
import json, os, sys
out, src = sys.argv[1], sys.argv[2]
records = [json.loads(l) for l in open(os.path.join(out, "native.jsonl"), encoding="utf-8")]
passages = [json.loads(l) for l in open(os.path.join(out, "passages.jsonl"), encoding="utf-8")]
manifest = json.load(open(os.path.join(out, "manifest.json")))
def check(cond, msg):
    if not cond:
        sys.exit("FAIL: " + msg)
check(len(passages) == 400 and manifest["passages"] == 400, f"{len(passages)} passages, wanted 400")
check(manifest["records"] == len(records), "manifest record count")
ids = [r["id"] for r in records]
check(len(set(ids)) == len(ids), "record ids are not unique")
check(all(i.startswith("gen3-") for i in ids), "ids are not fresh gen<seed>- ids")
expected = []
for r in records:
    check(r["source"] in ("research", "guideline", "fda_label"), f"bad source {r['source']}")
    check(r["title"].strip() != "", f"{r['id']}: blank title")
    sections = r.get("sections") or [{"heading": "", "text": r["text"]}]
    for k, s in enumerate(sections):
        check(0 < len(s["text"].encode("utf-8")) <= 1100, f"{r['id']} section {k}: {len(s['text'].encode())} bytes")
        expected.append(f"{r['id']}:p{k}")
check([p["_id"] for p in passages] == expected, "passages.jsonl ids are not the records' passage ids in order")
sources = {r["source"] for r in records}
check(sources == {"research", "guideline", "fda_label"}, f"sources {sorted(sources)}")
research = sum(1 for r in records if r["source"] == "research")
check(research / len(records) > 0.8, "research records are not the large majority")
try:
    import jsonschema
except ImportError:
    print("note: python3-jsonschema missing, schema not checked")
else:
    schema = json.load(open(os.path.join(src, "corpus", "record.schema.json")))
    v = jsonschema.Draft202012Validator(schema)
    for r in records:
        errors = list(v.iter_errors(r))
        check(not errors, f"{r['id']}: {errors[0].message if errors else ''}")
print(f"ok: {len(records)} records, {len(passages)} passages, deterministic")
PY

# medsearch itself: every generated record is accepted and makes exactly one passage a section.
if [ -x "$bin/medsearch-index" ]; then
  summary="$("$bin/medsearch-index" --db "$tmp/idx" --shards 1 --progress none -q "$tmp/a/native.jsonl" 2>&1 | grep -E '^read ' | head -1)"
  case "$summary" in
    *"rejected 0 (400 passages)"*) echo "ok: medsearch-index: $summary" ;;
    *) echo "FAIL: medsearch-index: $summary (want 0 rejected, 400 passages)"; exit 1 ;;
  esac
fi
