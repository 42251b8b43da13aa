"""cxlm-xnli-prepare: XNLI as fairseq's sentence_prediction task reads it.

    cxlm-xnli-prepare --train XNLI-MT-1.0/multinli/multinli.train.en.tsv --xnli-dir XNLI-1.0 \\
        --data data-bin --out xnli-bin

Encodes with the pretraining tokenizer and dictionary (DATA/spm.model, or XLM's DATA/codes for a model imported
from XLM, each language with its own Moses rules; DATA/dict.txt) and writes
OUT/input0/ (premises), OUT/input1/ (hypotheses) and OUT/label/ for these splits: train (English), valid
(English dev), and dev_<lang> and test_<lang> for every language. Labels are always entailment=0,
neutral=1, contradiction=2. OUT/xnli.json records the counts; OUT/spm.model (or OUT/codes) is the one used.
"""

import argparse
import logging
import os

from ..atomic import refuse_existing
from ..errors import UserInputError
from ..languages import XNLI_LANGUAGES, select_langs
from ..tokenization import tokenizers
from ..xnli.formats import LABELS, by_language, read
from ..xnli.prepare import Encoder, splits_of, write_directory
from . import command
from .inputs import lowercase_option

logger = logging.getLogger("cxlm-xnli-prepare")


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="cxlm-xnli-prepare", description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", required=True, help="English training data: XNLI-MT-1.0 tsv or MultiNLI 1.0 jsonl")
    parser.add_argument("--xnli-dir", required=True, help="directory holding XNLI-1.0's xnli.dev.tsv and xnli.test.tsv")
    parser.add_argument("--data", required=True, help="the pretraining data directory (its spm.model and dict.txt)")
    lowercase_option(parser)
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--langs", default=",".join(XNLI_LANGUAGES), help="languages to evaluate (default: all 15)")
    parser.add_argument(
        "--max-positions",
        type=int,
        default=512,
        help="the model's positions; longer examples are an error unless --truncate (default 512)",
    )
    parser.add_argument(
        "--truncate",
        action="store_true",
        help="cut over-long examples (the longer side first) and count them instead of failing",
    )
    parser.add_argument(
        "--max-train",
        type=int,
        default=0,
        help="keep only the first N training examples (0: all), e.g. for a quick CPU run",
    )
    parser.add_argument("--force", action="store_true", help="replace --out if it exists")
    return parser.parse_args(argv)


@command("cxlm-xnli-prepare")
def main(argv=None):
    args = parse_args(argv)
    langs = select_langs(args.langs, "--langs", XNLI_LANGUAGES)
    dictionary = os.path.join(args.data, "dict.txt")
    if not os.path.isfile(dictionary):
        raise UserInputError(
            f"{dictionary} is missing: --data must be the pretraining data directory made by cxlm-prepare"
        )
    tokenizer = tokenizers.of_data_directory(args.data, args.lowercase)
    refuse_existing(args.out, args.force)
    train = read(args.train)
    if args.max_train:
        train.examples = train.examples[: args.max_train]
    dev_path, test_path = (os.path.join(args.xnli_dir, f"xnli.{s}.tsv") for s in ("dev", "test"))
    dev, test = (by_language(read(path), path, tuple(langs)) for path in (dev_path, test_path))

    encoder = Encoder(tokenizer, args.max_positions, args.truncate)
    splits = splits_of(train.examples, args.train, dev, dev_path, test, test_path, langs)
    recorded = {
        "languages": langs,
        "labels": list(LABELS),
        "train": {
            "file": os.path.abspath(args.train),
            "format": train.format,
            "dropped_no_gold_label": train.dropped_no_gold_label,
        },
        "pretraining_data": os.path.abspath(args.data),
        "max_positions": args.max_positions,
    }
    write_directory(args.out, splits, tokenizer, dictionary, encoder, recorded, args.force)
    if train.dropped_no_gold_label:
        logger.info("%s: dropped %d examples without a gold label ('-')", args.train, train.dropped_no_gold_label)
    if encoder.truncated:
        logger.warning("truncated %d examples longer than --max-positions %d", encoder.truncated, args.max_positions)
    logger.info("wrote %s: %d training examples, %d languages", args.out, len(train.examples), len(langs))


if __name__ == "__main__":
    main()
