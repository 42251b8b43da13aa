"""Mixed precision through fairseq's own trainer on a CPU: --fp16, --memory-efficient-fp16, --bf16,
--memory-efficient-bf16 and --amp train and follow the float32 run; an fp16 overflow skips the update and lowers
the loss scale, leaving nothing non-finite behind; --bf16 means bfloat16 on the device at hand (fairseq 0.12
would make it --tpu and die without torch_xla), through fairseq-train and through cxlm-bench's Trainer."""

import math

import pytest
import torch
from fairseq import checkpoint_utils

from helpers import (
    EN_DE_NO_DROPOUT,
    EVERY_UPDATE,
    ONE_LAYER,
    fairseq_train,
    fairseq_trainer,
    train_in_process,
    update_checkpoints,
)

# The default mean pooling, with fp16's loss scale starting at 4: from fairseq's 128, the first 4 updates' gradients
# overflow (at initialisation the projection head's bias takes a gradient of about 4,000 from NT-Xent, measured) and
# fairseq skips them, so that fp16's "update 1" would be the fifth batch, not fp32's first (README: fp16 from
# scratch). The flag is fp16's alone; bf16 and fp32 ignore it.
PRECISION_RUN = [*EN_DE_NO_DROPOUT, "--batch-size", "8", "--max-update", "4", "--fp16-init-scale", "4"]
PRECISION_RUN += [*EVERY_UPDATE, "--seed", "4"]


def per_update_losses(save_dir, updates=4):
    """The loss fairseq logged at every update (unrounded), and the last checkpoint's state."""
    steps = update_checkpoints(save_dir, updates)
    return [loss for loss, _ in steps], steps[-1][1]


@pytest.fixture(scope="module")
def fp32_losses(data_dir, tmp_path_factory):
    save = tmp_path_factory.mktemp("fp32")
    train_in_process(data_dir, save, *PRECISION_RUN)
    return per_update_losses(save)[0]


# Tolerances: the loss is about 15 bits; one rounding of a float16 (11-bit significand) is 2^-11 = 5e-4
# relative and one of a bfloat16 (8 bits) 2^-8 = 4e-3, so 4 updates of a one-layer model stay within a few
# roundings of the loss: 0.05 and 0.25 bits (measured: below 1e-4 and 8e-4).
@pytest.mark.parametrize(
    "flag, tolerance",
    [
        ("--fp16", 0.05),  # compat.fp16_on_cpu: fairseq's flat master copy asked for a CUDA device
        ("--memory-efficient-fp16", 0.05),
        ("--bf16", 0.25),  # compat.bf16_without_tpu: fairseq made --bf16 mean --tpu
        ("--memory-efficient-bf16", 0.25),
        ("--amp", 0.0),  # torch's CUDA autocast and GradScaler disable themselves without CUDA: float32
    ],
)
def test_fairseq_train_in_each_precision_follows_fp32(data_dir, tmp_path, fp32_losses, flag, tolerance):
    train_in_process(data_dir, tmp_path, *PRECISION_RUN, flag)  # its main in-process; the overflow test: a process
    losses, state = per_update_losses(tmp_path)
    assert all(math.isfinite(loss) for loss in losses)
    assert losses == pytest.approx(fp32_losses, abs=tolerance, rel=0)
    if flag != "--amp":  # the training ran in the half precision asked for, not silently in float32
        assert losses != fp32_losses
    common = state["cfg"]["common"]
    assert not common["tpu"] and (common["bf16"] or common["fp16"] or common["amp"])


def test_fp16_overflow_skips_the_update_and_lowers_the_scale(data_dir, tmp_path):
    """A loss scale of 2^30 overflows float16 gradients: fairseq must skip those updates and halve the scale
    until they fit, and nothing non-finite may reach the weights, the momentum encoder or the queue."""
    result = fairseq_train(
        data_dir,
        tmp_path,
        *PRECISION_RUN,
        "--fp16",
        "--fp16-init-scale",
        str(2**30),
        "--max-update",
        "2",
        "--ntxent-queue-size",
        "64",
        "--ntxent-momentum",
        "0.9",
        "--optimizer",
        "adam",
    )
    overflows = (result.stdout + result.stderr).count("gradient overflow detected")
    assert overflows >= 10  # 2^30 down to a scale whose gradients fit float16 (measured: 25, to 2^5)
    state = checkpoint_utils.load_checkpoint_to_cpu(str(tmp_path / "checkpoint_last.pt"))
    assert state["last_optimizer_state"]["loss_scale"] < 2**30 / 2**10
    steps = {int(s["step"]) for s in state["last_optimizer_state"]["state"].values()}
    assert steps == {2}  # Adam stepped only on the two updates that did not overflow
    model = state["model"]
    assert {"ntxent_queue.keys", "ntxent_queue.encoder.0.layers.0.fc1.weight"} <= set(model)
    for name, value in model.items():
        if value.is_floating_point():
            assert torch.isfinite(value).all(), name
    assert int(model["ntxent_queue.filled"]) == 64


def test_the_benchs_trainer_runs_bf16(data_dir, tmp_path):
    from fairseq_contrastive_xlm.benchmarks.trainer import batches
    from fairseq_contrastive_xlm.model_wrappers import unwrap

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


# Two updates of MLM + TLM + NT-Xent, logged at each, saving nothing: what the logging tests train.
LOGGED_RUN = [*ONE_LAYER, "--mlm-langs", "en", "--tlm-pairs", "en-de", "--batch-size", "8", "--max-update", "2"]
LOGGED_RUN += ["--log-interval", "1", "--no-save"]


def test_tensorboard_and_wandb_get_every_metric_we_log(data_dir, tmp_path):
    """One run logging to both (fairseq writes through tensorboardX and wandb side by side)."""
    result = fairseq_train(
        data_dir,
        tmp_path / "ckpt",
        *LOGGED_RUN,
        "--tensorboard-logdir",
        str(tmp_path / "tb"),
        "--wandb-project",
        "cxlm-test",
        env={"WANDB_MODE": "offline", "WANDB_DIR": str(tmp_path), "WANDB_SILENT": "true"},
    )
    output = result.stdout + result.stderr
    assert "Please install tensorboardX" not in output and "wandb not found" not in output
    scalars = read_events(tmp_path / "tb")
    ours = {"loss", "mlm_loss", "mlm_ppl", "tlm_loss", "tlm_ppl", "ntxent_loss", "ntxent_acc", "ntxent_temperature"}
    assert ours <= set(scalars), sorted(scalars)
    assert all(math.isfinite(v) for tag in ours for v in scalars[tag]) and len(scalars["ntxent_acc"]) >= 2

    runs = list((tmp_path / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(runs) == 1, result.stderr[-3000:]
    recorded = runs[0].read_bytes()  # wandb's own record log: the metric names are in it as strings
    for metric in ("mlm_loss", "tlm_ppl", "ntxent_loss", "ntxent_acc", "ntxent_temperature"):
        assert metric.encode() in recorded, metric
