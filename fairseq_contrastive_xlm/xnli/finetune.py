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


# What a model built from a config must repeat of the pretrained one for its weights to load and mean the same.
SHAPE = (
    "encoder_layers",
    "encoder_embed_dim",
    "encoder_ffn_embed_dim",
    "encoder_attention_heads",
    "max_positions",
    "activation_fn",
    "encoder_normalize_before",
    "layernorm_embedding",
    "layernorm_eps",
    "lm_head",
    "untie_weights_roberta",
    "use_lang_embeddings",
    "langs",
)


def recorded_options(checkpoint: str) -> Dict[str, object]:
    """Every option of ours the checkpoint records for its model (enum choices as strings)."""
    if not os.path.isfile(checkpoint):
        raise UserInputError(f"checkpoint {checkpoint} does not exist")
    state = torch.load(checkpoint, map_location="cpu")
    model_cfg = (state.get("cfg") or {}).get("model")
    if model_cfg is None or getattr(model_cfg, "get", None) is None:
        raise UserInputError(f"{checkpoint} records no model configuration (not a fairseq >= 0.10 checkpoint)")
    recorded = {}
    for name in ContrastiveXLMConfig.__dataclass_fields__:
        if name in model_cfg:
            value = model_cfg[name]
            recorded[name] = value.value if hasattr(value, "value") else value
    return recorded


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
    """--arch contrastive_xlm plus every model option whose value differs from the default, as recorded in
    the checkpoint; with language embeddings, --input-lang en (the fine-tuning data is English)."""
    defaults = ContrastiveXLMConfig()
    argv = ["--arch", "contrastive_xlm"]
    for name, value in recorded_options(checkpoint).items():
        default = getattr(defaults, name)
        default = default.value if hasattr(default, "value") else default
        if name in _NOT_SHAPE or value == default or value is None:
            continue
        option = "--" + name.replace("_", "-")
        argv += [option] if value is True else [] if value is False else [option, str(value)]
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
    summary = os.path.join(data, "xnli.json")
    if not os.path.isfile(summary):
        raise UserInputError(f"{summary} is missing: {data} must be a directory written by cxlm-xnli-prepare")
    with open(summary, encoding="utf-8") as f:
        prepared = json.load(f)
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
