"""The data directory that the task reads, and the checks that turn bad input into clear errors.

Layout (each part written by one fairseq-preprocess run with --srcdict DATA/dict.txt):

    DATA/dict.txt                                   the one shared fairseq dictionary
    DATA/mono/<lang>/<split>.{bin,idx}              monolingual text of <lang>
    DATA/para/<src>-<tgt>/<split>.<src>-<tgt>.<src>.{bin,idx}
    DATA/para/<src>-<tgt>/<split>.<src>-<tgt>.<tgt>.{bin,idx}
                                                    line-aligned translations; a pair is found
                                                    under either direction (en-de serves de-en)
"""

import os
from typing import List, Tuple

from fairseq.data import Dictionary, data_utils, indexed_dataset

from ..errors import UserInputError
from ..languages import Pair
from .indexed import check_dataset


def first_malformed_line(path: str):
    """The number of dict.txt's first line fairseq's Dictionary.add_from_file refuses ('<token> <count> [flags]',
    no token twice without #fairseq:duplicate), and why; None when every line parses."""
    seen = set()
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            fields = line.rstrip().rsplit(" ", 1)
            flags = ""
            if len(fields) == 2 and fields[1].startswith("#fairseq:"):
                flags, fields = fields[1], fields[0].rsplit(" ", 1)
            if len(fields) != 2 or not fields[1].lstrip("-").isdigit():
                return number, f"expected '<token> <count>', got {line.rstrip()[:60]!r}"
            if fields[0] in seen and flags not in ("#fairseq:overwrite", "#fairseq:duplicate"):
                return number, f"{fields[0]!r} is listed twice"
            seen.add(fields[0])
    return None


def load_dictionary_file(path: str) -> Dictionary:
    """fairseq's Dictionary of path; a file it cannot read is one line naming the file, the line and the fault
    (fairseq's own error names neither)."""
    try:
        return Dictionary.load(path)
    except (ValueError, RuntimeError, UnicodeDecodeError, IndexError) as err:
        fault = first_malformed_line(path)
        where = f"{path}, line {fault[0]}: {fault[1]}" if fault else f"{path}: {err}"
        raise UserInputError(
            f"{where}: not a fairseq dictionary; copy it again or prepare the data again (cxlm-prepare)"
        ) from None


class DataDirectory:
    def __init__(self, path: str):
        if not path or not os.path.isdir(path):
            raise UserInputError(f"data directory {path!r} does not exist")
        self.path = path
        self.dictionary_path = os.path.join(path, "dict.txt")
        if not os.path.isfile(self.dictionary_path):
            raise UserInputError(
                f"{self.dictionary_path} is missing: the data directory needs one shared fairseq dictionary "
                "(see docs/data.md, 'The data directory')"
            )

    def load_dictionary(self) -> Dictionary:
        return load_dictionary_file(self.dictionary_path)

    def languages(self) -> List[str]:
        return _subdirs(os.path.join(self.path, "mono"))

    def pairs(self) -> List[str]:
        return _subdirs(os.path.join(self.path, "para"))

    def mono_dir(self, lang: str) -> str:
        path = os.path.join(self.path, "mono", lang)
        if not os.path.isdir(path):
            raise UserInputError(
                f"no monolingual data for language '{lang}': {path} does not exist "
                f"(languages present: {', '.join(self.languages()) or 'none'})"
            )
        return path

    def pair_dir(self, pair: Pair) -> Tuple[str, Pair]:
        """The directory holding a pair and the direction it is stored in."""
        for stored in (pair, pair[::-1]):
            path = os.path.join(self.path, "para", "-".join(stored))
            if os.path.isdir(path):
                return path, stored
        raise UserInputError(
            f"no parallel data for pair '{'-'.join(pair)}': neither "
            f"{os.path.join(self.path, 'para', '-'.join(pair))} nor the reverse direction exists "
            f"(pairs present: {', '.join(self.pairs()) or 'none'})"
        )

    def check_same_dictionary(self, other: "DataDirectory"):
        """A shard (another directory of one --data list) must have this dictionary, symbol for symbol."""
        ours, theirs = self.load_dictionary().symbols, other.load_dictionary().symbols
        if ours != theirs:
            raise UserInputError(
                f"{other.dictionary_path} differs from {self.dictionary_path} ({len(theirs)} vs {len(ours)} entries): "
                "every shard of --data needs the same dictionary (prepare each with --dict and --spm-model)"
            )

    def check_dictionaries(self, dirs: List[str]):
        """Every dictionary that fairseq-preprocess left beside the binaries must be the shared one:
        token ids mean nothing under another dictionary."""
        shared_dict = self.load_dictionary()
        shared = shared_dict.symbols
        for directory in dirs:
            for name in sorted(os.listdir(directory)):
                if not (name.startswith("dict") and name.endswith(".txt")):
                    continue
                other = load_dictionary_file(os.path.join(directory, name)).symbols
                if other != shared:
                    first = next(
                        (i for i, (a, b) in enumerate(zip(other, shared)) if a != b), min(len(other), len(shared))
                    )
                    line = first - shared_dict.nspecial + 1  # the special symbols are not in the file
                    raise UserInputError(
                        f"{os.path.join(directory, name)} differs from {self.dictionary_path} (first at line "
                        f"{line}: {len(other)} vs {len(shared)} entries): these binaries were made with "
                        f"another dictionary; re-run fairseq-preprocess with --srcdict {self.dictionary_path}"
                    )

    def check_binaries(self, dirs: List[str]):
        """Every dataset in dirs: its .idx against its .bin, O(1) each (data/indexed.py), so that a file cut short
        by a copy is said before training, not at the first batch that reads past its end, hours in. The task
        calls it at setup for every directory it reads, every shard's included."""
        for directory in dirs:
            datasets = {name[: -len(".idx")] for name in os.listdir(directory) if name.endswith((".idx", ".bin"))}
            for prefix in sorted(datasets):  # a .bin without its .idx, or the reverse, is said too
                check_dataset(os.path.join(directory, prefix))

    def load_split(self, prefix: str, dictionary: Dictionary, what: str):
        if not indexed_dataset.dataset_exists(prefix, impl="mmap"):
            raise UserInputError(f"{what}: {prefix}.bin/.idx is missing")
        return data_utils.load_indexed_dataset(prefix, dictionary, dataset_impl="mmap")


def _subdirs(path: str) -> List[str]:
    if not os.path.isdir(path):
        return []
    return sorted(name for name in os.listdir(path) if os.path.isdir(os.path.join(path, name)))
