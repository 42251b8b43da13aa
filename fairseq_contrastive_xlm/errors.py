"""Errors caused by what a user gave us (a file, a directory, an option).

They carry a message that names the input and says what is wrong with it. Our command-line entry points
and, through an exception hook, fairseq's own (fairseq-train, fairseq-hydra-train) print that message
alone instead of a stack trace.
"""

import sys


class UserInputError(Exception):
    """Bad input from the user: the message names the file or option and the problem."""


def _print_user_errors(exc_type, exc, tb, fallback=sys.excepthook):
    if issubclass(exc_type, UserInputError):
        print(f"error: {exc}", file=sys.stderr)
        return
    fallback(exc_type, exc, tb)


def install_excepthook():
    """Print UserInputError as one line; every other exception keeps Python's usual report."""
    if sys.excepthook is not _print_user_errors:
        sys.excepthook = _print_user_errors
