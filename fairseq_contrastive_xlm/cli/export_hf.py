"""cxlm-export-hf: a contrastive_xlm checkpoint as a Hugging Face folder that transformers loads without our code.

    cxlm-export-hf --checkpoint checkpoints/checkpoint_best.pt --data data-bin --out my-model
    cxlm-export-hf --checkpoint finetune/checkpoint_best.pt --data xnli-bin --out my-xnli-model

A pretrained model becomes XLMRobertaForMaskedLM (AutoModelForMaskedLM), a fine-tuned XNLI model (fairseq's
sentence_prediction head) XLMRobertaForSequenceClassification with the label names, a model with XLM's output
layer (imported from XLM) XLMWithLMHeadModel. Where --data has spm.model, the folder also gets XLM-R's
tokenizer over it (AutoTokenizer), which encodes to the model's ids. Language embeddings travel as token types
(XLMRoberta) or as XLM's own language embeddings; the folder's README says which input selects the language.
The folder appears whole or not at all.
"""

import argparse

from ..atomic import refuse_existing
from ..interop.export import export
from . import command


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="cxlm-export-hf", description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="a contrastive_xlm checkpoint (pretrained or fine-tuned)")
    parser.add_argument("--data", required=True, help="its data directory (dict.txt, spm.model; for XNLI: xnli-bin)")
    parser.add_argument("--out", required=True, help="the folder to write")
    parser.add_argument("--force", action="store_true", help="replace --out if it exists")
    return parser.parse_args(argv)


@command("cxlm-export-hf")
def main(argv=None):
    args = parse_args(argv)
    refuse_existing(args.out, args.force)
    config = export(args.checkpoint, args.data, args.out, args.force)
    print(f"wrote {args.out} ({config.architectures[0]})")


if __name__ == "__main__":
    main()
