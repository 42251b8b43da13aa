"""From the encoded splits to what the task reads: one data directory, or fairseq's shards of one
(OUT/shard0 ... OUT/shard<N-1>, trained on with --data OUT/shard0:OUT/shard1:...)."""

import itertools
import json
import os
import shutil
from typing import Dict, List

from ..errors import UserInputError
from . import binarize
from .corpora import Corpus, PrepareOptions

SPLITS = ("train", "valid", "test")


def binarize_all(corpora: List[Corpus], splits: Dict[str, Dict[str, str]], dictionary: str, out: str):
    """splits: corpus name -> {split: P}, with tokenised P.<lang>.tok -> OUT/mono/... and OUT/para/..."""
    for corpus in corpora:
        present = splits[corpus.name]
        if corpus.parallel:
            src, tgt = corpus.langs
            for s, base in present.items():  # fairseq-preprocess wants PREFIX.<lang>
                for lang in corpus.langs:
                    os.replace(f"{base}.{lang}.tok", f"{base}.tok.{lang}")
            binarize.binarize_pair(out, src, tgt, {s: base + ".tok" for s, base in present.items()}, dictionary)
        else:
            lang = corpus.langs[0]
            binarize.binarize_mono(out, lang, {s: f"{base}.{lang}.tok" for s, base in present.items()}, dictionary)


def shard_training_text(corpus: Corpus, prefix: str, shards: int) -> List[int]:
    """Cut the training split's .tok files into `shards` consecutive runs of lines, as even as can be
    (P.format('train-shard<i>').<lang>.tok); returns the sentences of each. Consecutive: documents stay whole."""
    n = corpus.split_sizes["train"]
    if n < shards:
        raise UserInputError(f"{corpus.name} has {n} training sentences: too few for --shards {shards}")
    bounds = [i * n // shards for i in range(shards + 1)]
    for lang in corpus.langs:
        path = f"{prefix.format('train')}.{lang}.tok"
        with open(path, encoding="utf-8") as f:
            for i in range(shards):
                with open(f"{prefix.format(f'train-shard{i}')}.{lang}.tok", "w", encoding="utf-8") as out:
                    out.writelines(itertools.islice(f, bounds[i + 1] - bounds[i]))
        os.remove(path)
    return [bounds[i + 1] - bounds[i] for i in range(shards)]


def write_shards(corpora: List[Corpus], prefixes, options: PrepareOptions, vocabulary: List[str], staging: str):
    """STAGING/shard<i>: each a whole data directory with the same vocabulary files (dict.txt, spm.model or
    codes); training lines spread evenly, validation and test in shard0 only. Returns the shard directories."""
    sizes = {c.name: shard_training_text(c, prefixes[c.name], options.shards) for c in corpora}
    directories = []
    for i in range(options.shards):
        shard = os.path.join(staging, f"shard{i}")
        os.makedirs(shard)
        for path in vocabulary:
            shutil.copy(path, shard)
        splits = {}
        for c in corpora:
            splits[c.name] = {"train": prefixes[c.name].format(f"train-shard{i}")}
            if i == 0:
                splits[c.name].update({s: prefixes[c.name].format(s) for s in SPLITS[1:] if c.split_sizes[s] > 0})
        binarize_all(corpora, splits, os.path.join(shard, "dict.txt"), shard)
        with open(os.path.join(shard, "shard.json"), "w", encoding="utf-8") as f:
            train = {c.name: sizes[c.name][i] for c in corpora}
            json.dump({"shard": i, "shards": options.shards, "train_sentences": train}, f, indent=2)
        directories.append(shard)
    return directories
