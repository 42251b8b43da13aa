"""cxlm-gettext-corpus and cxlm-prepare: real text in, a data directory the task trains on out."""

import filecmp
import json
import math
import os
import random
import string

import pytest
from fairseq.data import Dictionary

from fairseq_contrastive_xlm.cli import gettext_corpus, prepare

from helpers import ONE_LAYER, logged_train_metrics, preprocess_in_process, train_in_process

SMALL = ["--vocab-size", "1000", "--valid-size", "100", "--test-size", "100", "--workers", "2"]


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("raw"))
    gettext_corpus.main(["--langs", "de,fr", "--max-pairs", "1500", "--mono", "--out", out])
    with open(os.path.join(out, "cxlm-prepare.args")) as f:
        return out, f.read().split()


@pytest.fixture(scope="module")
def prepared(raw, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("prepared") / "data")
    prepare.main([*raw[1], *SMALL, "--out", out])
    return out


def binaries(directory):
    found = []
    for root, _, names in os.walk(directory):
        found += [os.path.relpath(os.path.join(root, n), directory) for n in names if n.endswith((".bin", ".idx"))]
    return sorted(found)


def test_gettext_corpus_is_line_aligned_real_text(raw):
    out, args = raw
    assert args[:2] == ["--para", f"en-de:{out}/en-de.en,{out}/en-de.de"]
    for lang in ("de", "fr"):
        with open(f"{out}/en-{lang}.en") as en, open(f"{out}/en-{lang}.{lang}") as other:
            english, foreign = en.read().splitlines(), other.read().splitlines()
        assert len(english) == len(foreign) == 1500
        assert sum(a != b for a, b in zip(english, foreign)) == 1500
    with open(f"{out}/corpus.json") as f:
        assert json.load(f)["pairs"] == {"de": 1500, "fr": 1500}


def test_layout_and_manifest(prepared):
    assert sorted(os.listdir(prepared)) == ["dict.txt", "manifest.json", "mono", "para", "spm.model"]
    assert binaries(prepared) == sorted(
        [
            f"mono/{lang}/{split}.{ext}"
            for lang in ("de", "en", "fr")
            for split in ("train", "valid", "test")
            for ext in ("bin", "idx")
        ]
        + [
            f"para/en-{lang}/{split}.en-{lang}.{side}.{ext}"
            for lang in ("de", "fr")
            for split in ("train", "valid", "test")
            for side in ("en", lang)
            for ext in ("bin", "idx")
        ]
    )
    with open(os.path.join(prepared, "manifest.json")) as f:
        manifest = json.load(f)
    assert manifest["languages"] == ["de", "en", "fr"]
    pair = manifest["parallel"]["en-de"]
    assert pair["lines_read"] == 1500
    kept = sum(s["sentences"] for s in pair["splits"].values())
    assert kept == pair["lines_read"] - sum(pair["dropped"].values())
    assert pair["splits"]["valid"]["sentences"] <= 100 and pair["splits"]["train"]["tokens"] > 0
    assert manifest["vocabulary"]["trained_here"] and manifest["options"]["vocab_size"] == 1000


def test_the_task_trains_on_it(prepared, tmp_path):
    train_in_process(
        prepared,
        tmp_path / "ckpt",
        *ONE_LAYER,
        "--mlm-langs",
        "en,de,fr",
        "--tlm-pairs",
        "en-de,en-fr",
        "--batch-size",
        "8",
        "--max-update",
        "3",
    )
    metrics = logged_train_metrics(tmp_path / "ckpt" / "checkpoint_last.pt")
    words = len(Dictionary.load(os.path.join(prepared, "dict.txt")))
    for name in ("mlm_loss", "tlm_loss"):  # untrained: about the entropy of a uniform choice of a word, in bits
        assert 0.5 * math.log2(words) < metrics[name] < 2 * math.log2(words), metrics
    assert 0 < metrics["ntxent_loss"] < 2 * math.log2(15), metrics  # chance: 1 of 15 candidates, 3.9 bits


def test_same_seed_gives_byte_identical_binaries(raw, prepared, tmp_path):
    again = str(tmp_path / "again")
    prepare.main([*raw[1], *SMALL, "--out", again])
    for name in binaries(prepared) + ["dict.txt", "spm.model"]:
        assert filecmp.cmp(os.path.join(prepared, name), os.path.join(again, name), shallow=False), name


