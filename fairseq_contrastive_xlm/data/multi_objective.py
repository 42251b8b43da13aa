"""One training item holds one sample of every enabled objective; one batch holds a sub-batch of each.

fairseq's trainer takes one batch per step, so MLM, TLM and the NT-Xent views travel together:

    batch = {"mlm": {...}, "tlm": {...}, "ntxent": {...}, "nsentences": ..., "ntokens": ...}

Each objective draws from its datasets (one per language or pair). For training, dataset k gets the share
p_k = q_k^alpha / sum_j q_j^alpha of the epoch's slots, q_k being k's share of the objective's items (XLM's
language sampling: alpha=1 keeps the natural shares, alpha=0 is uniform), apportioned exactly and placed in
random order. Its items are drawn without replacement: each epoch, the first n_k of a permutation of k's
items, then of another once the first is used up. A dataset that is not upsampled (n_k <= its size) yields
each item at most once an epoch; an upsampled one yields each item once per permutation (its "round").
Validation enumerates every item of every objective once, in order; an objective with fewer items than the
longest wraps around.

No training batch holds the same translation pair twice (of TLM or of NT-Xent; an MLM block may repeat, which
costs nothing but the repeat): copies of an upsampled item are ordered apart
(ties in size are broken by round), and a copy that still lands in a batch beside its twin (a dataset with
fewer items of that length than a batch holds) is moved out, into batches formed after the others, so that every
drawn item is still served. A twin in one batch would be the other's negative in NT-Xent while being the very
same sentences.

An item's size is the sum of its samples' sizes, so --max-tokens bounds the whole batch.

Items are ordered by the length of their TLM sequence (else by their whole size), so TLM batches carry
little padding, while the views, drawn on their own, keep mixed lengths within a batch: its negatives are
not all of one length (the criterion packs them, so their mixed lengths cost little padding).
"""

import logging
from typing import Dict, List

import numpy as np
from fairseq.data import FairseqDataset

from ..errors import UserInputError

logger = logging.getLogger(__name__)

OBJECTIVES = ("mlm", "tlm", "ntxent")
PAIR_OBJECTIVES = ("tlm", "ntxent")  # whose items are translation pairs, never repeated within a batch


def smallest_uint(largest: int):
    """The smallest unsigned integer type that holds 0..largest: the per-epoch arrays hold one entry an item, a
    million or more of them on every rank."""
    return np.min_scalar_type(max(int(largest), 0))


def sampling_probs(counts: np.ndarray, alpha: float) -> np.ndarray:
    shares = counts / counts.sum()
    weights = np.where(counts > 0, shares**alpha, 0.0)
    return weights / weights.sum()


def apportion(probs: np.ndarray, total: int) -> np.ndarray:
    """Whole slot counts summing to total, as close to probs * total as can be (largest remainders)."""
    exact = probs * total
    counts = np.floor(exact).astype(np.int64)
    rest = int(total - counts.sum())
    if rest > 0:
        counts[np.argsort(-(exact - counts), kind="stable")[:rest]] += 1
    return counts


