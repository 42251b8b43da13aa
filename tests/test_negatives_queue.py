"""Negatives beyond the batch (momentum-encoder queue), and the one-forward encoding of both views."""

import math

import pytest
import torch
from fairseq import checkpoint_utils

from fairseq_contrastive_xlm.losses import nt_xent
from fairseq_contrastive_xlm.model_wrappers import unwrap
from fairseq_contrastive_xlm.modules import MomentumQueue

from helpers import (
    ONE_LAYER,
    batch_of,
    build_criterion,
    build_model,
    build_task,
    fairseq_trainer,
    train_in_process,
)


def reference_loss(z_a, z_b, extra, tau):
    """NT-Xent written out view by view: the positive of a_i is b_i (and back); candidates are every other
    view and every extra negative."""
    norm = lambda x: x / x.norm(dim=-1, keepdim=True)  # noqa: E731
    views = torch.cat([norm(z_a), norm(z_b)])
    candidates = torch.cat([views, norm(extra)])
    n, total = len(z_a), 0.0
    for i in range(2 * n):
        positive = i + n if i < n else i - n
        scores = [float(views[i] @ candidates[j]) / tau for j in range(len(candidates)) if j != i]
        total += -float(views[i] @ candidates[positive]) / tau + math.log(sum(math.exp(s) for s in scores))
    return total


def test_extra_negatives_widen_the_candidates_and_get_no_gradient():
    torch.manual_seed(0)
    z_a, z_b = torch.randn(5, 8, requires_grad=True), torch.randn(5, 8, requires_grad=True)
    extra = torch.randn(11, 8, requires_grad=True)
    result = nt_xent(z_a, z_b, 0.2, extra_negatives=extra)
    assert result.loss.item() == pytest.approx(
        reference_loss(z_a.detach(), z_b.detach(), extra.detach(), 0.2), rel=1e-5
    )
    result.loss.backward()
    assert extra.grad is None and z_a.grad.abs().sum() > 0
    plain = nt_xent(z_a, z_b, 0.2)
    torch.testing.assert_close(nt_xent(z_a, z_b, 0.2, extra_negatives=extra[:0]).loss, plain.loss)
    assert result.loss > plain.loss  # more negatives, a larger denominator


def test_the_queue_is_a_ring_that_drops_the_oldest_keys():
    queue = MomentumQueue(size=5, momentum=0.9, pooling="mean", layer=-1)
    assert queue.negatives() is None and queue.negative_ids() is None

    def push(start, end):  # keys start..end-1, each with the sentence id 100 + itself
        queue.push(torch.arange(float(start), float(end)).unsqueeze(1), torch.arange(100 + start, 100 + end))

    def held():
        keys, ids = queue.negatives().squeeze(1).tolist(), queue.negative_ids().tolist()
        assert ids == [100 + int(key) for key in keys]  # every id stays beside its key
        return sorted(keys)

    push(0, 3)
    assert held() == [0, 1, 2]
    push(3, 7)  # 4 more: 0 and 1 drop out
    assert held() == [2, 3, 4, 5, 6]
    push(10, 18)  # more than the queue holds: the newest 5 stay
    assert held() == [13, 14, 15, 16, 17]
    with pytest.raises(ValueError):
        MomentumQueue(size=0, momentum=0.9, pooling="mean", layer=-1)


def test_momentum_update_and_float32_copy(data_dir):
    task = build_task(data_dir)
    torch.manual_seed(0)
    model = build_model(task, ntxent_queue_size=64, ntxent_momentum=0.9)
    queue = model.ntxent_queue
    task.load_dataset("valid")
    views = batch_of(task, "valid", range(4))["ntxent"]["net_input"]
    model.half()  # as fairseq does for --fp16
    online = model._ntxent_online()
    keys = queue.encode(online, **views)
    assert keys.dtype == torch.float32 and keys.shape == (8, 16)
    assert all(p.dtype == torch.float32 and not p.requires_grad for p in queue.encoder.parameters())
    before = [p.clone() for p in queue.encoder.parameters()]
    with torch.no_grad():
        for p in model.encoder.sentence_encoder.parameters():
            p.add_(0.5)
    model.momentum_update()
    for slow, old, fast in zip(queue.encoder.parameters(), before, online.parameters()):
        torch.testing.assert_close(slow, 0.9 * old + 0.1 * fast.float(), rtol=1e-3, atol=1e-3)


