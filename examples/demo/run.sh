#!/usr/bin/env bash
# make demo: contrastive cross-lingual pretraining end to end on one CPU, on data this machine already has.
#   1. an en-X parallel corpus from the gettext catalogs (human translations of program messages)
#   2. cxlm-prepare: cleaning, SentencePiece, fairseq-preprocess -> runs/demo/data
#   3. fairseq-train with the plugin: MLM + TLM + NT-Xent on a small model
# Settings can be overridden from the environment, e.g. LANGS=de,fr UPDATES=100 make demo
set -euo pipefail
cd "$(dirname "$0")/../.."

RUN=${RUN:-runs/demo}
LANGS=${LANGS:-de,es,fr,ru}
UPDATES=${UPDATES:-400}
MLM_LANGS="en,${LANGS}"
TLM_PAIRS=$(echo "$LANGS" | sed 's/\([a-z][a-z]\)/en-\1/g')

echo "== 1/3 gettext corpus: en-{${LANGS}}"
cxlm-gettext-corpus --langs "$LANGS" --mono --max-pairs 20000 --out "$RUN/raw"

echo "== 2/3 cxlm-prepare -> $RUN/data"
# shellcheck disable=SC2046  # the file holds one argument pair per line
cxlm-prepare $(cat "$RUN/raw/cxlm-prepare.args") --vocab-size 8000 --valid-size 500 --test-size 500 \
  --out "$RUN/data" --force

echo "== 3/3 fairseq-train: MLM (${MLM_LANGS}) + TLM (${TLM_PAIRS}) + NT-Xent, ${UPDATES} updates"
rm -rf "$RUN/checkpoints"
fairseq-train "$RUN/data" --user-dir fairseq_contrastive_xlm \
  --task cross_lingual_lm_contrastive --mlm-langs "$MLM_LANGS" --tlm-pairs "$TLM_PAIRS" \
  --arch contrastive_xlm --encoder-layers 4 --encoder-embed-dim 128 --encoder-ffn-embed-dim 512 \
  --encoder-attention-heads 4 --max-positions 128 --tokens-per-sample 128 \
  --criterion masked_lm_ntxent --ntxent-weight 1.0 --ntxent-temperature 0.1 \
  --optimizer adam --adam-betas '(0.9,0.98)' --lr 5e-4 --lr-scheduler inverse_sqrt --warmup-updates 100 \
  --batch-size 32 --max-update "$UPDATES" --cpu --num-workers 0 \
  --log-format simple --log-interval 50 --validate-interval-updates "$UPDATES" \
  --save-dir "$RUN/checkpoints" --no-epoch-checkpoints

echo "== done: checkpoints in $RUN/checkpoints; the valid line above has mlm_ppl, tlm_ppl, ntxent_loss, ntxent_acc"
