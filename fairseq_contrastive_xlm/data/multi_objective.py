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
not all of one length (the collater packs them, so their mixed lengths cost little padding).
"""

import logging
from typing import Dict, List

import numpy as np
from fairseq.data import FairseqDataset

from .batching import batches_within_budget, duplicates_in_batches
from .collate import packed_size
from .sampling import RANDOM_STREAMS, apportion, permutations, sampling_probs, smallest_uint

logger = logging.getLogger(__name__)

OBJECTIVES = ("mlm", "tlm", "ntxent")
PAIR_OBJECTIVES = ("tlm", "ntxent")  # whose items are translation pairs, never repeated within a batch


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
        self.views = self._view_sizes()
        sizes = sum(part.astype(np.int64) for part in parts.values())
        self.sizes = sizes.astype(smallest_uint(sizes.max(initial=0)))
        # Batches are formed by the length of the TLM sequences, the longest part and the one whose length
        # varies (MLM blocks are nearly all full), so that they carry little padding.
        self.order_sizes = parts["tlm"] if "tlm" in parts else self.sizes

    def _view_sizes(self):
        """Each item's two NT-Xent views' lengths, (a, b), for the batch budget; None without views of that kind."""
        if "ntxent" not in self.draws or not all(hasattr(d, "view_sizes") for d in self.objectives["ntxent"]):
            return None
        which, item = self.draws["ntxent"]
        sides = []
        for side in (0, 1):
            datasets = self.objectives["ntxent"]
            sizes = np.zeros(self.length, dtype=self.parts["ntxent"].dtype)
            for k, dataset in enumerate(datasets):
                chosen = which == k
                sizes[chosen] = dataset.view_sizes[side][item[chosen]]
            sides.append(sizes)
        return tuple(sides)

    def _draw(self, name, epoch):
        """For every slot of the epoch: which dataset of the objective, which item in it, and its round (the
        how-manieth permutation of that dataset's items this epoch, 0 for all but upsampled ones)."""
        counts = self.counts[name]
        objective = RANDOM_STREAMS[name]
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
        shuffled = np.random.default_rng([self.seed, self.epoch, RANDOM_STREAMS["order"]]).random(self.length)
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
        compat.keep_last_batch), except with max_tokens: a batch is then bounded by exactly what the collater
        builds, each MLM and TLM sub-batch padded to its own longest sample, and the views packed into rows as
        wide as the longest (or, unpacked, one padded row a view). fairseq would count every item as long as the
        batch's longest item, whose views are of random length here, and fill batches less."""
        if max_tokens is None:
            batches = super().batch_by_size(indices, None, max_sentences, required_batch_size_multiple)
            return [np.asarray(batch) for batch in batches]
        padded = [self.parts[name][indices] for name in self.parts if name != "ntxent"]
        views, exact_views = np.zeros(len(indices), np.uint8), None
        if self.views is not None:
            a, b = (side[indices].astype(np.int64) for side in self.views)
            if self.objectives["ntxent"][0].pack:
                views = a + b  # what packing cannot go below; exact_views then counts the packed rows

                def exact_views(start, stop):
                    return packed_size([*a[start:stop].tolist(), *b[start:stop].tolist()])

            else:
                padded.append(2 * np.maximum(a, b))  # 2N rows as long as the longest view
        elif "ntxent" in self.parts:
            views = self.parts["ntxent"][indices]
        runs = batches_within_budget(
            padded, views, max_tokens, max_sentences, required_batch_size_multiple, exact_views=exact_views
        )
        return [np.asarray(indices[start:end]) for start, end in runs]

    def filter_indices_by_size(self, indices, max_sizes):
        # Every objective dataset already fits the model's positions; item sizes are sums over objectives.
        return indices, []
