"""fairseq's way with data bigger than memory: --data DIR/shard0:DIR/shard1:... trains epoch k on shard (k - 1) mod N
and validates on the first; a shard with another dictionary is refused; a resumed run reads the shard of its epoch."""

import os
import re
import shutil

import pytest

from fairseq_contrastive_xlm.errors import UserInputError

from helpers import ONE_LAYER, build_task, synthetic_data_dir, train_in_process

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
    output = train_in_process(os.pathsep.join(shards), tmp_path, *TRAIN, "--max-epoch", "4")
    assert shard_of_each_epoch(output, 4) == {1: shards[0], 2: shards[1], 3: shards[2], 4: shards[0]}
    validated = set(re.findall(r"valid, epoch \d+: shard (\S+)", output))
    assert validated == {shards[0]}  # validation always on the first shard
    assert 'begin validation on "valid" subset' in output and "epoch 004" in output


def test_a_run_resumed_in_epoch_2_reads_shard_1_again(shards, tmp_path):
    """An epoch of 3 batches: update 4 is in epoch 2; the restart continues epoch 2 on shard 1."""
    train_in_process(os.pathsep.join(shards), tmp_path, *TRAIN, "--max-update", "4", "--save-interval-updates", "4")
    output = train_in_process(os.pathsep.join(shards), tmp_path, *TRAIN, "--max-update", "7")
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


def test_cxlm_prepare_writes_shards_the_task_reads(tmp_path, capsys):
    """cxlm-prepare --shards 3: three data directories with one dictionary, the training lines spread evenly,
    validation and test in shard0; the printed --data value trains epoch by epoch on them; a shard prepared later
    with --dict and --spm-model has the same dictionary."""
    import json

    from fairseq_contrastive_xlm.cli import prepare

    from corpus import usable_pairs

    pairs = usable_pairs("de", 700)
    for side, lang in ((0, "en"), (1, "de")):
        (tmp_path / f"raw.{lang}").write_text("".join(p[side] + "\n" for p in pairs), encoding="utf-8")
    para = f"en-de:{tmp_path / 'raw.en'},{tmp_path / 'raw.de'}"
    common = ["--para", para, "--mono", f"de:{tmp_path / 'raw.de'}", "--valid-size", "20", "--test-size", "20"]
    out = tmp_path / "sharded"
    prepare.main([*common, "--vocab-size", "800", "--workers", "2", "--shards", "3", "--out", str(out)])
    data = capsys.readouterr().out.strip().split("--data ")[-1]
    assert data.split(os.pathsep) == [str(out / f"shard{i}") for i in range(3)]
    dictionaries = {(out / f"shard{i}" / "dict.txt").read_bytes() for i in range(3)}
    assert len(dictionaries) == 1 and all((out / f"shard{i}" / "spm.model").is_file() for i in range(3))
    trains = [json.loads((out / f"shard{i}" / "shard.json").read_text())["train_sentences"] for i in range(3)]
    manifest = json.loads((out / "manifest.json").read_text())
    for name, section in (("en-de", "parallel"), ("de", "monolingual")):
        total = manifest[section][name]["splits"]["train"]["sentences"]
        assert (
            sum(t[name] for t in trains) == total and max(t[name] for t in trains) - min(t[name] for t in trains) <= 1
        )
    assert (out / "shard0" / "para" / "en-de" / "valid.en-de.de.bin").is_file()
    assert not (out / "shard1" / "para" / "en-de" / "valid.en-de.de.idx").exists()

    task = build_task(data, mlm_langs="de", tlm_pairs="en-de")
    for epoch in (1, 2, 3, 4):
        task.load_dataset("train", epoch=epoch)
        assert task.directory_of("train", epoch).path == data.split(os.pathsep)[(epoch - 1) % 3]
        assert len(task.datasets["train"]) > 0
    task.load_dataset("valid")
    assert len(task.datasets["valid"]) > 0

    later = tmp_path / "later"
    shard0 = out / "shard0"
    prepare.main(
        [*common, "--dict", str(shard0 / "dict.txt"), "--spm-model", str(shard0 / "spm.model"), "--out", str(later)]
    )
    assert (later / "dict.txt").read_bytes() == (shard0 / "dict.txt").read_bytes()
    build_task(os.pathsep.join([data, str(later)]), mlm_langs="de", tlm_pairs="en-de")  # accepted as a 4th shard
