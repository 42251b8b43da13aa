"""Readers for the official NLI formats, mapped to one label order.

- XNLI-1.0 xnli.dev.tsv / xnli.test.tsv: a header row; the columns used are language, gold_label,
  sentence1, sentence2.
- XNLI-MT-1.0 multinli.train.<lang>.tsv: a header row premise, hypo, label; the label reads
  "contradictory" where the others say "contradiction".
- MultiNLI 1.0 .jsonl: one object per line with gold_label, sentence1, sentence2; rows whose gold_label is
  "-" (the annotators did not agree) are dropped and counted.
"""

import csv
import json
from dataclasses import dataclass
from typing import List, Optional, Tuple

from ..errors import UserInputError, check_input_file
from ..text_files import open_text, read_errors

LABELS = ("entailment", "neutral", "contradiction")  # the one order used everywhere: ids 0, 1, 2
_SPELLINGS = {"entailment": 0, "neutral": 1, "contradiction": 2, "contradictory": 2}

XNLI_TSV, XNLI_MT_TSV, MULTINLI_JSONL = "XNLI-1.0 tsv", "XNLI-MT-1.0 tsv", "MultiNLI jsonl"


@dataclass(frozen=True)
class Example:
    premise: str
    hypothesis: str
    label: int
    language: Optional[str] = None


@dataclass
class ReadResult:
    examples: List[Example]
    format: str
    dropped_no_gold_label: int = 0


def label_id(text: str, path: str, line: int) -> int:
    try:
        return _SPELLINGS[text.strip()]
    except KeyError:
        raise UserInputError(
            f"{path}, line {line}: label '{text}' is not one of {', '.join(LABELS)} (or 'contradictory')"
        ) from None


def detect_format(path: str) -> str:
    check_input_file(path)
    with read_errors(path), open_text(path, errors="replace") as f:
        first = f.readline().rstrip("\n")
    if path.endswith(".jsonl") or first.startswith("{"):
        return MULTINLI_JSONL
    columns = first.split("\t")
    if {"language", "gold_label", "sentence1", "sentence2"} <= set(columns):
        return XNLI_TSV
    if columns[:3] == ["premise", "hypo", "label"]:
        return XNLI_MT_TSV
    raise UserInputError(
        f"{path} is in none of the known formats: expected an XNLI-1.0 tsv (header with language, gold_label, "
        "sentence1, sentence2), an XNLI-MT-1.0 tsv (header premise, hypo, label) or MultiNLI jsonl; "
        f"its first line starts {first[:60]!r}"
    )


def _tsv_rows(path: str):
    with read_errors(path), open_text(path, newline="") as f:
        # XNLI's text holds unescaped quotes: they are characters, not CSV quoting.
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader)
        for number, row in enumerate(reader, start=2):
            if len(row) < len(header):
                raise UserInputError(f"{path}, line {number}: {len(row)} columns, the header has {len(header)}")
            yield number, dict(zip(header, row))


def read(path: str) -> ReadResult:
    kind = detect_format(path)
    examples, no_gold = [], 0
    if kind == XNLI_TSV:
        for number, row in _tsv_rows(path):
            examples.append(
                Example(row["sentence1"], row["sentence2"], label_id(row["gold_label"], path, number), row["language"])
            )
    elif kind == XNLI_MT_TSV:
        for number, row in _tsv_rows(path):
            examples.append(Example(row["premise"], row["hypo"], label_id(row["label"], path, number)))
    else:
        with read_errors(path), open_text(path) as f:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as err:
                    raise UserInputError(f"{path}, line {number}: not JSON ({err.msg})") from None
                if row.get("gold_label") == "-":
                    no_gold += 1
                    continue
                examples.append(
                    Example(row["sentence1"], row["sentence2"], label_id(row.get("gold_label", ""), path, number))
                )
    if not examples:
        raise UserInputError(f"{path} ({kind}) has no examples")
    return ReadResult(examples, kind, no_gold)


def by_language(result: ReadResult, path: str, languages: Tuple[str, ...]):
    """XNLI dev/test examples grouped by language; every requested language must be present."""
    groups = {lang: [] for lang in languages}
    for example in result.examples:
        if example.language in groups:
            groups[example.language].append(example)
    missing = [lang for lang, examples in groups.items() if not examples]
    if missing:
        present = sorted({e.language for e in result.examples})
        raise UserInputError(f"{path} has no examples for {', '.join(missing)} (it has: {', '.join(present)})")
    return groups