def permutations(size: int, count: int, seed) -> tuple:
    """count items of range(size) drawn without replacement: a permutation, then (when count > size) another,
    the j-th seeded by (*seed, j). Returns the items and the round (which permutation) of each."""
    rounds = -(-count // size)
    items = np.concatenate([np.random.default_rng([*seed, j]).permutation(size) for j in range(rounds)])[:count]
    return items, np.arange(count) // size


def duplicates_in_batches(batches, keys) -> np.ndarray:
    """A flag for every place of the concatenated batches: True where its key (one array per objective, one
    key per place) already stood earlier in the same batch."""
    lengths = np.array([len(b) for b in batches], dtype=np.int64)
    batch_of = np.repeat(np.arange(len(batches)), lengths)
    places = np.arange(len(batch_of))
    repeated = np.zeros(len(batch_of), dtype=bool)
    for key in keys:
        order = np.lexsort((places, key, batch_of))
        same = (batch_of[order][1:] == batch_of[order][:-1]) & (key[order][1:] == key[order][:-1])
        repeated[order[1:][same]] = True
    return repeated


def batches_within_budget(padded, views, max_tokens, max_sentences=None, multiple=1):
    """(start, end) runs of consecutive items whose cost fits max_tokens: for each padded part (per-item sizes)
    the run's length times its longest item, plus the items' views. Greedy, as a loop over items would form
    them (tests/test_data.py keeps that loop as the definition); here each run is found with numpy over a window
    of the next items, doubled until the run ends inside it. A full run is cut to a multiple of `multiple` items
    when it holds at least that many, the rest starting the next run, as fairseq's batch_by_size does."""
    total = len(views)
    padded = (
        np.stack([np.asarray(p, dtype=np.int64) for p in padded]) if len(padded) else np.zeros((0, total), np.int64)
    )
    before = np.concatenate([[0], np.cumsum(views, dtype=np.int64)])  # view tokens before each item
    limit = max_sentences if max_sentences and max_sentences > 0 else total
    runs, start, window = [], 0, 64
    while start < total:
        while True:
            stop = min(total, start + window, start + limit)
            longest = np.maximum.accumulate(padded[:, start:stop], axis=1).sum(axis=0)
            cost = np.arange(1, stop - start + 1) * longest + (before[start + 1 : stop + 1] - before[start])
            over = np.flatnonzero(cost > max_tokens)
            if len(over) or stop == total or stop - start == limit:
                fit = int(over[0]) if len(over) else stop - start
                break
            window *= 2
        if fit == 0:
            cost = int(padded[:, start].sum() + views[start])
            raise UserInputError(f"one item of the batch takes {cost} tokens, more than --max-tokens {max_tokens}")
        count = fit
        if start + count < total and multiple > 1 and count >= multiple:
            count -= count % multiple
        runs.append((start, start + count))
        start += count
        window = max(64, 2 * count)
    return runs


class MultiObjectiveDataset(FairseqDataset):
    """objectives: name -> its datasets (one per language or pair). random_draws: draw each item's datasets and
    items at random, anew every epoch (training); else enumerate every item once, in order (validation)."""

    def __init__(self, objectives: Dict[str, List[FairseqDataset]], alpha: float, seed: int, random_draws: bool):
        unknown = set(objectives) - set(OBJECTIVES)
        assert not unknown, f"unknown objectives {unknown}"
        self.objectives = {name: datasets for name, datasets in objectives.items() if sum(len(d) for d in datasets) > 0}
        assert self.objectives, "no objective has any data"
        self.alpha = alpha
        self.seed = seed
        self.random_draws = random_draws
        self.counts = {name: np.array([len(d) for d in ds]) for name, ds in self.objectives.items()}
        self.length = int(max(c.sum() for c in self.counts.values()))
        self.epoch = None
        self.set_epoch(1)

    @property
    def can_reuse_epoch_itr_across_epochs(self):
        return not self.random_draws  # training draws (and so sizes and batches) change every epoch

    def set_epoch(self, epoch):
        for datasets in self.objectives.values():
            for dataset in datasets:
                if hasattr(dataset, "set_epoch"):
                    dataset.set_epoch(epoch)
        if epoch == self.epoch or (self.epoch is not None and not self.random_draws):
            return
        self.epoch = epoch
        draws = {name: self._draw(name, epoch) for name in self.objectives}
        self.draws = {name: (which, item) for name, (which, item, _) in draws.items()}
        # An item's round: the highest of its objectives' (orders the copies of upsampled items apart).
        self.rounds = np.max([rounds for _, _, rounds in draws.values()], axis=0)
        parts = {}
        for name, (which, item) in self.draws.items():
            datasets = self.objectives[name]
            parts[name] = np.zeros(self.length, dtype=smallest_uint(max(np.max(d.sizes, initial=0) for d in datasets)))
            for k, dataset in enumerate(datasets):
                chosen = which == k
                parts[name][chosen] = np.asarray(dataset.sizes)[item[chosen]]
        self.parts = parts
        sizes = sum(part.astype(np.int64) for part in parts.values())
        self.sizes = sizes.astype(smallest_uint(sizes.max(initial=0)))
        # Batches are formed by the length of the TLM sequences, the longest part and the one whose length
        # varies (MLM blocks are nearly all full), so that they carry little padding.
        self.order_sizes = parts["tlm"] if "tlm" in parts else self.sizes

    def _draw(self, name, epoch):
        """For every slot of the epoch: which dataset of the objective, which item in it, and its round (the
        how-manieth permutation of that dataset's items this epoch, 0 for all but upsampled ones)."""
        counts = self.counts[name]
        objective = OBJECTIVES.index(name)
        which_type, item_type = smallest_uint(len(counts) - 1), smallest_uint(counts.max() - 1)
        if not self.random_draws:
            flat = np.arange(self.length) % counts.sum()
            starts = np.cumsum(counts) - counts
            which = np.searchsorted(np.cumsum(counts), flat, side="right")
            return which.astype(which_type), (flat - starts[which]).astype(item_type), np.zeros(self.length, np.uint8)
        rng = np.random.default_rng([self.seed, epoch, objective])
        slots = apportion(sampling_probs(counts, self.alpha), self.length)
        which = rng.permutation(np.repeat(np.arange(len(counts), dtype=which_type), slots))
        item = np.zeros(self.length, dtype=item_type)
        most = max(-(-int(taken) // int(size)) for size, taken in zip(counts, slots) if size)  # permutations used
        rounds = np.zeros(self.length, dtype=smallest_uint(most - 1))
        for k, (size, taken) in enumerate(zip(counts, slots)):
            if taken == 0:
                continue
            where = np.flatnonzero(which == k)
            item[where], rounds[where] = permutations(int(size), int(taken), (self.seed, epoch, objective, k))
        return which, item, rounds

    def __len__(self):
        return self.length

    def __getitem__(self, index):
        sample = {}
        for name, (which, item) in self.draws.items():
            sample[name] = self.objectives[name][which[index]][item[index]]
        return sample

    def collater(self, samples):
        if not samples:
            return {}
        batch = {}
        for name, datasets in self.objectives.items():
            batch[name] = datasets[0].collater([s[name] for s in samples])
        batch["nsentences"] = len(samples)
        batch["ntokens"] = sum(batch[name]["ntokens"] for name in self.objectives)
        return batch

    def num_tokens(self, index):
        return int(self.sizes[index])

    def num_tokens_vec(self, indices):
        return self.sizes[indices].astype(np.int64)  # fairseq's compiled batch_by_size takes int64

    def size(self, index):
        return int(self.sizes[index])

    def ordered_indices(self):
        """Sorted by the TLM sequences' length (else by size), so batches waste little padding; ties (training)
        by round, so that the copies of an upsampled item sit apart, then in shuffled order."""
        if not self.random_draws:
            return np.argsort(self.order_sizes, kind="stable")
        shuffled = np.random.default_rng([self.seed, self.epoch, len(OBJECTIVES)]).random(self.length)
        return np.lexsort((shuffled, self.rounds, self.order_sizes))

    def item_keys(self, indices, objectives=OBJECTIVES):
        """For each of the objectives, one number per item naming the dataset item it drew (equal: the same item)."""
        keys = []
        for name, (which, item) in self.draws.items():
            if name not in objectives:
                continue
            starts = np.cumsum(self.counts[name]) - self.counts[name]
            keys.append(starts[which[indices]] + item[indices])
        return keys

    def batch_by_size(self, indices, max_tokens=None, max_sentences=None, required_batch_size_multiple=1):
        """Batches of consecutive ordered items (see _runs). In training, an item that repeats within its batch a
        translation pair already there (a copy of an upsampled pair beside its twin) is moved out, and the moved items
        are batched again the same way, until no batch holds one pair twice: every item is kept. An MLM block may
        repeat: a corpus of a few blocks upsampled to fill the epoch would otherwise shrink every batch."""
        batches = self._runs(indices, max_tokens, max_sentences, required_batch_size_multiple)
        if not self.random_draws:
            return batches
        kept, moved = [], 0
        while batches:
            flat = np.concatenate(batches)
            repeated = duplicates_in_batches(batches, self.item_keys(flat, PAIR_OBJECTIVES))
            bounds = np.cumsum([len(batch) for batch in batches])[:-1]
            kept += [batch[~flags] for batch, flags in zip(batches, np.split(repeated, bounds))]
            later = flat[repeated]
            moved += len(later)
            later = later[np.lexsort((self.rounds[later], self.order_sizes[later]))]
            batches = self._runs(later, max_tokens, max_sentences, required_batch_size_multiple) if len(later) else []
        if moved:
            logger.info("epoch %d: %d copies of upsampled items moved out of their twins' batches", self.epoch, moved)
        return kept

    def _runs(self, indices, max_tokens, max_sentences, required_batch_size_multiple):
        """Consecutive runs of the ordered items, as fairseq batches them (every item kept: see
        compat.keep_last_batch), except with max_tokens: a batch is then bounded by what it computes, each
        MLM and TLM sub-batch padded to its own longest sample, and the views costing their own tokens (the
        criterion packs them). fairseq would count every item as long as the batch's longest item, whose
        views are of random length here, and fill batches less (83% instead of 95% on the tests' corpus)."""
        if max_tokens is None:
            batches = super().batch_by_size(indices, None, max_sentences, required_batch_size_multiple)
            return [np.asarray(batch) for batch in batches]
        padded = [self.parts[name][indices] for name in self.parts if name != "ntxent"]
        views = self.parts["ntxent"][indices] if "ntxent" in self.parts else np.zeros(len(indices), np.uint8)
        runs = batches_within_budget(padded, views, max_tokens, max_sentences, required_batch_size_multiple)
        return [np.asarray(indices[start:end]) for start, end in runs]

    def filter_indices_by_size(self, indices, max_sizes):
        # Every objective dataset already fits the model's positions; item sizes are sums over objectives.
        return indices, []
