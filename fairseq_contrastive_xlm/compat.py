"""Every shim between fairseq 0.12 and the current stack, in one place.

Each shim says what breaks without it, so it can be dropped once upstream fixes land. NumPy 2 is not
shimmed: requirements.txt pins numpy 1.26.4 because fairseq 0.12 calls np.compat.long.
"""

import argparse
import functools
import pickle
import re

import torch

from .errors import UserInputError


def allow_fairseq_checkpoints():
    """Let torch's weights-only loader read the one non-tensor global fairseq pickles.

    Without it, torch >= 2.6 (weights_only=True by default) refuses every fairseq 0.12 checkpoint
    ("Unsupported global: argparse.Namespace"): resuming, --restore-file and evaluation all fail.
    Only argparse.Namespace is allowed; the weights-only guard itself stays on.
    """
    torch.serialization.add_safe_globals([argparse.Namespace])


class CheckpointRefusedError(UserInputError):
    def __init__(self, path, reason):
        found = re.search(r"GLOBAL (\S+)", reason)
        what = f"the global {found.group(1)}" if found else "content"
        super().__init__(
            f"refused to load checkpoint {path}: it carries {what}, which a weights-only load does not "
            "allow (only argparse.Namespace is allowed beside tensors and plain data). A checkpoint is "
            "untrusted input; re-save it from code you trust if you need it."
        )


def explain_refused_checkpoints():
    """Name the file and the offending global when torch refuses a checkpoint.

    Without it, a checkpoint carrying any other global fails deep inside torch.load with advice to
    set weights_only=False, which would run arbitrary code from the file.
    """
    from fairseq import checkpoint_utils

    original = checkpoint_utils.load_checkpoint_to_cpu
    if getattr(original, "refusal_explained", False):
        return

    @functools.wraps(original)
    def load_checkpoint_to_cpu(path, *args, **kwargs):
        try:
            return original(path, *args, **kwargs)
        except pickle.UnpicklingError as err:
            raise CheckpointRefusedError(path, str(err)) from None

    load_checkpoint_to_cpu.refusal_explained = True
    # fairseq's trainer and its own helpers look the function up on the module at call time.
    checkpoint_utils.load_checkpoint_to_cpu = load_checkpoint_to_cpu


def run_fairseq_preprocess(argv):
    """fairseq-preprocess in this process, without the log handler it would leave behind.

    Without it, fairseq_cli.preprocess.main adds a FileHandler to its logger on every call and never
    removes it: each later run in the same process also writes into every earlier run's preprocess.log,
    and the open files pile up.
    """
    import logging

    from fairseq import options
    from fairseq_cli import preprocess

    log = logging.getLogger("fairseq_cli.preprocess")
    before = set(log.handlers)
    try:
        preprocess.main(options.get_preprocessing_parser().parse_args(argv))
    finally:
        for handler in set(log.handlers) - before:
            log.removeHandler(handler)
            handler.close()


def quiet_root_logger():
    """Undo the DEBUG level fairseq's import gives the root logger.

    Without it, importing fairseq 0.12 runs logging.basicConfig(level=DEBUG) (in
    models/wav2vec/wav2vec2_classification.py) and every library's debug messages (matplotlib's font
    search, for one) flood the output of our commands. LOGLEVEL=DEBUG still asks for them.
    """
    import logging
    import os

    import fairseq  # noqa: F401  (the import that sets the level)

    root = logging.getLogger()
    if root.level == logging.DEBUG and os.environ.get("LOGLEVEL", "").upper() != "DEBUG":
        root.setLevel(logging.INFO)


def apply_all():
    allow_fairseq_checkpoints()
    explain_refused_checkpoints()
    quiet_root_logger()
