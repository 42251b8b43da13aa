"""Checkpoints of the plugin's model, in one place: reading one (through fairseq's loader, with the weights-only
guard and compat's message for a refused file), what it records of its model (its options, its shape), loading
the model for evaluation, finding checkpoints in a directory, and writing one from converted weights."""

import os
import re
from typing import Dict, List, Optional, Tuple

import torch
from fairseq import checkpoint_utils, options
from fairseq.data import Dictionary
from fairseq.dataclass.utils import convert_namespace_to_omegaconf
from omegaconf import OmegaConf

from .errors import UserInputError, check_input_file
from .models.contrastive_xlm import ContrastiveXLMConfig, ContrastiveXLMModel
from .modules import SENTENCE_ENCODER

# The plugin's folder: what --user-dir names in every command line we build.
USER_DIR = os.path.dirname(os.path.abspath(__file__))

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
# Recorded options that say how a run computed (memory, sharding), not what the model is: a model built again
# from a checkpoint does not repeat them.
RUN_ONLY = ("_name", "load_checkpoint_heads", "checkpoint_activations", "offload_activations", "min_params_to_wrap")

_EPOCH = re.compile(r"^checkpoint(\d+)\.pt$")
_UPDATES = re.compile(r"^checkpoint_(\d+)_(\d+)\.pt$")


def read(path: str, overrides: Optional[Dict[str, object]] = None) -> dict:
    """The checkpoint's state as fairseq reads it, its recorded options overridden by `overrides` (weights-only; a
    refused global, a truncated file or a file fairseq did not write is said in one line)."""
    check_input_file(path, "checkpoint")
    return checkpoint_utils.load_checkpoint_to_cpu(path, overrides)


def recorded_options(path: str) -> Dict[str, object]:
    """Every option of ours the checkpoint records for its model (enum choices as strings)."""
    model_cfg = (read(path).get("cfg") or {}).get("model")
    if model_cfg is None or getattr(model_cfg, "get", None) is None:
        raise UserInputError(f"{path} records no model configuration (not a fairseq >= 0.10 checkpoint)")
    recorded = {}
    for name in ContrastiveXLMConfig.__dataclass_fields__:
        if name in model_cfg:
            value = model_cfg[name]
            recorded[name] = value.value if hasattr(value, "value") else value
    return recorded


def options_argv(model_options: Dict[str, object]) -> List[str]:
    """--option value for every model option (True: the bare flag; False and None: left out)."""
    argv = []
    for name, value in model_options.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif value is not False and value is not None:
            argv += [flag, str(value)]
    return argv


def model_argv(path: str) -> List[str]:
    """--arch contrastive_xlm and every option the checkpoint records for its model that differs from the default
    (but RUN_ONLY): the command line that builds the same model again (a fine-tune, an evaluation)."""
    defaults = ContrastiveXLMConfig()
    changed = {}
    for name, value in recorded_options(path).items():
        default = getattr(defaults, name)
        default = default.value if hasattr(default, "value") else default
        if name not in RUN_ONLY and value != default:
            changed[name] = value
    return ["--arch", "contrastive_xlm", *options_argv(changed)]


def load(path: str, data: Optional[str] = None, cpu: bool = False, **overrides):
    """(model in eval mode, task, cfg). `data` replaces the data directory recorded in the checkpoint; the
    model goes to the GPU when there is one, unless cpu. A data directory the checkpoint's task cannot use (another
    run's, the pretraining one for a fine-tune) is said to be that, in one line."""
    if data is not None:
        overrides["data"] = data
    state = read(path, overrides)  # fairseq applies the overrides while reading: with state given, it would not
    if data is not None:
        check_dictionary_fits(state, data, path)
    try:
        models, cfg, task = checkpoint_utils.load_model_ensemble_and_task([path], arg_overrides=overrides, state=state)
    except FileNotFoundError as err:
        if data is None:
            raise
        raise UserInputError(
            f"--data {data} does not belong to checkpoint {path}: {err.filename or err} is missing (an XNLI "
            "fine-tune needs the XNLI data directory that cxlm-xnli-prepare wrote; a pretrained model, the data "
            "directory it was trained on)"
        ) from None
    model = models[0].eval()
    if torch.cuda.is_available() and not cpu:
        model.cuda()
    return model, task, cfg


def check_dictionary_fits(state: dict, data: str, path: str):
    """A data directory whose dictionary has another size than the checkpoint's word embeddings is another run's:
    said before the task reads it (it would otherwise fail on whatever that run lacks, a language or a pair)."""
    embeddings = (state.get("model") or {}).get(SENTENCE_ENCODER + "embed_tokens.weight")
    task = ((state.get("cfg") or {}).get("task") or {}).get("_name")
    dictionary = os.path.join(data, "input0" if task == "sentence_prediction" else "", "dict.txt")
    if embeddings is None or not os.path.isfile(dictionary):
        return  # not our model's weights, or a layout fairseq's loader will name itself
    loaded = Dictionary.load(dictionary)
    loaded.add_symbol("<mask>")  # as our task and fairseq's sentence_prediction do
    words = len(loaded)
    if words != embeddings.size(0):
        raise UserInputError(
            f"--data {data} does not belong to checkpoint {path}: its dictionary ({dictionary}) gives {words} "
            f"embeddings, the checkpoint's model has {embeddings.size(0)}; pass the data directory it was trained on"
        )


def is_contrastive_xlm(model) -> bool:
    """Whether a loaded model is this plugin's (a stock RoBERTa or a sentence_prediction fine-tune of another
    model is not)."""
    return isinstance(model, ContrastiveXLMModel)


def epoch_checkpoints(directory: str) -> List[Tuple[int, str]]:
    """(epoch, path) of fairseq's end-of-epoch checkpoints (checkpoint<N>.pt), in epoch order."""
    found = []
    for name in os.listdir(directory):
        match = _EPOCH.match(name)
        if match:
            found.append((int(match.group(1)), os.path.join(directory, name)))
    return sorted(found)


def updates_in_name(path: str) -> Optional[int]:
    """The number of updates in the name fairseq gives a checkpoint saved every --save-interval-updates
    (checkpoint_<epoch>_<updates>.pt); None for any other name."""
    match = _UPDATES.match(os.path.basename(path))
    return int(match.group(2)) if match else None


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


def write_dictionary(path: str, words: List[Tuple[str, int]]):
    """fairseq's dict.txt: one 'word count' a line, in index order after fairseq's four specials."""
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(f"{word} {count}\n" for word, count in words)


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
        *options_argv(model_options),
    ]
    if langs:
        argv += ["--langs", langs]
    if model_options.get("max_positions"):  # the recorded task must fit the model's positions
        argv += ["--tokens-per-sample", str(model_options["max_positions"])]
    args = options.parse_args_and_arch(options.get_training_parser(), argv)
    cfg = convert_namespace_to_omegaconf(args)
    save_weights(path, OmegaConf.to_container(cfg, resolve=True, enum_to_str=True), state)


def save_weights(path: str, cfg: dict, state: Dict[str, torch.Tensor]):
    """A checkpoint of `cfg` and `state` with no optimizer state (continue it with the four --reset-*), written as
    fairseq writes its own (a temporary name, then moved into place)."""
    checkpoint = {
        "args": None,
        "cfg": cfg,
        "model": state,
        "criterion": None,
        # fairseq reads the last entry; no optimizer state comes with it (continue with --reset-optimizer).
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
