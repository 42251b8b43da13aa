"""The epoch's draws of the multi-objective dataset: XLM's language-balanced shares, apportioned exactly, and items
drawn without replacement (data/multi_objective.py says how they are used)."""

import numpy as np

# Each random stream of an epoch's draws has a fixed number: changing one would change every run's draws.
RANDOM_STREAMS = {"mlm": 0, "tlm": 1, "ntxent": 2, "order": 3}


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
