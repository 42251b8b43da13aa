"""fairseq's own engine in several processes: fairseq-train started by torchrun on CPU (gloo), with both of
fairseq's data-parallel backends, and as two "nodes" of one process each, must follow one process given the
same global batch (the two workers' batches concatenated), update by update.

This proves, inside fairseq's real trainer: the NT-Xent negatives gathered across workers (with their
gradients), the loss normalisation over workers, the data sharding, and the negatives queue with its momentum
encoder under DDP (every worker pushes the same gathered keys).

Why the runs can be compared exactly: batches are consecutive runs of the ordered items (--batch-size only),
--curriculum keeps fairseq from shuffling them in the first epoch, so the one process's batch of 16 is the
two workers' batches of 8 side by side (fairseq gives worker r the batches r, r + 2, ...); masks and language
draws depend on (seed, epoch, item) only; dropout is off (its random stream depends on the batch shape); and
SGD at a moderate rate, not Adam, takes the steps: Adam divides by the gradient's running RMS, which turns float
rounding in near-zero gradients (different between one batch of 16 and two of 8) into steps of about the learning
rate.
The corpus holds 64 pairs, each 20 times (repeated_data_dir), so that copies of one sentence are drawn into the
same step, on one worker or on both, and masked as negatives of each other (--ntxent-mask-duplicates, with the sentence
ids gathered across workers): the logged ntxent_masked must be above 0 and equal in both runs.
Mean pooling, not the first token: at initialisation every sentence's first token has nearly the same state,
so first-token projections are nearly parallel, NT-Xent depends on their tiny differences, and float rounding
grows tenfold an update (measured: 7e-9, 9e-7, 1.5e-5 apart after updates 1, 2, 3).
"""

import os
import shutil
import socket
import subprocess

import numpy as np
import pytest
import torch
from fairseq.data import indexed_dataset

from helpers import (
    BIN,
    EN_DE_NO_DROPOUT,
    EVERY_UPDATE,
    REPO,
    fairseq_train,
    train_argv,
    train_in_process,
    update_checkpoints,
)

