"""The BUCC 2018 bitext-mining task's files (Zweigenbaum et al. 2018), as cxlm-download bucc unpacks them:

    <dir>/<lang>-en/<lang>-en.<split>.<lang>   id TAB sentence    (ids like de-000000001)
    <dir>/<lang>-en/<lang>-en.<split>.en       id TAB sentence    (en-000000001)
    <dir>/<lang>-en/<lang>-en.<split>.gold     <lang> id TAB en id  (the translation pairs hidden in them)

splits: sample, training (with gold) and test (without). Sentences are found anywhere below <dir>.
"""

import glob
import os
from typing import Dict, List, NamedTuple, Optional, Set, Tuple

from ..errors import UserInputError
from ..text_files import text_lines


class Split(NamedTuple):
    foreign: Dict[str, str]  # id -> sentence
    english: Dict[str, str]
    gold: Optional[Set[Tuple[str, str]]]  # (foreign id, English id), None for the test split


def _find(directory: str, name: str) -> Optional[str]:
    found = sorted(glob.glob(os.path.join(directory, "**", name), recursive=True))
    return found[0] if found else None


def read_sentences(path: str) -> Dict[str, str]:
    sentences = {}
    for number, line in enumerate(text_lines(path), 1):
        fields = line.split("\t", 1)
        if len(fields) != 2 or not fields[0]:
            raise UserInputError(f"{path}: line {number} is not 'id<TAB>sentence'")
        if fields[0] in sentences:
            raise UserInputError(f"{path}: line {number} repeats the id {fields[0]}")
        sentences[fields[0]] = fields[1]
    if not sentences:
        raise UserInputError(f"{path} is empty")
    return sentences


def read_gold(path: str, foreign: Dict[str, str], english: Dict[str, str]) -> Set[Tuple[str, str]]:
    gold = set()
    for number, line in enumerate(text_lines(path), 1):
        fields = line.split("\t")
        if len(fields) != 2:
            raise UserInputError(f"{path}: line {number} is not '<foreign id><TAB><English id>'")
        for sentence_id, known, side in ((fields[0], foreign, "foreign"), (fields[1], english, "English")):
            if sentence_id not in known:
                raise UserInputError(f"{path}: line {number} names {sentence_id}, which is not among the {side} ids")
        gold.add((fields[0], fields[1]))
    return gold


def available_splits(directory: str, lang: str) -> List[str]:
    return [
        split
        for split in ("sample", "training", "test")
        if _find(directory, f"{lang}-en.{split}.{lang}") and _find(directory, f"{lang}-en.{split}.en")
    ]


def read_split(directory: str, lang: str, split: str) -> Split:
    if not os.path.isdir(directory):
        raise UserInputError(f"{directory} does not exist")
    paths = {side: _find(directory, f"{lang}-en.{split}.{side}") for side in (lang, "en", "gold")}
    for side in (lang, "en"):
        if paths[side] is None:
            present = ", ".join(available_splits(directory, lang)) or "none"
            raise UserInputError(
                f"no {lang}-en.{split}.{side} below {directory} (splits present for {lang}: {present}); "
                f"get them with: cxlm-download bucc --langs {lang} --out {directory}"
            )
    foreign, english = read_sentences(paths[lang]), read_sentences(paths["en"])
    gold = read_gold(paths["gold"], foreign, english) if paths["gold"] else None
    return Split(foreign, english, gold)
