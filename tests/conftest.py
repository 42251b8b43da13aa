import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

import fairseq_contrastive_xlm  # noqa: E402,F401  (registers the task, model and criterion)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    """A small real data directory (gettext en-de and en-fr pairs, SentencePiece, fairseq-preprocess)."""
    from corpus import build_data_dir

    return build_data_dir(str(tmp_path_factory.mktemp("corpus")))


@pytest.fixture(scope="session")
def scripts_data(tmp_path_factory):
    """(data directory, held-out sentences per language): gettext en-X pairs in six scripts (corpus.SCRIPTS)."""
    from corpus import build_scripts_data

    return build_scripts_data(str(tmp_path_factory.mktemp("scripts")))
