"""LASER's Tatoeba v1 test pairs (tatoeba.<iso3>-eng.<iso3> and tatoeba.<iso3>-eng.eng, line-aligned) for the
14 non-English XNLI languages; XTREME's Tatoeba task uses the same files."""

import os
from typing import List, Tuple

from ..errors import UserInputError
from ..prepare.sources import TATOEBA_CODES


def files(directory: str, lang: str) -> Tuple[str, str]:
    code = TATOEBA_CODES[lang]
    return (os.path.join(directory, f"tatoeba.{code}-eng.{code}"), os.path.join(directory, f"tatoeba.{code}-eng.eng"))


def available(directory: str) -> List[str]:
    """The XNLI languages whose two files are in `directory`."""
    if not os.path.isdir(directory):
        raise UserInputError(f"Tatoeba directory {directory} does not exist")
    return [lang for lang in TATOEBA_CODES if all(os.path.isfile(f) for f in files(directory, lang))]


def read_lines(path: str) -> List[str]:
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


def read_aligned(source: str, target: str) -> Tuple[List[str], List[str]]:
    """Two line-aligned files; a different number of lines is an error naming both."""
    for path in (source, target):
        if not os.path.isfile(path):
            raise UserInputError(f"{path} does not exist")
    src, tgt = read_lines(source), read_lines(target)
    if len(src) != len(tgt):
        raise UserInputError(f"{source} has {len(src)} lines and {target} has {len(tgt)}: they must be line-aligned")
    if not src:
        raise UserInputError(f"{source} is empty")
    return src, tgt


def pairs(directory: str, lang: str) -> Tuple[List[str], List[str]]:
    """(sentences in lang, their English translations)."""
    return read_aligned(*files(directory, lang))
