"""Loading fairseq checkpoints of the plugin's models for evaluation, and finding them in a directory."""

import os
import re
from typing import List, Optional, Tuple

import torch
from fairseq import checkpoint_utils

from ..errors import UserInputError

_EPOCH = re.compile(r"^checkpoint(\d+)\.pt$")
_UPDATES = re.compile(r"^checkpoint_(\d+)_(\d+)\.pt$")


def load(path: str, data: Optional[str] = None, cpu: bool = False, **overrides):
    """(model in eval mode, task, cfg). `data` replaces the data directory recorded in the checkpoint; the
    model goes to the GPU when there is one, unless cpu."""
    if not os.path.isfile(path):
        raise UserInputError(f"checkpoint {path} does not exist")
    if data is not None:
        overrides["data"] = data
    models, cfg, task = checkpoint_utils.load_model_ensemble_and_task([path], arg_overrides=overrides)
    model = models[0].eval()
    if torch.cuda.is_available() and not cpu:
        model.cuda()
    return model, task, cfg


def epoch_checkpoints(directory: str) -> List[Tuple[int, str]]:
    """(epoch, path) of fairseq's end-of-epoch checkpoints (checkpoint<N>.pt), in epoch order."""
    found = []
    for name in os.listdir(directory):
        match = _EPOCH.match(name)
        if match:
            found.append((int(match.group(1)), os.path.join(directory, name)))
    return sorted(found)


def candidates(directory: str) -> List[str]:
    """Every checkpoint worth comparing in a directory: per epoch, per update interval, or best/last."""
    if not os.path.isdir(directory):
        raise UserInputError(f"{directory} is neither a checkpoint file nor a directory")
    names = sorted(os.listdir(directory))
    periodic = [n for n in names if _EPOCH.match(n) or _UPDATES.match(n)]
    chosen = periodic or [n for n in ("checkpoint_best.pt", "checkpoint_last.pt") if n in names]
    if not chosen:
        raise UserInputError(f"{directory} holds no fairseq checkpoint (checkpoint<N>.pt, checkpoint_best.pt, ...)")
    return [os.path.join(directory, n) for n in chosen]


def language_ids(model, lang: str, like: torch.Tensor) -> Optional[torch.Tensor]:
    """The language-id tensor for `lang` if the model has language embeddings, else None."""
    langs = getattr(model, "langs", [])
    encoder = getattr(model.encoder, "sentence_encoder", None)
    if getattr(encoder, "embed_langs", None) is None:
        return None
    if lang not in langs:
        raise UserInputError(f"language {lang} is not among the model's languages ({','.join(langs)})")
    return torch.full_like(like, langs.index(lang))
