#!/usr/bin/env bash
# Checks the documented record schema (corpus/record.schema.json): every line of the sample
# corpus and of the JSONL test fixtures must validate, records the reader rejects must be
# rejected, and the schema's enums must match corpus/record.h.
# Usage: schema_test.sh BIN_DIR SOURCE_DIR   (BIN_DIR is unused; kept for symmetry)
# Needs python3 with the jsonschema module (Debian: python3-jsonschema); exits 77 (skip)
# without them.
set -uo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 BIN_DIR SOURCE_DIR" >&2
  exit 2
fi
src="$2"

if ! command -v python3 >/dev/null 2>&1; then
  echo "skip: python3 is not installed"
  exit 77
fi
if ! python3 -c 'import jsonschema' >/dev/null 2>&1; then
  echo "skip: the python3 jsonschema module is not installed (Debian package python3-jsonschema)"
  exit 77
fi

exec python3 - "$src" <<'PY'
import glob
import json
import os
import re
import sys

import jsonschema

src = sys.argv[1]
passed = 0
failed = 0


def ok(name):
    global passed
    passed += 1


def fail(name, why):
    global failed
    failed += 1
    print(f"FAIL: {name}: {why}")


schema_path = os.path.join(src, "corpus", "record.schema.json")
try:
    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    Validator = jsonschema.Draft202012Validator
    Validator.check_schema(schema)
    validator = Validator(schema)
    ok("schema")
except Exception as e:  # a broken schema fails everything below
    fail(schema_path, f"not a valid draft 2020-12 schema: {e}")
    print(f"schema: {passed} passed, {failed} failed")
    sys.exit(1)


def errors(record):
    return sorted(validator.iter_errors(record), key=lambda e: list(e.absolute_path))


def describe(errs):
    e = errs[0]
    where = "/".join(str(p) for p in e.absolute_path) or "(record)"
    return f"{where}: {e.message[:200]}"


# 1. The schema's enums match the code (corpus/record.h, corpus/record.cc).
def cxx_strings(path, name):
    text = open(os.path.join(src, path), encoding="utf-8").read()
    m = re.search(name + r"\[\]\s*=\s*\{(.*?)\};", text, re.S)
    return re.findall(r'"([^"]*)"', m.group(1)) if m else None


for label, path, name, schema_enum in [
    ("evidence_level enum", "corpus/record.h", "kEvidenceLevels", schema["properties"]["evidence_level"]["enum"]),
    ("review_status enum", "corpus/record.h", "kReviewStatuses", schema["properties"]["review_status"]["enum"]),
]:
    code = cxx_strings(path, name)
    if code is None:
        fail(label, f"cannot find {name} in {path}")
    elif code != schema_enum:
        fail(label, f"schema {schema_enum} != {path} {code}")
    else:
        ok(label)

record_cc = open(os.path.join(src, "corpus", "record.cc"), encoding="utf-8").read()
code_sources = re.findall(r'case Source::(\w+): return "(\w+)";', record_cc)
code_sources = list(dict.fromkeys(v for _, v in code_sources))
if code_sources == schema["properties"]["source"]["enum"]:
    ok("source enum")
else:
    fail("source enum", f"schema {schema['properties']['source']['enum']} != corpus/record.cc {code_sources}")

# 2. Every line of the sample corpus and the native fixtures validates.
files = sorted(glob.glob(os.path.join(src, "corpus", "samples", "*.jsonl")))
if not files:
    fail("corpus/samples", "no *.jsonl files found")
files += [os.path.join(src, "tests", "fixtures", n) for n in ("golden.jsonl", "http.jsonl")]
ids = {}
for path in files:
    rel = os.path.relpath(path, src)
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except OSError as e:
        fail(rel, str(e))
        continue
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        name = f"{rel}:{n}"
        try:
            record = json.loads(line)
        except ValueError as e:
            fail(name, f"invalid JSON: {e}")
            continue
        errs = errors(record)
        if errs:
            fail(name, describe(errs))
        else:
            ok(name)
        # Ids must be unique across the sample corpus (a later record replaces an earlier one).
        if rel.startswith("corpus") and isinstance(record, dict) and "id" in record:
            rid = record["id"]
            if rid in ids:
                fail(name, f"duplicate id '{rid}' (also {ids[rid]})")
            else:
                ids[rid] = name

