"""Reading a user's text file: one line at a time (a corpus need not fit in memory), checked to be a regular file
and UTF-8, with the file and the line named when it is not.

A file compressed with gzip, xz, bzip2 or zstd (CC-100 ships .txt.xz, OPUS .gz) is read as its text, told by its
first bytes, whatever its name: every command that takes a corpus reads them without unpacking. A truncated or
damaged archive is one line naming the file (read_errors), raised when the reader reaches the damage.
"""

import bz2
import contextlib
import gzip
import io
import lzma
import zlib
from typing import BinaryIO, Iterator, List, Optional

import zstandard

from .errors import UserInputError, check_input_file

# The first bytes of each format (RFC 1952, the xz and bzip2 file formats, RFC 8878) and its name.
MAGIC = ((b"\x1f\x8b", "gzip"), (b"\xfd7zXZ\x00", "xz"), (b"BZh", "bzip2"), (b"\x28\xb5\x2f\xfd", "zstd"))


def compression_of(path: str) -> Optional[str]:
    """'gzip', 'xz', 'bzip2' or 'zstd' by the file's first bytes; None for a plain file."""
    with open(path, "rb") as f:
        head = f.read(6)
    return next((name for magic, name in MAGIC if head.startswith(magic)), None)


class _ZstdReader(io.RawIOBase):
    """A zstd file's text, frame after frame. zstandard's own stream reader ends quietly where a truncated file
    ends; this one raises EOFError when the last frame is incomplete, as gzip, lzma and bz2 do."""

    def __init__(self, raw: BinaryIO):
        self._raw, self._new = raw, zstandard.ZstdDecompressor().decompressobj
        self._frame, self._started = self._new(), False
        self._pending, self._at = b"", 0  # decompressed bytes not yet read, and where reading is in them

    def readable(self):
        return True

    def readinto(self, buffer) -> int:
        while self._at == len(self._pending):
            data = self._raw.read(1 << 20)
            if not data:
                if self._started and not self._frame.eof:
                    raise EOFError("Compressed file ended before the end-of-stream marker was reached")
                return 0
            self._pending, self._at = b"", 0
            while data:
                self._started = True
                self._pending += self._frame.decompress(data)
                data = b""
                if self._frame.eof:  # the next frame, if any, starts in what this one left
                    data, self._frame, self._started = self._frame.unused_data, self._new(), False
        size = min(len(buffer), len(self._pending) - self._at)
        buffer[:size] = memoryview(self._pending)[self._at : self._at + size]
        self._at += size
        return size

    def close(self):
        self._raw.close()
        super().close()


def open_binary(path: str) -> BinaryIO:
    """The file's bytes, decompressed when it is an archive (by its first bytes)."""
    kind = compression_of(path)
    if kind == "gzip":
        return gzip.open(path, "rb")
    if kind == "xz":
        return lzma.open(path, "rb")
    if kind == "bzip2":
        return bz2.open(path, "rb")
    if kind == "zstd":
        return io.BufferedReader(_ZstdReader(open(path, "rb")), buffer_size=1 << 20)
    return open(path, "rb")


def open_text(path: str, **options):
    """open(path, encoding='utf-8', ...) for a plain file or an archive of one (options: errors, newline)."""
    return io.TextIOWrapper(open_binary(path), encoding="utf-8", **options)


@contextlib.contextmanager
def read_errors(path: str):
    """A truncated or damaged archive, met while reading `path` inside this block, as one line naming it."""
    try:
        yield
    except zstandard.ZstdError as err:
        raise UserInputError(f"{path}: the zstd archive is damaged ({err}); download it again") from None
    except (EOFError, lzma.LZMAError, zlib.error, OSError) as err:
        if isinstance(err, OSError) and not isinstance(err, gzip.BadGzipFile) and err.errno is not None:
            raise  # a real I/O error (a disk, a permission): not the archive's
        kind = compression_of(path) or "compressed"
        raise UserInputError(f"{path}: the {kind} archive is truncated or damaged ({err}); download it again") from None


def binary_lines(path: str) -> Iterator[bytes]:
    """The raw lines (with their line ends) of a plain or compressed file."""
    with read_errors(path), open_binary(path) as f:
        yield from f


def text_lines(path: str) -> Iterator[str]:
    """The lines of a UTF-8 text file, one at a time; a file that is not UTF-8 is an error naming it and the line."""
    check_input_file(path)
    for number, raw in enumerate(binary_lines(path), 1):
        try:
            yield raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            raise UserInputError(f"{path}: line {number} is not UTF-8 text") from None


def read_lines(path: str) -> List[str]:
    return list(text_lines(path))


def count_lines(path: str) -> int:
    """Line ends in a plain or compressed file, read a megabyte at a time."""
    with read_errors(path), open_binary(path) as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
