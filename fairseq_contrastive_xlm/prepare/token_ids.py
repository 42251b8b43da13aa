"""Text -> fairseq dictionary ids, a batch of lines at a time, without piece strings in between.

SentencePiece encodes a batch straight to its own ids; one numpy lookup table maps them to the dictionary's
(for XLM-R's and ours, SentencePiece id + 1, the four fairseq specials in front; a piece the dictionary lacks
maps to <unk>, as fairseq-preprocess maps an unknown word). XLM's Moses + BPE yields piece strings, looked up one
by one: that path keeps fairseq's string lookup and its speed.
"""

import itertools
from typing import List, Optional, Tuple

import numpy as np
from fairseq.data import Dictionary

from ..tokenization import tokenizers


def sentencepiece_table(processor, dictionary: Dictionary) -> np.ndarray:
    """table[SentencePiece id] = the dictionary's index of that piece (<unk>'s when it has none)."""
    return np.array(
        [dictionary.index(processor.id_to_piece(i)) for i in range(processor.get_piece_size())], dtype=np.int64
    )


def flatten(lists: List[List[int]]) -> Tuple[np.ndarray, np.ndarray]:
    """Lists of ids -> (all ids one after another, each list's length)."""
    lengths = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    flat = np.fromiter(itertools.chain.from_iterable(lists), dtype=np.int64, count=int(lengths.sum()))
    return flat, lengths


class IdEncoder:
    """A tokenizer and a dictionary: encode(texts, lang) -> (the dictionary ids one after another, lengths)."""

    def __init__(self, kind: str, model: str, dictionary: str, lowercase: Optional[bool] = None):
        self.tokenizer = tokenizers.load(kind, model, lowercase)
        self.dictionary = Dictionary.load(dictionary)
        if kind == "sentencepiece":
            self.table = sentencepiece_table(self.tokenizer.processor, self.dictionary)

    def encode(self, texts: List[str], lang: str) -> Tuple[np.ndarray, np.ndarray]:
        if self.tokenizer.kind == "sentencepiece":
            # num_threads=1: parallelism is the workers' (one process a core), not SentencePiece's
            flat, lengths = flatten(self.tokenizer.processor.encode(texts, out_type=int, num_threads=1))
            return self.table[flat], lengths
        index = self.dictionary.index
        return flatten([[index(piece) for piece in self.tokenizer.pieces(text, lang)] for text in texts])
