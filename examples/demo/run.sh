#!/usr/bin/env bash
# make demo: the method end to end on one CPU, on data this machine already has (about 10 minutes on 2 cores).
#   1. a real en-X parallel corpus from the gettext catalogs, 1000 pairs per language held out for retrieval
#   2. cxlm-prepare: cleaning, SentencePiece, fairseq-preprocess
#   3. the same small model trained twice for the same updates: lambda = 0 (MLM + TLM only) and lambda > 0
#   4. side by side: MLM/TLM perplexity on the test split, retrieval on the held-out pairs (and on Tatoeba when
#      ../shared/data/tatoeba or TATOEBA is there), an embedding map of each model, and the reference row of a
#      character-trigram TF-IDF matcher on the same pairs, and bitext mining (cxlm-mine --pairs: F1 of finding
#      300 held-out translations per language hidden among 700 sentences without one)
#   5. with XNLI_DIR (cxlm-download xnli --out DIR): a short XNLI fine-tune and zero-shot evaluation of both
# Settings come from the environment, e.g. LANGS=de,fr UPDATES=200 LAMBDA=0.5 make demo
set -euo pipefail
cd "$(dirname "$0")/../.."

RUN=${RUN:-runs/demo}
LANGS=${LANGS:-de,es,fr,ru}
UPDATES=${UPDATES:-400}
LAMBDA=${LAMBDA:-1.0}
TATOEBA=${TATOEBA:-../shared/data/tatoeba}
XNLI_DIR=${XNLI_DIR:-}
MLM_LANGS="en,${LANGS}"
TLM_PAIRS=$(echo "$LANGS" | sed 's/\([a-z][a-z]\)/en-\1/g')
MODEL=(--arch contrastive_xlm --encoder-layers 4 --encoder-embed-dim 128 --encoder-ffn-embed-dim 512
       --encoder-attention-heads 4 --max-positions 128)
START=$(date +%s)
step() { echo; echo "== $* ($(( $(date +%s) - START )) s)"; }

step "1/5 gettext corpus: en-{${LANGS}}, 1000 held-out pairs each"
cxlm-gettext-corpus --langs "$LANGS" --mono --max-pairs 20000 --heldout 1000 --out "$RUN/raw"

step "2/5 cxlm-prepare -> $RUN/data"
# shellcheck disable=SC2046  # the file holds one option and its value per line
cxlm-prepare $(cat "$RUN/raw/cxlm-prepare.args") --vocab-size 8000 --valid-size 500 --test-size 500 \
  --out "$RUN/data" --force 2>&1 | grep -F "| cxlm-prepare |" || true

RUNS=("lambda_0" "lambda_${LAMBDA}")
WEIGHTS=(0 "$LAMBDA")
for i in 0 1; do
  name=${RUNS[$i]}
  step "3/5 train $name: MLM ($MLM_LANGS) + TLM ($TLM_PAIRS) + NT-Xent weight ${WEIGHTS[$i]}, $UPDATES updates"
  rm -rf "${RUN:?}/$name"
  mkdir -p "$RUN/$name"
  fairseq-train "$RUN/data" --user-dir fairseq_contrastive_xlm \
    --task cross_lingual_lm_contrastive --mlm-langs "$MLM_LANGS" --tlm-pairs "$TLM_PAIRS" \
    "${MODEL[@]}" --tokens-per-sample 128 \
    --criterion masked_lm_ntxent --ntxent-weight "${WEIGHTS[$i]}" --ntxent-temperature 0.1 \
    --optimizer adam --adam-betas '(0.9,0.98)' --lr 5e-4 --lr-scheduler inverse_sqrt --warmup-updates 100 \
    --batch-size 32 --max-update "$UPDATES" --seed 1 --cpu --num-workers 0 \
    --log-format simple --log-interval 100 --validate-interval-updates "$UPDATES" \
    --save-dir "$RUN/$name/checkpoints" --no-epoch-checkpoints > "$RUN/$name/train.log" 2>&1
  grep -E "\| (train_inner|valid) \|" "$RUN/$name/train.log" | sed -E 's/.*\| (train_inner|valid) \| //; s/, (wps|ups|wpb|bsz|gnorm|train_wall|wall|lr)=[^,]*//g; s/ \| (wps|wpb|bsz) [0-9.]*//g'
