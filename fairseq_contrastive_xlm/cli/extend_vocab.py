"""cxlm-extend-vocab: new languages for a pretrained model, its old vocabulary untouched.

    cxlm-extend-vocab --checkpoint xlmr/model.pt --data xlmr --text el:wiki.el.txt --pieces 8000 --out xlmr-el

--checkpoint is a model cxlm-import wrote or one trained here; --data holds its spm.model and dict.txt (its data
directory, or cxlm-import's folder). Writes OUT/spm.model (the old model with the new pieces appended, most
frequent first), OUT/dict.txt (the old entries, then the new), OUT/checkpoint.pt (the vocabulary rows grown,
<mask>'s row moved to its new id, each new row the mean of the old pieces that spell it) and OUT/manifest.json
(what was added, from what text, how initialised). Prepare data with cxlm-prepare --spm-model OUT/spm.model
--dict OUT/dict.txt, then continue with fairseq-train --restore-file OUT/checkpoint.pt and the four --reset-*.
"""

import argparse

from ..errors import UserInputError
from ..vocab_extension import DEFAULT_SHARE, INITIALISATIONS, extend_vocabulary
from . import command


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="cxlm-extend-vocab", description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="the model to extend (cxlm-import's model.pt, or ours)")
    parser.add_argument("--data", required=True, help="the directory holding its spm.model and dict.txt")
    parser.add_argument(
        "--text", action="append", required=True, metavar="LANG:FILE", help="text of a new language (repeatable)"
    )
    parser.add_argument("--pieces", type=int, required=True, help="how many pieces to add")
    parser.add_argument(
        "--train-vocab-size",
        type=int,
        default=0,
        help="the size of the SentencePiece model trained on the new text, whose pieces the old model lacks are "
        "the candidates (default: twice --pieces)",
    )
    parser.add_argument(
        "--init",
        choices=INITIALISATIONS,
        default="mean",
        help="new rows: the mean of the old pieces that spell the new one (default), or random as fairseq's",
    )
    parser.add_argument(
        "--new-text-share",
        type=float,
        default=DEFAULT_SHARE,
        help="the new languages' share of the text the model will be trained on: the new pieces' SentencePiece "
        f"scores and output biases are lowered by log(1 / share), so that old languages keep their pieces "
        f"(1: the new model's scores as they are; default {DEFAULT_SHARE})",
    )
    parser.add_argument("--seed", type=int, default=1, help="SentencePiece's sampling seed (default 1)")
    parser.add_argument("--out", required=True, help="the output directory (appears whole or not at all)")
    parser.add_argument("--force", action="store_true", help="replace an existing --out")
    return parser.parse_args(argv)


def texts_from(specs):
    texts = []
    for spec in specs:
        lang, sep, path = spec.partition(":")
        if not sep or not lang or not path:
            raise UserInputError(f"--text {spec!r}: expected LANG:FILE, e.g. el:wiki.el.txt")
        texts.append((lang, path))
    return texts


@command("cxlm-extend-vocab")
def main(argv=None):
    args = parse_args(argv)
    manifest = extend_vocabulary(
        args.checkpoint,
        args.data,
        texts_from(args.text),
        args.pieces,
        args.out,
        train_vocab_size=args.train_vocab_size,
        init=args.init,
        share=args.new_text_share,
        seed=args.seed,
        force=args.force,
    )
    print(f"added {manifest['pieces_added']} pieces; <mask> is now {manifest['mask_id']['after']}; wrote {args.out}")


if __name__ == "__main__":
    main()
