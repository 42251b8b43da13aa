"""BERT/XLM masking of one token sequence: which tokens are predicted, and what the model sees there."""

from dataclasses import dataclass
from typing import Tuple

import numpy as np
from fairseq.data import Dictionary, FairseqDataset


@dataclass(frozen=True)
class MaskingScheme:
    mask_idx: int
    pad_idx: int
    replacement_probs: np.ndarray  # distribution of random replacement tokens over the vocabulary
    mask_prob: float = 0.15
    leave_unmasked_prob: float = 0.1
    random_token_prob: float = 0.1

    def __post_init__(self):
        # numpy's Generator.choice(V, p=...) checks p and sums it again on every call: O(V), 2.0 ms a 256-token sample
        # at XLM-R's 250k words. The same draws from a cumulative sum made once: O(log V) a word.
        cumulative = np.cumsum(self.replacement_probs)
        object.__setattr__(self, "replacement_cdf", cumulative / cumulative[-1])
        if not 0.0 < self.mask_prob < 1.0:
            raise ValueError(f"mask_prob must be in (0, 1), got {self.mask_prob}")
        if min(self.leave_unmasked_prob, self.random_token_prob) < 0 or (
            self.leave_unmasked_prob + self.random_token_prob > 1.0
        ):
            raise ValueError(
                "leave_unmasked_prob and random_token_prob must be >= 0 and sum to at most 1, got "
                f"{self.leave_unmasked_prob} and {self.random_token_prob}"
            )

    @classmethod
    def for_dictionary(cls, dictionary: Dictionary, mask_idx: int, **probs) -> "MaskingScheme":
        """Random replacements are drawn uniformly from the real words: never a special symbol or <mask>."""
        weights = np.ones(len(dictionary))
        weights[: dictionary.nspecial] = 0
        weights[mask_idx] = 0
        return cls(mask_idx, dictionary.pad(), weights / weights.sum(), **probs)


def mask_tokens(tokens: np.ndarray, scheme: MaskingScheme, rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """Choose mask_prob of the tokens after the first for prediction; the first token is never chosen.

    Of the chosen tokens, (1 - leave_unmasked - random) become <mask>, random_token_prob become a random
    word and the rest stay as they are (80/10/10 by default). The count is mask_prob * n rounded up or
    down at random, so short sequences are masked at the right rate on average.

    Returns (inputs, targets): targets hold the original token where one was chosen, pad elsewhere.
    """
    candidates = np.arange(1, len(tokens))
    count = int(scheme.mask_prob * len(candidates) + rng.random())
    chosen = rng.choice(candidates, count, replace=False)

    targets = np.full_like(tokens, scheme.pad_idx)
    targets[chosen] = tokens[chosen]

    inputs = tokens.copy()
    fate = rng.random(count)
    replace_with_mask = fate < 1.0 - scheme.leave_unmasked_prob - scheme.random_token_prob
    replace_at_random = ~replace_with_mask & (fate < 1.0 - scheme.leave_unmasked_prob)
    inputs[chosen[replace_with_mask]] = scheme.mask_idx
    n_random = int(replace_at_random.sum())
    if n_random:
        inputs[chosen[replace_at_random]] = random_words(scheme, n_random, rng)
    return inputs, targets


def random_words(scheme: MaskingScheme, count: int, rng: np.random.Generator) -> np.ndarray:
    """count words drawn from scheme.replacement_probs: exactly rng.choice(V, count, p=replacement_probs), which
    inverts the cumulative distribution at uniform draws, without rebuilding it."""
    return scheme.replacement_cdf.searchsorted(rng.random(count), side="right")


def item_rng(seed: int, epoch: int, index: int, stream: int) -> np.random.Generator:
    """A generator fixed by (seed, epoch, item, stream): reproducible, fresh each epoch, and distinct
    for each dataset (stream) so two languages never share their masks."""
    return np.random.default_rng([seed, epoch, index, stream])


class ItemSeededDataset(FairseqDataset):
    """A dataset whose items draw their randomness (masks, side order) from item_rng: the same item gets the
    same draws within an epoch and new ones the next (fairseq calls set_epoch)."""

    def __init__(self, seed: int, stream: int):
        self.seed, self.stream = seed, stream
        self.epoch = 1

    def set_epoch(self, epoch):
        self.epoch = epoch

    def item_rng(self, index: int) -> np.random.Generator:
        return item_rng(self.seed, self.epoch, index, self.stream)
