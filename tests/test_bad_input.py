"""Bad input to the task gets an error that names the file or option, never a deep stack trace."""

import os
import shutil

import pytest
from fairseq.data import Dictionary
from fairseq.data.indexed_dataset import MMapIndexedDataset

from fairseq_contrastive_xlm.errors import UserInputError

from helpers import build_task


@pytest.fixture
def broken(data_dir, tmp_path):
    """A copy of the data directory to break."""
    copy = tmp_path / "data"
    shutil.copytree(data_dir, copy)
    return str(copy)


def test_missing_data_directory(tmp_path):
    with pytest.raises(UserInputError, match="does not exist"):
        build_task(str(tmp_path / "nowhere"))


def test_missing_dictionary(broken):
    os.remove(os.path.join(broken, "dict.txt"))
    with pytest.raises(UserInputError, match=r"dict\.txt is missing"):
        build_task(broken)


def test_language_without_monolingual_data(broken):
    with pytest.raises(UserInputError, match=r"no monolingual data for language 'es'.*mono/es.*present: de, en, fr"):
        build_task(broken, mlm_langs="en,es")


def test_pair_without_parallel_data(broken):
    with pytest.raises(UserInputError, match=r"no parallel data for pair 'en-es'.*present: en-de, en-fr"):
        build_task(broken, tlm_pairs="en-es")


def test_pair_found_in_either_direction(broken):
    task = build_task(broken, tlm_pairs="de-en")
    task.load_dataset("valid")
    assert len(task.datasets["valid"].objectives["tlm"][0]) > 0


def test_pair_sides_with_different_numbers_of_sentences(broken):
    pair = os.path.join(broken, "para", "en-de")
    for ext in ("bin", "idx"):  # the German side of train now has the validation sentences
        shutil.copy(os.path.join(pair, f"valid.en-de.de.{ext}"), os.path.join(pair, f"train.en-de.de.{ext}"))
    english = len(MMapIndexedDataset(os.path.join(pair, "train.en-de.en")))
    german = len(MMapIndexedDataset(os.path.join(pair, "train.en-de.de")))
    assert english > german
    task = build_task(broken)
    with pytest.raises(
        UserInputError,
        match=rf"different numbers of sentences: .*train\.en-de\.en\.bin has {english} "
        rf"and .*train\.en-de\.de\.bin has {german}",
    ):
        task.load_dataset("train")


def test_missing_split(broken):
    for ext in ("bin", "idx"):
        os.remove(os.path.join(broken, "mono", "de", f"valid.{ext}"))
    task = build_task(broken)
    with pytest.raises(UserInputError, match=r"monolingual valid data of 'de': .*mono/de/valid\.bin/\.idx is missing"):
        task.load_dataset("valid")


def test_dictionary_that_differs(broken):
    other = os.path.join(broken, "para", "en-de", "dict.de.txt")
    dictionary = Dictionary.load(other)
    dictionary.symbols[10], dictionary.symbols[11] = dictionary.symbols[11], dictionary.symbols[10]
    dictionary.save(other)
    with pytest.raises(UserInputError, match=r"dict\.de\.txt differs from .*dict\.txt \(first at line 7"):
        build_task(broken)


def test_nothing_to_train_is_refused_before_any_data_is_read(broken):
    task = build_task(broken, mlm_langs="", tlm_pairs="", ntxent_pairs="none")  # still serves a dictionary
    with pytest.raises(UserInputError, match="nothing to train"):
        task.load_dataset("train")


def test_language_not_in_the_language_table(broken):
    with pytest.raises(UserInputError, match=r"fr are not in --langs \(en,de\)"):
        build_task(broken, mlm_langs="en,fr", langs="en,de")


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(mlm_langs="en,en"), "--mlm-langs: 'en' is given twice"),
        (dict(tlm_pairs="en-de,de-en"), "--tlm-pairs: 'de-en' is given twice"),
        (dict(tlm_pairs="ende"), "--tlm-pairs: 'ende' is not a language pair"),
        (dict(tlm_pairs="en-en"), "--tlm-pairs: 'en-en' is not a language pair"),
        (dict(mlm_langs="en-de"), "--mlm-langs: 'en-de' is not a language code"),
        (dict(tokens_per_sample=2), "--tokens-per-sample must be at least 4"),
    ],
)
def test_bad_options(broken, options, message):
    with pytest.raises(UserInputError, match=message):
        build_task(broken, **options)
