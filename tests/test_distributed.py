"""Negatives gathered from several workers: two gloo processes must match one process on the whole batch."""

import socket

import pytest
import torch
import torch.multiprocessing as mp

from fairseq_contrastive_xlm.losses import nt_xent

import distributed_workers
from helpers import batch_of, build_criterion, build_model, build_task


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_workers(fn, *args, world=2):
    """The workers fork from a server that imported the plugin (and with it torch and fairseq) once, rather than
    each importing it anew (6 s a process); never from this process, whose OpenMP threads have started. (Python
    3.11's fork server leaves sys.path as it is: the tests' own modules cannot be preloaded, and need not be.)"""
    mp.set_forkserver_preload(["fairseq_contrastive_xlm"])  # read when the server starts: the first call
    mp.start_processes(fn, args=(world, free_port(), *args), nprocs=world, join=True, start_method="forkserver")


@pytest.mark.parametrize("sizes", [(4, 4), (3, 5)])
def test_gathered_ntxent_matches_one_process(tmp_path, sizes):
    torch.manual_seed(0)
    n = sum(sizes)
    x_a, x_b, weight = torch.randn(n, 12), torch.randn(n, 12), torch.randn(12, 6)
    inputs = tmp_path / "inputs.pt"
    torch.save((x_a, x_b, weight), inputs)

    w = weight.clone().requires_grad_()
    whole = nt_xent(x_a @ w, x_b @ w, temperature=0.1)
    whole.loss.backward()

    run_workers(distributed_workers.ntxent_worker, str(inputs), list(sizes), str(tmp_path))
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]

    torch.testing.assert_close(sum(r["loss"] for r in ranks), whole.loss.detach(), rtol=1e-5, atol=1e-5)
    assert sum(int(r["correct"]) for r in ranks) == int(whole.correct)
    assert sum(r["views"] for r in ranks) == whole.views == 2 * n
    # Each worker's loss also depends on the other's embeddings: without gradients through the gather,
    # the summed gradients would differ from the single-process ones.
    torch.testing.assert_close(sum(r["grad"] for r in ranks), w.grad, rtol=1e-5, atol=1e-6)


def test_criterion_under_ddp_matches_one_process(tmp_path, data_dir):
    """MLM + TLM + NT-Xent through DistributedDataParallel, normalised as fairseq's trainer does."""
    indices = list(range(7))
    per_rank = [indices[:3], indices[3:]]

    task = build_task(data_dir)
    task.load_dataset("train")
    torch.manual_seed(0)
    model = build_model(task)
    criterion = build_criterion(task)
    loss, sample_size, _ = criterion(model, batch_of(task, "train", indices))
    loss.backward()
    single = {name: p.grad / sample_size for name, p in model.named_parameters() if p.grad is not None}

    run_workers(distributed_workers.criterion_worker, data_dir, per_rank, str(tmp_path))
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in range(2)]
    total_size = sum(r["sample_size"] for r in ranks)
    assert int(total_size) == int(sample_size)
    torch.testing.assert_close(
        sum(r["loss"] for r in ranks) / total_size, loss.detach() / sample_size, rtol=1e-5, atol=1e-6
    )
    assert set(ranks[0]["grads"]) == set(single), "a parameter got no gradient in one of the setups"
    for name, grad in single.items():
        # fairseq multiplies DDP's averaged gradient by world_size / (sample_size summed over workers).
        distributed = ranks[0]["grads"][name] * 2 / total_size
        torch.testing.assert_close(distributed, grad, rtol=1e-4, atol=1e-5, msg=lambda m: f"{name}: {m}")
    for r in ranks:
        torch.testing.assert_close(
            r["grads"]["ntxent_head.out_proj.weight"], ranks[0]["grads"]["ntxent_head.out_proj.weight"]
        )
