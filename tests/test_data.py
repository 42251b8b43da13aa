"""What the task puts in a batch: MLM blocks, TLM pairs, separate views, and how items are drawn."""

import collections

import numpy as np
import pytest

from fairseq_contrastive_xlm.data.batching import batches_within_budget
from fairseq_contrastive_xlm.data.collate import views_batch
from fairseq_contrastive_xlm.data.sampling import sampling_probs
from fairseq_contrastive_xlm.errors import UserInputError

from helpers import batch_of, build_task


@pytest.fixture(scope="module")
def task(data_dir):
    task = build_task(data_dir, mlm_langs="en,de,fr", tlm_pairs="en-de,en-fr")
    task.load_dataset("train")
    task.load_dataset("valid")
    return task


def unmasked(item, pad):
    return np.where(item["target"] != pad, item["target"], item["tokens"])


def test_tlm_pairs_concatenate_both_sides_with_restarting_positions_and_language_ids(task):
    d = task.dictionary
    tlm = task.datasets["train"].objectives["tlm"][0]  # en-de
    corpus = tlm.corpus
    en, de = task.lang_id("en"), task.lang_id("de")
    orders = collections.Counter()
    for index in range(200):
        item = tlm[index]
        src, tgt = corpus[index]
        tokens = unmasked(item, d.pad())
        assert item["target"][0] == d.pad(), "the first token was masked"
        assert tokens[0] == d.bos()
        first_len = len(src) + 1 if item["langs"][0] == en else len(tgt) + 1
        first, second = tokens[:first_len], tokens[first_len:]
        a, b = (src, tgt) if item["langs"][0] == en else (tgt, src)
        orders[item["langs"][0] == en] += 1
        np.testing.assert_array_equal(first, np.concatenate([[d.bos()], a]))
        np.testing.assert_array_equal(second, np.concatenate([[d.eos()], b]))
        np.testing.assert_array_equal(
            item["positions"], np.concatenate([np.arange(len(first)), np.arange(len(second))])
        )
        lang_a, lang_b = (en, de) if item["langs"][0] == en else (de, en)
        np.testing.assert_array_equal(item["langs"], [lang_a] * len(first) + [lang_b] * len(second))
    assert 70 < orders[True] < 130, f"the order of the two sides is not random: {orders}"


def test_tlm_batch_pads_positions_and_language_ids(task):
    d = task.dictionary
    tlm = task.datasets["train"].objectives["tlm"][0]  # en-de
    items = [tlm[i] for i in range(6)]
    batch = tlm.collater(items)
    net = batch["net_input"]
    width = max(len(item["tokens"]) for item in items)
    assert net["src_tokens"].shape == batch["target"].shape == (6, width)
    assert net["positions"].shape == net["lang_ids"].shape == (6, width)
    assert batch["ntokens"] == sum(len(item["tokens"]) for item in items)
    languages = {task.lang_id("en"), task.lang_id("de")}
    for row, item in enumerate(items):
        n = len(item["tokens"])
        assert net["src_lengths"][row] == n
        assert net["src_tokens"][row, :n].tolist() == item["tokens"].tolist()
        assert batch["target"][row, :n].tolist() == item["target"].tolist()
        assert (net["src_tokens"][row, n:] == d.pad()).all() and (batch["target"][row, n:] == d.pad()).all()
        positions, langs = net["positions"][row, :n].tolist(), net["lang_ids"][row, :n].tolist()
        second = positions.index(0, 1)  # positions restart at the second sentence, which starts with </s>
        assert positions == list(range(second)) + list(range(n - second))
        assert unmasked(item, d.pad())[second] == d.eos()
        assert len(set(langs[:second])) == len(set(langs[second:])) == 1
        assert {langs[0], langs[second]} == languages  # one language id per side
        assert (net["positions"][row, n:] == 0).all() and (net["lang_ids"][row, n:] == 0).all()


def test_views_are_the_two_sides_as_separate_unmasked_sentences(task):
    d = task.dictionary
    views = task.datasets["train"].objectives["ntxent"][1]  # en-fr
    items = [views[i] for i in range(5)]
    assert "segments" in views.collater(items)["net_input"]  # packed by default: pack_views keeps them apart
    batch = views_batch(items, d.pad(), pack=False)  # one row a view, as here
    tokens, langs = batch["net_input"]["src_tokens"], batch["net_input"]["lang_ids"]
    assert batch["pairs"] == batch["active_pairs"] == 5 and tokens.size(0) == 10
    for i, item in enumerate(items):
        src, tgt = views.corpus[i]
        for row, sentence, lang in ((i, src, "en"), (i + 5, tgt, "fr")):
            real = tokens[row][tokens[row] != d.pad()].numpy()
            np.testing.assert_array_equal(real, np.concatenate([[d.bos()], sentence]))
            assert set(langs[row].tolist()) == {task.lang_id(lang)}
    assert not (tokens == task.mask_idx).any()


