#!/usr/bin/env bash
# LASER's Tatoeba v1 test pairs (sentence retrieval) for the 14 non-English XNLI languages.
#   preprocess/get_tatoeba.sh [OUT=data/tatoeba]
set -euo pipefail
cxlm-download tatoeba --out "${OUT:-data/tatoeba}"
