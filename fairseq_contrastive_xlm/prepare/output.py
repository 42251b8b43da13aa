"""Output directories that appear whole or not at all."""

import contextlib
import os
import shutil

from ..errors import UserInputError


def refuse_existing(out: str, force: bool):
    if os.path.exists(out) and not force:
        raise UserInputError(f"{out} exists; pass --force to replace it")


@contextlib.contextmanager
def staged_directory(out: str):
    """Yield a staging directory beside `out`; on success it replaces `out`, on any failure it is removed."""
    out = os.path.abspath(out)
    staging = f"{out}.partial-{os.getpid()}"
    os.makedirs(staging)
    try:
        yield staging
        if os.path.exists(out):
            shutil.rmtree(out)
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
