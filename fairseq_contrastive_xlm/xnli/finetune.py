"""The fairseq-train command that fine-tunes a pretrained contrastive_xlm checkpoint on XNLI with fairseq's
own sentence_prediction task, and the model options it needs.

fairseq builds the fine-tuned model from command-line options, not from the checkpoint it restores, so
the shape (layers, sizes, language table, ...) must be repeated; model_options() reads it from the
checkpoint.
"""

import json
import math
import os
from typing import Dict, List

import torch

from ..errors import UserInputError
from ..models.contrastive_xlm import ContrastiveXLMConfig

USER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Options of the pretraining run that have no meaning for the fine-tuned model's shape.
_NOT_SHAPE = {"_name", "load_checkpoint_heads", "checkpoint_activations", "offload_activations", "min_params_to_wrap"}


def model_options(checkpoint: str) -> List[str]:
    """--arch contrastive_xlm plus every model option whose value differs from the default, as recorded in
    the checkpoint; with language embeddings, --input-lang en (the fine-tuning data is English)."""
    if not os.path.isfile(checkpoint):
        raise UserInputError(f"pretrained checkpoint {checkpoint} does not exist")
    state = torch.load(checkpoint, map_location="cpu")
    model_cfg = (state.get("cfg") or {}).get("model")
    if model_cfg is None or getattr(model_cfg, "get", None) is None:
        raise UserInputError(f"{checkpoint} records no model configuration (not a fairseq >= 0.10 checkpoint)")
    defaults = ContrastiveXLMConfig()
    argv = ["--arch", "contrastive_xlm"]
    for name in ContrastiveXLMConfig.__dataclass_fields__:
        if name in _NOT_SHAPE or name not in model_cfg:
            continue
        value, default = model_cfg[name], getattr(defaults, name)
        value = value.value if hasattr(value, "value") else value  # enum choices
        default = default.value if hasattr(default, "value") else default
        if value == default or value is None:
            continue
        option = "--" + name.replace("_", "-")
        argv += [option] if value is True else [] if value is False else [option, str(value)]
    if model_cfg.get("use_lang_embeddings") and "--input-lang" not in argv:
        argv += ["--input-lang", "en"]
    return argv


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
    summary = os.path.join(data, "xnli.json")
    if not os.path.isfile(summary):
        raise UserInputError(f"{summary} is missing: {data} must be a directory written by cxlm-xnli-prepare")
    with open(summary, encoding="utf-8") as f:
        train_examples = json.load(f)["examples"]["train"]
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
