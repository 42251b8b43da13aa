"""Line cleaning before encoding; every line dropped is counted under the reason it was dropped.

Text is NFKC-normalised, control characters are removed and whitespace runs collapse to one space.
A line is then dropped if it is empty, longer than max_chars, a repeat of an earlier line (monolingual)
or pair (parallel), or (raw bytes) not valid UTF-8. Parallel data stays aligned: a pair is kept or
dropped as a whole. Everything streams: repeats are recognised by a 64-bit hash a line (dedupe.py).
"""

import collections
import itertools
import unicodedata
from typing import Iterable, Iterator, Optional, Tuple

from .dedupe import SeenHashes, line_hashes

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


CHUNK = 65536  # lines cleaned, hashed and checked for repeats at a time


def clean_mono(lines: Iterable[bytes], path: str, max_chars: int, drops: DropCounts) -> Iterator[str]:
    """Cleaned lines, the first of every repeat only (by 64-bit hash: dedupe.py), in order, streamed."""
    seen = SeenHashes()
    for raw_chunk in _chunks(lines):
        texts = [t for t in (clean_line(raw, max_chars, drops, path) for raw in raw_chunk) if t is not None]
        new = seen.first_seen(line_hashes(texts))
        drops["duplicate"] += int(len(texts) - new.sum())
        yield from (t for t, keep in zip(texts, new) if keep)


def clean_pairs(
    pairs: Iterable[Tuple[bytes, bytes]], paths: Tuple[str, str], max_chars: int, drops: DropCounts
) -> Iterator[Tuple[str, str]]:
    """A pair is dropped if either side is, and counted once, under the first side's reason; a pair repeats
    when both sides do."""
    seen = SeenHashes()
    for raw_chunk in _chunks(pairs):
        kept = []
        for raw_src, raw_tgt in raw_chunk:
            src = clean_line(raw_src, max_chars, drops, paths[0])
            tgt = clean_line(raw_tgt, max_chars, drops, paths[1]) if src is not None else None
            if src is not None and tgt is not None:
                kept.append((src, tgt))
        # Cleaned text holds no tab (whitespace runs become one space): the tab keeps the two sides apart.
        new = seen.first_seen(line_hashes([f"{src}\t{tgt}" for src, tgt in kept]))
        drops["duplicate"] += int(len(kept) - new.sum())
        yield from (pair for pair, keep in zip(kept, new) if keep)


def _chunks(items: Iterable, size: int = CHUNK) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def ratio_ok(src_len: int, tgt_len: int, max_ratio: float) -> bool:
    """Lengths in SentencePiece pieces, which compare fairly across scripts (characters do not: a Chinese
    sentence has a quarter of the characters of its English translation)."""
    shorter, longer = sorted((max(src_len, 1), max(tgt_len, 1)))
    return longer / shorter <= max_ratio