def test_reusing_a_model_and_dictionary(raw, prepared, tmp_path):
    reused = str(tmp_path / "reused")
    prepare.main(
        [
            *raw[1],
            "--spm-model",
            os.path.join(prepared, "spm.model"),
            "--dict",
            os.path.join(prepared, "dict.txt"),
            "--valid-size",
            "100",
            "--test-size",
            "100",
            "--workers",
            "1",
            "--out",
            reused,
        ]
    )
    for name in binaries(prepared) + ["dict.txt"]:
        assert filecmp.cmp(os.path.join(prepared, name), os.path.join(reused, name), shallow=False), name
    with open(os.path.join(reused, "manifest.json")) as f:
        assert json.load(f)["vocabulary"]["trained_here"] is False


def test_small_corpus_gets_a_proportional_split(raw, tmp_path, caplog):
    out = str(tmp_path / "default_split")
    prepare.main([raw[1][0], raw[1][1], "--vocab-size", "500", "--workers", "1", "--out", out])
    with open(os.path.join(out, "manifest.json")) as f:
        splits = json.load(f)["parallel"]["en-de"]["splits"]
    valid, test = splits["valid"]["sentences"], splits["test"]["sentences"]
    # 10% of what is left after cleaning (a little under 1500 pairs), halved; not 5000 each.
    assert 0.09 * 1500 <= valid + test <= 0.1 * 1500 and abs(valid - test) <= 2
    assert "too few for --valid-size 5000 and --test-size 5000" in caplog.text


def random_text(lines, seed=0):
    rng = random.Random(seed)
    words = ["".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(2, 9))) for _ in range(400)]
    return "\n".join(" ".join(rng.choice(words) for _ in range(rng.randint(3, 12))) for _ in range(lines))


def test_invalid_utf8_is_dropped_and_counted(tmp_path, caplog):
    good = random_text(300)
    path = tmp_path / "mono.en"
    path.write_bytes(good.encode() + b"\nbroken \xff\xfe line\nalso \xc3 broken\n")
    out = str(tmp_path / "out")
    prepare.main(
        [
            "--mono",
            f"en:{path}",
            "--vocab-size",
            "100",
            "--valid-size",
            "10",
            "--test-size",
            "10",
            "--workers",
            "1",
            "--out",
            out,
        ]
    )
    with open(os.path.join(out, "manifest.json")) as f:
        mono = json.load(f)["monolingual"]["en"]
    assert mono["dropped"]["invalid_utf8"] == 2 and mono["invalid_utf8_by_file"] == {str(path): 2}
    assert f"{path}: dropped 2 lines that are not valid UTF-8" in caplog.text


