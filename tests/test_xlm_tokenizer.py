"""XLM's tokenization (Moses, lowercasing and accent stripping, BPE with the model's codes) against transformers'
XLMTokenizer given the same codes, on real sentences of the XNLI languages; cxlm-prepare --tokenizer xlm, and an
imported XLM model read through its codes."""

import collections
import json
import os

import pytest
from fairseq.data import Dictionary, data_utils
from transformers import XLMTokenizer as TransformersXLMTokenizer

from fairseq_contrastive_xlm.cli import import_checkpoint, retrieval, xnli_prepare
from fairseq_contrastive_xlm.errors import UserInputError
from fairseq_contrastive_xlm.prepare.pipeline import Corpus, PrepareOptions, prepare
from fairseq_contrastive_xlm.tokenization.xlm_tokenizer import END, SETTINGS_FILE, XLMTokenizer, lowercases, read_codes

from corpus import usable_pairs
from xnli_fixtures import write_xnli_dir, write_xnli_mt_train

# Every XNLI language whose XLM pipeline is Moses alone (zh and th had their own segmenters: see the README);
# sw has too few gettext messages here.
MOSES_LANGS = ("ar", "bg", "de", "el", "es", "fr", "hi", "ru", "tr", "ur", "vi")


def learn_codes(path, texts, merges=300):
    """A small fastBPE codes file ('left right count', most frequent pair first) learned from the words. Pair counts
    are updated in the words a merge touches only, as fastBPE does (recounting every word costs 10 s)."""
    tokenizer = XLMTokenizer.__new__(XLMTokenizer)  # its Moses and lowercasing steps, without codes yet
    counts = collections.Counter(w for lang, lines in texts.items() for s in lines for w in tokenizer.words(s, lang))
    words = [[*w[:-1], w[-1] + END] for w in counts]
    frequency = list(counts.values())
    pairs, holders = collections.Counter(), collections.defaultdict(set)
    for index, word in enumerate(words):
        for pair in zip(word, word[1:]):
            pairs[pair] += frequency[index]
            holders[pair].add(index)
    with open(path, "w", encoding="utf-8") as out:
        for _ in range(merges):
            (left, right), count = max(pairs.items(), key=lambda item: (item[1], item[0]), default=(None, 0))
            if count <= 0:
                break
            out.write(f"{left} {right} {count}\n")
            for index in holders.pop((left, right)):
                word, n = words[index], frequency[index]
                for pair in zip(word, word[1:]):
                    pairs[pair] -= n
                symbols, i = [], 0
                while i < len(word):
                    if i + 1 < len(word) and (word[i], word[i + 1]) == (left, right):
                        symbols.append(left + right)
                        i += 2
                    else:
                        symbols.append(word[i])
                        i += 1
                for pair in zip(symbols, symbols[1:]):
                    pairs[pair] += n
                    holders[pair].add(index)
                words[index] = symbols
            del pairs[(left, right)]
    return path


@pytest.fixture(scope="module")
def texts_and_codes(tmp_path_factory):
    root = tmp_path_factory.mktemp("xlm-bpe")
    texts = {lang: [t for _, t in usable_pairs(lang, 200)] for lang in MOSES_LANGS}
    texts["en"] = [s for s, _ in usable_pairs("de", 200)]
    return texts, learn_codes(str(root / "codes"), texts), root


def xlm_convention(pieces):
    """transformers writes a word's last piece with '</w>' and inner ones bare; XLM's files (and dictionaries)
    mark inner pieces with '@@' and last ones bare."""
    return [p[: -len(END)] if p.endswith(END) else p + "@@" for p in pieces]


