"""cxlm-export-hf: a contrastive_xlm checkpoint as a Hugging Face folder that transformers loads without our code.

    cxlm-export-hf --checkpoint checkpoints/checkpoint_best.pt --data data-bin --out my-model
    cxlm-export-hf --checkpoint finetune/checkpoint_best.pt --data xnli-bin --out my-xnli-model

A pretrained model becomes XLMRobertaForMaskedLM (AutoModelForMaskedLM), a fine-tuned XNLI model (fairseq's
sentence_prediction head) XLMRobertaForSequenceClassification with the label names, a model with XLM's output
layer (imported from XLM) XLMWithLMHeadModel. Where --data has spm.model, the folder also gets XLM-R's
tokenizer over it (AutoTokenizer), which encodes to the model's ids, and sentence-transformers' modules:
SentenceTransformer(OUT).encode(sentences) gives cxlm-embed's embeddings (the same --pooling, --layer and
--projection, the last L2-normalised). Language embeddings travel as token types (XLMRoberta) or as XLM's own
language embeddings; --input-lang (or the model's own) is token type 0, what inputs without token_type_ids get.
The folder's README says which input selects the language. The folder appears whole or not at all.
"""

import argparse

from ..atomic import refuse_existing
from ..interop.export import SentenceOptions, export
from ..modules import POOLINGS
from . import command


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="cxlm-export-hf", description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="a contrastive_xlm checkpoint (pretrained or fine-tuned)")
    parser.add_argument("--data", required=True, help="its data directory (dict.txt, spm.model; for XNLI: xnli-bin)")
    parser.add_argument("--out", required=True, help="the folder to write")
    parser.add_argument("--force", action="store_true", help="replace --out if it exists")
    embedding = parser.add_argument_group("sentence-transformers modules (SentenceTransformer(OUT).encode)")
    embedding.add_argument("--pooling", choices=POOLINGS, help="default: the model's --ntxent-pooling")
    embedding.add_argument(
        "--layer", type=int, help="0 = embeddings, 1..L, -1 = last (default: the model's --ntxent-layer)"
    )
    embedding.add_argument(
        "--projection", action="store_true", help="add the NT-Xent projection head (Dense) and L2 normalisation"
    )
    parser.add_argument(
        "--input-lang",
        help="with language embeddings: the language read when no token_type_ids are given (token type 0; "
        "default: the model's --input-lang, else its first language)",
    )
    return parser.parse_args(argv)


@command("cxlm-export-hf")
def main(argv=None):
    args = parse_args(argv)
    refuse_existing(args.out, args.force)
    sentence = SentenceOptions(args.pooling, args.layer, args.projection)
    config = export(args.checkpoint, args.data, args.out, args.force, sentence, args.input_lang)
    print(f"wrote {args.out} ({config.architectures[0]})")


if __name__ == "__main__":
    main()