def failure(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        prepare.main(argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


def test_bad_input(raw, tmp_path, capsys):
    out_dir, args = raw
    en, de = f"{out_dir}/en-de.en", f"{out_dir}/en-de.de"
    short = tmp_path / "short.de"
    short.write_text("eins\nzwei\n")
    vocab = ["--vocab-size", "500", "--out", str(tmp_path / "o")]
    assert f"the files are not line-aligned: {en} has 1500 lines and {short} has 2" in failure(
        ["--para", f"en-de:{en},{short}", *vocab], capsys
    )
    assert "input file missing.txt (en) does not exist" in failure(["--mono", "en:missing.txt", *vocab], capsys)
    assert "'x.x' is not a language code" in failure(["--para", f"en-x.x:{en},{de}", *vocab], capsys)
    assert "write zh_Hans" in failure(["--mono", f"zh-Hans:{de}", *vocab], capsys)
    assert "--para de-en is given twice (also as en-de)" in failure(
        ["--para", f"en-de:{en},{de}", "--para", f"de-en:{de},{en}", *vocab], capsys
    )
    assert "expected SRC-TGT:SRC_PATH,TGT_PATH" in failure(["--para", f"en-de:{en}", *vocab], capsys)
    assert "give either --vocab-size N, or --spm-model MODEL with --dict DICT" in failure(
        ["--mono", f"en:{en}", "--out", str(tmp_path / "o")], capsys
    )
    assert not os.path.exists(tmp_path / "o")


def test_vocabulary_too_large_for_the_text(tmp_path, capsys):
    path = tmp_path / "small.en"
    path.write_text(random_text(50))
    message = failure(
        [
            "--mono",
            f"en:{path}",
            "--vocab-size",
            "5000",
            "--valid-size",
            "1",
            "--test-size",
            "1",
            "--workers",
            "1",
            "--out",
            str(tmp_path / "out"),
        ],
        capsys,
    )
    assert "SentencePiece cannot train a 5000-piece model on this text: Vocabulary size too high (5000)" in message
    assert sorted(os.listdir(tmp_path)) == ["small.en"]


def test_existing_output_needs_force_and_failures_leave_nothing(raw, prepared, tmp_path, capsys):
    assert f"{prepared} exists; pass --force" in failure([*raw[1], "--vocab-size", "500", "--out", prepared], capsys)
    empty = tmp_path / "empty.en"
    empty.write_text("\n   \n\n")
    out = tmp_path / "never"
    assert "en: no line is left after cleaning" in failure(
        ["--mono", f"en:{empty}", "--vocab-size", "100", "--out", str(out)], capsys
    )
    assert os.listdir(tmp_path) == ["empty.en"]  # neither the output nor a staging directory


def test_heldout_pairs_stay_out_of_every_training_file(tmp_path):
    out = tmp_path / "raw"
    gettext_corpus.main(["--langs", "de,fr", "--max-pairs", "300", "--heldout", "50", "--mono", "--out", str(out)])
    for lang in ("de", "fr"):
        held = list(
            zip(
                (out / "heldout" / f"en-{lang}.en").read_text().splitlines(),
                (out / "heldout" / f"en-{lang}.{lang}").read_text().splitlines(),
            )
        )
        train = list(
            zip((out / f"en-{lang}.en").read_text().splitlines(), (out / f"en-{lang}.{lang}").read_text().splitlines())
        )
        assert len(held) == 50 and len(train) == 250
        assert not set(held) & set(train)
        assert not {t for _, t in held} & set((out / f"mono.{lang}").read_text().splitlines()) - {t for _, t in train}
    assert str(out / "heldout") not in (out / "cxlm-prepare.args").read_text()


def test_the_dictionary_follows_the_sentencepiece_model(prepared):
    """As XLM-R's: fairseq index = SentencePiece id + 1, every piece present (Hugging Face's tokenizer relies on it)."""
    import sentencepiece as spm
    from fairseq.data import Dictionary

    processor = spm.SentencePieceProcessor(model_file=os.path.join(prepared, "spm.model"))
    dictionary = Dictionary.load(os.path.join(prepared, "dict.txt"))
    assert len(dictionary) == processor.get_piece_size() + 1
    assert all(dictionary.index(processor.id_to_piece(i)) == i + 1 for i in range(3, processor.get_piece_size()))


def test_binarized_files_are_fairseq_preprocess_bytes(prepared, tmp_path):
    """write_binarized against fairseq-preprocess itself on the same tokenised text (with a piece the dictionary
    lacks): the .bin and .idx files are byte for byte the same."""
    from fairseq_contrastive_xlm.prepare.binarize import write_binarized

    data = str(prepared)
    text = tmp_path / "text.tok"
    dictionary = Dictionary.load(os.path.join(data, "dict.txt"))
    words = dictionary.symbols[dictionary.nspecial : dictionary.nspecial + 50]
    lines = [" ".join(words[i : i + 7]) for i in range(40)] + ["▁unknown-piece " + words[3], ""]
    text.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    write_binarized(str(text), str(tmp_path / "ours"), dictionary)
    preprocess_in_process(  # fairseq-preprocess's main, in this process
        *("--only-source", "--srcdict", os.path.join(data, "dict.txt"), "--trainpref", str(text)),
        *("--destdir", str(tmp_path / "theirs"), "--workers", "1"),
    )
    for ext in ("bin", "idx"):
        assert (tmp_path / f"ours.{ext}").read_bytes() == (tmp_path / "theirs" / f"train.{ext}").read_bytes()
    assert (tmp_path / "ours.bin").stat().st_size > 0
