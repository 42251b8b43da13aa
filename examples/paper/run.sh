#!/usr/bin/env bash
# The paper's seven models end to end: intermediate training (all but the baseline), the XNLI fine-tune,
# zero-shot XNLI evaluation, Tatoeba retrieval, and one table.
#
#   DATA=data-bin XNLI=xnli-bin START=path/to/pretrained.pt OUT=runs/paper examples/paper/run.sh
#
# DATA: the pretraining data directory (cxlm-prepare; preprocess/get_paper_data.sh)
# XNLI: cxlm-xnli-prepare's output; START: the model every run starts from: a fairseq checkpoint, or a folder
# cxlm-import wrote. The paper's own start is the original XLM-15, imported with its codes:
#   cxlm-download xlm15 --out downloads/xlm15
#   cxlm-import xlm downloads/xlm15/mlm_tlm_xnli15_1024.pth --codes downloads/xlm15/codes_xnli_15 --out xlm15
#   cxlm-prepare ... --tokenizer xlm --bpe-codes xlm15/codes --dict xlm15/dict.txt --out data-bin   (and XNLI:
#   cxlm-xnli-prepare --data data-bin ...), then START=xlm15 (or XLM-R / InfoXLM through cxlm-import hf).
# Optional:
#   MODELS="baseline tlm mlm_tlm contrastive_se_tlm contrastive_se_mlm_tlm contrastive_me_tlm contrastive_me_mlm_tlm"
#   MODEL="model.encoder_layers=12 ..."   the model's shape (default: read from START, whatever it is)
#   PRETRAIN="optimization.max_update=50000 ..."   FINETUNE="optimization.lr=[1e-05] ..."   (Hydra overrides)
#   BATCH=32 EPOCHS=3 (fine-tuning), TATOEBA=data/tatoeba (retrieval), EXTRA="common.cpu=true"
# A model whose results exist is skipped, so the script can be run again after an interruption.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${DATA:?set DATA}" "${XNLI:?set XNLI}" "${START:?set START}"
OUT=${OUT:-runs/paper}
MODELS=${MODELS:-baseline tlm mlm_tlm contrastive_se_tlm contrastive_se_mlm_tlm contrastive_me_tlm contrastive_me_mlm_tlm}
BATCH=${BATCH:-32}
EPOCHS=${EPOCHS:-3}
CONFIG=$PWD/fairseq_contrastive_xlm/config/paper
USER_DIR=$PWD/fairseq_contrastive_xlm
abs() { python3 -c 'import os, sys; print(os.path.abspath(sys.argv[1]))' "$1"; }
DATA=$(abs "$DATA"); XNLI=$(abs "$XNLI"); START=$(abs "$START"); OUT=$(abs "$OUT")
if [ -d "$START" ]; then START=$START/model.pt; fi  # a folder cxlm-import wrote
# The model's shape, read from START when MODEL is not given: only once a model is to be trained (reading it imports
# fairseq, 6 s), so that a rerun after every model is done costs nothing.
model_shape() {
  if [ -z "${MODEL:-}" ] && [ -z "${model_read:-}" ]; then
    MODEL=$(python3 -c 'import sys; from fairseq_contrastive_xlm.xnli.finetune import hydra_model_overrides as o; print(" ".join(o(sys.argv[1])))' "$START")
    model_read=1
  fi
}
TOTAL=$(python3 -c "import json, math; n = json.load(open('$XNLI/xnli.json'))['examples']['train']; print(math.ceil(n / $BATCH) * $EPOCHS)")

for model in $MODELS; do
  run=$OUT/$model
  if [ -f "$run/xnli/results.json" ]; then echo "== $model: done before"; continue; fi
  mkdir -p "$run"
  model_shape
  if [ "$model" = baseline ]; then
    pretrained=$START; finetune_config=baseline
  else
    echo "== $model: intermediate training"
    # shellcheck disable=SC2086  # MODEL, PRETRAIN and EXTRA hold several overrides
    fairseq-hydra-train --config-dir "$CONFIG" --config-name "$model" common.user_dir="$USER_DIR" \
      task.data="$DATA" checkpoint.restore_file="$START" checkpoint.save_dir="$run/pretrain" \
      ${MODEL:-} ${PRETRAIN:-} ${EXTRA:-} > "$run/pretrain.log" 2>&1
    pretrained=$run/pretrain/checkpoint_last.pt; finetune_config=finetune
  fi
  echo "== $model: XNLI fine-tune ($TOTAL updates)"
  # shellcheck disable=SC2086
  fairseq-hydra-train --config-dir "$CONFIG" --config-name "$finetune_config" common.user_dir="$USER_DIR" \
    task.data="$XNLI" checkpoint.restore_file="$pretrained" checkpoint.save_dir="$run/finetune" \
    dataset.batch_size="$BATCH" optimization.max_epoch="$EPOCHS" lr_scheduler.total_num_update="$TOTAL" \
    ${MODEL:-} ${FINETUNE:-} ${EXTRA:-} > "$run/finetune.log" 2>&1
  if [ -n "${TATOEBA:-}" ]; then
    echo "== $model: Tatoeba retrieval"
    cxlm-retrieval --checkpoint "$pretrained" --data "$DATA" --tatoeba "$TATOEBA" --json "$run/tatoeba.json" > "$run/tatoeba.log" 2>&1
  fi
  echo "== $model: zero-shot XNLI"
  cxlm-xnli-eval --checkpoint "$run/finetune" --data "$XNLI" --out "$run/xnli" > "$run/xnli.log" 2>&1
done
cxlm-summarize --runs "$OUT"
