#!/usr/bin/env bash
# make demo: the paper's protocol on one CPU, on data this machine already has.
#   1. a real en-X parallel corpus from the gettext catalogs, 1000 pairs per language held out for retrieval
#   2. cxlm-prepare: cleaning, SentencePiece, fairseq's binary files
#   3. stage 1: the small model pretrained with MLM + TLM only (lambda = 0), the starting point a user takes from
#      XLM-R; cached under runs/stage1/<key of its data and settings>, so that a later run reuses it
#   4. stage 2: that checkpoint continued twice for the same updates, as a user continues XLM-R (--restore-file and
#      the four resets): lambda = 0 (MLM + TLM only) and lambda = LAMBDA (+ NT-Xent)
#   5. the three models side by side: MLM/TLM perplexity on the test split, retrieval on the held-out pairs (and on
#      Tatoeba when ../shared/data/tatoeba or TATOEBA is there), an embedding map of each, bitext mining (cxlm-mine
#      --pairs: F1 of finding 300 held-out translations per language hidden among 700 sentences without one), and
#      the reference row of a character-trigram TF-IDF matcher on the same pairs
#   6. with XNLI_DIR (cxlm-download xnli --out DIR): a short XNLI fine-tune and zero-shot evaluation of the three
# Settings come from the environment, e.g. LANGS=de,fr UPDATES=200 LAMBDA=0.5 make demo
set -euo pipefail
cd "$(dirname "$0")/../.."

RUN=${RUN:-runs/demo}
CACHE=${CACHE:-runs/stage1}
LANGS=${LANGS:-de,es,fr,ru}
PRETRAIN_UPDATES=${PRETRAIN_UPDATES:-1200}
UPDATES=${UPDATES:-1200}
LAMBDA=${LAMBDA:-1.0}
SEED=${SEED:-1}
TATOEBA=${TATOEBA:-../shared/data/tatoeba}
XNLI_DIR=${XNLI_DIR:-}
MLM_LANGS="en,${LANGS}"
TLM_PAIRS=$(echo "$LANGS" | sed 's/\([a-z][a-z]\)/en-\1/g')
MODEL=(--arch contrastive_xlm --encoder-layers 4 --encoder-embed-dim 128 --encoder-ffn-embed-dim 512
       --encoder-attention-heads 4 --max-positions 128)
TASK=(--task cross_lingual_lm_contrastive --mlm-langs "$MLM_LANGS" --tlm-pairs "$TLM_PAIRS" --tokens-per-sample 128)
COMMON=(--optimizer adam --adam-betas '(0.9,0.98)' --lr-scheduler inverse_sqrt --batch-size 32 --cpu --num-workers 0
        --log-format simple --log-interval 100 --no-epoch-checkpoints)
# Stage 1, the pretrained model: MLM + TLM alone (no views are encoded: --ntxent-pairs none).
PRETRAIN=(--criterion masked_lm_ntxent --ntxent-weight 0 --ntxent-pairs none --lr 5e-4 --warmup-updates 100 --seed 1)
# Stage 2, the continuation: the settings the study on this protocol chose (docs/results.md#continuing-a-pretrained-model).
CONTINUE=(--criterion masked_lm_ntxent --ntxent-temperature 0.1 --lr 1e-3 --warmup-updates 100 --seed "$SEED")
START=$(date +%s)
step() { echo; echo "== $* ($(( $(date +%s) - START )) s)"; }
seconds_since() { echo $(( $(date +%s) - $1 )); }

step "1/6 gettext corpus: en-{${LANGS}}, 1000 held-out pairs each"
cxlm-gettext-corpus --langs "$LANGS" --mono --max-pairs 20000 --heldout 1000 --out "$RUN/raw"

step "2/6 cxlm-prepare -> $RUN/data"
# shellcheck disable=SC2046  # the file holds one option and its value per line
cxlm-prepare $(cat "$RUN/raw/cxlm-prepare.args") --vocab-size 8000 --valid-size 500 --test-size 500 \
  --out "$RUN/data" --force 2>&1 | grep -F "| cxlm-prepare |" || true

