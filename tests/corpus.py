"""Small real multilingual data for tests, made at test time (nothing third-party is committed): gettext
en-X pairs through the preparation pipeline."""

import os

from fairseq_contrastive_xlm.prepare.gettext_corpus import gettext_pairs, shuffled
from fairseq_contrastive_xlm.prepare.pipeline import Corpus, PrepareOptions, prepare


def usable_pairs(lang, limit):
    """Short, printf-free messages: enough text for a tiny model to learn from in a few hundred steps."""
    pairs = [(s, t) for s, t in gettext_pairs(lang) if 3 <= len(s) <= 150 and len(t) <= 200 and "%" not in s]
    return shuffled(pairs, seed=0)[:limit]


def build_data_dir(out, langs=("de", "fr"), pairs_per_lang=2500, valid=250, vocab_size=2000):
    """DATA with dict.txt, para/en-<lang>, mono/<lang> (its side of the pairs) and mono/en (the English
    side of the first pair); train and valid splits."""
    raw = os.path.join(out, "raw")
    os.makedirs(raw, exist_ok=True)
    corpora = []
    for lang in langs:
        pairs = usable_pairs(lang, pairs_per_lang)
        assert len(pairs) >= 4 * valid, f"too few gettext pairs for {lang}: {len(pairs)}"
        prefix = os.path.join(raw, f"en-{lang}")
        for side, name in ((0, "en"), (1, lang)):
            with open(f"{prefix}.{name}", "w", encoding="utf-8") as f:
                f.writelines(pair[side] + "\n" for pair in pairs)
        corpora += [Corpus(("en", lang), (f"{prefix}.en", f"{prefix}.{lang}")), Corpus((lang,), (f"{prefix}.{lang}",))]
    corpora.append(Corpus(("en",), (os.path.join(raw, f"en-{langs[0]}.en"),)))
    data = os.path.join(out, "data")
    prepare(corpora, data, PrepareOptions(vocab_size=vocab_size, valid_size=valid, test_size=0, workers=2))
    return data


SCRIPTS = ("ru", "zh", "el", "ar", "hi", "de")  # Cyrillic, Han, Greek, Arabic, Devanagari, Latin
LANGS = "en," + ",".join(SCRIPTS)


def build_scripts_data(root):
    """A data directory prepared by the pipeline from gettext pairs en-X in six scripts, and held-out sentences."""
    corpora, held_out = [], {}
    for lang in SCRIPTS:
        pairs = usable_pairs(lang, 640)
        held_out[lang] = [target for _, target in pairs[600:]]
        for side, name in ((0, "en"), (1, lang)):
            with open(os.path.join(root, f"en-{lang}.{name}"), "w", encoding="utf-8") as f:
                f.writelines(pair[side] + "\n" for pair in pairs[:600])
        paths = (os.path.join(root, f"en-{lang}.en"), os.path.join(root, f"en-{lang}.{lang}"))
        corpora.append(Corpus(("en", lang), paths))
    data = os.path.join(root, "data")
    prepare(corpora, data, PrepareOptions(vocab_size=1500, valid_size=0, test_size=0, workers=2))
    return data, held_out


def train_on_scripts(data, save, *options):
    """Three updates of a one-layer model on build_scripts_data's directory (TLM en-ru, en-zh; NT-Xent)."""
    from helpers import train_in_process

    train_in_process(
        data,
        save,
        "--tlm-pairs",
        "en-ru,en-zh",
        "--langs",
        LANGS,
        "--batch-size",
        "8",
        "--max-update",
        "3",
        "--disable-validation",
        "--no-epoch-checkpoints",
        *options,
    )
    return os.path.join(save, "checkpoint_last.pt")