done

for name in "${RUNS[@]}"; do
  step "4/5 evaluate $name"
  ckpt=$RUN/$name/checkpoints/checkpoint_last.pt
  cxlm-perplexity --checkpoint "$ckpt" --data "$RUN/data" --split test --json "$RUN/$name/perplexity.json" 2>/dev/null
  cxlm-retrieval --checkpoint "$ckpt" --data "$RUN/data" --pairs "$RUN/raw/heldout" --json "$RUN/$name/heldout.json" 2>/dev/null
  if [ -d "$TATOEBA" ]; then
    cxlm-retrieval --checkpoint "$ckpt" --data "$RUN/data" --tatoeba "$TATOEBA" --langs "$LANGS" \
      --json "$RUN/$name/tatoeba.json" 2>/dev/null
  fi
  cxlm-embed-plot --checkpoint "$ckpt" --data "$RUN/data" --pairs "$RUN/raw/heldout" --sentences 150 \
    --out "$RUN/$name/embeddings.png" 2>/dev/null
  # bitext mining: per language, 300 held-out translations hidden among 350 + 350 sentences without one
  cxlm-mine --pairs "$RUN/raw/heldout" --hidden 300 --checkpoint "$ckpt" --data "$RUN/data" \
    --json "$RUN/$name/mining.json" 2>/dev/null | sed -n 's/^average: /mining (F1 of finding held-out translations among one-sided sentences): /p'
done

step "4/5 reference row: character-trigram TF-IDF on the same pairs, no model (--baseline char-ngram)"
mkdir -p "$RUN/char_ngram"
cxlm-retrieval --baseline char-ngram --pairs "$RUN/raw/heldout" --json "$RUN/char_ngram/heldout.json" 2>/dev/null | tail -1
if [ -d "$TATOEBA" ]; then
  cxlm-retrieval --baseline char-ngram --tatoeba "$TATOEBA" --langs "$LANGS" --json "$RUN/char_ngram/tatoeba.json" \
    2>/dev/null | tail -1
fi
cxlm-mine --pairs "$RUN/raw/heldout" --hidden 300 --baseline char-ngram --json "$RUN/char_ngram/mining.json" \
  2>/dev/null | sed -n 's/^average: /mining: /p'

if [ -n "$XNLI_DIR" ]; then
  step "5/5 XNLI: 20000 English training examples, 1 epoch per model, zero-shot on 15 languages"
  cxlm-xnli-prepare --train "$XNLI_DIR/XNLI-MT-1.0/multinli/multinli.train.en.tsv" --xnli-dir "$XNLI_DIR/XNLI-1.0" \
    --data "$RUN/data" --out "$RUN/xnli-bin" --max-positions 128 --truncate --max-train 20000 --force 2>/dev/null
  for name in "${RUNS[@]}"; do
    cxlm-xnli-grid --data "$RUN/xnli-bin" --pretrained "$RUN/$name/checkpoints/checkpoint_last.pt" \
      --out "$RUN/$name/xnli-grid" --lr 1e-4 --optimizer adam --batch-size 32 --max-epoch 1 --cpu -- --num-workers 0 2>/dev/null
    best=$(python3 -c "import json; print(json.load(open('$RUN/$name/xnli-grid/grid.json'))['best']['best_checkpoint'])")
    cxlm-xnli-eval --checkpoint "$best" --data "$RUN/xnli-bin" --out "$RUN/$name/xnli" --cpu 2>/dev/null | tail -3
  done
else
  step "5/5 XNLI skipped: get it with 'cxlm-download xnli --out data/xnli', then XNLI_DIR=data/xnli make demo"
fi

step "side by side (perplexity: lower is better; retrieval: % of held-out sentences whose nearest neighbour is their translation; mining: F1)"
cxlm-summarize --runs "$RUN"
echo
echo "Embedding maps: $RUN/${RUNS[0]}/embeddings.png and $RUN/${RUNS[1]}/embeddings.png; table: $RUN/summary.md"
