"""Language codes: the one table of the XNLI languages, the codes the data tools accept, and the parsing of
the comma-separated language and pair lists every option and command takes."""

import re
from typing import List, Tuple

from .errors import UserInputError

# ISO 639-1 (two letters), as XNLI, XLM and fairseq's XLM-R use.
ISO_639_1 = frozenset(
    """aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de dv
    dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig ii
    ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk
    ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc
    sd se sg si sk sl sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve
    vi vo wa wo xh yi yo za zh zu""".split()
)

# The 15 XNLI languages in XLM-15's order: the default language-id table of the task and the model.
XNLI_LANGUAGES = ("ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh")

Pair = Tuple[str, str]


# A language code: letters, digits and underscores, so that every corpus's own names work: ISO 639-1 (de), 639-3
# (war, scn, nds), CC-100's and XLM-100's (zh_Hans, ta_rom, my_zaw, zh_min_nan, simple). '-' separates the two
# languages of a pair, so a BCP 47 tag such as zh-Hans is written zh_Hans.
LANGUAGE_CODE = re.compile(r"[A-Za-z0-9_]+")


def check_code(code: str, where: str) -> str:
    """code, if it is a language code; else one line saying why, naming where it was given."""
    if LANGUAGE_CODE.fullmatch(code):
        return code
    if "-" in code and all(LANGUAGE_CODE.fullmatch(part) for part in code.split("-")):
        raise UserInputError(
            f"{where}: '{code}' is not a language code: '-' separates the languages of a pair; write "
            f"{code.replace('-', '_')}"
        )
    raise UserInputError(f"{where}: '{code}' is not a language code (letters, digits and '_', e.g. en, zh_Hans)")


def parse_langs(text: str, option: str) -> List[str]:
    """'en,de' -> ['en', 'de'] ('' or None -> []); duplicates are an error."""
    langs = [part.strip() for part in (text or "").split(",") if part.strip()]
    for lang in langs:
        check_code(lang, option)
    _refuse_duplicates(langs, option)
    return langs


def parse_pairs(text: str, option: str) -> List[Pair]:
    """'en-de,en-fr' -> [('en', 'de'), ('en', 'fr')] ('' -> []); en-de and de-en are the same pair."""
    pairs = []
    for part in (p.strip() for p in (text or "").split(",")):
        if not part:
            continue
        sides = part.split("-")
        if len(sides) != 2 or not all(sides) or sides[0] == sides[1]:
            hint = " (a tag such as zh-Hans is written zh_Hans)" if len(sides) > 2 else ""
            raise UserInputError(f"{option}: '{part}' is not a language pair (expected e.g. en-de,en-fr){hint}")
        for side in sides:
            check_code(side, option)
        pairs.append((sides[0], sides[1]))
    _refuse_duplicates([tuple(sorted(p)) for p in pairs], option)
    return pairs


def select_langs(text: str, option: str, available, default=None) -> List[str]:
    """parse_langs, each checked against `available` (what the data, the files or the command offer);
    nothing given: `default` (or every available language)."""
    langs = parse_langs(text, option) or list(available if default is None else default)
    unknown = [lang for lang in langs if lang not in available]
    if unknown or not langs:
        raise UserInputError(
            f"{option}: {', '.join(unknown) or 'none given'}; choose among {', '.join(available) or 'none available'}"
        )
    return langs


def _refuse_duplicates(items, option):
    seen = set()
    for item in items:
        if item in seen:
            name = "-".join(item) if isinstance(item, tuple) else item
            raise UserInputError(f"{option}: '{name}' is given twice")
        seen.add(item)