def test_mlm_blocks_start_with_bos_and_fit_the_sample_size(task):
    d = task.dictionary
    for blocks in task.datasets["train"].objectives["mlm"]:
        for index in range(0, len(blocks), 17):
            item = blocks[index]
            assert item["tokens"][0] == d.bos() and item["target"][0] == d.pad()
            assert len(item["tokens"]) <= task.cfg.tokens_per_sample
            assert len(set(item["langs"])) == 1
    assert {b.lang_id for b in task.datasets["train"].objectives["mlm"]} == {
        task.lang_id(x) for x in ("en", "de", "fr")
    }


def test_training_draws_follow_the_language_balanced_distribution(task):
    dataset = task.datasets["train"]
    counts = dataset.counts["mlm"]
    expected = sampling_probs(counts, task.cfg.lang_sampling_alpha)
    which, _ = dataset.draws["mlm"]
    observed = np.bincount(which, minlength=len(counts)) / len(which)
    np.testing.assert_allclose(observed, expected, atol=0.03)
    uniform, natural = sampling_probs(counts, 0.0), sampling_probs(counts, 1.0)
    np.testing.assert_allclose(uniform, 1 / len(counts))
    np.testing.assert_allclose(natural, counts / counts.sum())


def test_training_draws_change_with_the_epoch_and_sizes_follow(task):
    dataset = task.datasets["train"]
    dataset.set_epoch(1)
    first = dataset.draws["tlm"][1].copy()
    dataset.set_epoch(2)
    assert not np.array_equal(first, dataset.draws["tlm"][1])
    index = 3
    item_sizes = sum(len(v) for v in (dataset[index]["tlm"]["tokens"], dataset[index]["mlm"]["tokens"]))
    views = dataset[index]["ntxent"]
    assert dataset.sizes[index] == item_sizes + len(views["view_a"]) + len(views["view_b"])
    dataset.set_epoch(1)
    np.testing.assert_array_equal(first, dataset.draws["tlm"][1])


def test_validation_enumerates_every_item(task):
    dataset = task.datasets["valid"]
    for name, datasets in dataset.objectives.items():
        which, item = dataset.draws[name]
        total = sum(len(d) for d in datasets)
        seen = set(zip(which.tolist(), item.tolist()))
        assert len(seen) == total, f"{name}: {len(seen)} of {total} items"
    assert len(dataset) == max(sum(len(d) for d in ds) for ds in dataset.objectives.values())
    assert dataset.can_reuse_epoch_itr_across_epochs and not task.datasets["train"].can_reuse_epoch_itr_across_epochs


def test_batches_hold_every_objective(task):
    batch = batch_of(task, "train", range(4))
    assert set(batch) == {"mlm", "tlm", "ntxent", "nsentences", "ntokens"}
    assert batch["ntokens"] == sum(batch[k]["ntokens"] for k in ("mlm", "tlm", "ntxent"))
    assert batch_of(task, "train", []) == {}


def test_validation_batches_keep_every_item(task):
    """fairseq drops a last batch whose size is not a multiple of required_batch_size_multiple."""
    dataset = task.datasets["valid"]
    indices = dataset.ordered_indices()
    batches = dataset.batch_by_size(indices, max_sentences=16, required_batch_size_multiple=8)
    assert len(indices) % 8 != 0  # so fairseq alone would drop some
    assert sorted(np.concatenate(batches).tolist()) == sorted(indices.tolist())


def test_views_are_drawn_apart_from_tlm_and_items_sorted_by_tlm_length(task):
    """TLM batches carry little padding, while a batch's views (negatives) keep mixed lengths."""
    dataset = task.datasets["train"]
    assert not np.array_equal(dataset.draws["tlm"][1], dataset.draws["ntxent"][1])
    order = dataset.ordered_indices()
    tlm_lengths = [len(dataset[i]["tlm"]["tokens"]) for i in order]
    assert (np.diff(tlm_lengths) >= 0).all()
    first_batch = order[:32]
    view_lengths = [len(dataset[i]["ntxent"]["view_a"]) for i in first_batch]
    assert len(set(view_lengths)) > 5  # the views of one batch keep mixed lengths


def test_without_tlm_items_are_sorted_by_size(data_dir):
    task = build_task(data_dir, mlm_langs="en,de", tlm_pairs="", ntxent_pairs="en-de")
    task.load_dataset("train")
    dataset = task.datasets["train"]
    assert (np.diff(dataset.sizes[dataset.ordered_indices()]) >= 0).all()


