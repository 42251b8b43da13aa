"""Line cleaning before encoding; every line dropped is counted under the reason it was dropped.

Text is NFKC-normalised, control characters are removed and whitespace runs collapse to one space.
A line is then dropped if it is empty, longer than max_chars, a repeat of an earlier line (monolingual)
or pair (parallel), or (raw bytes) not valid UTF-8. Parallel data stays aligned: a pair is kept or
dropped as a whole.
"""

import collections
import unicodedata
from typing import Iterable, Iterator, Optional, Tuple

DROP_REASONS = ("invalid_utf8", "empty", "too_long", "duplicate", "length_ratio")


class DropCounts(collections.Counter):
    """Lines dropped per reason; invalid UTF-8 is also counted per file, to report where it is."""

    def __init__(self):
        super().__init__()
        self.invalid_by_file = collections.Counter()

    def as_dict(self):
        return {reason: int(self.get(reason, 0)) for reason in DROP_REASONS}


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    # isprintable() is False exactly when the line has a character of category C* (controls, format
    # marks, unassigned) or whitespace other than ' ': only then is the per-character pass needed.
    if not text.isprintable():
        text = "".join(" " if ch.isspace() else ch for ch in text if ch.isspace() or unicodedata.category(ch)[0] != "C")
    return " ".join(text.split())


def decode(raw: bytes) -> Optional[str]:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def clean_line(raw: bytes, max_chars: int, drops: DropCounts, path: str) -> Optional[str]:
    text = decode(raw.rstrip(b"\r\n"))
    if text is None:
        drops["invalid_utf8"] += 1
        drops.invalid_by_file[path] += 1
        return None
    text = normalise(text)
    if not text:
        drops["empty"] += 1
        return None
    if len(text) > max_chars:
        drops["too_long"] += 1
        return None
    return text


def clean_mono(lines: Iterable[bytes], path: str, max_chars: int, drops: DropCounts) -> Iterator[str]:
    seen = set()
    for raw in lines:
        text = clean_line(raw, max_chars, drops, path)
        if text is None:
            continue
        if text in seen:
            drops["duplicate"] += 1
            continue
        seen.add(text)
        yield text


def clean_pairs(
    pairs: Iterable[Tuple[bytes, bytes]], paths: Tuple[str, str], max_chars: int, drops: DropCounts
) -> Iterator[Tuple[str, str]]:
    """A pair is dropped if either side is, and counted once, under the first side's reason."""
    seen = set()
    for raw_src, raw_tgt in pairs:
        src = clean_line(raw_src, max_chars, drops, paths[0])
        tgt = clean_line(raw_tgt, max_chars, drops, paths[1]) if src is not None else None
        if src is None or tgt is None:
            continue
        if (src, tgt) in seen:
            drops["duplicate"] += 1
            continue
        seen.add((src, tgt))
        yield src, tgt


def ratio_ok(src_len: int, tgt_len: int, max_ratio: float) -> bool:
    """Lengths in SentencePiece pieces, which compare fairly across scripts (characters do not: a Chinese
    sentence has a quarter of the characters of its English translation)."""
    shorter, longer = sorted((max(src_len, 1), max(tgt_len, 1)))
    return longer / shorter <= max_ratio
