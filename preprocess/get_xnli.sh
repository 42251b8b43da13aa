#!/usr/bin/env bash
# XNLI-1.0 (dev and test in 15 languages) and XNLI-MT-1.0 (MultiNLI train, machine-translated).
#   preprocess/get_xnli.sh [OUT=data/xnli]
set -euo pipefail
cxlm-download xnli --out "${OUT:-data/xnli}"