def test_batches_within_budget_by_hand():
    mlm = np.array([10, 10, 12, 12, 12])
    tlm = np.array([4, 5, 6, 7, 20])
    views = np.array([3, 9, 2, 5, 4])
    # 2 items: 2*(10+5) + 3+9 = 42; a third: 3*(12+6) + 14 = 68 > 60
    assert batches_within_budget([mlm, tlm], views, 60) == [(0, 2), (2, 4), (4, 5)]
    assert batches_within_budget([mlm, tlm], views, 100, max_sentences=2) == [(0, 2), (2, 4), (4, 5)]
    # a full run of 3 is cut to a multiple of 2; the rest starts the next run; the last run keeps what is left
    assert batches_within_budget([mlm, tlm], views, 70, multiple=2) == [(0, 2), (2, 4), (4, 5)]
    assert batches_within_budget([mlm, tlm], views, 1000, multiple=2) == [(0, 5)]
    with pytest.raises(UserInputError, match="36 tokens, more than --max-tokens 30"):
        batches_within_budget([mlm, tlm], views, 30)


@pytest.mark.parametrize("pack", [True, False], ids=["packed_views", "one_row_a_view"])
def test_max_tokens_bounds_what_a_batch_computes_and_fills_it(task, data_dir, pack):
    """--max-tokens counts exactly what the collater builds: MLM and TLM padded to their longest, and the views
    packed into rows as wide as the longest (or one padded row a view): no batch computes more."""
    if not pack:
        task = build_task(data_dir, mlm_langs="en,de,fr", tlm_pairs="en-de,en-fr", ntxent_pack_views=False)
        task.load_dataset("train")
    dataset = task.datasets["train"]  # views drawn apart from TLM, of random lengths
    indices = dataset.ordered_indices()
    batches = dataset.batch_by_size(indices, max_tokens=2048, required_batch_size_multiple=8)
    assert sorted(np.concatenate(batches).tolist()) == sorted(indices.tolist())
    assert all(len(batch) % 8 == 0 or len(batch) < 8 for batch in batches[:-1])
    batches = dataset.batch_by_size(indices, max_tokens=2048)
    costs = []
    for batch in batches:
        collated = dataset.collater([dataset[i] for i in batch])
        views = collated["ntxent"]["net_input"]
        assert ("segments" in views) == pack  # the collater packed them, or not
        cost = sum(collated[k]["net_input"]["src_tokens"].numel() for k in ("mlm", "tlm", "ntxent"))
        assert cost <= 2048
        costs.append(cost)
    print(f"batches {np.mean(costs[:-1]) / 2048:.1%} full")  # for the closing note (-s)
    # measured: 95.6% full packed, 93.6% one row a view; fairseq's estimate (every item as long as the batch's
    # longest) fills 83%
    assert np.mean(costs[:-1]) > 0.9 * 2048


def test_fairseq_batching_keeps_a_last_batch_of_another_size():
    """compat.keep_last_batch: fairseq 0.12 would drop the last 5 items here (facebookresearch/fairseq#5036)."""
    from fairseq.data import data_utils

    batches = data_utils.batch_by_size(
        np.arange(21), None, num_tokens_vec=np.full(21, 5), max_sentences=8, required_batch_size_multiple=8
    )
    assert [b.tolist() for b in batches] == [list(range(8)), list(range(8, 16)), list(range(16, 21))]


def epoch_batches(task, epoch, **batching):
    """The batches of indices fairseq's trainer would take in an epoch, through the task's own API."""
    iterator = task.get_batch_iterator(task.datasets["train"], seed=1, epoch=epoch, **batching)
    iterator.next_epoch_itr(shuffle=True)
    return iterator.frozen_batches


def repeats_in_batches(dataset, batches, objectives=("tlm", "ntxent")):
    """How many translation pairs (TLM or NT-Xent: dataset, item) stand in a batch that holds them already."""
    repeats = 0
    for batch in batches:
        for name, (which, item) in dataset.draws.items():
            if name not in objectives:
                continue
            drawn = list(zip(which[batch].tolist(), item[batch].tolist()))
            repeats += len(drawn) - len(set(drawn))
    return repeats


