"""--mlm-on-views: the NT-Xent views are masked and one forward gives both their MLM loss and their
embeddings. It must equal the plain path: the same views trained by fairseq's masked_lm in one forward and
embedded for NT-Xent in another."""

import math

import numpy as np
import pytest
import torch
from fairseq import metrics
from fairseq.criterions.masked_lm import MaskedLmConfig, MaskedLmLoss

from fairseq_contrastive_xlm.criterions.masked_lm_ntxent import MaskedLmNTXentLoss
from fairseq_contrastive_xlm.errors import UserInputError
from fairseq_contrastive_xlm.losses import nt_xent

from helpers import ONE_LAYER, batch_of, build_criterion, build_model, build_task, fairseq_train


@pytest.fixture(scope="module")
def task(data_dir):
    task = build_task(data_dir, mlm_on_views=True)
    task.load_dataset("train")
    task.load_dataset("valid")
    return task


def test_views_are_masked_like_mlm_samples_of_their_own_side(task):
    d = task.dictionary
    views = task.datasets["train"].objectives["ntxent"][0]
    masked_share = []
    for index in range(100):
        item = views[index]
        src, tgt = views.corpus[index]
        for key, sentence in (("a", src), ("b", tgt)):
            tokens, target = item[f"view_{key}"], item[f"target_{key}"]
            restored = np.where(target != d.pad(), target, tokens)
            np.testing.assert_array_equal(restored, np.concatenate([[d.bos()], sentence]))
            assert target[0] == d.pad()  # <s>, the first-token embedding, is never masked
            masked_share.append((target != d.pad()).sum() / (len(tokens) - 1))
    assert 0.12 < np.mean(masked_share) < 0.18
    first = [views[i]["target_a"] for i in range(20)]
    assert all(np.array_equal(views[i]["target_a"], first[i]) for i in range(20))  # fixed within an epoch
    views.set_epoch(2)
    assert any(not np.array_equal(views[i]["target_a"], first[i]) for i in range(20))  # fresh the next one
    views.set_epoch(1)


def test_the_batch_carries_the_views_targets(task):
    batch = batch_of(task, "train", range(6))["ntxent"]
    assert batch["target"].shape == batch["net_input"]["src_tokens"].shape
    assert (batch["net_input"]["src_tokens"] == task.mask_idx).any()
    plain = build_task(task.cfg.data)
    plain.load_dataset("train")
    assert "target" not in batch_of(plain, "train", range(6))["ntxent"]


def grads(model):
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def test_one_forward_equals_separate_mlm_and_ntxent_forwards(task):
    torch.manual_seed(0)
    # float64 weights; fairseq's cross_entropy still takes its log-softmax in float32, so the LM term (and its
    # gradients) agree to float32's precision relative to each gradient's scale (a key bias's, zero in theory, is
    # rounding noise), and NT-Xent to float64's.
    model = build_model(task).double()
    views = batch_of(task, "train", range(8))["ntxent"]
    criterion = build_criterion(task, ntxent_weight=0.7)

    ntxent, (lm_loss, lm_tokens) = criterion.ntxent_loss(model, views)
    (lm_loss + 0.7 * ntxent.loss).backward()
    fused = grads(model)
    model.zero_grad()

    mlm, mlm_tokens, _ = MaskedLmLoss(MaskedLmConfig(tpu=False), task)(model, views)
    projections = model(**views["net_input"], ntxent_projection=True)[0]
    n = views["pairs"]
    ids = views["sentence_ids"]  # the criterion masks duplicate sentences: so does this
    separate = nt_xent(projections[:n], projections[n:], model.ntxent_temperature(), sentence_ids=(ids[:n], ids[n:]))
    (mlm + 0.7 * separate.loss).backward()

    assert int(lm_tokens) == int(mlm_tokens) > 0
    torch.testing.assert_close(lm_loss, mlm, rtol=1e-5, atol=1e-8)
    torch.testing.assert_close(ntxent.loss, separate.loss, rtol=1e-5, atol=1e-8)
    for name, grad in grads(model).items():
        scale = float(grad.abs().max())
        torch.testing.assert_close(
            fused[name], grad, rtol=1e-5, atol=1e-6 * scale + 1e-12, msg=lambda m, k=name: f"{k}: {m}"
        )
    assert max(float(g.abs().max()) for g in fused.values()) > 0


def test_the_views_mlm_loss_joins_the_lm_term_and_is_logged_on_its_own(task):
    torch.manual_seed(0)
    model = build_model(task)
    batch = batch_of(task, "train", range(8))
    loss, sample_size, log = build_criterion(task, ntxent_weight=0.0)(model, batch)
    lm = log["mlm_loss"] + log["tlm_loss"] + log["views_mlm_loss"]
    assert int(sample_size) == int(log["mlm_sample_size"] + log["tlm_sample_size"] + log["views_mlm_sample_size"])
    assert loss.item() == pytest.approx(lm.item(), rel=1e-6)  # lambda = 0: the LM terms alone
    with metrics.aggregate() as agg:
        MaskedLmNTXentLoss.reduce_metrics([log])
        values = agg.get_smoothed_values()
    expected = float(log["views_mlm_loss"]) / float(log["views_mlm_sample_size"]) / math.log(2)
    assert values["views_mlm_loss"] == pytest.approx(expected, abs=1e-3)
    assert values["views_mlm_ppl"] == pytest.approx(2 ** values["views_mlm_loss"], rel=1e-2)
    assert values["mlm_loss"] == pytest.approx(
        float(log["mlm_loss"]) / float(log["mlm_sample_size"]) / math.log(2), abs=1e-3
    )


def test_needs_views(data_dir):
    with pytest.raises(UserInputError, match="mlm-on-views"):
        build_task(data_dir, ntxent_pairs="none", mlm_on_views=True)


def test_trains_from_the_command_line(data_dir, tmp_path):
    result = fairseq_train(
        data_dir,
        tmp_path,
        *ONE_LAYER,
        "--tlm-pairs",
        "en-de",
        "--mlm-on-views",
        "--ntxent-pooling",
        "max",
        "--batch-size",
        "16",
        "--max-update",
        "4",
        "--log-interval",
        "2",
        "--log-format",
        "simple",
        "--no-save",
    )
    output = result.stdout + result.stderr
    assert "views_mlm_ppl" in output and "tlm_ppl" in output and "ntxent_acc" in output
