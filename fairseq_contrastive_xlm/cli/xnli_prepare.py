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
import json
import logging
import os
import shutil

from ..atomic import refuse_existing, staged_directory
from ..errors import UserInputError
from ..languages import XNLI_LANGUAGES, select_langs
from ..prepare.binarize import binarize_named_splits
from ..tokenization import tokenizers
from ..tokenization.tokenizers import encode_line
from ..xnli.formats import LABELS, by_language, read
from . import command

logger = logging.getLogger("cxlm-xnli-prepare")

# <s> premise </s> </s> hypothesis </s>: sentence_prediction adds the first and third (--init-token 0
# --separator-token 2), fairseq-preprocess the two </s>.
SPECIAL_TOKENS = 4


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="cxlm-xnli-prepare", description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", required=True, help="English training data: XNLI-MT-1.0 tsv or MultiNLI 1.0 jsonl")
    parser.add_argument("--xnli-dir", required=True, help="directory holding XNLI-1.0's xnli.dev.tsv and xnli.test.tsv")
    parser.add_argument("--data", required=True, help="the pretraining data directory (its spm.model and dict.txt)")
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
    parser.add_argument("--workers", type=int, default=1, help="fairseq-preprocess workers")
    parser.add_argument("--force", action="store_true", help="replace --out if it exists")
    return parser.parse_args(argv)


def fit(premise, hypothesis, limit):
    """Cut pieces from the end of the longer side until the pair fits in `limit` pieces."""
    premise, hypothesis = premise.split(), hypothesis.split()
    while len(premise) + len(hypothesis) > limit:
        longer = premise if len(premise) >= len(hypothesis) else hypothesis
        longer.pop()
    return " ".join(premise), " ".join(hypothesis)


class Encoder:
    def __init__(self, tokenizer, max_positions, truncate):
        self.tokenizer = tokenizer
        self.limit = max_positions - SPECIAL_TOKENS
        self.truncate = truncate
        self.truncated = 0

    def write(self, examples, where, directory, split, lang):
        with (
            open(os.path.join(directory, f"{split}.input0"), "w", encoding="utf-8") as p,
            open(os.path.join(directory, f"{split}.input1"), "w", encoding="utf-8") as h,
            open(os.path.join(directory, f"{split}.label"), "w", encoding="utf-8") as y,
        ):
            for number, example in enumerate(examples, start=1):
                premise = encode_line(self.tokenizer, example.premise, lang)
                hypothesis = encode_line(self.tokenizer, example.hypothesis, lang)
                length = len(premise.split()) + len(hypothesis.split())
                if length > self.limit:
                    if not self.truncate:
                        raise UserInputError(
                            f"{where}: example {number} has {length + SPECIAL_TOKENS} tokens, more than "
                            f"--max-positions {self.limit + SPECIAL_TOKENS}; pass --truncate to cut such examples"
                        )
                    premise, hypothesis = fit(premise, hypothesis, self.limit)
                    self.truncated += 1
                p.write(premise + "\n")
                h.write(hypothesis + "\n")
                y.write(LABELS[example.label] + "\n")


@command("cxlm-xnli-prepare")
def main(argv=None):
    args = parse_args(argv)
    langs = select_langs(args.langs, "--langs", XNLI_LANGUAGES)
    dictionary = os.path.join(args.data, "dict.txt")
    if not os.path.isfile(dictionary):
        raise UserInputError(
            f"{dictionary} is missing: --data must be the pretraining data directory made by cxlm-prepare"
        )
    tokenizer = tokenizers.of_data_directory(args.data)
    refuse_existing(args.out, args.force)
    train = read(args.train)
    if args.max_train:
        train.examples = train.examples[: args.max_train]
    dev_path, test_path = (os.path.join(args.xnli_dir, f"xnli.{s}.tsv") for s in ("dev", "test"))
    dev, test = (by_language(read(path), path, tuple(langs)) for path in (dev_path, test_path))

    encoder = Encoder(tokenizer, args.max_positions, args.truncate)
    with staged_directory(args.out, args.force) as staging:
        text = os.path.join(staging, "text")
        os.makedirs(text)
        splits = {"train": (train.examples, args.train, "en")}  # (Multi)NLI's English training set
        if "en" in dev:
            splits["valid"] = (dev["en"], f"{dev_path} (en)", "en")
        for lang in langs:
            splits[f"dev_{lang}"] = (dev[lang], f"{dev_path} ({lang})", lang)
            splits[f"test_{lang}"] = (test[lang], f"{test_path} ({lang})", lang)
        for split, (examples, where, lang) in splits.items():
            encoder.write(examples, where, text, split, lang)

        labels = os.path.join(staging, "label.dict.txt")
        with open(labels, "w", encoding="utf-8") as f:
            f.writelines(f"{label} 1\n" for label in LABELS)  # a fixed order, not by frequency
        for key, vocabulary in (("input0", dictionary), ("input1", dictionary), ("label", labels)):
            directory = os.path.join(staging, key)
            os.makedirs(directory)
            files = {split: os.path.join(text, f"{split}.{key}") for split in splits}
            binarize_named_splits(files, vocabulary, directory, args.workers)
        os.remove(labels)
        shutil.rmtree(text)
        shutil.copy(tokenizer.path, os.path.join(staging, tokenizer.file_name))
        summary = {
            "languages": langs,
            "labels": list(LABELS),
            "train": {
                "file": os.path.abspath(args.train),
                "format": train.format,
                "dropped_no_gold_label": train.dropped_no_gold_label,
            },
            "pretraining_data": os.path.abspath(args.data),
            "examples": {split: len(examples) for split, (examples, _, _) in splits.items()},
            "truncated": encoder.truncated,
            "max_positions": args.max_positions,
        }
        with open(os.path.join(staging, "xnli.json"), "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=2)
    if train.dropped_no_gold_label:
        logger.info("%s: dropped %d examples without a gold label ('-')", args.train, train.dropped_no_gold_label)
    if encoder.truncated:
        logger.warning("truncated %d examples longer than --max-positions %d", encoder.truncated, args.max_positions)
    logger.info("wrote %s: %d training examples, %d languages", args.out, len(train.examples), len(langs))


if __name__ == "__main__":
    main()
