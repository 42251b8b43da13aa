"""Small real multilingual data for tests, made at test time (nothing third-party is committed): gettext
en-X pairs -> SentencePiece -> the plugin's binarizing steps."""

import os

from fairseq_contrastive_xlm.prepare import binarize
from fairseq_contrastive_xlm.prepare.gettext_corpus import gettext_pairs, shuffled


def usable_pairs(lang, limit):
    """Short, printf-free messages: enough text for a tiny model to learn from in a few hundred steps."""
    pairs = [(s, t) for s, t in gettext_pairs(lang) if 3 <= len(s) <= 150 and len(t) <= 200 and "%" not in s]
    return shuffled(pairs, seed=0)[:limit]


def build_data_dir(out, langs=("de", "fr"), pairs_per_lang=2500, valid=250, vocab_size=2000):
    """DATA with dict.txt, mono/en (the English side of the first pair), mono/<lang>, para/en-<lang>."""
    raw, tok, data = (os.path.join(out, name) for name in ("raw", "tok", "data"))
    for path in (raw, tok, data):
        os.makedirs(path, exist_ok=True)
    corpora = {lang: usable_pairs(lang, pairs_per_lang) for lang in langs}
    splits = {"valid": slice(0, valid), "train": slice(valid, None)}
    for lang, pairs in corpora.items():
        assert len(pairs) >= 2 * valid, f"too few gettext pairs for {lang}: {len(pairs)}"
        for split, part in splits.items():
            for side, name in ((0, "en"), (1, lang)):
                with open(os.path.join(raw, f"{split}.en-{lang}.{name}"), "w", encoding="utf-8") as f:
                    f.writelines(p[side] + "\n" for p in pairs[part])

    everything = os.path.join(raw, "all.txt")
    with open(everything, "w", encoding="utf-8") as f:
        for pairs in corpora.values():
            f.writelines(f"{s}\n{t}\n" for s, t in pairs)
    model = binarize.train_sentencepiece(everything, os.path.join(out, "spm.model"), vocab_size)
    for name in os.listdir(raw):
        if name != "all.txt":
            binarize.encode_file(model, os.path.join(raw, name), os.path.join(tok, name))

    dictionary = binarize.build_dictionary(
        [os.path.join(tok, n) for n in sorted(os.listdir(tok)) if n.startswith("train.")], data
    )
    first = langs[0]
    mono = {"en": f"en-{first}.en", **{lang: f"en-{lang}.{lang}" for lang in langs}}
    for lang, name in mono.items():
        binarize.binarize_mono(data, lang, {s: os.path.join(tok, f"{s}.{name}") for s in splits}, dictionary)
    for lang in langs:
        binarize.binarize_pair(data, "en", lang, {s: os.path.join(tok, f"{s}.en-{lang}") for s in splits}, dictionary)
    return data
