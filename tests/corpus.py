"""Small real multilingual data for tests, made at test time (nothing third-party is committed).

The gettext catalogs under /usr/share/locale hold human translations of program messages: msgid is the
English original, msgstr its translation (OPUS builds its GNOME/KDE corpora the same way).
"""

import glob
import gettext
import os
import random

import sentencepiece as spm
from fairseq import options
from fairseq_cli import preprocess

LOCALE_DIR = "/usr/share/locale"


def gettext_pairs(lang, limit, seed=0):
    """Up to `limit` distinct one-line (English, translation) pairs for `lang`, in a seeded random order."""
    pairs = {}
    for path in sorted(glob.glob(os.path.join(LOCALE_DIR, lang, "LC_MESSAGES", "*.mo"))):
        try:
            with open(path, "rb") as f:
                catalog = gettext.GNUTranslations(f)._catalog
        except (OSError, UnicodeDecodeError, ValueError):
            continue
        for source, target in catalog.items():
            if not (isinstance(source, str) and isinstance(target, str) and source and target):
                continue
            source, target = " ".join(source.split()), " ".join(target.split())
            if source != target and 3 <= len(source) <= 150 and len(target) <= 200 and "%" not in source:
                pairs.setdefault(source, target)
    pairs = sorted(pairs.items())
    random.Random(seed).shuffle(pairs)
    return pairs[:limit]


def _preprocess(*argv):
    parser = options.get_preprocessing_parser()
    preprocess.main(parser.parse_args(["--workers", "1", *argv]))


def build_data_dir(out, langs=("de", "fr"), pairs_per_lang=2500, valid=250, vocab_size=2000):
    """DATA/dict.txt, DATA/mono/<lang>/ for en and each lang, DATA/para/en-<lang>/, from gettext pairs.

    English monolingual text is the English side of the first pair. Returns the SentencePiece model path.
    """
    raw = os.path.join(out, "raw")
    os.makedirs(raw, exist_ok=True)
    corpora = {lang: gettext_pairs(lang, pairs_per_lang) for lang in langs}
    for lang, pairs in corpora.items():
        assert len(pairs) >= valid * 2, f"too few gettext pairs for {lang}: {len(pairs)}"
    text = os.path.join(raw, "all.txt")
    with open(text, "w") as f:
        for pairs in corpora.values():
            for source, target in pairs:
                f.write(f"{source}\n{target}\n")
    spm.SentencePieceTrainer.train(
        input=text, model_prefix=os.path.join(out, "spm"), vocab_size=vocab_size,
        character_coverage=1.0, model_type="unigram", minloglevel=2,
    )
    sp = spm.SentencePieceProcessor(model_file=os.path.join(out, "spm.model"))

    def write(path, lines):
        with open(path, "w") as f:
            f.writelines(" ".join(sp.encode(line, out_type=str)) + "\n" for line in lines)

    splits = {"valid": slice(0, valid), "train": slice(valid, None)}
    for lang, pairs in corpora.items():
        for split, part in splits.items():
            write(os.path.join(raw, f"{split}.en-{lang}.en"), [p[0] for p in pairs[part]])
            write(os.path.join(raw, f"{split}.en-{lang}.{lang}"), [p[1] for p in pairs[part]])
    first = langs[0]
    mono = {"en": f"en-{first}.en", **{lang: f"en-{lang}.{lang}" for lang in langs}}

    data = os.path.join(out, "data")
    dict_source = os.path.join(raw, "dict_source.txt")
    with open(dict_source, "w") as f:
        for name in sorted(os.listdir(raw)):
            if name.startswith("train."):
                with open(os.path.join(raw, name)) as g:
                    f.write(g.read())
    _preprocess("--only-source", "--trainpref", dict_source, "--destdir", data, "--dict-only")
    shared_dict = os.path.join(data, "dict.txt")
    for lang, name in mono.items():
        _preprocess(
            "--only-source", "--srcdict", shared_dict, "--destdir", os.path.join(data, "mono", lang),
            "--trainpref", os.path.join(raw, f"train.{name}"), "--validpref", os.path.join(raw, f"valid.{name}"),
        )
        for split in splits:  # fairseq names only-source outputs <split>.bin without a language
            assert os.path.exists(os.path.join(data, "mono", lang, f"{split}.bin"))
    for lang in langs:
        _preprocess(
            "--source-lang", "en", "--target-lang", lang, "--srcdict", shared_dict, "--tgtdict", shared_dict,
            "--destdir", os.path.join(data, "para", f"en-{lang}"),
            "--trainpref", os.path.join(raw, f"train.en-{lang}"), "--validpref", os.path.join(raw, f"valid.en-{lang}"),
        )
    return data