# 3. Records the reader accepts in canonical form are valid.
base = {"id": "x-1", "source": "research", "title": "A title", "text": "Some text."}


def with_(**changes):
    r = json.loads(json.dumps(base))
    for k, v in changes.items():
        if v is None:
            r.pop(k, None)
        else:
            r[k] = v
    return r


sectioned = with_(text=None, sections=[{"heading": "Dosage", "key": "dosage", "text": "50 mg twice daily."},
                                       {"heading": "Empty", "text": ""}])
valid = {
    "plain text record": base,
    "sectioned record": sectioned,
    "section without key": with_(text=None, sections=[{"heading": "Dosage and Administration", "text": "50 mg."}]),
    "unknown top-level field ignored": with_(notes="kept out of the index"),
    "full citation": with_(citation={
        "organisation": "Body", "authors": ["Surname AB", "Other C"], "title": "Cited title",
        "journal": "J Test", "volume": "330", "pages": "585-591", "publisher": "Pub", "year": 1994,
        "pmid": "8302340", "doi": "10.1000/test", "set_id": "00000000-0000-0000-0000-000000000001",
        "url": "https://example.org/"}),
    "dates YYYY, YYYY-MM-DD": with_(published="2024", updated="2024-05-31"),
    "id with . _ : -": with_(id="A9._:-z"),
    "id of 200 characters": with_(id="a" * 200),
}
for level in schema["properties"]["evidence_level"]["enum"]:
    valid[f"evidence_level {level}"] = with_(evidence_level=level)
for status in schema["properties"]["review_status"]["enum"]:
    valid[f"review_status {status}"] = with_(review_status=status)
for name, record in valid.items():
    errs = errors(record)
    if errs:
        fail(f"valid: {name}", describe(errs))
    else:
        ok(name)

# 4. Records the reader rejects (corpus/record.cc) are invalid.
invalid = {
    "missing id": with_(id=None),
    "empty id": with_(id=""),
    "id starting with '-'": with_(id="-x"),
    "id with a space": with_(id="a b"),
    "id with a slash": with_(id="a/b"),
    "id of 201 characters": with_(id="a" * 201),
    "missing source": with_(source=None),
    "unknown source": with_(source="newsletter"),
    "source in capitals": with_(source="Research"),
    "title not a string": with_(title=["A"]),
    "neither text nor sections": with_(text=None),
    "both text and sections": with_(sections=[{"heading": "H", "text": "More text."}]),
    "blank text": with_(text="   \n\t "),
    "sections without any text": with_(text=None, sections=[{"heading": "H", "text": "  "}]),
    "sections not an array": with_(text=None, sections={"heading": "H", "text": "t"}),
    "section not an object": with_(text=None, sections=["text"]),
    "section text not a string": with_(text=None, sections=[{"heading": "H", "text": 5}]),
    "citation not an object": with_(citation="PMID 1"),
    "citation year as a float": with_(citation={"year": 2019.5}),
    "citation year as a word": with_(citation={"year": "twenty"}),
    "citation year before 1800": with_(citation={"year": 1700}),
    "citation year after 2100": with_(citation={"year": 2101}),
    "citation authors not strings": with_(citation={"authors": [1, 2]}),
    "citation journal not a string": with_(citation={"journal": ["J"]}),
    "bad date: month 13": with_(published="2023-13"),
    "bad date: day 32": with_(published="2023-01-32"),
    "bad date: slashes": with_(published="2023/01/01"),
    "bad date: two-digit year": with_(updated="23"),
    "bad date: not a string": with_(published=2023),
    "unknown evidence level": with_(evidence_level="RCT"),
    "evidence level in capitals": with_(evidence_level="Meta_Analysis"),
    "unknown review status": with_(review_status="active"),
    "drugs not strings": with_(drugs=[1]),
    "conditions an object": with_(conditions={"a": 1}),
    "record not an object": ["x-1", "research"],
}
for name, record in invalid.items():
    if errors(record):
        ok(name)
    else:
        fail(f"invalid: {name}", "accepted by the schema, but the reader rejects it")

print(f"schema: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
