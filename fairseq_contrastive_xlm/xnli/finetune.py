"""The fairseq-train command that fine-tunes a pretrained contrastive_xlm checkpoint on XNLI with fairseq's
own sentence_prediction task, and the model options it needs.

fairseq builds the fine-tuned model from command-line options, not from the checkpoint it restores, so
the shape (layers, sizes, language table, ...) must be repeated; model_options() reads it from the
checkpoint.
"""

import math
from typing import Dict, List

from ..checkpoints import SHAPE, USER_DIR, model_argv, recorded_options
from ..errors import UserInputError
from .prepare import read_summary


def check_positions(data: str, prepared: dict, model_positions, checkpoint: str):
    """Stop before any work when XNLI was prepared for longer inputs than the model has positions: fairseq would
    drop the longer training examples without a word and fail on the first longer dev or test example."""
    data_positions = prepared.get("max_positions")
    if model_positions and data_positions and data_positions > model_positions:
        raise UserInputError(
            f"{data} was prepared for --max-positions {data_positions}, but {checkpoint} has {model_positions} "
            f"positions: prepare it again with cxlm-xnli-prepare --max-positions {model_positions} --truncate"
        )


def model_options(checkpoint: str) -> List[str]:
    """The command line that builds the checkpoint's model again (checkpoints.model_argv); with language
    embeddings, --input-lang en (the fine-tuning data is English)."""
    argv = model_argv(checkpoint)
    if "--use-lang-embeddings" in argv and "--input-lang" not in argv:
        argv += ["--input-lang", "en"]
    return argv


def hydra_model_overrides(checkpoint: str) -> List[str]:
    """The pretrained model's shape as fairseq-hydra-train overrides (model.encoder_layers=12 ...), so that a
    config written for another shape builds this one (examples/paper/run.sh with any START)."""
    overrides = []
    for name, value in recorded_options(checkpoint).items():
        if name not in SHAPE or value is None:
            continue
        text = str(value).lower() if isinstance(value, bool) else str(value)
        overrides.append(f"model.{name}='{text}'" if name == "langs" else f"model.{name}={text}")
    return overrides


def command(
    data: str,
    pretrained: str,
    save_dir: str,
    lr: float,
    optimizer: str,
    batch_size: int,
    max_epoch: int,
    extra: List[str] = (),
) -> List[str]:
    """fairseq-train arguments for one XNLI fine-tune (English train, English dev for fairseq's own
    validation; the zero-shot languages are scored afterwards by cxlm-xnli-eval). The learning rate warms
    up over the first 6% of the updates and decays linearly to zero at the last, as RoBERTa's GLUE recipe."""
    prepared = read_summary(data)
    check_positions(data, prepared, recorded_options(pretrained).get("max_positions"), pretrained)
    train_examples = prepared["examples"]["train"]
    updates = math.ceil(train_examples / batch_size) * max_epoch
    optimizers: Dict[str, List[str]] = {
        "adam": ["--optimizer", "adam", "--adam-betas", "(0.9,0.98)", "--adam-eps", "1e-06", "--weight-decay", "0.01"],
        "sgd": ["--optimizer", "sgd", "--momentum", "0.9"],
    }
    if optimizer not in optimizers:
        raise UserInputError(f"optimizer {optimizer!r}: choose adam or sgd")
    return [
        "fairseq-train",
        data,
        "--user-dir",
        USER_DIR,
        "--task",
        "sentence_prediction",
        "--num-classes",
        "3",
        "--init-token",
        "0",
        "--separator-token",
        "2",
        "--criterion",
        "sentence_prediction",
        *model_options(pretrained),
        "--restore-file",
        pretrained,
        "--reset-optimizer",
        "--reset-dataloader",
        "--reset-meters",
        "--reset-lr-scheduler",
        *optimizers[optimizer],
        "--lr",
        str(lr),
        "--batch-size",
        str(batch_size),
        "--max-epoch",
        str(max_epoch),
        "--lr-scheduler",
        "polynomial_decay",
        "--total-num-update",
        str(updates),
        "--warmup-updates",
        str(int(0.06 * updates)),
        "--best-checkpoint-metric",
        "accuracy",
        "--maximize-best-checkpoint-metric",
        "--save-dir",
        save_dir,
        "--log-format",
        "simple",
        *extra,
    ]
