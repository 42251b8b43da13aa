"""An offline en-X parallel corpus from the gettext catalogs installed on the machine.

/usr/share/locale/<locale>/LC_MESSAGES/*.mo hold human translations of program messages: each msgid is
the English original and its msgstr the translation (OPUS builds its GNOME, KDE and Ubuntu corpora the
same way). Most XNLI languages have thousands of such pairs on a Debian machine.
"""

import functools
import gettext
import glob
import logging
import os
import random
from typing import List, Tuple

from ..text_files import open_binary

logger = logging.getLogger(__name__)

LOCALE_DIR = "/usr/share/locale"
# The locale directory that holds each non-English XNLI language (XNLI's Chinese is Simplified).
XNLI_LOCALES = {
    "ar": "ar",
    "bg": "bg",
    "de": "de",
    "el": "el",
    "es": "es",
    "fr": "fr",
    "hi": "hi",
    "ru": "ru",
    "sw": "sw",
    "th": "th",
    "tr": "tr",
    "ur": "ur",
    "vi": "vi",
    "zh": "zh_CN",
}

Pair = Tuple[str, str]


def catalog_pairs(path: str) -> List[Pair]:
    """(English, translation) pairs of one .mo file, each side on one line; [] if it cannot be read."""
    try:
        with open_binary(path) as f:  # a catalog compressed by the distribution is read as well
            catalog = gettext.GNUTranslations(f)._catalog
    except (OSError, EOFError, UnicodeDecodeError, ValueError, IndexError) as err:
        logger.warning("skipping %s: %s", path, err)
        return []
    pairs = []
    for source, target in catalog.items():
        # Plural forms are keyed (msgid, n) and the header by ""; neither is a sentence pair.
        if not (isinstance(source, str) and isinstance(target, str) and source and target):
            continue
        source, target = " ".join(source.split()), " ".join(target.split())
        if source and target and source != target and any(ch.isalpha() for ch in source):
            pairs.append((source, target))
    return pairs


def gettext_pairs(lang: str, locale_dir: str = LOCALE_DIR) -> List[Pair]:
    """Every distinct pair for an XNLI language, in a stable order (catalogs sorted by name)."""
    return list(_distinct_pairs(XNLI_LOCALES.get(lang, lang), locale_dir))


@functools.lru_cache(maxsize=None)
def _distinct_pairs(locale: str, locale_dir: str) -> Tuple[Pair, ...]:
    """Read once per process: the catalogs do not change while it runs."""
    seen, pairs = set(), []
    for path in sorted(glob.glob(os.path.join(locale_dir, locale, "LC_MESSAGES", "*.mo"))):
        for pair in catalog_pairs(path):
            if pair not in seen:
                seen.add(pair)
                pairs.append(pair)
    return tuple(pairs)


def shuffled(pairs: List[Pair], seed: int) -> List[Pair]:
    pairs = list(pairs)
    random.Random(seed).shuffle(pairs)
    return pairs
