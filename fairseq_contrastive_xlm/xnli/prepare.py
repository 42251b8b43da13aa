"""XNLI as fairseq's sentence_prediction task reads it: each split's premises, hypotheses and labels encoded with the
pretraining tokenizer, binarized with the pretraining dictionary (cxlm-xnli-prepare is the command over it)."""

import json
import os
import shutil
from typing import Dict, List

from ..atomic import staged_directory
from ..errors import UserInputError
from ..prepare.binarize import binarize_named_splits
from ..tokenization.tokenizers import encode_line
from ..tokenization.xlm_tokenizer import record_lowercase
from .formats import LABELS

# <s> premise </s> </s> hypothesis </s>: sentence_prediction adds the first and third (--init-token 0
# --separator-token 2), fairseq-preprocess the two </s>.
SPECIAL_TOKENS = 4


def fit(premise, hypothesis, limit):
    """Cut pieces from the end of the longer side until the pair fits in `limit` pieces."""
    premise, hypothesis = premise.split(), hypothesis.split()
    while len(premise) + len(hypothesis) > limit:
        longer = premise if len(premise) >= len(hypothesis) else hypothesis
        longer.pop()
    return " ".join(premise), " ".join(hypothesis)


class Encoder:
    """Writes splits as text, one example a line (premise, hypothesis, label), within the model's positions."""

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


def write_directory(
    out: str,
    splits: Dict[str, tuple],
    tokenizer,
    dictionary: str,
    encoder: Encoder,
    summary: Dict,
    force: bool = False,
):
    """OUT/input0, input1 and label for every split ({name: (examples, where they come from, language)}), the
    tokenizer's file, and OUT/xnli.json (summary plus the examples per split and how many were truncated)."""
    with staged_directory(out, force) as staging:
        text = os.path.join(staging, "text")
        os.makedirs(text)
        for split, (examples, where, lang) in splits.items():
            encoder.write(examples, where, text, split, lang)
        labels = os.path.join(staging, "label.dict.txt")
        with open(labels, "w", encoding="utf-8") as f:
            f.writelines(f"{label} 1\n" for label in LABELS)  # a fixed order, not by frequency
        for key, vocabulary in (("input0", dictionary), ("input1", dictionary), ("label", labels)):
            directory = os.path.join(staging, key)
            os.makedirs(directory)
            files = {split: os.path.join(text, f"{split}.{key}") for split in splits}
            binarize_named_splits(files, vocabulary, directory)
        os.remove(labels)
        shutil.rmtree(text)
        shutil.copy(tokenizer.path, os.path.join(staging, tokenizer.file_name))
        if tokenizer.lowercase is not None:  # XLM's codes: whether they lowercase travels with them
            record_lowercase(staging, tokenizer.lowercase)
        summary = {
            **summary,
            "examples": {split: len(examples) for split, (examples, _, _) in splits.items()},
            "truncated": encoder.truncated,
        }
        with open(os.path.join(staging, "xnli.json"), "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=2)
    return summary


def read_summary(data: str) -> Dict:
    """DATA/xnli.json, which cxlm-xnli-prepare writes: the languages, labels and examples of an XNLI directory."""
    path = os.path.join(data, "xnli.json")
    if not os.path.isfile(path):
        raise UserInputError(f"{path} is missing: {data} must be a directory written by cxlm-xnli-prepare")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (ValueError, UnicodeDecodeError) as err:
        raise UserInputError(f"{path} is not the JSON cxlm-xnli-prepare writes ({err})") from None


def splits_of(train: List, train_path: str, dev: Dict, dev_path: str, test: Dict, test_path: str, langs) -> Dict:
    """The splits to write: train ((Multi)NLI's English), valid (English dev), dev_<lang> and test_<lang>."""
    splits = {"train": (train, train_path, "en")}
    if "en" in dev:
        splits["valid"] = (dev["en"], f"{dev_path} (en)", "en")
    for lang in langs:
        splits[f"dev_{lang}"] = (dev[lang], f"{dev_path} ({lang})", lang)
        splits[f"test_{lang}"] = (test[lang], f"{test_path} ({lang})", lang)
    return splits
