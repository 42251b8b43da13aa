"""XLM's tokenization, for models imported from XLM (XLM-15's pipeline): Moses punctuation normalisation and
tokenisation (sacremoses), lowercasing and accent stripping (XLM's lowercase_and_remove_accent.py), then BPE with
the model's codes (fastBPE's merges, applied by rank).

Chinese and Thai: XLM segmented them with the Stanford segmenter and PyThaiNLP before BPE; here they go through
Moses like every other language, so their pieces differ from XLM's (see the README).
"""

import functools
import unicodedata
from typing import Dict, List, Tuple

from sacremoses import MosesPunctNormalizer, MosesTokenizer

from ..errors import UserInputError

END = "</w>"  # fastBPE marks a word's last symbol


def read_codes(path: str) -> Dict[Tuple[str, str], int]:
    """fastBPE's codes file ('a b count' a line, in merge order) -> merge ranks."""
    ranks = {}
    try:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                parts = line.split()
                if len(parts) < 2:
                    if not parts:
                        continue
                    raise UserInputError(f"{path}, line {number}: expected 'left right count', got {line.strip()!r}")
                ranks.setdefault((parts[0], parts[1]), len(ranks))
    except OSError as err:
        raise UserInputError(f"BPE codes {path} cannot be read: {err.strerror}") from None
    if not ranks:
        raise UserInputError(f"BPE codes {path} hold no merge")
    return ranks


def lowercase_and_remove_accents(text: str) -> str:
    """Lowercase, then drop the combining marks NFD separates from their letters."""
    return "".join(c for c in unicodedata.normalize("NFD", text.lower()) if unicodedata.category(c) != "Mn")


class XLMTokenizer:
    def __init__(self, codes: str):
        self.ranks = read_codes(codes)
        self.bpe = functools.lru_cache(maxsize=1 << 16)(self._bpe)

    @functools.lru_cache(maxsize=None)
    def _moses(self, lang: str):
        normalizer = MosesPunctNormalizer(lang=lang, pre_replace_unicode_punct=True, post_remove_control_chars=True)
        return normalizer, MosesTokenizer(lang=lang)

    def words(self, text: str, lang: str) -> List[str]:
        """Moses-normalised, tokenised, lowercased and accent-stripped words."""
        normalizer, tokenizer = self._moses(lang)
        words = tokenizer.tokenize(normalizer.normalize(text), escape=False)
        return lowercase_and_remove_accents(" ".join(words)).split()

    def _bpe(self, word: str) -> Tuple[str, ...]:
        symbols = [*word[:-1], word[-1] + END]
        while len(symbols) > 1:
            pairs = [(self.ranks.get(pair), i) for i, pair in enumerate(zip(symbols, symbols[1:]))]
            best = min((rank for rank, _ in pairs if rank is not None), default=None)
            if best is None:
                break
            merged, i = [], 0
            while i < len(symbols):  # every occurrence of the best pair, left to right
                if i + 1 < len(symbols) and self.ranks.get((symbols[i], symbols[i + 1])) == best:
                    merged.append(symbols[i] + symbols[i + 1])
                    i += 2
                else:
                    merged.append(symbols[i])
                    i += 1
            symbols = merged
        # a word's inner pieces carry '@@', its last piece nothing
        return tuple(s + "@@" for s in symbols[:-1]) + (symbols[-1][: -len(END)],)

    def pieces(self, text: str, lang: str) -> List[str]:
        return [piece for word in self.words(text, lang) for piece in self.bpe(word)]
