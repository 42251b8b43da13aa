#!/usr/bin/env bash
# Offline data: en-X pairs from the gettext catalogs of this machine (no download), for every XNLI language
# with enough messages, each side also as monolingual text.
#   preprocess/get_gettext_data.sh [OUT=data/gettext] [LANGS=de,fr,...] [VOCAB=16000]
set -euo pipefail
OUT=${OUT:-data/gettext}
VOCAB=${VOCAB:-16000}
cxlm-gettext-corpus --mono ${LANGS:+--langs "$LANGS"} --out "$OUT/raw"
# shellcheck disable=SC2046
cxlm-prepare $(cat "$OUT/raw/cxlm-prepare.args") --vocab-size "$VOCAB" --valid-size 1000 --test-size 1000 \
  --out "$OUT/data-bin" ${FORCE:+--force}
echo "data directory: $OUT/data-bin (see its manifest.json)"