train() {  # train SAVE_DIR LOG UPDATES OPTIONS...: one fairseq-train of the demo model on the demo data
  local save=$1 log=$2 updates=$3; shift 3
  fairseq-train "$RUN/data" --user-dir fairseq_contrastive_xlm "${TASK[@]}" "${MODEL[@]}" "${COMMON[@]}" \
    --max-update "$updates" --validate-interval-updates "$updates" --save-dir "$save" "$@" > "$log" 2>&1
  grep -E "\| (train_inner|valid) \|" "$log" | sed -E 's/.*\| (train_inner|valid) \| //; s/, (wps|ups|wpb|bsz|gnorm|train_wall|wall|lr)=[^,]*//g; s/ \| (wps|wpb|bsz) [0-9.]*//g'
}

evaluate() {  # evaluate CHECKPOINT OUT: every score of one model, as JSON files in OUT
  local ckpt=$1 out=$2
  mkdir -p "$out"
  cxlm-perplexity --checkpoint "$ckpt" --data "$RUN/data" --split test --json "$out/perplexity.json" 2>/dev/null
  cxlm-retrieval --checkpoint "$ckpt" --data "$RUN/data" --pairs "$RUN/raw/heldout" --json "$out/heldout.json" 2>/dev/null
  if [ -d "$TATOEBA" ]; then
    cxlm-retrieval --checkpoint "$ckpt" --data "$RUN/data" --tatoeba "$TATOEBA" --langs "$LANGS" \
      --json "$out/tatoeba.json" 2>/dev/null
  fi
  cxlm-embed-plot --checkpoint "$ckpt" --data "$RUN/data" --pairs "$RUN/raw/heldout" --sentences 150 \
    --out "$out/embeddings.png" 2>/dev/null
  # bitext mining: per language, 300 held-out translations hidden among 350 + 350 sentences without one
  cxlm-mine --pairs "$RUN/raw/heldout" --hidden 300 --checkpoint "$ckpt" --data "$RUN/data" \
    --json "$out/mining.json" 2>/dev/null | sed -n 's/^average: /mining (F1 of finding held-out translations among one-sided sentences): /p'
}

# The stage-1 key: the bytes of the binarized data, its dictionaries and the held-out pairs (the cached scores read
# them), and the stage-1 command line without its paths.
KEY=$( { (cd "$RUN" && { find data \( -name '*.bin' -o -name '*.idx' -o -name 'dict*.txt' \); find raw/heldout -type f; } |
            LC_ALL=C sort | xargs sha256sum)
         printf '%s\n' "${TASK[@]}" "${MODEL[@]}" "${COMMON[@]}" "${PRETRAIN[@]}" "$PRETRAIN_UPDATES" "${TATOEBA}"
       } | sha256sum | cut -c1-16)
STAGE1=$CACHE/$KEY
began=$(date +%s)
if [ -f "$STAGE1/checkpoint_last.pt" ]; then
  step "3/6 stage 1: reusing $STAGE1 (same data and settings; delete it to retrain)"
else
  step "3/6 stage 1 -> $STAGE1: MLM ($MLM_LANGS) + TLM ($TLM_PAIRS), lambda 0, $PRETRAIN_UPDATES updates"
  rm -rf "$STAGE1.partial" && mkdir -p "$STAGE1.partial"
  train "$STAGE1.partial" "$STAGE1.partial/train.log" "$PRETRAIN_UPDATES" "${PRETRAIN[@]}"
  evaluate "$STAGE1.partial/checkpoint_last.pt" "$STAGE1.partial/scores"  # the same model scores the same every run
  rm -rf "$STAGE1" && mv "$STAGE1.partial" "$STAGE1"  # the cache holds whole stage-1 runs only
