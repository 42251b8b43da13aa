#!/usr/bin/env bash
# The paper's pretraining data for the 15 XNLI languages: Wikipedia for MLM, OPUS en-X pairs for TLM and
# NT-Xent, in one data directory. Resumable: run it again after an interruption.
#   preprocess/get_paper_data.sh [OUT=data/paper] [LANGS=ar,bg,...] [VOCAB=95000]
# Continuing XLM-R instead? Add its model and dictionary: SPM_MODEL=... DICT=... (replaces VOCAB).
# Wikipedia dumps are large (English alone is over 20 GB): MAX_ARTICLES=100000 keeps a sample per language.
set -euo pipefail
OUT=${OUT:-data/paper}
LANGS=${LANGS:-ar,bg,de,el,en,es,fr,hi,ru,sw,th,tr,ur,vi,zh}
OTHERS=$(echo "$LANGS" | tr ',' '\n' | grep -v '^en$' | paste -sd, -)
VOCAB=${VOCAB:-95000}
WORKERS=${WORKERS:-$(nproc)}

cxlm-download wikipedia --langs "$LANGS" --max-articles "${MAX_ARTICLES:-0}" --out "$OUT/raw/wiki"
cxlm-download opus --langs "$OTHERS" --out "$OUT/raw/opus"

if [ -n "${SPM_MODEL:-}" ]; then vocab=(--spm-model "$SPM_MODEL" --dict "$DICT"); else vocab=(--vocab-size "$VOCAB"); fi
# shellcheck disable=SC2046  # the .args files hold one option and its value per line
cxlm-prepare $(cat "$OUT/raw/wiki/cxlm-prepare.args" "$OUT/raw/opus/cxlm-prepare.args") "${vocab[@]}" \
  --sampling-alpha 0.5 --workers "$WORKERS" --out "$OUT/data-bin" ${FORCE:+--force}
echo "data directory: $OUT/data-bin (see its manifest.json)"