UPDATES = 3
PAIRS_PER_WORKER = 8
ENGINE = [
    *EN_DE_NO_DROPOUT,
    "--ntxent-pooling",
    "mean",
    "--ntxent-queue-size",
    "64",
    "--ntxent-momentum",
    "0.9",
    "--optimizer",
    "sgd",
    "--lr",
    "0.05",
    "--curriculum",
    "100",
    "--max-update",
    str(UPDATES),
    *EVERY_UPDATE,
    "--seed",
    "3",
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(launches, data, save_dir, *options):
    """Run one torchrun per entry of launches (its own launcher options), all at once, on loopback only."""
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1"}
    argv = train_argv(data, save_dir, *ENGINE, "--batch-size", str(PAIRS_PER_WORKER), *options)
    processes = [
        subprocess.Popen(
            [os.path.join(BIN, "torchrun"), *launch, os.path.join(BIN, "fairseq-train"), *argv],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for launch in launches
    ]
    outputs = [p.communicate(timeout=300)[0] for p in processes]
    for process, output in zip(processes, outputs):
        if process.returncode != 0:
            pytest.fail(f"torchrun fairseq-train failed ({process.returncode}):\n{output[-4000:]}")
    return "\n".join(outputs)


def updates_of(save_dir):
    """Per update: the loss fairseq logged (aggregated over workers, unrounded) and the model's state."""
    return [(loss, state["model"]) for loss, state in update_checkpoints(save_dir, UPDATES)]


def masked_per_view(save_dir):
    """Per update: ntxent_masked as fairseq logged it (negatives per view masked as the same sentence)."""
    logged = []
    for _, state in update_checkpoints(save_dir, UPDATES):
        meters = {key: meter for _, key, _, meter in state["extra_state"]["metrics"]["train"]}
        logged.append(meters["ntxent_masked"]["val"])
    return logged


@pytest.fixture(scope="module")
def repeated_data_dir(data_dir, tmp_path_factory):
    """The tests' data directory with en-de training pairs 0..63 each written 20 times, as 1,280 lines."""
    out = tmp_path_factory.mktemp("repeated") / "data"
    shutil.copytree(data_dir, out)
    for lang in ("en", "de"):
        prefix = str(out / "para" / "en-de" / f"train.en-de.{lang}")
        sentences = indexed_dataset.MMapIndexedDataset(prefix)
        builder = indexed_dataset.MMapIndexedDatasetBuilder(prefix + ".new.bin", dtype=np.uint16)
        for _ in range(20):
            for i in range(64):
                builder.add_item(sentences[i])
        builder.finalize(prefix + ".new.idx")
        del sentences
        for ending in ("bin", "idx"):
            os.replace(f"{prefix}.new.{ending}", f"{prefix}.{ending}")
    return out


@pytest.fixture(scope="module")
def one_process(repeated_data_dir, tmp_path_factory):
    save = tmp_path_factory.mktemp("one_process")
    train_in_process(repeated_data_dir, save, *ENGINE, "--batch-size", str(2 * PAIRS_PER_WORKER))
    masked = masked_per_view(save)
    assert sum(masked) > 0, masked  # copies stood in one step
    return updates_of(save), masked


def assert_same_run(save_dir, one_process):
    steps, (reference, masked) = updates_of(save_dir), one_process
    assert masked_per_view(save_dir) == pytest.approx(masked, rel=1e-9)
    for update, ((loss, model), (expected_loss, expected_model)) in enumerate(zip(steps, reference), 1):
        # Relative: the loss is a float32 sum over ~2,600 tokens, whose order of additions differs between one
        # batch and two (measured 9e-7 apart, relative, at update 3).
        assert loss == pytest.approx(expected_loss, rel=1e-5, abs=0), f"loss at update {update}"
        assert model.keys() == expected_model.keys()
        for name, value in expected_model.items():
            torch.testing.assert_close(model[name], value, rtol=0, atol=1e-5, msg=f"{name} after update {update}")
    # The queue really took part: it holds every pair's keys of both sides so far, from both workers.
    assert int(reference[-1][1]["ntxent_queue.filled"]) == min(64, UPDATES * 2 * 2 * PAIRS_PER_WORKER)


@pytest.mark.parametrize("ddp_backend", ["pytorch_ddp", "legacy_ddp"])
def test_torchrun_two_workers_follow_one_process(repeated_data_dir, tmp_path, one_process, ddp_backend):
    launch = ["--nproc-per-node", "2", "--master-addr", "127.0.0.1", "--master-port", str(free_port())]
    # No --distributed-world-size and no --distributed-backend: both come from torchrun on a machine without
    # GPUs (compat.torchrun_without_gpus), as they do on one with GPUs.
    output = torchrun([launch], repeated_data_dir, tmp_path, "--ddp-backend", ddp_backend)
    assert "distributed init (rank 1)" in output
    assert_same_run(tmp_path, one_process)


def test_two_nodes_of_one_worker_follow_one_process(repeated_data_dir, tmp_path, one_process):
    port = str(free_port())
    launches = [
        ["--nnodes", "2", "--node-rank", str(rank), "--nproc-per-node", "1"]
        + ["--master-addr", "127.0.0.1", "--master-port", port]
        for rank in (0, 1)
    ]
    torchrun(launches, repeated_data_dir, tmp_path)
    assert_same_run(tmp_path, one_process)


def test_without_torchrun_one_process_trains_alone(data_dir, tmp_path):
    """The torchrun shim leaves plain fairseq-train on a CPU alone: no process group, no gloo."""
    result = fairseq_train(data_dir, tmp_path, *ENGINE, "--batch-size", "8", "--max-update", "1")
    assert "distributed init" not in result.stderr + result.stdout
    assert (tmp_path / "checkpoint_last.pt").is_file()
