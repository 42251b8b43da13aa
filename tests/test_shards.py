"""fairseq's way with data bigger than memory: --data DIR/shard0:DIR/shard1:... trains epoch k on shard (k - 1) mod N
and validates on the first; a shard with another dictionary is refused; a resumed run reads the shard of its epoch."""

import os
import re
import shutil

import pytest

from fairseq_contrastive_xlm.errors import UserInputError

from helpers import ONE_LAYER, build_task, fairseq_train, synthetic_data_dir

SHARDS = 3


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    """Three small shards of one corpus (different sentences, one dictionary): an epoch is 3 batches of 8."""
    root = tmp_path_factory.mktemp("sharded")
    return [
        synthetic_data_dir(root / f"shard{i}", ["en", "de"], ["de"], lambda k: 24, 24, seed=i) for i in range(SHARDS)
    ]


def shard_of_each_epoch(output, last):
    """{epoch: the shard's path} as the task logged it for the training split, up to epoch `last` (fairseq also
    loads the epoch after the last before it stops)."""
    found = {int(m.group(1)): m.group(2) for m in re.finditer(r"train, epoch (\d+): shard (\S+)", output)}
    return {epoch: path for epoch, path in found.items() if epoch <= last}


TRAIN = [*ONE_LAYER, "--mlm-langs", "en,de", "--tlm-pairs", "en-de", "--batch-size", "8", "--no-epoch-checkpoints"]


def test_epoch_k_reads_shard_k_minus_1_mod_n_and_validation_the_first(shards, tmp_path):
    result = fairseq_train(os.pathsep.join(shards), tmp_path, *TRAIN, "--max-epoch", "4")
    output = result.stdout + result.stderr
    assert shard_of_each_epoch(output, 4) == {1: shards[0], 2: shards[1], 3: shards[2], 4: shards[0]}
    validated = set(re.findall(r"valid, epoch \d+: shard (\S+)", output))
    assert validated == {shards[0]}  # validation always on the first shard
    assert 'begin validation on "valid" subset' in output and "epoch 004" in output


def test_a_run_resumed_in_epoch_2_reads_shard_1_again(shards, tmp_path):
    """An epoch of 3 batches: update 4 is in epoch 2; the restart continues epoch 2 on shard 1."""
    fairseq_train(os.pathsep.join(shards), tmp_path, *TRAIN, "--max-update", "4", "--save-interval-updates", "4")
    result = fairseq_train(os.pathsep.join(shards), tmp_path, *TRAIN, "--max-update", "7")
    output = result.stdout + result.stderr
    assert "Loaded checkpoint" in output, output[-3000:]
    assert shard_of_each_epoch(output, 2) == {2: shards[1]}, output[-3000:]


def test_a_shard_with_another_dictionary_is_refused(shards, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(shards[1], other)
    lines = (other / "dict.txt").read_text().splitlines()
    (other / "dict.txt").write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(UserInputError, match=r"every shard of --data needs the same dictionary"):
        build_task(os.pathsep.join([shards[0], str(other)]), mlm_langs="en,de", tlm_pairs="en-de")


def test_torchrun_on_shards(shards, tmp_path):
    import subprocess

    from test_torchrun import free_port

    from helpers import BIN, REPO, train_argv

    argv = train_argv(os.pathsep.join(shards), tmp_path, *TRAIN, "--batch-size", "4", "--max-epoch", "2")
    launch = ["--nproc-per-node", "2", "--master-addr", "127.0.0.1", "--master-port", str(free_port())]
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [os.path.join(BIN, "torchrun"), *launch, os.path.join(BIN, "fairseq-train"), *argv],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "distributed init (rank 1)" in output
    assert shard_of_each_epoch(output, 2) == {1: shards[0], 2: shards[1]}
    assert (tmp_path / "checkpoint_last.pt").is_file()
