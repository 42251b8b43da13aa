"""BERT/XLM masking: 15% of tokens after the first, 80/10/10 mask/random/keep."""

import numpy as np
import pytest
from fairseq.data import Dictionary

from fairseq_contrastive_xlm.data.masking import MaskingScheme, item_rng, mask_tokens


@pytest.fixture(scope="module")
def scheme():
    dictionary = Dictionary()
    for i in range(200):
        dictionary.add_symbol(f"w{i}")
    mask_idx = dictionary.add_symbol("<mask>")
    return MaskingScheme.for_dictionary(dictionary, mask_idx)


def test_masking_statistics(scheme):
    length, draws = 64, 4000
    words = np.arange(4, 4 + length)  # distinct real words, so a replacement is visible
    chosen = masked = replaced = kept = 0
    for i in range(draws):
        inputs, targets = mask_tokens(words, scheme, item_rng(1, 1, i, 0))
        picked = targets != scheme.pad_idx
        assert not picked[0], "the first token was chosen"
        np.testing.assert_array_equal(targets[picked], words[picked])
        np.testing.assert_array_equal(inputs[~picked], words[~picked])
        chosen += picked.sum()
        masked += (inputs[picked] == scheme.mask_idx).sum()
        random = picked & (inputs != scheme.mask_idx) & (inputs != words)
        assert np.all(inputs[random] >= 4) and not np.any(inputs[random] == scheme.mask_idx)
        replaced += random.sum()
        kept += (picked & (inputs == words)).sum()
    assert chosen / (draws * (length - 1)) == pytest.approx(0.15, abs=0.002)
    assert masked / chosen == pytest.approx(0.8, abs=0.01)
    # Replacements are drawn from the 200 real words, so one equals the original with probability 1/200;
    # it is then counted as kept.
    assert replaced / chosen == pytest.approx(0.1 * 199 / 200, abs=0.01)
    assert kept / chosen == pytest.approx(0.1 + 0.1 / 200, abs=0.01)


def test_short_sequences_are_masked_at_the_right_rate_on_average(scheme):
    words = np.arange(4, 9)  # 4 candidates: 0.6 tokens expected, rounded at random
    counts = [(mask_tokens(words, scheme, item_rng(3, 1, i, 0))[1] != scheme.pad_idx).sum() for i in range(5000)]
    assert np.mean(counts) == pytest.approx(0.6, abs=0.03)
    assert set(counts) == {0, 1}


def test_masks_are_reproducible_and_differ_across_epochs_and_streams(scheme):
    words = np.arange(4, 104)

    def targets(epoch, stream):
        return mask_tokens(words, scheme, item_rng(7, epoch, 5, stream))[1]

    np.testing.assert_array_equal(targets(1, 0), targets(1, 0))
    assert not np.array_equal(targets(1, 0), targets(2, 0))
    assert not np.array_equal(targets(1, 0), targets(1, 1))


def test_rejects_impossible_probabilities(scheme):
    with pytest.raises(ValueError):
        MaskingScheme(scheme.mask_idx, scheme.pad_idx, scheme.replacement_probs, mask_prob=0.0)
    with pytest.raises(ValueError):
        MaskingScheme(
            scheme.mask_idx, scheme.pad_idx, scheme.replacement_probs, leave_unmasked_prob=0.6, random_token_prob=0.6
        )


def test_random_words_are_numpys_draws_without_its_per_call_cost():
    """XLM-R's 250,002 words: the same words rng.choice(V, p=...) draws for the same generator state."""
    from fairseq_contrastive_xlm.data.masking import random_words

    dictionary = Dictionary()
    for i in range(250_002 - dictionary.nspecial - 1):
        dictionary.add_symbol(f"w{i}")
    scheme = MaskingScheme.for_dictionary(dictionary, dictionary.add_symbol("<mask>"))
    for seed in range(5):
        expected = np.random.default_rng(seed).choice(len(scheme.replacement_probs), 40, p=scheme.replacement_probs)
        np.testing.assert_array_equal(random_words(scheme, 40, np.random.default_rng(seed)), expected)
    drawn = random_words(scheme, 10_000, np.random.default_rng(9))
    assert drawn.min() >= dictionary.nspecial and scheme.mask_idx not in drawn
