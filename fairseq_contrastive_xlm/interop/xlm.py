"""XLM's own checkpoints (facebookresearch/XLM: mlm_tlm_xnli15_1024.pth, XLM-17, XLM-100, MLM or MLM+TLM) as
contrastive_xlm.

XLM's file: {"model": state dict, "dico_id2word", "dico_word2id", "dico_counts", "params": XLM's options}.
What the conversion reconciles:
- the vocabulary: XLM's <s> </s> <pad> <unk> and ten <specialN> come first, fairseq's <s> <pad> </s> <unk>, then
  the words in XLM's order, then fairseq's <mask> (XLM's <special1>);
- XLM begins every sentence with </s> (its <s> row was never trained), we with <s>: our <s> takes XLM's </s> row;
- positions: XLM's row p is fairseq's row p + padding_idx + 1;
- XLM's LayerNorm epsilon (1e-12) and output layer (the tied embeddings and a bias: --lm-head xlm).
"""

import json
import os
import pickle
from typing import Dict, List, Tuple

import numpy as np
import torch

from ..errors import CheckpointRefusedError, UserInputError
from ..modules import SENTENCE_ENCODER
from . import FAIRSEQ_PAD

XLM_EOS, XLM_PAD, XLM_UNK, XLM_MASK = 1, 2, 3, 5  # <s> is 0; <special1> is XLM's mask word
XLM_SPECIALS = 14  # <s> </s> <pad> <unk> <special0> ... <special9>

# XLM pickles numpy arrays and scalars in "params": exactly what that needs, for this one load (numpy 1.26
# pickles an array's dtype by its class, e.g. numpy.dtypes.Float64DType).
NUMERIC_DTYPES = ("float64", "float32", "int64", "int32", "bool")
NUMPY_GLOBALS = [np.core.multiarray._reconstruct, np.ndarray, np.dtype, np.core.multiarray.scalar] + [
    type(np.dtype(name)) for name in NUMERIC_DTYPES
]
NUMPY_GLOBALS_NAMED = f"numpy arrays and scalars of {', '.join(NUMERIC_DTYPES)}"


def load_xlm(path: str) -> dict:
    """XLM's checkpoint through torch's weights-only loader, with the numpy globals alone admitted."""
    if not os.path.isfile(path):
        raise UserInputError(f"XLM checkpoint {path} does not exist")
    try:
        with torch.serialization.safe_globals(NUMPY_GLOBALS):
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointRefusedError(path, str(err), allowed=NUMPY_GLOBALS_NAMED) from None
    except (RuntimeError, EOFError, OSError) as err:
        raise UserInputError(f"{path} is not a torch checkpoint: {err}") from None
    missing = [key for key in ("model", "dico_id2word", "params") if key not in checkpoint]
    if not isinstance(checkpoint, dict) or missing:
        raise UserInputError(f"{path} is not an XLM checkpoint: it lacks {', '.join(missing) or 'a dictionary'}")
    return checkpoint


def vocabulary_order(n_words: int) -> List[int]:
    """For every fairseq index, the XLM row it takes: <s> <pad> </s> <unk>, the words, <mask>."""
    return [XLM_EOS, XLM_PAD, XLM_EOS, XLM_UNK, *range(XLM_SPECIALS, n_words), XLM_MASK]


