#!/usr/bin/env bash
# Trains the rerank model shipped in searcher/rerank_model.json, reproducibly: indexes SciFact
# and NFCorpus from the shared data, then runs medsearch-train on SciFact's train split and
# NFCorpus's dev split (a linear model by coordinate ascent, sets weighing equally, then 150
# gradient-boosted trees of depth 5 from its scores, queries weighing equally, their output
# rising with the first-stage scores bm25 and bm25_query), with 5-fold cross-validation printed
# first. `--learner linear` gives the linear model alone. A second model over the lexical
# features alone (no `semantic`) goes to searcher/rerank_model_lexical.json, for indexes
# without a semantic model.
#
#   scripts/train-rerank.sh                      # writes searcher/rerank_model.json
#   scripts/train-rerank.sh --out /tmp/model.json --data DIR
# Extra arguments go to medsearch-train, replacing the settings below they name (e.g.
# --feedback-docs 0 to train without feedback, --depth 100). --cv-queries FILE.tsv writes each
# judged query's cross-validated nDCG@10 (the lexical model's to FILE_lexical.tsv).
# Environment: MEDSEARCH_BUILD_DIR (default build/, as for scripts/build.sh); MEDSEARCH_BIN, a
# folder of already built medsearch-index and medsearch-train, used as they are (no build).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="$root/../shared/data"
out="$root/searcher/rerank_model.json"
extra=()
usage_error() { echo "train-rerank: $1 (scripts/train-rerank.sh --help)" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --data) [ $# -ge 2 ] || usage_error "--data needs a folder"; data="$2"; shift 2 ;;
    --out) [ $# -ge 2 ] || usage_error "--out needs a file"; out="$2"; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) extra+=("$1"); shift ;;
  esac
done
for f in scifact/corpus.jsonl scifact/queries.jsonl scifact/qrels/train.tsv \
  nfcorpus/corpus.jsonl nfcorpus/queries.jsonl nfcorpus/qrels/dev.tsv; do
  [ -r "$data/$f" ] || { echo "train-rerank: cannot read $data/$f (give --data DIR)" >&2; exit 2; }
done
# The shipped model's settings; an option given to this script replaces its setting here
# (medsearch-train refuses an option given twice).
defaults=(--learner linear+trees --trees 150 --tree-depth 5 --monotone bm25,bm25_query --learning-rate 0.05 --min-child-weight 20
  --feedback-docs 10 --feedback-terms 20 --feedback-alpha 0.3 --widen-min-terms 1 --feedback-max-words 5
  --feedback-max-df 0.05 --depth 40 --restarts 2 --seed 1 --folds 5
  --features coverage_idf,coverage,title_idf,length,prf,first_rank,bm25_query,rarest,semantic)
args=()
for ((i = 0; i < ${#defaults[@]}; i += 2)); do
  name="${defaults[i]}"
  given=false
  for e in ${extra[@]+"${extra[@]}"}; do
    if [ "$e" = "$name" ] || [[ "$e" == "$name="* ]]; then given=true; fi
  done
  $given || args+=("$name" "${defaults[i + 1]}")
done
if [ "${MEDSEARCH_TRAIN_PRINT:-}" = 1 ]; then  # print the command instead of running it (tests)
  printf '%s\n' "${args[@]}" ${extra[@]+"${extra[@]}"}
  exit 0
fi
if [ -n "${MEDSEARCH_BIN:-}" ]; then
  bin="$MEDSEARCH_BIN"
else
  # The same folder scripts/build.sh builds into (an absolute MEDSEARCH_BUILD_DIR was looked for
  # under the repository).
  MEDSEARCH_TARGETS="medsearch-index medsearch-train" "$root/scripts/build.sh" >&2
  bin="$(cd "${MEDSEARCH_BUILD_DIR:-$root/build}" && pwd)/bin"
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/medsearch-train.XXXXXX")"
trap 'rm -rf "$work"' EXIT
for ds in scifact nfcorpus; do
  "$bin/medsearch-index" --db "$work/$ds" --progress none -q "$data/$ds/corpus.jsonl" >&2
done
sets=(--set "scifact:$work/scifact:$data/scifact/queries.jsonl:$data/scifact/qrels/train.tsv"
  --set "nfcorpus:$work/nfcorpus:$data/nfcorpus/queries.jsonl:$data/nfcorpus/qrels/dev.tsv")
"$bin/medsearch-train" "${args[@]}" "${sets[@]}" --out "$out" ${extra[@]+"${extra[@]}"}
# The model for an index without a semantic model (a small one, or one indexed with --semantic
# off: corpus/semantic.h), which the searcher uses there instead: the same settings over the
# lexical features alone, written beside OUT as OUT_lexical.json. Not when --features was given
# (the caller chose the features), nor with MEDSEARCH_TRAIN_LEXICAL=0.
features_given=false
for e in ${extra[@]+"${extra[@]}"}; do
  if [ "$e" = --features ] || [[ "$e" == --features=* ]]; then features_given=true; fi
done
if ! $features_given && [ "${MEDSEARCH_TRAIN_LEXICAL:-1}" = 1 ]; then
  lexical=()
  for ((i = 0; i < ${#args[@]}; i++)); do
    if [ "${args[i]}" = --features ]; then
      lexical+=(--features "${args[i + 1]%,semantic}")
      i=$((i + 1))
    else
      lexical+=("${args[i]}")
    fi
  done
  # Its per-query file, if asked for, beside the other's: FILE_lexical.tsv.
  lexical_extra=()
  for ((i = 0; i < ${#extra[@]}; i++)); do
    case "${extra[i]}" in
      --cv-queries) lexical_extra+=(--cv-queries "${extra[i + 1]:-}"); lexical_extra[-1]="${lexical_extra[-1]%.tsv}_lexical.tsv"; i=$((i + 1)) ;;
      --cv-queries=*) f="${extra[i]#--cv-queries=}"; lexical_extra+=("--cv-queries=${f%.tsv}_lexical.tsv") ;;
      *) lexical_extra+=("${extra[i]}") ;;
    esac
  done
  echo "train-rerank: the lexical model, for indexes without a semantic model:" >&2
  "$bin/medsearch-train" "${lexical[@]}" "${sets[@]}" --out "${out%.json}_lexical.json" \
    ${lexical_extra[@]+"${lexical_extra[@]}"}
fi