def test_pieces_equal_transformers_xlm_tokenizer(texts_and_codes):
    texts, codes, root = texts_and_codes
    with open(root / "vocab.json", "w") as f:
        json.dump({"<s>": 0, "</s>": 1, "<pad>": 2, "<unk>": 3}, f)
    theirs = TransformersXLMTokenizer(vocab_file=str(root / "vocab.json"), merges_file=codes)
    ours = XLMTokenizer(codes)
    differing = {
        lang: sum(ours.pieces(s, lang) != xlm_convention(theirs._tokenize(s, lang=lang)) for s in lines)
        for lang, lines in texts.items()
    }
    assert differing == {lang: 0 for lang in texts}
    assert sum(len(lines) for lines in texts.values()) > 2000
    assert ours.pieces("Ça coûte 5 €, n'est-ce pas?", "fr")[:2] == ["ca", "co@@"]  # lowercased, accents gone


def test_bad_codes_are_one_clear_error(tmp_path):
    (tmp_path / "codes").write_text("a b 10\nbroken\n")
    with pytest.raises(UserInputError, match=r"codes, line 2: expected 'left right count'"):
        read_codes(str(tmp_path / "codes"))
    with pytest.raises(UserInputError, match="cannot be read"):
        read_codes(str(tmp_path / "missing"))


def test_prepare_with_xlm_tokenization(texts_and_codes, tmp_path):
    texts, codes, _ = texts_and_codes
    tokenizer = XLMTokenizer(codes)
    for lang in ("en", "ru"):
        (tmp_path / f"en-ru.{lang}").write_text("".join(line + "\n" for line in texts[lang]), encoding="utf-8")
    pieces = collections.Counter(p for lang in ("en", "ru") for s in texts[lang] for p in tokenizer.pieces(s, lang))
    (tmp_path / "dict.txt").write_text("".join(f"{p} {c}\n" for p, c in pieces.most_common()), encoding="utf-8")
    corpus = Corpus(("en", "ru"), (str(tmp_path / "en-ru.en"), str(tmp_path / "en-ru.ru")))
    options = PrepareOptions(
        tokenizer="xlm",
        bpe_codes=codes,
        dict=str(tmp_path / "dict.txt"),
        valid_size=0,
        test_size=0,
        workers=2,
        max_length_ratio=100,
    )
    prepare([corpus], str(tmp_path / "data"), options)
    data = tmp_path / "data"
    assert (data / "codes").read_text() == open(codes).read() and not (data / "spm.model").exists()
    manifest = json.loads((data / "manifest.json").read_text())
    assert manifest["vocabulary"]["tokenizer"] == "xlm" and manifest["vocabulary"]["bpe_codes"] == "codes"
    dictionary = Dictionary.load(str(data / "dict.txt"))
    binarized = data_utils.load_indexed_dataset(str(data / "para" / "en-ru" / "train.en-ru.ru"), dictionary, "mmap")
    decoded = {dictionary.string(binarized[i]) for i in range(len(binarized))}
    expected = {" ".join(tokenizer.pieces(s, "ru")) for s in texts["ru"]}
    assert decoded <= expected and len(decoded) > 150  # each sentence as XLM's pipeline cuts it (Russian rules)
    with pytest.raises(UserInputError, match="--tokenizer xlm needs --bpe-codes"):
        prepare([corpus], str(tmp_path / "again"), PrepareOptions(tokenizer="xlm", dict=str(tmp_path / "dict.txt")))


def test_an_imported_xlm_reads_text_through_its_codes(texts_and_codes, tmp_path):
    from test_import_xlm import xlm_checkpoint

    texts, codes, _ = texts_and_codes
    xlm_checkpoint(str(tmp_path / "xlm.pth"))
    import_checkpoint.main(["xlm", str(tmp_path / "xlm.pth"), "--codes", codes, "--out", str(tmp_path / "ours")])
    for lang in ("de", "en"):
        (tmp_path / f"pairs.{lang}").write_text("".join(line + "\n" for line in texts[lang][:20]), encoding="utf-8")
    retrieval.main(
        [
            "--checkpoint",
            str(tmp_path / "ours" / "model.pt"),
            "--data",
            str(tmp_path / "ours"),
            "--src",
            str(tmp_path / "pairs.de"),
            "--tgt",
            str(tmp_path / "pairs.en"),
            "--src-lang",
            "de",
            "--json",
            str(tmp_path / "r.json"),
        ]
    )
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["results"]["de-en"]["pairs"] == 20
    assert os.path.isfile(tmp_path / "ours" / "codes")
    xnli_prepare.main(
        [
            "--train",
            str(write_xnli_mt_train(tmp_path / "train.tsv", 30)),
            "--xnli-dir",
            str(write_xnli_dir(tmp_path / "XNLI-1.0", langs=("de", "en"), per_language=6)),
            "--langs",
            "de,en",
            "--data",
            str(tmp_path / "ours"),
            "--out",
            str(tmp_path / "xnli"),
            "--max-positions",
            "40",
            "--truncate",
        ]
    )
    assert (tmp_path / "xnli" / "codes").read_text() == open(codes).read()  # XNLI encoded as XLM did