fi
STAGE1_SECONDS=$(seconds_since "$began")
rm -rf "${RUN:?}/pretrained" && cp -r "$STAGE1/scores" "$RUN/pretrained"
ln -s "$(realpath "$STAGE1/checkpoint_last.pt")" "$RUN/pretrained/checkpoint_last.pt"

for name in lambda_0 lambda_1; do
  contrastive=(--ntxent-weight "$LAMBDA")
  if [ "$name" = lambda_0 ]; then contrastive=(--ntxent-weight 0 --ntxent-pairs none); fi
  step "4/6 stage 2, $name: continue with MLM + TLM ${contrastive[*]}, $UPDATES updates"
  rm -rf "${RUN:?}/$name" && mkdir -p "$RUN/$name"
  train "$RUN/$name/checkpoints" "$RUN/$name/train.log" "$UPDATES" "${CONTINUE[@]}" "${contrastive[@]}" \
    --restore-file "$RUN/pretrained/checkpoint_last.pt" --reset-optimizer --reset-dataloader --reset-meters \
    --reset-lr-scheduler
  step "5/6 evaluate $name"
  evaluate "$RUN/$name/checkpoints/checkpoint_last.pt" "$RUN/$name"
done

step "5/6 reference row: character-trigram TF-IDF on the same pairs, no model (--baseline char-ngram)"
mkdir -p "$RUN/char_ngram"
cxlm-retrieval --baseline char-ngram --pairs "$RUN/raw/heldout" --json "$RUN/char_ngram/heldout.json" 2>/dev/null | tail -1
if [ -d "$TATOEBA" ]; then
  cxlm-retrieval --baseline char-ngram --tatoeba "$TATOEBA" --langs "$LANGS" --json "$RUN/char_ngram/tatoeba.json" \
    2>/dev/null | tail -1
fi
cxlm-mine --pairs "$RUN/raw/heldout" --hidden 300 --baseline char-ngram --json "$RUN/char_ngram/mining.json" \
  2>/dev/null | sed -n 's/^average: /mining: /p'

if [ -n "$XNLI_DIR" ]; then
  step "6/6 XNLI: 20000 English training examples, 1 epoch per model, zero-shot on 15 languages"
  cxlm-xnli-prepare --train "$XNLI_DIR/XNLI-MT-1.0/multinli/multinli.train.en.tsv" --xnli-dir "$XNLI_DIR/XNLI-1.0" \
    --data "$RUN/data" --out "$RUN/xnli-bin" --max-positions 128 --truncate --max-train 20000 --force 2>/dev/null
  for name in pretrained lambda_0 lambda_1; do
    cxlm-xnli-grid --data "$RUN/xnli-bin" --pretrained "$RUN/$name/checkpoint_last.pt" \
      --out "$RUN/$name/xnli-grid" --lr 1e-4 --optimizer adam --batch-size 32 --max-epoch 1 --cpu -- --num-workers 0 2>/dev/null
    best=$(python3 -c "import json; print(json.load(open('$RUN/$name/xnli-grid/grid.json'))['best']['best_checkpoint'])")
    cxlm-xnli-eval --checkpoint "$best" --data "$RUN/xnli-bin" --out "$RUN/$name/xnli" --cpu 2>/dev/null | tail -3
  done
else
  step "6/6 XNLI skipped: get it with 'cxlm-download xnli --out data/xnli', then XNLI_DIR=data/xnli make demo"
fi

printf '{"stage1": %s, "total": %s}\n' "$STAGE1_SECONDS" "$(seconds_since "$START")" > "$RUN/seconds.json"
step "side by side (perplexity: lower is better; retrieval: % of held-out sentences whose nearest neighbour is their translation; mining: F1)"
cxlm-summarize --runs "$RUN" --order pretrained,lambda_0,lambda_1,char_ngram --per-language \
  --forgetting lambda_1/lambda_0 --seconds "$RUN/seconds.json"
echo
echo "Embedding maps: $RUN/{pretrained,lambda_0,lambda_1}/embeddings.png; table: $RUN/summary.md and summary.json"
