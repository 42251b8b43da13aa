"""XLM's tokenization, for models imported from XLM: Moses punctuation normalisation and tokenisation
(sacremoses), lowercasing and accent stripping (XLM's lowercase_and_remove_accent.py) for the models trained with it,
then BPE with the model's codes (fastBPE's merges, applied by rank).

XLM-15 (and XLM's other released models) lowercased; XLM-17 and XLM-100 did not (XLM's README; transformers'
configs for them say do_lowercase_and_remove_accent: False). A directory records which in SETTINGS_FILE.

Chinese and Thai: XLM segmented them with the Stanford segmenter and PyThaiNLP before BPE; here they go through
Moses like every other language, so their pieces differ from XLM's (see docs/models.md).
"""

import functools
import json
import os
import unicodedata
from typing import Dict, List, Tuple

from sacremoses import MosesPunctNormalizer, MosesTokenizer

from ..errors import UserInputError

END = "</w>"  # fastBPE marks a word's last symbol
SETTINGS_FILE = "xlm_tokenizer.json"  # beside the codes: {"lowercase_and_remove_accent": true or false}
CASED_LANGUAGE_COUNTS = (17, 100)  # XLM-17 and XLM-100: trained on cased text with its accents


def lowercases(params: dict) -> bool:
    """Whether the XLM model of these params (its .pth's) was trained on lowercased, accent-stripped text: an
    explicit do_lowercase_and_remove_accent wins (transformers' name), else all but XLM-17 and XLM-100 did."""
    if "do_lowercase_and_remove_accent" in params:
        return bool(params["do_lowercase_and_remove_accent"])
    return int(params.get("n_langs", 1)) not in CASED_LANGUAGE_COUNTS


def recorded_lowercase(directory: str) -> bool:
    """A directory's setting: its SETTINGS_FILE, else its params.json (cxlm-import xlm), else XLM-15's (True)."""
    for name in (SETTINGS_FILE, "params.json"):
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            try:
                with open(path, encoding="utf-8") as f:
                    recorded = json.load(f)
            except (ValueError, UnicodeDecodeError) as err:
                raise UserInputError(f"{path} is not JSON ({err})") from None
            if not isinstance(recorded, dict) or (
                name == SETTINGS_FILE and "lowercase_and_remove_accent" not in recorded
            ):
                raise UserInputError(
                    f"{path} does not say whether the model lowercases (write it again, or pass --lowercase)"
                )
            if name == SETTINGS_FILE:
                return bool(recorded["lowercase_and_remove_accent"])
            return lowercases(recorded)
    return True


def record_lowercase(directory: str, lowercase: bool):
    with open(os.path.join(directory, SETTINGS_FILE), "w", encoding="utf-8") as f:
        json.dump({"lowercase_and_remove_accent": bool(lowercase)}, f)
        f.write("\n")


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
    lowercase = True  # XLM-15's

    def __init__(self, codes: str, lowercase: bool = True):
        self.ranks = read_codes(codes)
        self.lowercase = lowercase
        self.bpe = functools.lru_cache(maxsize=1 << 16)(self._bpe)

    @functools.lru_cache(maxsize=None)
    def _moses(self, lang: str):
        normalizer = MosesPunctNormalizer(lang=lang, pre_replace_unicode_punct=True, post_remove_control_chars=True)
        return normalizer, MosesTokenizer(lang=lang)

    def words(self, text: str, lang: str) -> List[str]:
        """Moses-normalised and tokenised words, lowercased and accent-stripped if the model was trained so."""
        normalizer, tokenizer = self._moses(lang)
        words = " ".join(tokenizer.tokenize(normalizer.normalize(text), escape=False))
        return (lowercase_and_remove_accents(words) if self.lowercase else words).split()

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