def test_which_xlm_models_lowercase():
    assert lowercases({"n_langs": 15}) and lowercases({"n_langs": 3}) and lowercases({})
    assert not lowercases({"n_langs": 17}) and not lowercases({"n_langs": 100})  # XLM-17, XLM-100: cased
    assert not lowercases({"n_langs": 15, "do_lowercase_and_remove_accent": False})  # said outright, it wins


def test_a_cased_xlm_prepares_and_reads_cased_text_unless_told(texts_and_codes, tmp_path):
    """cxlm-import records that a model is cased; cxlm-prepare --tokenizer xlm and the evaluation commands follow
    it, and --lowercase / --no-lowercase override it."""
    from test_import_xlm import xlm_checkpoint

    from fairseq_contrastive_xlm.cli import prepare as prepare_command
    from fairseq_contrastive_xlm.tokenization import tokenizers

    texts, codes, _ = texts_and_codes
    xlm_checkpoint(str(tmp_path / "xlm.pth"), {"do_lowercase_and_remove_accent": False})
    ours = tmp_path / "ours"
    import_checkpoint.main(["xlm", str(tmp_path / "xlm.pth"), "--codes", codes, "--out", str(ours)])
    assert json.loads((ours / SETTINGS_FILE).read_text()) == {"lowercase_and_remove_accent": False}
    assert tokenizers.of_data_directory(str(ours)).words("Ça coûte 5 €", "fr")[:2] == ["Ça", "coûte"]
    assert tokenizers.of_data_directory(str(ours), lowercase=True).words("Ça coûte 5 €", "fr")[:2] == ["ca", "coute"]

    cased = XLMTokenizer(codes, lowercase=False)
    pieces = collections.Counter(p for lang in ("en", "ru") for s in texts[lang] for p in cased.pieces(s, lang))
    (tmp_path / "dict.txt").write_text("".join(f"{p} {c}\n" for p, c in pieces.most_common()), encoding="utf-8")
    for lang in ("en", "ru"):
        (tmp_path / f"en-ru.{lang}").write_text("".join(line + "\n" for line in texts[lang]), encoding="utf-8")
    common = [
        *("--para", f"en-ru:{tmp_path / 'en-ru.en'},{tmp_path / 'en-ru.ru'}", "--tokenizer", "xlm"),
        *("--bpe-codes", str(ours / "codes"), "--dict", str(tmp_path / "dict.txt"), "--valid-size", "0"),
        *("--test-size", "0", "--workers", "2", "--max-length-ratio", "100"),
    ]
    for name, flag, lowercase in (("as_recorded", [], False), ("told", ["--lowercase"], True)):
        data = tmp_path / name
        prepare_command.main([*common, *flag, "--out", str(data)])
        assert json.loads((data / SETTINGS_FILE).read_text()) == {"lowercase_and_remove_accent": lowercase}
        dictionary = Dictionary.load(str(data / "dict.txt"))
        binarized = data_utils.load_indexed_dataset(str(data / "para" / "en-ru" / "train.en-ru.en"), dictionary, "mmap")
        decoded = [dictionary.string(binarized[i]) for i in range(len(binarized))]
        capitals = sum(any(c.isupper() for c in line) for line in decoded)
        assert (capitals == 0) == lowercase and (lowercase or capitals > 100), capitals
