"""Hugging Face folders in (cxlm-import hf): XLM-R / InfoXLM (XLMRobertaModel, ...ForMaskedLM, and our own
exports) as contrastive_xlm weights and options. The names: hf_layout.py."""

import json
import logging
import os
from typing import Dict, List, Tuple

import torch

from ..errors import UserInputError
from ..modules import SENTENCE_ENCODER
from ..optional import require
from ..tokenization.tokenizers import SPM_SPECIALS, load_sentencepiece
from . import FAIRSEQ_PAD
from .hf_layout import ACTIVATIONS, LM_HEAD, roberta_names

logger = logging.getLogger("cxlm-import")


def read_folder(hf_dir: str) -> Tuple[dict, Dict[str, torch.Tensor]]:
    """(config.json, weights) of a Hugging Face folder: safetensors (sharded or not), or a weights-only .bin."""
    config_path = os.path.join(hf_dir, "config.json")
    if not os.path.isfile(config_path):
        raise UserInputError(f"{config_path} is missing: {hf_dir} is not a Hugging Face model folder")
    try:
        with open(config_path, encoding="utf-8") as f:
            config = json.load(f)
    except (ValueError, UnicodeDecodeError) as err:
        raise UserInputError(f"{config_path} is not a JSON configuration ({err})") from None
    load_safetensors = require("safetensors.torch").load_file

    def load_file(path):
        try:
            return load_safetensors(path)
        except Exception as err:  # safetensors' own SafetensorError, or an OS error of a cut file
            raise UserInputError(
                f"{path} cannot be read ({type(err).__name__}: {err}): a partial download? download it again"
            ) from None

    index = os.path.join(hf_dir, "model.safetensors.index.json")
    if os.path.isfile(os.path.join(hf_dir, "model.safetensors")):
        weights = load_file(os.path.join(hf_dir, "model.safetensors"))
    elif os.path.isfile(index):
        with open(index, encoding="utf-8") as f:
            shards = sorted(set(json.load(f)["weight_map"].values()))
        weights = {}
        for shard in shards:
            weights.update(load_file(os.path.join(hf_dir, shard)))
    elif os.path.isfile(os.path.join(hf_dir, "pytorch_model.bin")):
        path = os.path.join(hf_dir, "pytorch_model.bin")
        try:
            weights = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # a cut file, or one carrying globals a weights-only load refuses
            raise UserInputError(f"{path} cannot be read as weights ({type(err).__name__}: {str(err)[:200]})") from None
    else:
        raise UserInputError(f"{hf_dir} has no model.safetensors, model.safetensors.index.json or pytorch_model.bin")
    return config, weights


def hf_to_ours(config: dict, weights: Dict[str, torch.Tensor], hf_dir: str) -> Tuple[Dict[str, torch.Tensor], dict]:
    """(our state dict, our model options) of an XLMRobertaModel / ...ForMaskedLM folder's weights."""
    if config.get("model_type") not in ("xlm-roberta", "roberta"):
        raise UserInputError(f"{hf_dir}: model_type {config.get('model_type')!r} is not xlm-roberta")
    prefix = "roberta." if any(k.startswith("roberta.") for k in weights) else ""
    layers = int(config["num_hidden_layers"])
    state = {}
    for theirs, ours in roberta_names(layers):
        if prefix + theirs not in weights:
            raise UserInputError(f"{hf_dir}: {prefix + theirs} is missing from its weights")
        state[ours] = weights[prefix + theirs].clone()
    types = weights[prefix + "embeddings.token_type_embeddings.weight"]
    langs = config.get("cxlm_langs") or []
    if langs and types.size(0) == len(langs):  # our own export: one type per language
        # An input language was swapped into type 0 (token_types()): back into our order.
        order = config.get("cxlm_token_types") or langs
        state[SENTENCE_ENCODER + "embed_langs.weight"] = types[[order.index(lang) for lang in langs]].clone()
    else:  # every token gets type 0 unless told otherwise, as it gets its position: fold it in
        state[SENTENCE_ENCODER + "embed_positions.weight"] += types[0]
        langs = []
    untied = config.get("tie_word_embeddings") is False and "lm_head.decoder.weight" in weights
    tied = state[SENTENCE_ENCODER + "embed_tokens.weight"]
    state["encoder.lm_head.weight"] = weights["lm_head.decoder.weight"].clone() if untied else tied
    if "lm_head.dense.weight" in weights:
        for theirs, ours in LM_HEAD:
            state[ours] = weights[theirs].clone()
    else:  # XLMRobertaModel: no MLM head; a new one, initialised as fairseq initialises RoBERTa's
        logger.warning(
            "%s has no MLM head (lm_head.*): initialised fresh: lm_head.dense, lm_head.layer_norm and lm_head.bias "
            "(the output projection is the word embeddings); continued MLM/TLM starts from an untrained head",
            hf_dir,
        )
        dim = int(config["hidden_size"])
        state["encoder.lm_head.dense.weight"] = torch.randn(dim, dim) * 0.02
        state["encoder.lm_head.dense.bias"] = torch.zeros(dim)
        state["encoder.lm_head.layer_norm.weight"] = torch.ones(dim)
        state["encoder.lm_head.layer_norm.bias"] = torch.zeros(dim)
        state["encoder.lm_head.bias"] = torch.zeros(state["encoder.lm_head.weight"].size(0))
    activation = {v: k for k, v in ACTIVATIONS.items()}.get(config.get("hidden_act", "gelu"))
    if activation is None:
        raise UserInputError(f"{hf_dir}: hidden_act {config.get('hidden_act')!r} has no fairseq equivalent")
    options = {
        "encoder_layers": layers,
        "encoder_embed_dim": int(config["hidden_size"]),
        "encoder_ffn_embed_dim": int(config["intermediate_size"]),
        "encoder_attention_heads": int(config["num_attention_heads"]),
        "max_positions": int(config["max_position_embeddings"]) - FAIRSEQ_PAD - 1,
        "activation_fn": activation,
        "dropout": float(config.get("hidden_dropout_prob", 0.1)),
        "attention_dropout": float(config.get("attention_probs_dropout_prob", 0.1)),
        "layernorm_eps": float(config.get("layer_norm_eps", 1e-5)),
        "lm_head": "roberta",
        "use_lang_embeddings": bool(langs),
        "langs": ",".join(langs),
    }
    if langs and config.get("cxlm_input_lang"):
        options["input_lang"] = str(config["cxlm_input_lang"])
    if untied:  # an output projection of its own (--untie-weights-roberta)
        options["untie_weights_roberta"] = True
    # Our own export records how its sentence embeddings were pooled; a round trip keeps them.
    if config.get("cxlm_pooling") is not None:
        options["ntxent_pooling"] = str(config["cxlm_pooling"])
    if config.get("cxlm_layer") is not None:
        options["ntxent_layer"] = int(config["cxlm_layer"])
    return state, options


def sentencepiece_words(spm_model: str, vocab_size: int, where: str) -> List[Tuple[str, int]]:
    """dict.txt's lines for a vocabulary in XLM-R's order: SentencePiece's pieces after its three specials."""
    processor = load_sentencepiece(spm_model)
    pieces = processor.get_piece_size()
    if vocab_size != pieces + 2:  # fairseq's four specials, the pieces after SentencePiece's three, <mask>
        raise UserInputError(
            f"{where}: the embeddings have {vocab_size} rows, but {spm_model} has {pieces} pieces "
            f"(XLM-R's layout needs {pieces + 2})"
        )
    return [(processor.id_to_piece(i), 1) for i in range(SPM_SPECIALS, pieces)]