def test_the_criterion_uses_and_fills_the_queue_in_training_only(data_dir):
    task = build_task(data_dir)
    task.load_dataset("train")
    torch.manual_seed(0)
    model = build_model(task, ntxent_queue_size=24)
    criterion = build_criterion(task)
    batch = batch_of(task, "train", range(8))
    model.eval()
    criterion(model, batch)
    assert model.ntxent_queue.negatives() is None  # validation: in-batch negatives, nothing queued
    model.train()
    _, _, first = criterion(model, batch)
    assert model.ntxent_queue.filled == 16
    _, _, second = criterion(model, batch)  # the same batch, now against 16 queued negatives too
    assert model.ntxent_queue.filled == 24
    assert second["ntxent_loss"] > first["ntxent_loss"]


def test_one_call_of_the_model_reads_the_queue_then_fills_it(data_dir):
    """The model owns the queue's order: its forward returns the keys and ids as they were before the batch (a
    copy, which the enqueue that follows leaves as it was), then enqueues the batch's keys itself."""
    task = build_task(data_dir)
    task.load_dataset("train")
    torch.manual_seed(0)
    model = build_model(task, ntxent_queue_size=40).train()
    views = batch_of(task, "train", range(8))["ntxent"]
    net_input, ids = views["net_input"], views["sentence_ids"]
    _, extra = model(**net_input, ntxent_projection=True, sentence_ids=ids, pairs=views["active_pairs"])
    assert extra["negatives"] is None and model.ntxent_queue.filled == 16  # nothing before; the batch's 16 keys after
    queued = model.ntxent_queue.negatives().clone()
    _, extra = model(**net_input, ntxent_projection=True, sentence_ids=ids, pairs=views["active_pairs"])
    torch.testing.assert_close(extra["negatives"], queued, rtol=0, atol=0)  # the keys as the forward found them
    assert torch.equal(extra["negative_ids"], ids) and model.ntxent_queue.filled == 32
    assert torch.equal(model.ntxent_queue.negatives()[:16], queued)  # the ring kept the first batch's keys
    _, extra = model(**net_input, ntxent_projection=True, sentence_ids=ids, pairs=0)  # a dummy batch: read, no keys
    assert len(extra["negatives"]) == 32 and model.ntxent_queue.filled == 32
    model.eval()
    _, extra = model(**net_input, ntxent_projection=True, sentence_ids=ids, pairs=views["active_pairs"])
    assert "negatives" not in extra and model.ntxent_queue.filled == 32  # validation: in-batch negatives only


def test_a_queued_copy_of_a_pair_is_masked(data_dir):
    """A pair queued by one batch and drawn again in the next is left out of its own views' denominators: each of
    its two views masks the two queued keys of its sentences. Off, nothing is masked and the loss is larger."""
    task = build_task(data_dir)
    task.load_dataset("train")
    first, again = batch_of(task, "train", range(8)), batch_of(task, "train", [3, *range(8, 15)])
    ids = again["ntxent"]["sentence_ids"]
    in_batch = sum(int((ids == ids[q]).sum()) - 1 for q in range(len(ids)))  # real duplicates of this corpus
    results = {}
    for mask in (True, False):
        torch.manual_seed(0)
        model = build_model(task, ntxent_queue_size=64)
        model.train()
        criterion = build_criterion(task, ntxent_mask_duplicates=mask)
        criterion(model, first)
        results[mask] = criterion(model, again)[2]
    assert int(results[True]["ntxent_masked"]) >= 2 * 2 + in_batch
    assert int(results[False]["ntxent_masked"]) == 0
    assert results[True]["ntxent_loss"] < results[False]["ntxent_loss"]


def test_fairseq_dummy_batch_adds_no_pairs_and_no_keys(data_dir, tmp_path):
    """fairseq hands a worker that ran out of data a dummy batch (a copy of an earlier one, ignore_grad): it must
    add nothing to the loss, no negatives and no keys, or the queue would hold that batch twice."""
    from fairseq_contrastive_xlm.benchmarks.trainer import batches

    trainer = fairseq_trainer(data_dir, tmp_path, "--ntxent-queue-size", "64", "--batch-size", "4")
    model = unwrap(trainer.model)
    sample = next(batches(trainer))
    trainer.train_step([sample])
    assert model.ntxent_queue.filled == 8
    trainer.train_step([{}])  # what fairseq's iterator gives a worker with no batch left: the dummy batch
    assert model.ntxent_queue.filled == 8
    _, _, logged = trainer.task.train_step(
        trainer._prepare_sample(sample)[0], trainer.model, trainer.criterion, trainer.optimizer, 1, ignore_grad=True
    )
    assert logged["ntxent_views"] == 0 and float(logged["ntxent_loss"]) == 0 and model.ntxent_queue.filled == 8


