"""Outputs that appear under their final name whole or not at all.

Why: a crash or a bad input never leaves a half-written output under the final name. A file is written under a
temporary name beside it and renamed onto it (a rename within one directory is atomic); a directory is built
beside its target and moved into place only when complete. On any failure the temporary one is removed.
"""

import contextlib
import glob
import json
import logging
import os
import shutil

from .errors import UserInputError

logger = logging.getLogger("cxlm-atomic")


@contextlib.contextmanager
def atomic_path(path: str, suffix: str = ".partial"):
    """Yield PATH+suffix, a temporary path beside `path`, for any writer (open, numpy, matplotlib, shutil).

    On success it is renamed onto `path`; on any failure it is removed and `path` is left as it was. The suffix
    is the temporary name's ending: a writer that picks its format by extension wants it kept (".partial.png").
    """
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    temporary = f"{path}{suffix}"
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def write_lines(path: str, lines):
    """Each of lines (strings without their newline) as a line of path, whole or not at all."""
    with atomic_path(path) as partial, open(partial, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(line + "\n")


def write_json(path: str, obj, **options):
    """obj as JSON in path (indented; json.dump's options on top), whole or not at all."""
    with atomic_path(path) as partial, open(partial, "w", encoding="utf-8") as f:
        json.dump(obj, f, **{"indent": 2, "ensure_ascii": False, **options})


def refuse_existing(out: str, force: bool):
    """Raise UserInputError when `out` exists and `force` is not given; callers check before hours of work."""
    if os.path.exists(out) and not force:
        raise UserInputError(f"{out} exists; pass --force to replace it")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_dead_stagings(out: str):
    """OUT.partial-<pid> left by a run that was killed (kill -9, a node lost: no handler ran) holds everything it
    wrote, hundreds of GB at CC-100 scale. One whose process is gone is removed, with a line saying so; one whose
    process runs on this machine is another run's, and is left alone with a warning."""
    for staging in sorted(glob.glob(glob.escape(os.path.abspath(out)) + ".partial-*")):
        pid = staging.rsplit("-", 1)[-1]
        if not pid.isdigit() or not os.path.isdir(staging) or int(pid) == os.getpid():
            continue
        if _alive(int(pid)):
            logger.warning("%s belongs to process %s, which is still running: another run writes %s", staging, pid, out)
            continue
        shutil.rmtree(staging, ignore_errors=True)
        logger.warning("removed %s, left by a run that ended without finishing (process %s is gone)", staging, pid)


@contextlib.contextmanager
def staged_directory(out: str, force: bool = False):
    """Yield OUT.partial-<pid>, a staging directory beside `out`; on success it replaces `out` (which must not
    exist unless `force`), on any failure it is removed. A dead run's staging directory is removed first."""
    refuse_existing(out, force)
    remove_dead_stagings(out)
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
