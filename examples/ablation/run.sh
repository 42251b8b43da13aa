#!/usr/bin/env bash
# The ablation study of the contrastive settings, at make demo's size: every variant of variants.tsv (or of
# VARIANTS) trained SEEDS times on the demo corpus, held-out retrieval at every INTERVAL updates, then one
# table and one picture (cxlm-ablation-report).
#
#   make demo                                  # once: the corpus (runs/demo/data, runs/demo/raw/heldout)
#   examples/ablation/run.sh                   # all variants, 2 seeds, 400 updates: about 3 minutes a run on 2 cores
#   ONLY="default views_dropout_0.1" SEEDS="1 2 3" UPDATES=800 examples/ablation/run.sh
#   START=runs/demo/pretrained/checkpoint_last.pt BASELINE= RUN=runs/ablation_continue VARIANTS=examples/ablation/continue.tsv \
#     examples/ablation/run.sh         # the study on the paper's protocol: every run continues make demo's stage 1
#
# A run whose results exist is skipped, so the script can be run again after an interruption or with more seeds.
set -euo pipefail
cd "$(dirname "$0")/../.."

DEMO=${DEMO:-runs/demo}
RUN=${RUN:-runs/ablation}
VARIANTS=${VARIANTS:-examples/ablation/variants.tsv}
SEEDS=${SEEDS:-1 2}
UPDATES=${UPDATES:-400}
INTERVAL=${INTERVAL:-100}
LANGS=${LANGS:-de,es,fr,ru}
TATOEBA=${TATOEBA:-../shared/data/tatoeba}
ONLY=${ONLY:-}
START=${START:-}  # a checkpoint every run continues (--restore-file and the four resets); empty: from scratch
SPLIT=${SPLIT:-test}  # where perplexity is measured
MODEL=${MODEL:---encoder-layers 4 --encoder-embed-dim 128 --encoder-ffn-embed-dim 512 --encoder-attention-heads 4}
# The study's baseline, which every variant changes: first-token pooling and the MLP head (the package's defaults,
# mean pooling and a linear head, are the variant pool_mean_head_linear). BASELINE= runs the variants against the
# package's defaults instead.
BASELINE=${BASELINE---ntxent-pooling first --ntxent-head mlp}
for needed in "$DEMO/data/dict.txt" "$DEMO/raw/heldout"; do
  [ -e "$needed" ] || { echo "error: $needed is missing: run 'make demo' first (or set DEMO)" >&2; exit 2; }
done
RESTORE=()
if [ -n "$START" ]; then
  RESTORE=(--restore-file "$START" --reset-optimizer --reset-dataloader --reset-meters --reset-lr-scheduler)
fi
MLM_LANGS="en,${LANGS}"
TLM_PAIRS=$(echo "$LANGS" | sed 's/\([a-z][a-z]\)/en-\1/g')

# The reference row: a character-trigram TF-IDF matcher on the same pairs, no model.
if [ ! -f "$RUN/char_ngram/seed1/heldout.json" ]; then
  mkdir -p "$RUN/char_ngram/seed1"
  cxlm-retrieval --baseline char-ngram --pairs "$DEMO/raw/heldout" --json "$RUN/char_ngram/seed1/heldout.json" > /dev/null
  if [ -d "$TATOEBA" ]; then
    cxlm-retrieval --baseline char-ngram --tatoeba "$TATOEBA" --langs "$LANGS" \
      --json "$RUN/char_ngram/seed1/tatoeba.json" > /dev/null
  fi
fi

while IFS=$'\t' read -r name options <&3; do
  [ -n "$name" ] || continue
  if [ -n "$ONLY" ] && [[ " $ONLY " != *" $name "* ]]; then continue; fi
  for seed in $SEEDS; do
    dir=$RUN/$name/seed$seed
    if [ -f "$dir/heldout.json" ]; then echo "== $name seed $seed: done before"; continue; fi
    echo "== $name seed $seed: $UPDATES updates ${options:+($options)}"
    rm -rf "$dir"; mkdir -p "$dir"
    began=$(date +%s)
    # shellcheck disable=SC2086  # MODEL and options hold several options
    fairseq-train "$DEMO/data" --user-dir fairseq_contrastive_xlm \
      --task cross_lingual_lm_contrastive --mlm-langs "$MLM_LANGS" --tlm-pairs "$TLM_PAIRS" \
      --arch contrastive_xlm $MODEL $BASELINE --max-positions 128 --tokens-per-sample 128 \
      --criterion masked_lm_ntxent --ntxent-weight 1.0 --ntxent-temperature 0.1 \
      --optimizer adam --adam-betas '(0.9,0.98)' --lr 5e-4 --lr-scheduler inverse_sqrt --warmup-updates 100 \
      --batch-size 32 --max-update "$UPDATES" --cpu --num-workers 0 --log-format simple --log-interval 100 \
      --validate-interval-updates "$UPDATES" --save-interval-updates "$INTERVAL" --no-epoch-checkpoints \
      --save-dir "$dir/checkpoints" "${RESTORE[@]}" $options --seed "$seed" > "$dir/train.log" 2>&1
    echo $(( $(date +%s) - began )) > "$dir/seconds.txt"
    # every checkpoint_1_<updates>.pt of the run, in one process
    cxlm-retrieval --checkpoint "$dir/checkpoints" --data "$DEMO/data" --pairs "$DEMO/raw/heldout" \
      --json "$dir/heldout_{updates}.json" > /dev/null 2>&1
    last=$dir/checkpoints/checkpoint_last.pt
    cxlm-perplexity --checkpoint "$last" --data "$DEMO/data" --split "$SPLIT" --json "$dir/perplexity.json" > /dev/null 2>&1
    if [ -d "$TATOEBA" ]; then
      cxlm-retrieval --checkpoint "$last" --data "$DEMO/data" --tatoeba "$TATOEBA" --langs "$LANGS" \
        --json "$dir/tatoeba.json" > /dev/null 2>&1
    fi
    cp "$dir/heldout_$UPDATES.json" "$dir/heldout.json"
    rm -rf "$dir/checkpoints"  # a few MB each; the numbers are what the study keeps
  done
done 3< <(grep -v '^#' "$VARIANTS")
cxlm-ablation-report --runs "$RUN"
