"""Batch formation of the multi-objective dataset: runs of ordered items within a token budget, and the places
where a batch would hold one item twice (data/multi_objective.py says how they are used)."""

import numpy as np

from ..errors import UserInputError


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


def batches_within_budget(padded, views, max_tokens, max_sentences=None, multiple=1, exact_views=None):
    """(start, end) runs of consecutive items whose cost fits max_tokens: for each padded part (per-item sizes)
    the run's length times its longest item, plus the items' views. Greedy, as a loop over items would form
    them (tests/test_data.py keeps that loop as the definition); here each run is found with numpy over a window
    of the next items, doubled until the run ends inside it. exact_views(start, stop): the views' true cost,
    when `views` is only a lower bound of it (packed views: their padding is known once they are packed); the
    run is then shortened until it fits. A full run is cut to a multiple of `multiple` items when it holds at
    least that many, the rest starting the next run, as fairseq's batch_by_size does."""
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
        if exact_views is not None:
            while fit and fit * int(longest[fit - 1]) + exact_views(start, start + fit) > max_tokens:
                fit -= 1
        if fit == 0:
            cost = int(padded[:, start].sum()) + (exact_views(start, start + 1) if exact_views else int(views[start]))
            raise UserInputError(f"one item of the batch takes {cost} tokens, more than --max-tokens {max_tokens}")
        count = fit
        if start + count < total and multiple > 1 and count >= multiple:
            count -= count % multiple
        runs.append((start, start + count))
        start += count
        window = max(64, 2 * count)
    return runs
