"""Line-aligned test pairs on disk: LASER's Tatoeba v1 files (tatoeba.<iso3>-eng.<iso3> and
tatoeba.<iso3>-eng.eng) for the 14 non-English XNLI languages, which XTREME's Tatoeba task uses too, and
directories of en-<lang>.en / en-<lang>.<lang> files (cxlm-gettext-corpus --heldout writes them)."""

import os
from typing import List, Tuple

from ..errors import UserInputError
from ..prepare.sources import TATOEBA_CODES
from ..text_files import read_lines


def files(directory: str, lang: str) -> Tuple[str, str]:
    code = TATOEBA_CODES[lang]
    return (os.path.join(directory, f"tatoeba.{code}-eng.{code}"), os.path.join(directory, f"tatoeba.{code}-eng.eng"))


def available(directory: str) -> List[str]:
    """The XNLI languages whose two files are in `directory`."""
    if not os.path.isdir(directory):
        raise UserInputError(f"Tatoeba directory {directory} does not exist")
    return [lang for lang in TATOEBA_CODES if all(os.path.isfile(f) for f in files(directory, lang))]


def read_aligned(source: str, target: str) -> Tuple[List[str], List[str]]:
    """Two line-aligned files; a different number of lines is an error naming both."""
    src, tgt = read_lines(source), read_lines(target)
    if len(src) != len(tgt):
        raise UserInputError(f"{source} has {len(src)} lines and {target} has {len(tgt)}: they must be line-aligned")
    if not src:
        raise UserInputError(f"{source} is empty")
    return src, tgt


def pairs(directory: str, lang: str) -> Tuple[List[str], List[str]]:
    """(sentences in lang, their English translations)."""
    return read_aligned(*files(directory, lang))


def en_x_directory(directory: str):
    """{lang: (sentences in lang, English)} for every en-<lang>.en / en-<lang>.<lang> pair of files."""
    if not os.path.isdir(directory):
        raise UserInputError(f"{directory} does not exist")
    found = {}
    for name in sorted(os.listdir(directory)):
        if name.startswith("en-") and name.endswith(".en"):
            lang = name[len("en-") : -len(".en")]
            other = os.path.join(directory, f"en-{lang}.{lang}")
            if os.path.isfile(other):
                english, foreign = read_aligned(os.path.join(directory, name), other)
                found[lang] = (foreign, english)
    if not found:
        raise UserInputError(f"{directory} holds no en-<lang>.en / en-<lang>.<lang> files")
    return found