@pytest.mark.parametrize(
    "objectives",
    [
        dict(mlm_langs="", tlm_pairs="", ntxent_pairs="en-de,en-fr", lang_sampling_alpha=0.3),
        dict(mlm_langs="en,de,fr", tlm_pairs="en-de,en-fr"),
        dict(mlm_langs="en,de,fr", tlm_pairs="en-de", ntxent_pairs="none"),
    ],
    ids=["ntxent", "mlm_tlm_ntxent", "mlm_tlm"],
)
@pytest.mark.parametrize("batching", [dict(max_sentences=64), dict(max_tokens=3000)], ids=["batch_size", "max_tokens"])
def test_no_batch_of_an_epoch_holds_an_item_twice(data_dir, objectives, batching):
    """Drawn with replacement, 17% of the pairs of an epoch stood beside a copy of themselves (issue #19)."""
    task = build_task(data_dir, **objectives)
    task.load_dataset("train")
    dataset = task.datasets["train"]
    for epoch in (1, 2):
        batches = epoch_batches(task, epoch, **batching)
        assert repeats_in_batches(dataset, batches) == 0
        assert sorted(np.concatenate(batches).tolist()) == list(range(len(dataset)))  # every item still served
    upsampled = [
        name for name, (which, _) in dataset.draws.items() if (np.bincount(which) > dataset.counts[name]).any()
    ]
    if objectives["mlm_langs"]:  # MLM blocks outnumber pairs: the pairs fill the epoch by repeating
        assert upsampled


def test_a_dataset_that_is_not_upsampled_yields_each_item_at_most_once_an_epoch(data_dir):
    task = build_task(data_dir, mlm_langs="", tlm_pairs="en-de,en-fr", lang_sampling_alpha=0.3)
    task.load_dataset("train")
    dataset = task.datasets["train"]
    counts = dataset.counts["tlm"]
    for epoch in (1, 2, 3):
        dataset.set_epoch(epoch)
        which, item = dataset.draws["tlm"]
        taken = np.bincount(which, minlength=len(counts))
        # the alpha shares, apportioned exactly: the larger pair is drawn less than its size, the smaller more
        np.testing.assert_allclose(taken / taken.sum(), sampling_probs(counts, 0.3), atol=1 / len(which))
        assert taken[counts.argmin()] > counts.min() and taken[counts.argmax()] < counts.max()
        for k in range(len(counts)):
            items = item[which == k].tolist()
            if taken[k] <= counts[k]:
                assert len(set(items)) == len(items)  # no item twice in one epoch
            else:  # upsampled: a whole permutation, then the rest from another
                assert sorted(items[: counts[k]]) == list(range(counts[k]))
                assert len(set(items[counts[k] :])) == taken[k] - counts[k]


def test_copies_of_upsampled_items_are_moved_out_of_their_twins_batches():
    """A tiny dataset upsampled 40 times: ordering by round alone cannot keep copies apart in batches of 16."""
    from fairseq.data import FairseqDataset

    from fairseq_contrastive_xlm.data.multi_objective import MultiObjectiveDataset

    class Sized(FairseqDataset):
        def __init__(self, n):
            self.sizes = np.full(n, 7)

        def __len__(self):
            return len(self.sizes)

    dataset = MultiObjectiveDataset({"ntxent": [Sized(5), Sized(195)]}, alpha=0.0, seed=1, random_draws=True)
    batches = dataset.batch_by_size(dataset.ordered_indices(), max_sentences=16)
    assert repeats_in_batches(dataset, batches) == 0
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(dataset)))
    assert np.bincount(dataset.draws["ntxent"][0]).tolist() == [100, 100]  # uniform: each of the 5 drawn 20 times


def batches_by_loop(padded, views, max_tokens, max_sentences=None, multiple=1):
    """The definition batches_within_budget keeps: one item at a time, each run as long as its cost fits."""
    limit = max_sentences if max_sentences and max_sentences > 0 else len(views)
    runs, start, total = [], 0, len(views)
    while start < total:
        maxima, view_tokens, end = [0] * len(padded), 0, start
        while end < total and end - start < limit:
            grown = [max(m, int(part[end])) for m, part in zip(maxima, padded)]
            if (end - start + 1) * sum(grown) + view_tokens + int(views[end]) > max_tokens:
                break
            maxima, view_tokens, end = grown, view_tokens + int(views[end]), end + 1
        count = end - start
        if end < total and multiple > 1 and count >= multiple:
            count -= count % multiple
        runs.append((start, start + count))
        start += count
    return runs


@pytest.mark.parametrize(
    "max_tokens, max_sentences, multiple", [(3000, None, 1), (4096, 40, 8), (700, None, 3), (20000, 500, 1)]
)
def test_vectorised_batches_are_the_loops(max_tokens, max_sentences, multiple):
    rng = np.random.default_rng(max_tokens)
    n = 5000
    tlm = np.sort(rng.integers(5, 120, n)).astype(np.uint16)  # ordered by the TLM length, as the dataset orders
    mlm = rng.integers(60, 128, n).astype(np.uint16)
    views = rng.integers(4, 60, n).astype(np.uint16)
    expected = batches_by_loop([mlm, tlm], views, max_tokens, max_sentences, multiple)
    assert batches_within_budget([mlm, tlm], views, max_tokens, max_sentences, multiple) == expected
    assert len(expected) > 10 and expected[-1][1] == n
