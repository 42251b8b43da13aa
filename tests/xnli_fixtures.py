"""Small NLI files in the official formats (XNLI-1.0 tsv, XNLI-MT-1.0 tsv, MultiNLI jsonl), written by
the tests. Sentences are gettext messages of each language (real text); the pairs follow a rule a model
can learn: the same message entails itself, another message contradicts it, a longer one is neutral."""

import json

from fairseq_contrastive_xlm.languages import XNLI_LANGUAGES
from fairseq_contrastive_xlm.prepare.gettext_corpus import gettext_pairs, shuffled

XNLI_COLUMNS = [
    "language",
    "gold_label",
    "sentence1_binary_parse",
    "sentence2_binary_parse",
    "sentence1_parse",
    "sentence2_parse",
    "sentence1",
    "sentence2",
    "promptID",
    "pairID",
    "genre",
    "label1",
    "label2",
    "label3",
    "label4",
    "label5",
    "sentence1_tokenized",
    "sentence2_tokenized",
    "match",
]
LABELS = ("entailment", "neutral", "contradiction")


def sentences(lang, count, seed=0):
    """Messages in `lang` (English: the originals of the German catalogs), at most 80 characters."""
    pairs = gettext_pairs("de" if lang == "en" else lang)
    texts = [(s if lang == "en" else t) for s, t in pairs]
    texts = [t for t in dict.fromkeys(texts) if 8 <= len(t) <= 80]
    return shuffled(texts, seed)[:count]


def nli_triples(texts):
    """(premise, hypothesis, label) with labels in turn: entailment, neutral, contradiction."""
    n = len(texts)
    for i, premise in enumerate(texts):
        label = LABELS[i % 3]
        if label == "entailment":
            hypothesis = premise
        elif label == "neutral":
            hypothesis = f"{premise} {texts[(i + 3) % n]}"
        else:
            hypothesis = texts[(i + 7) % n]
        yield premise, hypothesis, label


def write_xnli_dir(directory, langs=XNLI_LANGUAGES, per_language=24):
    directory.mkdir(parents=True, exist_ok=True)
    for split, seed in (("dev", 1), ("test", 2)):
        with open(directory / f"xnli.{split}.tsv", "w", encoding="utf-8") as f:
            f.write("\t".join(XNLI_COLUMNS) + "\n")
            for lang in langs:
                for number, (premise, hypothesis, label) in enumerate(nli_triples(sentences(lang, per_language, seed))):
                    row = dict.fromkeys(XNLI_COLUMNS, "")
                    row.update(
                        language=lang,
                        gold_label=label,
                        sentence1=premise,
                        sentence2=hypothesis,
                        pairID=str(number),
                        genre="messages",
                        label1=label,
                    )
                    f.write("\t".join(row[c] for c in XNLI_COLUMNS) + "\n")
    return directory


def write_xnli_mt_train(path, count=300):
    """XNLI-MT-1.0's spelling: header premise/hypo/label, and 'contradictory'."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("premise\thypo\tlabel\n")
        for premise, hypothesis, label in nli_triples(sentences("en", count, seed=3)):
            f.write(f"{premise}\t{hypothesis}\t{'contradictory' if label == 'contradiction' else label}\n")
    return path


def write_multinli_jsonl(path, count=60, without_gold=4):
    """MultiNLI 1.0 rows; `without_gold` of them have gold_label '-' (no annotator majority)."""
    with open(path, "w", encoding="utf-8") as f:
        for i, (premise, hypothesis, label) in enumerate(nli_triples(sentences("en", count, seed=4))):
            gold = "-" if i < without_gold else label
            f.write(
                json.dumps(
                    {
                        "annotator_labels": [label],
                        "genre": "messages",
                        "gold_label": gold,
                        "pairID": f"{i}e",
                        "promptID": str(i),
                        "sentence1": premise,
                        "sentence2": hypothesis,
                    }
                )
                + "\n"
            )
    return path
