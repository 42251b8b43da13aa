"""Line cleaning before encoding; every line dropped is counted under the reason it was dropped.

Text is NFKC-normalised, control characters are removed and whitespace runs collapse to one space.
A line is then dropped if it is empty, longer than max_chars, a repeat of an earlier line (monolingual)
or pair (parallel), or (raw bytes) not valid UTF-8. Parallel data stays aligned: a pair is kept or
dropped as a whole. Everything streams: repeats are recognised by a 64-bit hash a line (dedupe.py).
"""

import collections
import unicodedata
from typing import List, Optional, Tuple

import numpy as np

from .dedupe import line_hashes

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


def clean_mono_chunk(raw_chunk: List[bytes], path: str, max_chars: int) -> Tuple[List[str], np.ndarray, DropCounts]:
    """The chunk's cleaned lines, their hashes (for the repeats check, which needs every earlier chunk and so is
    the caller's: SeenHashes) and what was dropped. Runs in any process: cleaning is most of the time."""
    drops = DropCounts()
    texts = [t for t in (clean_line(raw, max_chars, drops, path) for raw in raw_chunk) if t is not None]
    return texts, line_hashes(texts), drops


def clean_pair_chunk(
    raw_chunk: List[Tuple[bytes, bytes]], paths: Tuple[str, str], max_chars: int
) -> Tuple[List[Tuple[str, str]], np.ndarray, DropCounts]:
    """As clean_mono_chunk, for pairs: a pair is dropped if either side is, and counted once, under the first
    side's reason; a pair repeats when both sides do."""
    drops, kept = DropCounts(), []
    for raw_src, raw_tgt in raw_chunk:
        src = clean_line(raw_src, max_chars, drops, paths[0])
        tgt = clean_line(raw_tgt, max_chars, drops, paths[1]) if src is not None else None
        if src is not None and tgt is not None:
            kept.append((src, tgt))
    # Cleaned text holds no tab (whitespace runs become one space): the tab keeps the two sides apart.
    return kept, line_hashes([f"{src}\t{tgt}" for src, tgt in kept]), drops


def ratio_ok(src_len, tgt_len, max_ratio: float):
    """Lengths in SentencePiece pieces, which compare fairly across scripts (characters do not: a Chinese
    sentence has a quarter of the characters of its English translation). Numbers or numpy arrays of them."""
    src, tgt = np.maximum(src_len, 1), np.maximum(tgt_len, 1)
    return np.maximum(src, tgt) / np.minimum(src, tgt) <= max_ratio
