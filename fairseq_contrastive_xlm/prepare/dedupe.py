"""De-duplication of a stream of lines in memory that does not hold the lines: each distinct line is kept as a
64-bit hash (BLAKE2b), 8 bytes, in sorted numpy runs.

The runs form a log-structured merge: a new chunk's distinct hashes become a run, and runs of similar size are
merged, so there are at most about log2(n) of them and every hash is merged O(log n) times. Membership is a
binary search in each run. Memory: 8 bytes per distinct line, 16 for the moment the two largest runs merge.

Two different lines share a hash with probability about n^2 / 2^65 for n distinct lines (3e-4 at 100 million):
the later one would be dropped as a duplicate.
"""

import hashlib
from typing import List, Sequence

import numpy as np


def line_hashes(texts: Sequence[str]) -> np.ndarray:
    """The 64-bit BLAKE2b hash of each text's UTF-8 bytes."""
    digests = b"".join(hashlib.blake2b(t.encode("utf-8"), digest_size=8).digest() for t in texts)
    return np.frombuffer(digests, dtype=np.uint64)


class SeenHashes:
    def __init__(self):
        self.runs: List[np.ndarray] = []  # sorted, distinct, largest first

    def __len__(self):
        return sum(len(run) for run in self.runs)

    @property
    def nbytes(self) -> int:
        return sum(run.nbytes for run in self.runs)

    def first_seen(self, hashes: np.ndarray) -> np.ndarray:
        """For each hash of a chunk, in order: True where it was seen neither earlier in the chunk nor in an
        earlier chunk. Records the chunk's hashes."""
        distinct, first = np.unique(hashes, return_index=True)
        fresh = np.ones(len(distinct), dtype=bool)
        for run in self.runs:
            at = np.minimum(np.searchsorted(run, distinct), len(run) - 1)
            fresh &= run[at] != distinct
        new = np.zeros(len(hashes), dtype=bool)
        new[first[fresh]] = True
        self._add_run(distinct[fresh])
        return new

    def _add_run(self, run: np.ndarray):
        if not len(run):
            return
        self.runs.append(run)
        # A binary counter's carries: merge while the run before is at most twice this one.
        while len(self.runs) > 1 and len(self.runs[-2]) <= 2 * len(self.runs[-1]):
            newer, older = self.runs.pop(), self.runs.pop()
            merged = np.concatenate([older, newer])
            merged.sort(kind="stable")  # two sorted runs: timsort merges them in linear time
            self.runs.append(merged)
