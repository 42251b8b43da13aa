"""Errors caused by what a user gave us (a file, a directory, an option).

They carry a message that names the input and says what is wrong with it. Our command-line entry points
and, through an exception hook, fairseq's own (fairseq-train, fairseq-hydra-train) print that message
alone instead of a stack trace.
"""

import atexit
import os
import re
import sys


class UserInputError(Exception):
    """Bad input from the user: the message names the file or option and the problem."""


class CheckpointRefusedError(UserInputError):
    """torch's weights-only loader refused a checkpoint: the file and the global it carries."""

    def __init__(self, path, reason, allowed="argparse.Namespace"):
        found = re.search(r"GLOBAL (\S+)", reason)
        what = f"the global {found.group(1)}" if found else "content"
        super().__init__(
            f"refused to load checkpoint {path}: it carries {what}, which a weights-only load does not "
            f"allow (only {allowed} is allowed beside tensors and plain data). A checkpoint is "
            "untrusted input; re-save it from code you trust if you need it."
        )


class CheckpointUnreadableError(UserInputError):
    """A checkpoint torch cannot read at all (cut short, or another kind of file)."""

    def __init__(self, path, reason):
        super().__init__(
            f"checkpoint {path} cannot be read ({reason}): it is truncated or not a PyTorch checkpoint (a copy cut "
            "short, a full disk, another file); copy or download it again"
        )


def first_line(err: Exception) -> str:
    """An exception as one line: its type and the first line of its message."""
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0]}" if text else type(err).__name__


def check_input_file(path: str, what: str = "", where: str = "") -> str:
    """path, if it is a regular file; else one line naming it (what it is for, where it was given) and saying
    what it is instead."""
    name = (f"{what} {path}" if what else path) + (f" ({where})" if where else "")
    if not os.path.exists(path):
        raise UserInputError(f"{name} does not exist")
    if os.path.isdir(path):
        raise UserInputError(f"{name} is a directory, not a file")
    if not os.path.isfile(path):
        raise UserInputError(f"{name} is not a regular file (a device or a pipe); give a file")
    return path


def find_user_error(exc):
    """The UserInputError behind exc, if any: fairseq re-raises some errors as a generic Exception
    (e.g. "Cannot load model parameters from checkpoint ...") with ours as the context."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, UserInputError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def _print_user_errors(exc_type, exc, tb, fallback=sys.excepthook):
    user_error = find_user_error(exc)
    if user_error is None:
        fallback(exc_type, exc, tb)
        return
    print(f"error: {user_error}", file=sys.stderr)
    if hasattr(sys, "ps1") or sys.flags.interactive:
        return  # an interactive session goes on
    # Bad input exits 2, as our own commands do; an excepthook cannot set the status otherwise, so the exit
    # handlers (logs, TensorBoard and wandb writers) run first.
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(2)


def install_excepthook():
    """Print UserInputError as one line; every other exception keeps Python's usual report."""
    if sys.excepthook is not _print_user_errors:
        sys.excepthook = _print_user_errors
