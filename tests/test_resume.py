"""A run stopped and resumed from checkpoint_last.pt continues the run it resumes, update for update: the same
losses and the same weights as the uninterrupted run, the negatives queue and its momentum encoder included;
older checkpoints without the queue still load; a process killed while saving leaves checkpoint_last.pt whole."""

import os
import subprocess
import sys

import torch
from fairseq import checkpoint_utils

from helpers import EVERY_UPDATE, ONE_LAYER, REPO, fairseq_train, train_argv, train_in_process, update_checkpoints

RUN = [
    *ONE_LAYER,
    "--mlm-langs",
    "en,de",
    "--tlm-pairs",
    "en-de",
    "--ntxent-queue-size",
    "48",
    "--ntxent-momentum",
    "0.9",
    "--batch-size",
    "8",
    *EVERY_UPDATE,
    "--seed",
    "5",
]


def checkpoint(path):
    return checkpoint_utils.load_checkpoint_to_cpu(str(path))


def test_resumed_run_continues_the_run_it_resumes(data_dir, tmp_path):
    train_in_process(data_dir, tmp_path / "straight", *RUN, "--max-update", "4")  # the reference, and the first
    train_in_process(data_dir, tmp_path / "resumed", *RUN, "--max-update", "2")  # half, in this process
    first = checkpoint(tmp_path / "resumed" / "checkpoint_last.pt")
    assert int(first["model"]["ntxent_queue.filled"]) == 2 * 2 * 8  # both sides of 8 pairs, twice
    fairseq_train(data_dir, tmp_path / "resumed", *RUN, "--max-update", "4")  # a new process resumes from _last

    straight_run, resumed_run = (update_checkpoints(tmp_path / name, 4) for name in ("straight", "resumed"))
    for update in (3, 4):
        (straight_loss, straight), (resumed_loss, resumed) = straight_run[update - 1], resumed_run[update - 1]
        assert resumed_loss == straight_loss, f"loss at update {update}"
        assert resumed["model"].keys() == straight["model"].keys()
        for name, value in straight["model"].items():
            assert torch.equal(resumed["model"][name], value), f"{name} after update {update}"
    # What the resumed run had to restore: a full queue and a momentum encoder that is not the model.
    assert int(straight["model"]["ntxent_queue.filled"]) == 48
    assert not torch.equal(
        straight["model"]["ntxent_queue.encoder.0.layers.0.fc1.weight"],
        straight["model"]["encoder.sentence_encoder.layers.0.fc1.weight"],
    )


def test_checkpoint_without_queue_still_loads_with_a_warning(data_dir, tmp_path):
    train_in_process(data_dir, tmp_path, *RUN, "--max-update", "1")
    state = torch.load(tmp_path / "checkpoint_last.pt", weights_only=True)  # the file as it is (no upgrade)
    state["model"] = {k: v for k, v in state["model"].items() if not k.startswith("ntxent_queue.")}
    torch.save(state, tmp_path / "checkpoint_last.pt")  # as written before checkpoints kept the queue

    output = train_in_process(data_dir, tmp_path, *RUN, "--max-update", "2")
    assert "the checkpoint carries no negatives queue of 48 keys" in output
    resumed = checkpoint(tmp_path / "checkpoint_last.pt")
    assert resumed["optimizer_history"][-1]["num_updates"] == 2
    assert int(resumed["model"]["ntxent_queue.filled"]) == 2 * 8  # refilled from the one update since

    # Continuing with another queue size restarts the queue, with the same warning, rather than failing.
    output = train_in_process(data_dir, tmp_path, *RUN, "--ntxent-queue-size", "32", "--max-update", "3")
    assert "the checkpoint carries no negatives queue of 32 keys" in output
    assert int(checkpoint(tmp_path / "checkpoint_last.pt")["model"]["ntxent_queue.filled"]) == 2 * 8


# Runs fairseq-train in a process that dies, as under kill -9, halfway through the first file copy of its
# second checkpoint save (fairseq writes checkpoint_1_2.pt, then copies it to checkpoint_last.pt).
DIES_WHILE_SAVING = """
import os, shutil, signal, sys
from fairseq import checkpoint_utils
from fairseq_cli.train import cli_main

saves, copyfile, save_checkpoint = [], shutil.copyfile, checkpoint_utils.save_checkpoint

def counting_save_checkpoint(*args, **kwargs):
    saves.append(1)
    return save_checkpoint(*args, **kwargs)

def dying_copyfile(src, dst, *args, **kwargs):
    if len(saves) < 2:
        return copyfile(src, dst, *args, **kwargs)
    with open(src, "rb") as f, open(dst, "wb") as g:
        g.write(f.read(os.path.getsize(src) // 2))
        g.flush()
    os.kill(os.getpid(), signal.SIGKILL)

checkpoint_utils.save_checkpoint = counting_save_checkpoint
shutil.copyfile = dying_copyfile
sys.argv = ["fairseq-train", *sys.argv[1:]]
cli_main()
"""


def test_killed_while_saving_leaves_the_last_checkpoint_whole(data_dir, tmp_path):
    argv = train_argv(data_dir, tmp_path, *RUN, "--max-update", "2")
    killed = subprocess.run([sys.executable, "-c", DIES_WHILE_SAVING, *argv], cwd=REPO, capture_output=True)
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert os.path.exists(tmp_path / "checkpoint_1_2.pt")  # the kill came after the second save began

    last = checkpoint(tmp_path / "checkpoint_last.pt")  # loadable: the first save's, untouched
    assert last["optimizer_history"][-1]["num_updates"] == 1
    train_in_process(data_dir, tmp_path, *RUN, "--max-update", "2")  # and the run resumes from it
    assert checkpoint(tmp_path / "checkpoint_last.pt")["optimizer_history"][-1]["num_updates"] == 2
