"""masked_lm_ntxent: lambda = 0 is plain MLM/TLM, normalisation, and what gets logged."""

import math

import pytest
import torch
from fairseq import metrics
from fairseq.criterions.masked_lm import MaskedLmConfig, MaskedLmLoss

from fairseq_contrastive_xlm.criterions.masked_lm_ntxent import MaskedLmNTXentLoss
from fairseq_contrastive_xlm.data.collate import pack_views
from fairseq_contrastive_xlm.errors import UserInputError
from fairseq_contrastive_xlm.losses import nt_xent
from fairseq_contrastive_xlm.modules import segment_attention_mask

from helpers import batch_of, build_criterion, build_model, build_task, fairseq_trainer


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
    assert ours_grads["ntxent_head.out_proj.weight"].abs().sum() == 0  # in the graph, with zero gradient


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
    batch = batch_of(task, "train", range(5))
    loss, sample_size, log = build_criterion(task, ntxent_weight=0.3)(model, batch)
    assert sample_size == 10 and "mlm_loss" not in log
    projections = model(**batch["ntxent"]["net_input"], ntxent_projection=True)[0]  # one row a view, unpacked
    closed_form = 0.3 * nt_xent(projections[:5], projections[5:], 0.1).loss
    torch.testing.assert_close(loss, closed_form, rtol=1e-5, atol=1e-5)


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


def test_lambda_warms_up_linearly_then_stays(task):
    criterion = build_criterion(task, ntxent_weight=2.0, ntxent_weight_warmup_updates=4)
    weights = []
    for update in range(6):
        criterion.set_num_updates(update)
        weights.append(criterion.weight)
    assert weights == [0.5, 1.0, 1.5, 2.0, 2.0, 2.0]
    assert build_criterion(task, ntxent_weight=2.0).weight == 2.0  # no warm-up: the full weight at once

    torch.manual_seed(0)
    model = build_model(task)
    batch = batch_of(task, "train", range(8))
    criterion.set_num_updates(0)
    loss, sample_size, log = criterion(model, batch)
    lm = log["mlm_loss"] + log["tlm_loss"]
    expected = lm / sample_size + 0.5 * log["ntxent_loss"] / log["ntxent_views"]
    assert (loss / sample_size).item() == pytest.approx(expected.item(), rel=1e-6)


def test_fairseq_training_steps_tell_the_criterion_the_update(data_dir, tmp_path):
    """Through fairseq's Trainer: the task hands each step's update count to the criterion, and λ is logged."""
    from fairseq_contrastive_xlm.benchmarks.trainer import batches

    trainer = fairseq_trainer(data_dir, tmp_path, "--batch-size", "4", "--ntxent-weight-warmup-updates", "3")
    stream = batches(trainer)
    logged = [trainer.train_step([next(stream)])["ntxent_weight"] for _ in range(4)]
    assert logged == pytest.approx([1 / 3, 2 / 3, 1.0, 1.0], abs=1e-4)


def test_rejects_bad_weights(task):
    with pytest.raises(UserInputError, match="ntxent-weight"):
        build_criterion(task, ntxent_weight=-1.0)
    with pytest.raises(UserInputError, match="ntxent-weight-warmup-updates"):
        build_criterion(task, ntxent_weight_warmup_updates=-5)
    with pytest.raises(UserInputError, match="ntxent-temperature"):
        build_model(task, ntxent_temperature=0.0)


def test_packed_views_keep_every_token_its_position_and_its_sentence(data_dir):
    task = build_task(data_dir, mlm_on_views=True, ntxent_pack_views=False)
    task.load_dataset("train")
    views = batch_of(task, "train", range(40))["ntxent"]
    packed = pack_views(views, task.dictionary.pad())
    net, tokens = packed["net_input"], views["net_input"]["src_tokens"]
    lengths = views["net_input"]["src_lengths"]
    assert net["src_tokens"].size(1) == int(lengths.max())
    assert net["src_tokens"].numel() < 0.8 * tokens.numel()  # fewer padded positions
    flat = {k: net[k].reshape(-1) for k in ("src_tokens", "positions", "segments", "lang_ids")}
    flat_target = packed["target"].reshape(-1)
    for view in range(len(lengths)):
        n = int(lengths[view])
        at = net["view_index"][view][~net["view_padding"][view]]
        assert len(at) == n
        assert torch.equal(flat["src_tokens"][at], tokens[view, :n])
        assert torch.equal(flat_target[at], views["target"][view, :n])
        assert torch.equal(flat["positions"][at], torch.arange(n))
        assert set(flat["segments"][at].tolist()) == {view}
        assert torch.equal(flat["lang_ids"][at], views["net_input"]["lang_ids"][view, :n])
    pad = net["src_tokens"].eq(task.dictionary.pad())
    assert (net["segments"][pad] == -1).all() and int((~pad).sum()) == int(lengths.sum())
    # a real token sees its own sentence only; no query has every key masked (NaN in some attention kernels)
    rows, width = net["segments"].shape
    blocked = segment_attention_mask(net["segments"], heads=2).view(rows, 2, width, width)[:, 0]
    seen = ~blocked & ~pad.unsqueeze(1)  # the key padding mask hides padding keys
    assert seen.any(dim=2).all()
    same = net["segments"].unsqueeze(2).eq(net["segments"].unsqueeze(1))
    real = ~pad.unsqueeze(2)
    assert torch.equal(seen & real, same & real & ~pad.unsqueeze(1))


@pytest.mark.parametrize("pooling", ["first", "max", "mean"])
@pytest.mark.parametrize("mlm_on_views", [False, True])
def test_packed_views_give_the_loss_and_gradients_of_one_row_a_view(data_dir, mlm_on_views, pooling):
    """Each token of a packed row attends only within its own sentence: the loss and the gradients equal
    those of one padded row a view (float64, so summation order cannot hide or fake a difference)."""
    tasks = {pack: build_task(data_dir, mlm_on_views=mlm_on_views, ntxent_pack_views=pack) for pack in (False, True)}
    for task in tasks.values():
        task.load_dataset("train")
    torch.manual_seed(0)
    model = build_model(tasks[False], ntxent_pooling=pooling).double()
    results = {}
    for pack, task in tasks.items():
        views = batch_of(task, "train", range(24))["ntxent"]  # the collater packs them, or not
        assert ("segments" in views["net_input"]) == pack
        model.zero_grad()
        ntxent, views_mlm = build_criterion(task).ntxent_loss(model, views)
        (ntxent.loss + (views_mlm[0] if views_mlm else 0)).backward()
        results[pack] = (ntxent, views_mlm, grads(model))
    (one, one_mlm, one_grads), (packed, packed_mlm, packed_grads) = results[False], results[True]
    torch.testing.assert_close(packed.loss, one.loss, rtol=1e-6, atol=1e-9)
    assert int(packed.correct) == int(one.correct)
    if mlm_on_views:
        torch.testing.assert_close(packed_mlm[0], one_mlm[0], rtol=1e-6, atol=1e-9)
        assert int(packed_mlm[1]) == int(one_mlm[1]) > 0
    for name, grad in one_grads.items():
        torch.testing.assert_close(packed_grads[name], grad, rtol=1e-6, atol=1e-9, msg=lambda m, k=name: f"{k}: {m}")
