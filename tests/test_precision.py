"""--bf16 means bfloat16 on the device at hand (fairseq 0.12 would make it --tpu and die without torch_xla):
through fairseq-train, and through fairseq's Trainer as cxlm-bench builds it."""

import json
import math

import torch
from fairseq import checkpoint_utils

from helpers import ONE_LAYER, fairseq_train, fairseq_trainer


def test_fairseq_train_bf16_on_the_cpu(data_dir, tmp_path):
    result = fairseq_train(
        data_dir,
        tmp_path,
        *ONE_LAYER,
        "--tlm-pairs",
        "en-de",
        "--bf16",
        "--batch-size",
        "8",
        "--max-update",
        "3",
        "--log-format",
        "json",
        "--log-interval",
        "1",
        "--disable-validation",
        "--no-epoch-checkpoints",
    )
    records = [
        json.loads(line[line.index("{") :])
        for line in (result.stdout + result.stderr).splitlines()
        if "| train_inner | {" in line
    ]
    assert len(records) == 3 and all(
        math.isfinite(float(r["train_inner_loss"] if "train_inner_loss" in r else r["loss"])) for r in records
    )
    state = checkpoint_utils.load_checkpoint_to_cpu(str(tmp_path / "checkpoint_last.pt"))
    assert state["cfg"]["common"]["bf16"] and not state["cfg"]["common"]["tpu"]
    # (fairseq saves weights in float32 whatever the training precision: the dtype is checked in the next test)


def test_the_benchs_trainer_runs_bf16(data_dir, tmp_path):
    from fairseq_contrastive_xlm.cli.bench import batches
    from fairseq_contrastive_xlm.models.contrastive_xlm import unwrap

    trainer = fairseq_trainer(data_dir, tmp_path, "--batch-size", "8", "--lr", "1e-3", "--bf16")
    stream = batches(trainer)
    logged = trainer.train_step([next(stream)])
    assert next(unwrap(trainer.model).parameters()).dtype == torch.bfloat16
    assert math.isfinite(logged["loss"])


def read_events(directory):
    """{tag: [values]} of every scalar in the TensorBoard event files under `directory` (TFRecord framing:
    length, its CRC, an Event, its CRC)."""
    import glob
    import struct

    from tensorboardX.proto import event_pb2

    scalars = {}
    for path in glob.glob(f"{directory}/**/events.out.tfevents.*", recursive=True):
        data = open(path, "rb").read()
        offset = 0
        while offset < len(data):
            (length,) = struct.unpack("<Q", data[offset : offset + 8])
            event = event_pb2.Event.FromString(data[offset + 12 : offset + 12 + length])
            offset += 12 + length + 4
            for value in event.summary.value:
                scalars.setdefault(value.tag, []).append(value.simple_value)
    return scalars


def test_tensorboard_gets_every_metric_we_log(data_dir, tmp_path):
    result = fairseq_train(
        data_dir,
        tmp_path / "ckpt",
        *ONE_LAYER,
        "--mlm-langs",
        "en",
        "--tlm-pairs",
        "en-de",
        "--batch-size",
        "8",
        "--max-update",
        "2",
        "--log-interval",
        "1",
        "--tensorboard-logdir",
        str(tmp_path / "tb"),
        "--no-save",
    )
    assert "Please install tensorboardX" not in result.stdout + result.stderr
    scalars = read_events(tmp_path / "tb")
    ours = {"loss", "mlm_loss", "mlm_ppl", "tlm_loss", "tlm_ppl", "ntxent_loss", "ntxent_acc", "ntxent_temperature"}
    assert ours <= set(scalars), sorted(scalars)
    assert all(math.isfinite(v) for tag in ours for v in scalars[tag]) and len(scalars["ntxent_acc"]) >= 2
