"""Language codes as corpora name them: letters, digits and underscores (CC-100's zh_Hans, ta_rom, my_zaw, XLM-100's
zh_min_nan, simple, ISO 639-3's war), '-' only between the two languages of a pair; and a run over 100 of them."""

import pytest

from fairseq_contrastive_xlm.errors import UserInputError
from fairseq_contrastive_xlm.languages import check_code, parse_langs, parse_pairs

from helpers import ONE_LAYER, logged_train_metrics, synthetic_data_dir, train_in_process

ODD = ["zh_Hans", "ta_rom", "my_zaw", "war", "scn", "nds", "zh_min_nan", "simple"]
HUNDRED = ["en", *ODD, *(f"x{i:02d}" for i in range(91))]


def test_every_corpus_code_is_a_language_code():
    assert parse_langs(",".join(HUNDRED), "--langs") == HUNDRED
    assert parse_pairs("en-zh_Hans,ta_rom-en", "--tlm-pairs") == [("en", "zh_Hans"), ("ta_rom", "en")]


@pytest.mark.parametrize(
    "code, message",
    [
        ("zh-Hans", "'-' separates the languages of a pair; write zh_Hans"),
        ("zh/Hans", "letters, digits and '_'"),
        ("..", "letters, digits and '_'"),
    ],
)
def test_what_is_not_a_language_code_is_one_line(code, message):
    with pytest.raises(UserInputError, match=message):
        check_code(code, "--mlm-langs")
    with pytest.raises(UserInputError):
        parse_langs(f"en,{code}", "--mlm-langs")


def test_a_hyphenated_tag_in_a_pair_gets_the_hint():
    with pytest.raises(UserInputError, match="written zh_Hans"):
        parse_pairs("en-zh-Hans", "--tlm-pairs")


@pytest.fixture(scope="module")
def hundred_languages(tmp_path_factory):
    """100 languages of random sentences over one dictionary, corpora of different sizes (so that alpha-sampling
    matters), and 8 pairs with English, binarized as fairseq-preprocess writes them."""
    root = tmp_path_factory.mktemp("hundred") / "data"
    return synthetic_data_dir(root, HUNDRED, ODD, lambda k: 5 + 3 * (k % 7), 40)


def test_training_over_100_languages_with_language_embeddings_and_pairs(hundred_languages, tmp_path):
    pairs = ",".join(f"en-{lang}" for lang in ODD)
    train_in_process(
        hundred_languages,
        tmp_path,
        *ONE_LAYER,
        "--langs",
        ",".join(HUNDRED),
        "--mlm-langs",
        ",".join(HUNDRED),
        "--tlm-pairs",
        pairs,
        "--use-lang-embeddings",
        "--lang-sampling-alpha",
        "0.3",
        "--batch-size",
        "8",
        "--max-update",
        "2",
        "--disable-validation",
    )
    metrics = logged_train_metrics(tmp_path / "checkpoint_last.pt")
    assert metrics["mlm_loss"] > 0 and metrics["tlm_loss"] > 0 and metrics["ntxent_loss"] > 0, metrics
    from fairseq import checkpoint_utils

    state = checkpoint_utils.load_checkpoint_to_cpu(str(tmp_path / "checkpoint_last.pt"))
    assert state["model"]["encoder.sentence_encoder.embed_langs.weight"].shape[0] == 100
