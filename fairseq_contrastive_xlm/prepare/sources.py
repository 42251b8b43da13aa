"""Where the paper's corpora live, and how their files are named.

Every base URL can be replaced (a mirror, or a local file:// copy, as the tests do).
"""

WIKIPEDIA_BASE = "https://dumps.wikimedia.org"
OPUS_BASE = "https://object.pouta.csc.fi"
TATOEBA_BASE = "https://raw.githubusercontent.com/facebookresearch/LASER/main/data/tatoeba/v1"
XNLI_BASE = "https://dl.fbaipublicfiles.com/XNLI"

XNLI_ARCHIVES = ("XNLI-1.0.zip", "XNLI-MT-1.0.zip")

# BUCC 2018 bitext mining (Zweigenbaum et al. 2018): per language, archives of the sample and training splits with
# their gold pairs, and of the test split without (XTREME downloads the same files).
BUCC_BASE = "https://comparable.limsi.fr/bucc2018"
BUCC_LANGUAGES = ("de", "fr", "ru", "zh")
BUCC_SPLITS = ("sample-gold", "training-gold", "test")


def bucc_archive(lang: str, split: str) -> str:
    return f"bucc2018-{lang}-en.{split}.tar.bz2"


# The original 15-language XLM (MLM+TLM) the paper continues: its checkpoint, BPE codes and vocabulary.
XLM_BASE = "https://dl.fbaipublicfiles.com/XLM"
XLM15_FILES = ("mlm_tlm_xnli15_1024.pth", "codes_xnli_15", "vocab_xnli_15")

# The 14 non-English XNLI languages in the three-letter codes of LASER's Tatoeba files.
TATOEBA_CODES = {
    "ar": "ara",
    "bg": "bul",
    "de": "deu",
    "el": "ell",
    "es": "spa",
    "fr": "fra",
    "hi": "hin",
    "ru": "rus",
    "sw": "swh",
    "th": "tha",
    "tr": "tur",
    "ur": "urd",
    "vi": "vie",
    "zh": "cmn",
}

# en-X parallel data from the four OPUS corpora the paper names: MultiUN for the UN languages, EUbookshop
# for bg/de/el, TED2013 for hi/sw/tr/ur, OpenSubtitles for th/vi. Any (corpus, version) of OPUS can be
# asked for instead with --corpus/--version.
OPUS_DEFAULTS = {
    "ar": ("MultiUN", "v1"),
    "es": ("MultiUN", "v1"),
    "fr": ("MultiUN", "v1"),
    "ru": ("MultiUN", "v1"),
    "zh": ("MultiUN", "v1"),
    "bg": ("EUbookshop", "v2"),
    "de": ("EUbookshop", "v2"),
    "el": ("EUbookshop", "v2"),
    "hi": ("TED2013", "v1.1"),
    "sw": ("TED2013", "v1.1"),
    "tr": ("TED2013", "v1.1"),
    "ur": ("TED2013", "v1.1"),
    "th": ("OpenSubtitles", "v2018"),
    "vi": ("OpenSubtitles", "v2018"),
}


def wikipedia_dump(base: str, lang: str, date: str) -> str:
    return f"{base}/{lang}wiki/{date}/{lang}wiki-{date}-pages-articles.xml.bz2"


def wikipedia_md5sums(base: str, lang: str, date: str) -> str:
    """Wikimedia publishes the MD5 of every file of a dump beside it."""
    return f"{base}/{lang}wiki/{date}/{lang}wiki-{date}-md5sums.txt"


def opus_pair(src: str, tgt: str):
    """OPUS names a pair with its two codes in alphabetical order."""
    return tuple(sorted((src, tgt)))


def opus_moses_zip(base: str, corpus: str, version: str, src: str, tgt: str) -> str:
    first, second = opus_pair(src, tgt)
    return f"{base}/OPUS-{corpus}/{version}/moses/{first}-{second}.txt.zip"


def opus_member(corpus: str, src: str, tgt: str, lang: str) -> str:
    first, second = opus_pair(src, tgt)
    return f"{corpus}.{first}-{second}.{lang}"


def tatoeba_files(base: str, lang: str):
    code = TATOEBA_CODES[lang]
    return [f"{base}/tatoeba.{code}-eng.{code}", f"{base}/tatoeba.{code}-eng.eng"]
