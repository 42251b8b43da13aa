import os
import sys

# Under pytest-xdist (make test runs a worker per core) every worker, and every process a test starts, computes
# with one thread: two workers of two threads each on two cores would only contend.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["MKL_NUM_THREADS"] = "1"

import pytest  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

import fairseq_contrastive_xlm  # noqa: E402,F401  (registers the task, model and criterion)

if os.environ.get("PYTEST_XDIST_WORKER"):
    import torch

    torch.set_num_threads(1)


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


@pytest.fixture(scope="session")
def scripts_checkpoint(scripts_data, tmp_path_factory):
    """corpus.train_on_scripts' model with every default, for the export tests (tests must not write beside it)."""
    from corpus import train_on_scripts

    return train_on_scripts(scripts_data[0], tmp_path_factory.mktemp("scripts_model"))


@pytest.fixture(scope="session")
def trained_checkpoint(data_dir, tmp_path_factory):
    """The session's one trained model for the evaluation and mining tests (tests must not write beside it):
    60 updates of the 2-layer, 64-wide model on MLM en, de, TLM en-de, en-fr and NT-Xent over data_dir, saved after
    30 and 60 updates too (checkpoint_1_30.pt, checkpoint_1_60.pt: a run's checkpoints)."""
    from helpers import train_in_process

    save = tmp_path_factory.mktemp("trained")
    train_in_process(
        data_dir,
        save,
        *("--mlm-langs", "en,de", "--tlm-pairs", "en-de,en-fr", "--batch-size", "16", "--max-update", "60"),
        *("--no-epoch-checkpoints", "--disable-validation", "--save-interval-updates", "30"),
    )
    return str(save / "checkpoint_last.pt")


@pytest.fixture
def run_command(capsys):
    """run_tool's twin for a cxlm-* command whose computation is under test, not its process: its main(argv) in this
    process (no 5-8 s of imports), reported the same way (returncode, stdout, stderr). test_bad_input_sweep runs
    every command as a process."""
    import subprocess
    from importlib.metadata import entry_points

    def run(tool, *argv, check=True):
        (entry,) = entry_points(group="console_scripts", name=tool)
        capsys.readouterr()
        try:
            entry.load()([str(a) for a in argv])
            code = 0
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else 1
        out, err = capsys.readouterr()
        if check and code != 0:
            pytest.fail(f"{tool} failed ({code}):\n{err[-4000:]}")
        return subprocess.CompletedProcess([tool, *argv], code, out, err)

    return run


# make test hands whole files to its workers, one at a time, in collection order (--dist loadfile
# --no-loadscope-reorder): the longest files (pytest --durations) go first, so that the run does not end with one
# worker busy on a long file and the other idle.
LONGEST_FIRST = (
    "test_end_to_end.py",
    "test_ablation.py",
    "test_recipes.py",
    "test_torchrun.py",
    "test_xnli.py",
    "test_fairseq_drop_in.py",
    "test_bench.py",
    "test_resume.py",
    "test_precision.py",
    "test_shards.py",
    "test_evaluation.py",
    "test_huggingface.py",
)


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: each file keeps its own order
