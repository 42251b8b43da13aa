"""Errors caused by what a user gave us (a file, a directory, an option).

They carry a message that names the input and says what is wrong with it. Our command-line entry points
and, through an exception hook, fairseq's own (fairseq-train, fairseq-hydra-train) print that message
alone instead of a stack trace.
"""

import atexit
import os
import sys


class UserInputError(Exception):
    """Bad input from the user: the message names the file or option and the problem."""


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