def convert(checkpoint: dict, path: str) -> Tuple[Dict[str, torch.Tensor], dict, List[Tuple[str, int]]]:
    """(our state dict, our model options, dict.txt's (word, count) lines) of an XLM checkpoint."""
    params = checkpoint["params"]
    weights = {key.removeprefix("module."): value for key, value in checkpoint["model"].items()}
    for option, unsupported in (("sinusoidal_embeddings", True), ("asm", True), ("share_inout_emb", False)):
        if params.get(option, not unsupported) == unsupported:
            raise UserInputError(f"{path}: XLM models with {option}={unsupported} cannot be converted")
    if "embeddings.weight" not in weights or "pred_layer.proj.bias" not in weights:
        raise UserInputError(f"{path}: no MLM encoder in it (embeddings.weight and pred_layer.proj.* are missing)")
    embeddings = weights["embeddings.weight"]
    id2word = checkpoint["dico_id2word"]
    n_words = embeddings.size(0)
    if len(id2word) != n_words:
        raise UserInputError(f"{path}: its dictionary has {len(id2word)} words but its embeddings {n_words} rows")
    counts = checkpoint.get("dico_counts") or {}
    words = [(id2word[i], int(counts.get(id2word[i], 0))) for i in range(XLM_SPECIALS, n_words)]

    order = torch.tensor(vocabulary_order(n_words))
    dim = embeddings.size(1)
    positions = weights["position_embeddings.weight"]
    # fairseq's learned positions start at padding_idx + 1; its padding row stays zero.
    fairseq_positions = torch.cat([positions.new_zeros(FAIRSEQ_PAD + 1, dim), positions])
    prefix = SENTENCE_ENCODER
    tokens = embeddings[order].clone()
    state = {
        prefix + "embed_tokens.weight": tokens,
        prefix + "embed_positions.weight": fairseq_positions,
        prefix + "layernorm_embedding.weight": weights["layer_norm_emb.weight"],
        prefix + "layernorm_embedding.bias": weights["layer_norm_emb.bias"],
        "encoder.lm_head.weight": tokens,
        "encoder.lm_head.bias": weights["pred_layer.proj.bias"][order].clone(),
    }
    n_langs = int(params.get("n_langs", 1))
    use_langs = bool(params.get("use_lang_emb", True)) and n_langs > 1 and "lang_embeddings.weight" in weights
    if use_langs:
        state[prefix + "embed_langs.weight"] = weights["lang_embeddings.weight"]
    layers = int(params["n_layers"])
    renames = {"q_lin": "q_proj", "k_lin": "k_proj", "v_lin": "v_proj", "out_lin": "out_proj"}
    for i in range(layers):
        ours = f"{prefix}layers.{i}."
        for name, new in renames.items():
            for kind in ("weight", "bias"):
                state[f"{ours}self_attn.{new}.{kind}"] = weights[f"attentions.{i}.{name}.{kind}"]
        for kind in ("weight", "bias"):
            state[f"{ours}self_attn_layer_norm.{kind}"] = weights[f"layer_norm1.{i}.{kind}"]
            state[f"{ours}fc1.{kind}"] = weights[f"ffns.{i}.lin1.{kind}"]
            state[f"{ours}fc2.{kind}"] = weights[f"ffns.{i}.lin2.{kind}"]
            state[f"{ours}final_layer_norm.{kind}"] = weights[f"layer_norm2.{i}.{kind}"]

    id2lang = params.get("id2lang") or {}
    options = {
        "encoder_layers": layers,
        "encoder_embed_dim": dim,
        "encoder_ffn_embed_dim": weights["ffns.0.lin1.weight"].size(0),
        "encoder_attention_heads": int(params["n_heads"]),
        "max_positions": positions.size(0),
        "activation_fn": "gelu" if params.get("gelu_activation", True) else "relu",
        "dropout": float(params.get("dropout", 0.1)),
        "attention_dropout": float(params.get("attention_dropout", 0.1)),
        "layernorm_eps": 1e-12,
        "lm_head": "xlm",
        "use_lang_embeddings": use_langs,
        "langs": ",".join(id2lang[i] for i in range(n_langs)) if use_langs else "",
    }
    return state, options, words


def readable(value):
    """XLM's params as JSON: arrays become lists, anything else unusual its repr."""
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    if isinstance(value, torch.Tensor):
        return value.tolist()
    return repr(value)


def write_params(path: str, params: dict):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(params, f, indent=2, ensure_ascii=False, default=readable, sort_keys=True)
