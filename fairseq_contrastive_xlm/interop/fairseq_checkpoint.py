"""Writing a fairseq checkpoint of contrastive_xlm from converted weights: the file --restore-file continues
and every cxlm-* command reads with --data DIR."""

import os
from typing import Dict, List, Tuple

import torch
from fairseq import checkpoint_utils, options
from fairseq.dataclass.utils import convert_namespace_to_omegaconf
from omegaconf import OmegaConf

USER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_dictionary(path: str, words: List[Tuple[str, int]]):
    """fairseq's dict.txt: one 'word count' a line, in index order after fairseq's four specials."""
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(f"{word} {count}\n" for word, count in words)


def model_argv(model_options: Dict[str, object]) -> List[str]:
    """--option value for every model option (True: the bare flag; False and None: left out)."""
    argv = []
    for name, value in model_options.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif value is not False and value is not None:
            argv += [flag, str(value)]
    return argv


def write_checkpoint(path: str, data_dir: str, model_options: Dict[str, object], state: Dict[str, torch.Tensor]):
    """A checkpoint whose recorded configuration is our task over data_dir (its dictionary and language table,
    no objective) and contrastive_xlm with model_options, holding `state`; written as fairseq writes its own
    (a temporary name, then moved into place)."""
    langs = model_options.get("langs") or ""
    argv = [
        data_dir,
        "--user-dir",
        USER_DIR,
        "--task",
        "cross_lingual_lm_contrastive",
        "--ntxent-pairs",
        "none",
        "--arch",
        "contrastive_xlm",
        "--criterion",
        "masked_lm_ntxent",
        *model_argv(model_options),
    ]
    if langs:
        argv += ["--langs", langs]
    if model_options.get("max_positions"):  # the recorded task must fit the model's positions
        argv += ["--tokens-per-sample", str(model_options["max_positions"])]
    args = options.parse_args_and_arch(options.get_training_parser(), argv)
    cfg = convert_namespace_to_omegaconf(args)
    checkpoint = {
        "args": None,
        "cfg": OmegaConf.to_container(cfg, resolve=True, enum_to_str=True),
        "model": state,
        "criterion": None,
        # fairseq reads the last entry; no optimizer state comes with an import (continue with --reset-optimizer).
        "optimizer_history": [
            {
                "criterion_name": "MaskedLmNTXentLoss",
                "optimizer_name": "none",
                "lr_scheduler_state": {},
                "num_updates": 0,
            }
        ],
        "task_state": {},
        "extra_state": {},
        "last_optimizer_state": None,
    }
    checkpoint_utils.torch_persistent_save(checkpoint, path)
