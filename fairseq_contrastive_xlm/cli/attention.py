"""cxlm-attention: a heatmap of one layer's self-attention over a premise/hypothesis pair (or a sentence).

    cxlm-attention --checkpoint finetune/checkpoint_best.pt --data xnli-bin \\
        --premise "The cat sat on the mat." --hypothesis "A cat is sitting." --layer 12 --out attention.png

DATA is the directory whose spm.model and dictionary the checkpoint was trained with (the XNLI directory of
a fine-tune, the pretraining directory of a pretrained model). The pair is encoded as the model sees it:
<s> premise </s> </s> hypothesis </s>. --head N shows one head; by default the heads are averaged.
"""

import argparse

import torch

from ..checkpoints import load
from ..errors import UserInputError
from ..evaluation import plots
from ..evaluation.attention import attention
from ..tokenization import tokenizers
from . import command


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="cxlm-attention", description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="a contrastive_xlm checkpoint (pretrained or fine-tuned)")
    parser.add_argument("--data", required=True, help="the data directory with its spm.model")
    parser.add_argument("--premise", required=True, help="the first sentence")
    parser.add_argument("--hypothesis", help="the second sentence (optional)")
    parser.add_argument("--layer", type=int, default=-1, help="layer 1..L (default: the last)")
    parser.add_argument("--head", type=int, help="one head 1..H (default: the mean of all heads)")
    parser.add_argument(
        "--lang", default="en", help="language id given to a model with language embeddings (default en)"
    )
    parser.add_argument("--out", required=True, help="the PNG to write")
    return parser.parse_args(argv)


@command("cxlm-attention")
def main(argv=None):
    args = parse_args(argv)
    tokenizer = tokenizers.of_data_directory(args.data)
    model, task, _ = load(args.checkpoint, data=args.data, cpu=True)
    dictionary = task.source_dictionary
    pieces = ["<s>", *tokenizer.pieces(args.premise, args.lang), "</s>"]
    if args.hypothesis:
        pieces += ["</s>", *tokenizer.pieces(args.hypothesis, args.lang), "</s>"]
    tokens = torch.tensor([[dictionary.index(p) for p in pieces]])
    layer = args.layer if args.layer > 0 else len(model.encoder.sentence_encoder.layers)
    weights = attention(model, tokens, layer, args.lang)
    if args.head is not None:
        if not 1 <= args.head <= weights.size(0):
            raise UserInputError(f"--head {args.head}: the layer has heads 1..{weights.size(0)}")
        matrix, which = weights[args.head - 1], f"head {args.head}"
    else:
        matrix, which = weights.mean(dim=0), f"mean of {weights.size(0)} heads"
    path = plots.attention_heatmap(pieces, matrix.float().numpy(), args.out, f"layer {layer}, {which}")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
