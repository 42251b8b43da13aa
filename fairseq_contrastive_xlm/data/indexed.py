"""fairseq's binarized datasets (MMapIndexedDataset: PREFIX.bin, the ids; PREFIX.idx, each sentence's size and
byte offset), written from id arrays a chunk at a time, cut into consecutive parts, and checked.

The bytes are those of fairseq's own MMapIndexedDatasetBuilder and of fairseq-preprocess (tested): the .idx is
the 9-byte magic b"MMIDIDX\\0\\0", version 1 (<Q), the dtype code (<B), the sentence count (<Q), the sizes (int32)
and the byte offsets (int64). Ours because the builder takes one tensor a sentence (a Python call each); this
writes a chunk's ids with one write. Memory: 4 bytes a sentence (its size) until the index is written, 12 then.
"""

import os
import shutil
import struct
from typing import List, Sequence, Tuple

import numpy as np
from fairseq.data import indexed_dataset

from ..errors import UserInputError

MAGIC = b"MMIDIDX\x00\x00"
HEADER = len(MAGIC) + 8 + 1 + 8  # magic, version, dtype code, sentence count
DTYPE_CODES = {np.dtype(t): code for code, t in indexed_dataset._code_to_dtype.items()}


def dtype_for(dictionary_size: int) -> np.dtype:
    """The integer type fairseq-preprocess picks for a dictionary of this size (uint16 below 65,500 entries)."""
    return np.dtype(indexed_dataset.best_fitting_int_dtype(dictionary_size))


class IndexedWriter:
    """PREFIX.bin written as chunks arrive; PREFIX.idx when closed."""

    def __init__(self, prefix: str, dtype: np.dtype):
        self.prefix, self.dtype = prefix, np.dtype(dtype)
        self._data = open(prefix + ".bin", "wb")
        self._sizes: List[np.ndarray] = []

    def add(self, ids: np.ndarray, sizes: np.ndarray):
        """ids: the sentences' ids one after another (each with its </s>); sizes: each sentence's count."""
        self._data.write(ids.astype(self.dtype, copy=False).tobytes())
        self._sizes.append(np.asarray(sizes, dtype=np.int32))

    def close(self) -> int:
        """Writes PREFIX.idx; returns the sentences written."""
        self._data.close()
        sizes = np.concatenate(self._sizes) if self._sizes else np.zeros(0, np.int32)
        self._sizes = []
        write_index(self.prefix + ".idx", sizes, self.dtype)
        return len(sizes)


def write_index(path: str, sizes: np.ndarray, dtype: np.dtype):
    pointers = np.zeros(len(sizes), dtype=np.int64)
    np.cumsum(sizes[:-1], dtype=np.int64, out=pointers[1:])
    pointers *= np.dtype(dtype).itemsize
    with open(path, "wb") as f:
        f.write(MAGIC + struct.pack("<Q", 1) + struct.pack("<B", DTYPE_CODES[np.dtype(dtype)]))
        f.write(struct.pack("<Q", len(sizes)))
        f.write(sizes.astype(np.int32, copy=False).tobytes())
        f.write(pointers.tobytes())


def read_index(path: str) -> Tuple[np.dtype, np.ndarray]:
    """A .idx file's dtype and sizes (checked: check_dataset)."""
    with open(path, "rb") as f:
        header = f.read(HEADER)
        dtype = np.dtype(indexed_dataset._code_to_dtype[header[len(MAGIC) + 8]])
        count = struct.unpack("<Q", header[-8:])[0]
        sizes = np.frombuffer(f.read(4 * count), dtype=np.int32)
    return dtype, sizes


def cut(prefix: str, bounds: Sequence[int], parts: Sequence[str]):
    """PREFIX's sentences [bounds[i], bounds[i + 1]) -> parts[i] (.bin and .idx), a byte copy each."""
    dtype, sizes = read_index(prefix + ".idx")
    offsets = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]) * dtype.itemsize
    with open(prefix + ".bin", "rb") as data:
        for i, part in enumerate(parts):
            start, stop = bounds[i], bounds[i + 1]
            data.seek(int(offsets[start]))
            with open(part + ".bin", "wb") as out:
                copy_bytes(data, out, int(offsets[stop] - offsets[start]))
            write_index(part + ".idx", np.array(sizes[start:stop]), dtype)


def copy_bytes(source, dest, count: int, block: int = 1 << 24):
    while count > 0:
        data = source.read(min(block, count))
        dest.write(data)
        count -= len(data)


def move(prefix: str, dest: str):
    for ext in (".bin", ".idx"):
        shutil.move(prefix + ext, dest + ext)


def check_dataset(prefix: str) -> int:
    """PREFIX.idx and PREFIX.bin agree (magic, version, dtype, sizes, and the last sentence ends where the .bin
    ends): O(1), reading the header and the last offset. Returns the sentence count; a damaged pair is one line
    naming the file and what to do."""
    idx, data = prefix + ".idx", prefix + ".bin"
    again = "prepare the data again (cxlm-prepare) or copy it again"
    for path in (idx, data):
        if not os.path.isfile(path):
            raise UserInputError(f"{path} is missing: {again}")
    size = os.path.getsize(idx)
    with open(idx, "rb") as f:
        header = f.read(HEADER)
        if len(header) < HEADER:
            raise UserInputError(f"{idx} is {size} bytes, shorter than an index's header: it is cut short; {again}")
        if header[: len(MAGIC)] != MAGIC:
            raise UserInputError(f"{idx} is not a fairseq mmap index (it does not start with {MAGIC!r}): {again}")
        version, code, count = struct.unpack("<QBQ", header[len(MAGIC) :])
        if version != 1 or code not in indexed_dataset._code_to_dtype:
            raise UserInputError(f"{idx}: unknown index version {version} or dtype code {code}: {again}")
        itemsize = np.dtype(indexed_dataset._code_to_dtype[code]).itemsize
        if size != HEADER + 12 * count:
            raise UserInputError(
                f"{idx} is {size} bytes; an index of {count} sentences is {HEADER + 12 * count}: it is cut short "
                f"or damaged; {again}"
            )
        expected = 0
        if count:
            f.seek(HEADER + 4 * (count - 1))
            (last_size,) = struct.unpack("<i", f.read(4))
            f.seek(HEADER + 4 * count + 8 * (count - 1))
            (last_pointer,) = struct.unpack("<q", f.read(8))
            expected = last_pointer + last_size * itemsize
    actual = os.path.getsize(data)
    if actual != expected:
        raise UserInputError(
            f"{data} is {actual} bytes; its index {idx} says {expected}: one of them is cut short or damaged; {again}"
        )
    return count
