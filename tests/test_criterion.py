"""masked_lm_ntxent: lambda = 0 is plain MLM/TLM, normalisation, and what gets logged."""

import math

import pytest
import torch
from fairseq import metrics
from fairseq.criterions.masked_lm import MaskedLmConfig, MaskedLmLoss

from helpers import batch_of, build_criterion, build_model, build_task
from fairseq_contrastive_xlm.criterions.masked_lm_ntxent import MaskedLmNTXentLoss, length_buckets
from fairseq_contrastive_xlm.errors import UserInputError


@pytest.fixture(scope="module")
def task(data_dir):
    task = build_task(data_dir, mlm_langs="en,de", tlm_pairs="en-de")
    task.load_dataset("train")
    return task


def grads(model):
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def test_lambda_zero_is_exactly_fairseq_masked_lm(task):
    torch.manual_seed(0)
    model = build_model(task)
    batch = batch_of(task, "train", range(8))

    ours, ours_size, _ = build_criterion(task, ntxent_weight=0.0)(model, batch)
    ours.backward()
    ours_grads = grads(model)
    model.zero_grad()

    plain = MaskedLmLoss(MaskedLmConfig(tpu=False), task)
    mlm, mlm_size, _ = plain(model, batch["mlm"])
    tlm, tlm_size, _ = plain(model, batch["tlm"])
    (mlm + tlm).backward()

    assert ours.item() == (mlm + tlm).item()
    assert int(ours_size) == int(mlm_size + tlm_size)
    for name, grad in grads(model).items():
        torch.testing.assert_close(ours_grads[name], grad, rtol=0, atol=0, msg=name)
    assert ours_grads["ntxent_head.dense.weight"].abs().sum() == 0  # in the graph, with zero gradient


def test_contrastive_term_is_scaled_to_a_mean_per_view(task):
    torch.manual_seed(0)
    model = build_model(task)
    batch = batch_of(task, "train", range(8))
    loss, sample_size, log = build_criterion(task, ntxent_weight=0.5)(model, batch)
    lm = log["mlm_loss"] + log["tlm_loss"]
    expected = lm / sample_size + 0.5 * log["ntxent_loss"] / log["ntxent_views"]
    assert (loss / sample_size).item() == pytest.approx(expected.item(), rel=1e-6)
    assert log["ntxent_views"] == 16


def test_contrastive_only_normalises_by_views(data_dir):
    task = build_task(data_dir, mlm_langs="", tlm_pairs="", ntxent_pairs="en-de")
    task.load_dataset("train")
    model = build_model(task)
    loss, sample_size, log = build_criterion(task)(model, batch_of(task, "train", range(5)))
    assert sample_size == 10 and "mlm_loss" not in log
    torch.testing.assert_close(loss, log["ntxent_loss"])


def test_logged_metrics(task):
    torch.manual_seed(0)
    model = build_model(task)
    criterion = build_criterion(task)
    logs = [criterion(model, batch_of(task, "train", rows))[2] for rows in (range(0, 6), range(6, 10))]
    with metrics.aggregate() as agg:
        MaskedLmNTXentLoss.reduce_metrics(logs)
        values = agg.get_smoothed_values()

    def total(key):
        return sum(float(log[key]) for log in logs)

    assert values["mlm_loss"] == pytest.approx(total("mlm_loss") / total("mlm_sample_size") / math.log(2), abs=1e-3)
    assert values["tlm_loss"] == pytest.approx(total("tlm_loss") / total("tlm_sample_size") / math.log(2), abs=1e-3)
    # Perplexities come from the LM losses alone, never from the total with the contrastive term.
    assert values["mlm_ppl"] == pytest.approx(2 ** values["mlm_loss"], rel=1e-2)
    assert values["tlm_ppl"] == pytest.approx(2 ** values["tlm_loss"], rel=1e-2)
    assert "ppl" not in values
    assert values["ntxent_loss"] == pytest.approx(total("ntxent_loss") / total("ntxent_views") / math.log(2), abs=1e-3)
    assert values["ntxent_acc"] == pytest.approx(100 * total("ntxent_correct") / total("ntxent_views"), abs=0.01)
    assert values["loss"] == pytest.approx(total("loss") / total("sample_size") / math.log(2), abs=1e-3)

    # Within one batch the trained total is exactly mean LM loss + lambda * mean NT-Xent loss (lambda = 1).
    # Over several batches each batch's NT-Xent mean is weighted by its number of masked tokens.
    with metrics.aggregate() as agg:
        MaskedLmNTXentLoss.reduce_metrics(logs[:1])
        one = agg.get_smoothed_values()
    lm = (float(logs[0]["mlm_loss"]) + float(logs[0]["tlm_loss"])) / float(logs[0]["sample_size"]) / math.log(2)
    assert one["loss"] == pytest.approx(lm + one["ntxent_loss"], abs=2e-3)


def test_rejects_bad_weights(task):
    with pytest.raises(UserInputError, match="ntxent-weight"):
        build_criterion(task, ntxent_weight=-1.0)
    with pytest.raises(UserInputError, match="ntxent-temperature"):
        build_criterion(task, ntxent_temperature=0.0)


@pytest.mark.parametrize("mlm_on_views", [False, True])
def test_views_in_length_buckets_give_the_loss_and_gradients_of_one_forward(data_dir, mlm_on_views):
    """Views of mixed lengths are encoded in forwards of similar-length rows, each cut to its own longest;
    the result must not depend on it (float64, so summation order cannot hide or fake a difference)."""
    task = build_task(data_dir, mlm_on_views=mlm_on_views)
    task.load_dataset("train")
    torch.manual_seed(0)
    model = build_model(task).double()
    batch = batch_of(task, "train", range(40))
    views = batch["ntxent"]
    parts = list(length_buckets(views, 4))
    assert len(parts) == 4 and sorted(torch.cat([p["rows"] for p in parts]).tolist()) == list(range(80))
    widths = [p["net_input"]["src_tokens"].size(1) for p in parts]
    assert widths == sorted(widths) and widths[0] < views["net_input"]["src_tokens"].size(1)  # less padding

    results = {}
    for buckets in (1, 4):
        model.zero_grad()
        ntxent, views_mlm = build_criterion(task, ntxent_view_buckets=buckets).ntxent_loss(model, views)
        loss = ntxent.loss + (views_mlm[0] if views_mlm else 0)
        loss.backward()
        results[buckets] = (ntxent, views_mlm, grads(model))
    (one, one_mlm, one_grads), (four, four_mlm, four_grads) = results[1], results[4]
    torch.testing.assert_close(four.loss, one.loss, rtol=1e-6, atol=1e-9)
    assert int(four.correct) == int(one.correct)
    if mlm_on_views:
        torch.testing.assert_close(four_mlm[0], one_mlm[0], rtol=1e-6, atol=1e-9)
        assert int(four_mlm[1]) == int(one_mlm[1]) > 0
    for name, grad in one_grads.items():
        torch.testing.assert_close(four_grads[name], grad, rtol=1e-6, atol=1e-9, msg=lambda m, k=name: f"{k}: {m}")
    with pytest.raises(UserInputError, match="view-buckets"):
        build_criterion(task, ntxent_view_buckets=0)
