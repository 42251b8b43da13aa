"""Where the binarized splits go: fairseq-preprocess's layout, mono/<lang>/ and para/<src>-<tgt>/
(data/data_directory.py), in one data directory or in fairseq's shards of one (OUT/shard0 ... OUT/shard<N-1>,
trained on with --data OUT/shard0:OUT/shard1:...)."""

import json
import os
import shutil
from typing import Dict, List

from ..data import indexed
from ..errors import UserInputError
from .corpora import Corpus

SPLITS = ("train", "valid", "test")


def dataset_prefix(corpus: Corpus, split: str, lang: str) -> str:
    """The dataset's path in a data directory, without .bin/.idx."""
    if corpus.parallel:
        pair = "-".join(corpus.langs)
        return os.path.join("para", pair, f"{split}.{pair}.{lang}")
    return os.path.join("mono", lang, split)


def dictionary_copies(corpus: Corpus) -> List[str]:
    """The dictionary's copies fairseq-preprocess leaves beside the datasets (the task reads them)."""
    if corpus.parallel:
        return [os.path.join("para", "-".join(corpus.langs), f"dict.{lang}.txt") for lang in corpus.langs]
    return [os.path.join("mono", corpus.langs[0], "dict.txt")]


def _directories(corpus: Corpus, dictionary: str, out: str):
    for copy in dictionary_copies(corpus):
        os.makedirs(os.path.dirname(os.path.join(out, copy)), exist_ok=True)
        shutil.copy(dictionary, os.path.join(out, copy))


def place(corpora: List[Corpus], binaries: Dict[str, Dict[str, str]], dictionary: str, out: str, splits=SPLITS):
    """binaries: corpus name -> {split: P} with P.<lang>.{bin,idx} -> OUT/mono/... and OUT/para/... (a split with
    no sentences is left out, as fairseq-preprocess leaves it)."""
    for corpus in corpora:
        _directories(corpus, dictionary, out)
        for s in (s for s in splits if corpus.split_sizes[s] > 0):
            for lang in corpus.langs:
                indexed.move(f"{binaries[corpus.name][s]}.{lang}", os.path.join(out, dataset_prefix(corpus, s, lang)))


def write_shards(corpora: List[Corpus], binaries, shards: int, vocabulary: List[str], staging: str) -> List[str]:
    """STAGING/shard<i>: each a whole data directory with the same vocabulary files (dict.txt, spm.model or
    codes); training lines cut into `shards` consecutive runs (documents stay whole), as even as can be;
    validation and test in shard0 only. Returns the shard directories."""
    directories = [os.path.join(staging, f"shard{i}") for i in range(shards)]
    bounds = {}
    for corpus in corpora:
        n = corpus.split_sizes["train"]
        if n < shards:
            raise UserInputError(f"{corpus.name} has {n} training sentences: too few for --shards {shards}")
        bounds[corpus.name] = [i * n // shards for i in range(shards + 1)]
    for shard in directories:
        os.makedirs(shard)
        for path in vocabulary:
            shutil.copy(path, shard)
        for corpus in corpora:
            _directories(corpus, os.path.join(shard, "dict.txt"), shard)
    for corpus in corpora:
        for lang in corpus.langs:
            parts = [os.path.join(shard, dataset_prefix(corpus, "train", lang)) for shard in directories]
            indexed.cut(f"{binaries[corpus.name]['train']}.{lang}", bounds[corpus.name], parts)
    place(corpora, binaries, os.path.join(directories[0], "dict.txt"), directories[0], splits=SPLITS[1:])
    for i, shard in enumerate(directories):
        with open(os.path.join(shard, "shard.json"), "w", encoding="utf-8") as f:
            train = {c.name: bounds[c.name][i + 1] - bounds[c.name][i] for c in corpora}
            json.dump({"shard": i, "shards": shards, "train_sentences": train}, f, indent=2)
    return directories
