#!/usr/bin/env bash
# Continue a pretrained model with the contrastive term, as the paper did with XLM-15 and InfoXLM with XLM-R:
#   1. cxlm-import the model (a Hugging Face XLM-R / InfoXLM folder, or XLM's own .pth with its BPE codes)
#   2. cxlm-prepare the corpus with the model's own tokenizer and dictionary
#   3. continue it twice for the same updates (--restore-file and the four resets): lambda = 0 (MLM + TLM only)
#      and lambda = LAMBDA (+ NT-Xent), the pair that says what the contrastive term adds and what it costs
#   4. score the pretrained model and both continuations (perplexity, and retrieval on HELDOUT when given)
#   5. cxlm-export-hf the contrastive continuation: a Hugging Face folder and a sentence-transformers encoder
#
#   FROM=hf:downloads/xlm-roberta-base CORPUS="--para en-de:opus.en,opus.de --mono en:cc.en" examples/continue/run.sh
#   FROM=xlm:downloads/xlm15/mlm_tlm_xnli15_1024.pth CODES=downloads/xlm15/codes_xnli_15 CORPUS=... examples/continue/run.sh
#
# CORPUS: cxlm-prepare's corpus options (--para SRC-TGT:SRC,TGT and --mono LANG:PATH, repeatable), or CORPUS_FILE:
#   a file of them, one a line (cxlm-gettext-corpus writes one). TLM trains on the --para pairs, MLM on the --mono
#   languages. HELDOUT: a folder of held-out pairs (en-xx.en, en-xx.xx) for cxlm-retrieval. OUT (runs/continue).
# Training: UPDATES LR WARMUP BATCH (sentences per GPU and objective) LAMBDA TEMPERATURE SEED; EXTRA: more
# fairseq-train options (--fp16, --update-freq, --distributed-world-size ...); PREPARE_EXTRA: more cxlm-prepare ones.
# docs/training.md#continuing-a-pretrained-model gives the settings for XLM-R base on 8 GPUs.
# A step whose output exists is skipped, so the script can be run again after an interruption.
# Paths are read from where it is run.
set -euo pipefail
USER_DIR=$(cd "$(dirname "$0")/../.." && pwd)/fairseq_contrastive_xlm
: "${FROM:?set FROM=hf:FOLDER or FROM=xlm:FILE.pth}"
OUT=${OUT:-runs/continue}
UPDATES=${UPDATES:-400}
LR=${LR:-5e-4}
WARMUP=${WARMUP:-100}
BATCH=${BATCH:-32}
LAMBDA=${LAMBDA:-1.0}
TEMPERATURE=${TEMPERATURE:-0.1}
SEED=${SEED:-1}
HELDOUT=${HELDOUT:-}
read -r -a EXTRA_ARGS <<< "${EXTRA:-}"
read -r -a PREPARE_ARGS <<< "${PREPARE_EXTRA:-}"
if [ -n "${CORPUS_FILE:-}" ]; then CORPUS=$(tr '\n' ' ' < "$CORPUS_FILE"); fi
: "${CORPUS:?set CORPUS (the --para and --mono options of cxlm-prepare) or CORPUS_FILE}"
read -r -a CORPUS_ARGS <<< "$CORPUS"
list() {  # list OPTION: the languages (--mono) or pairs (--para) the corpus options name, comma-separated
  local option=$1 out=() i
  for ((i = 0; i < ${#CORPUS_ARGS[@]}; i++)); do
    if [ "${CORPUS_ARGS[$i]}" = "$option" ]; then out+=("${CORPUS_ARGS[$((i + 1))]%%:*}"); fi
  done
  (IFS=,; echo "${out[*]}")
}
MLM_LANGS=$(list --mono)
TLM_PAIRS=$(list --para)
START=$OUT/start

kind=${FROM%%:*} path=${FROM#*:}
if [ ! -f "$START/model.pt" ]; then
  echo "== 1/5 cxlm-import $kind $path -> $START"
  case $kind in
    hf) cxlm-import hf "$path" --out "$START" ;;
    xlm) cxlm-import xlm "$path" ${CODES:+--codes "$CODES"} --out "$START" ;;
    *) echo "error: FROM=$FROM: expected hf:FOLDER or xlm:FILE.pth" >&2; exit 2 ;;
  esac
fi

if [ ! -f "$OUT/data/dict.txt" ]; then
  echo "== 2/5 cxlm-prepare with the model's tokenizer -> $OUT/data"
  if [ -f "$START/spm.model" ]; then
    tokenizer=(--spm-model "$START/spm.model" --dict "$START/dict.txt")
  else
    tokenizer=(--tokenizer xlm --bpe-codes "$START/codes" --dict "$START/dict.txt")
  fi
  cxlm-prepare "${CORPUS_ARGS[@]}" "${tokenizer[@]}" "${PREPARE_ARGS[@]}" --out "$OUT/data"
fi

# shellcheck disable=SC2046  # model.args holds one option and its value per line
MODEL=($(cat "$START/model.args"))
for name in lambda_0 lambda_1; do
  contrastive=(--ntxent-weight "$LAMBDA")
  if [ "$name" = lambda_0 ]; then contrastive=(--ntxent-weight 0 --ntxent-pairs none); fi
  if [ -f "$OUT/$name/checkpoints/checkpoint_last.pt" ]; then echo "== 3/5 $name: done before"; continue; fi
  echo "== 3/5 continue, $name: MLM (${MLM_LANGS:-none}) + TLM ($TLM_PAIRS) ${contrastive[*]}, $UPDATES updates"
  mkdir -p "$OUT/$name"
  fairseq-train "$OUT/data" --user-dir "$USER_DIR" --task cross_lingual_lm_contrastive \
    --mlm-langs "$MLM_LANGS" --tlm-pairs "$TLM_PAIRS" "${MODEL[@]}" \
    --criterion masked_lm_ntxent "${contrastive[@]}" --ntxent-temperature "$TEMPERATURE" \
    --restore-file "$START/model.pt" --reset-optimizer --reset-dataloader --reset-meters --reset-lr-scheduler \
    --optimizer adam --adam-betas '(0.9,0.98)' --lr "$LR" --lr-scheduler inverse_sqrt --warmup-updates "$WARMUP" \
    --batch-size "$BATCH" --max-update "$UPDATES" --seed "$SEED" --log-format simple --log-interval 100 \
    --save-dir "$OUT/$name/checkpoints" --no-epoch-checkpoints --disable-validation "${EXTRA_ARGS[@]}" \
    > "$OUT/$name/train.log" 2>&1 || { tail -20 "$OUT/$name/train.log" >&2; exit 1; }
done

for name in pretrained lambda_0 lambda_1; do
  if [ -f "$OUT/$name/perplexity.json" ] && { [ -z "$HELDOUT" ] || [ -f "$OUT/$name/heldout.json" ]; }; then
    echo "== 4/5 evaluate $name: done before"; continue
  fi
  echo "== 4/5 evaluate $name"
  ckpt=$([ "$name" = pretrained ] && echo "$START/model.pt" || echo "$OUT/$name/checkpoints/checkpoint_last.pt")
  mkdir -p "$OUT/$name"
  cxlm-perplexity --checkpoint "$ckpt" --data "$OUT/data" --split test ${MLM_LANGS:+--mlm-langs "$MLM_LANGS"} \
    --tlm-pairs "$TLM_PAIRS" --json "$OUT/$name/perplexity.json" > /dev/null
  if [ -n "$HELDOUT" ]; then
    cxlm-retrieval --checkpoint "$ckpt" --data "$OUT/data" --pairs "$HELDOUT" --json "$OUT/$name/heldout.json" > /dev/null
  fi
done

if [ ! -f "$OUT/hf/config.json" ]; then
  echo "== 5/5 cxlm-export-hf lambda_1 -> $OUT/hf"
  cxlm-export-hf --checkpoint "$OUT/lambda_1/checkpoints/checkpoint_last.pt" --data "$OUT/data" --out "$OUT/hf"
fi
cxlm-summarize --runs "$OUT" --order pretrained,lambda_0,lambda_1 --forgetting lambda_1/lambda_0
