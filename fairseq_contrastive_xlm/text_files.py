"""Reading a user's text file: one line at a time (a corpus need not fit in memory), checked to be a regular file
and UTF-8, with the file and the line named when it is not."""

from typing import Iterator, List

from .errors import UserInputError, check_input_file


def text_lines(path: str) -> Iterator[str]:
    """The lines of a UTF-8 text file, one at a time; a file that is not UTF-8 is an error naming it and the line."""
    check_input_file(path)
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            try:
                yield raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                raise UserInputError(f"{path}: line {number} is not UTF-8 text") from None


def read_lines(path: str) -> List[str]:
    return list(text_lines(path))