def test_training_with_a_queue(data_dir, tmp_path):
    save = tmp_path / "ckpt"
    output = train_in_process(
        data_dir,
        save,
        *ONE_LAYER,
        "--tlm-pairs",
        "en-de",
        "--ntxent-queue-size",
        "256",
        "--ntxent-momentum",
        "0.99",
        "--batch-size",
        "16",
        "--max-update",
        "6",
        "--log-interval",
        "1",
        "--log-format",
        "simple",
        "--disable-validation",
    )
    assert "ntxent_acc" in output
    state = checkpoint_utils.load_checkpoint_to_cpu(str(save / "checkpoint_last.pt"))
    # Saved with the model (tests/test_resume.py: a resumed run continues exactly): 6 updates of 16 pairs' 2 sides.
    assert int(state["model"]["ntxent_queue.filled"]) == 6 * 2 * 16


def test_one_forward_over_both_sides_equals_two_separate_forwards(data_dir):
    """The 2N views are encoded in one padded batch; each view must come out exactly as if it had
    been encoded with only its own side (padding differs, results do not). In float64, so that float32's
    summation-order noise (up to 2e-5 here) cannot hide or fake a difference."""
    task = build_task(data_dir, ntxent_pack_views=False)  # one padded row a view (packing: test_criterion.py)
    task.load_dataset("train")
    torch.manual_seed(0)
    model = build_model(task).double()
    views = batch_of(task, "train", range(9))["ntxent"]
    n, pad = views["pairs"], task.dictionary.pad()
    tokens = views["net_input"]["src_tokens"]

    def side(rows):
        part = tokens[rows]
        return part[:, : int(part.ne(pad).sum(dim=1).max())]  # that side's own padding

    joint = model(tokens, ntxent_projection=True)[0]
    joint_loss = nt_xent(joint[:n], joint[n:], 0.1).loss
    joint_loss.backward()
    joint_grads = {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    a = model(side(slice(0, n)), ntxent_projection=True)[0]
    b = model(side(slice(n, 2 * n)), ntxent_projection=True)[0]
    separate_loss = nt_xent(a, b, 0.1).loss
    separate_loss.backward()
    assert joint_loss.dtype == torch.float64
    torch.testing.assert_close(joint_loss, separate_loss, rtol=1e-5, atol=1e-8)
    for k, p in model.named_parameters():
        if p.grad is not None:
            torch.testing.assert_close(joint_grads[k], p.grad, rtol=1e-5, atol=1e-8, msg=lambda m, k=k: f"{k}: {m}")


def test_fairseq_trainer_updates_move_the_momentum_encoder_and_fill_the_queue(data_dir, tmp_path):
    """Through fairseq's own Trainer: the criterion fills the queue, the task's optimizer_step moves the momentum
    encoder to momentum * itself + (1 - momentum) * the updated model, after every update."""
    from fairseq_contrastive_xlm.benchmarks.trainer import batches

    trainer = fairseq_trainer(
        data_dir, tmp_path, "--ntxent-queue-size", "64", "--ntxent-momentum", "0.5", "--batch-size", "4", "--lr", "1e-2"
    )
    model = unwrap(trainer.model)
    stream = batches(trainer)
    queued = 0
    for _ in range(2):
        online = [p.detach().clone() for p in model._ntxent_online().parameters()]
        slow = (
            None if model.ntxent_queue.encoder is None else [p.clone() for p in model.ntxent_queue.encoder.parameters()]
        )
        sample = next(stream)
        trainer.train_step([sample])
        queued += 2 * sample["ntxent"]["pairs"]
        assert model.ntxent_queue.filled == queued
        slow = slow or online  # the first use copies the model as it was before the update
        updated = list(model._ntxent_online().parameters())
        assert any(not torch.equal(a, b) for a, b in zip(online, updated))  # the optimizer moved the model
        for after, before, fast in zip(model.ntxent_queue.encoder.parameters(), slow, updated):
            torch.testing.assert_close(after, 0.5 * before + 0.5 * fast.detach())
