"""Hugging Face folders in and out: XLM-R / InfoXLM (XLMRoberta*) as contrastive_xlm, and contrastive_xlm as a
folder transformers loads with no code of ours (XLMRobertaForMaskedLM or ...ForSequenceClassification; a model
with XLM's output layer as XLMWithLMHeadModel).

The parameter names are a fixed renaming: our encoder is fairseq's RoBERTa, whose layers Hugging Face's
XLMRoberta reproduces. Three things are not a renaming:
- Hugging Face's token-type embeddings are added to every token. A folder with one type (XLM-R, InfoXLM) has its
  row folded into the position embeddings, which every token also gets; our export carries the language
  embeddings as token types, one per language, and the import takes them back.
- The vocabulary order: Hugging Face's XLMRobertaTokenizer gives SentencePiece id + 1 (fairseq's four specials
  in front, <mask> last), which is our dictionary's order when cxlm-prepare wrote it; a dictionary in another
  order is permuted into that one on export (a piece missing from it takes <unk>'s row).
- XLM's positions start at 0 where fairseq's start at padding_idx + 1.
"""

import json
import logging
import os
import shutil
from typing import Dict, List, Optional, Tuple

import torch

from ..errors import UserInputError
from ..modules import SENTENCE_ENCODER
from ..optional import require
from ..tokenization.tokenizers import SPM_SPECIALS, load_sentencepiece
from .xlm import FAIRSEQ_PAD

ACTIVATIONS = {"gelu": "gelu", "relu": "relu", "gelu_accurate": "gelu_new", "tanh": "tanh"}  # fairseq -> HF
logger = logging.getLogger("cxlm-import")

HF_SPM_FILE = "sentencepiece.bpe.model"  # the name XLM-R's folders give the SentencePiece model
CLASSIFIER = "sentence_classification_head"  # fairseq's sentence_prediction head


def roberta_names(layers: int) -> List[Tuple[str, str]]:
    """(Hugging Face XLMRoberta name without its 'roberta.' prefix, our name) for the encoder."""
    pairs = [
        ("embeddings.word_embeddings.weight", SENTENCE_ENCODER + "embed_tokens.weight"),
        ("embeddings.position_embeddings.weight", SENTENCE_ENCODER + "embed_positions.weight"),
        ("embeddings.LayerNorm.weight", SENTENCE_ENCODER + "layernorm_embedding.weight"),
        ("embeddings.LayerNorm.bias", SENTENCE_ENCODER + "layernorm_embedding.bias"),
    ]
    parts = {
        "attention.self.query": "self_attn.q_proj",
        "attention.self.key": "self_attn.k_proj",
        "attention.self.value": "self_attn.v_proj",
        "attention.output.dense": "self_attn.out_proj",
        "attention.output.LayerNorm": "self_attn_layer_norm",
        "intermediate.dense": "fc1",
        "output.dense": "fc2",
        "output.LayerNorm": "final_layer_norm",
    }
    for i in range(layers):
        for theirs, ours in parts.items():
            for kind in ("weight", "bias"):
                pairs.append((f"encoder.layer.{i}.{theirs}.{kind}", f"{SENTENCE_ENCODER}layers.{i}.{ours}.{kind}"))
    return pairs


LM_HEAD = [
    ("lm_head.dense.weight", "encoder.lm_head.dense.weight"),
    ("lm_head.dense.bias", "encoder.lm_head.dense.bias"),
    ("lm_head.layer_norm.weight", "encoder.lm_head.layer_norm.weight"),
    ("lm_head.layer_norm.bias", "encoder.lm_head.layer_norm.bias"),
    ("lm_head.bias", "encoder.lm_head.bias"),
]
CLASSIFIER_NAMES = [
    (f"classifier.{part}.{kind}", f"classification_heads.{CLASSIFIER}.{part}.{kind}")
    for part in ("dense", "out_proj")
    for kind in ("weight", "bias")
]


# ---------------------------------------------------------------- in


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


# ---------------------------------------------------------------- out


def hf_vocabulary(dictionary, spm_model: Optional[str]) -> List[int]:
    """For every Hugging Face id, our dictionary index it takes: with a SentencePiece model, XLM-R's order
    (<s> <pad> </s> <unk>, the pieces, <mask>); without one, our own order (ids unchanged)."""
    if spm_model is None:
        return list(range(len(dictionary)))
    processor = load_sentencepiece(spm_model)
    pieces = [processor.id_to_piece(i) for i in range(SPM_SPECIALS, processor.get_piece_size())]
    specials = [dictionary.bos(), dictionary.pad(), dictionary.eos(), dictionary.unk()]
    return specials + [dictionary.index(piece) for piece in pieces] + [dictionary.index("<mask>")]


def token_types(langs: List[str], input_lang: Optional[str]) -> List[str]:
    """The language of each exported token type: ours in order, but with input_lang swapped into type 0, which
    is what Hugging Face reads when no token_type_ids are passed (its tokenizer passes none)."""
    order = list(langs)
    if input_lang:
        k = order.index(input_lang)
        order[0], order[k] = order[k], order[0]
    return order


def ours_to_roberta(model, rows: List[int], label_names: Optional[List[str]], input_lang: Optional[str] = None):
    """(transformers config, state dict) of an XLMRobertaForMaskedLM, or ...ForSequenceClassification when the
    model carries fairseq's sentence_prediction head. input_lang (default: the model's --input-lang) becomes
    token type 0, so that inputs without token_type_ids are read as that language, as our model reads them."""
    XLMRobertaConfig = require("transformers").XLMRobertaConfig

    args = model.args
    if args.encoder_normalize_before:
        raise UserInputError("a pre-LayerNorm model (--encoder-normalize-before) has no XLMRoberta equivalent")
    if args.activation_fn not in ACTIVATIONS:
        raise UserInputError(f"activation {args.activation_fn} has no Hugging Face equivalent")
    ours = model.state_dict()
    order = torch.tensor(rows)
    langs = model.langs if model.encoder.sentence_encoder.embed_langs is not None else []
    input_lang = (input_lang or getattr(args, "input_lang", None) or None) if langs else None
    if input_lang and input_lang not in langs:
        raise UserInputError(f"--input-lang {input_lang} is not among the model's languages ({','.join(langs)})")
    types = token_types(langs, input_lang)
    dim = args.encoder_embed_dim
    classify = CLASSIFIER in model.classification_heads
    config = XLMRobertaConfig(
        vocab_size=len(rows),
        hidden_size=dim,
        num_hidden_layers=args.encoder_layers,
        num_attention_heads=args.encoder_attention_heads,
        intermediate_size=args.encoder_ffn_embed_dim,
        hidden_act=ACTIVATIONS[args.activation_fn],
        hidden_dropout_prob=args.dropout,
        attention_probs_dropout_prob=args.attention_dropout,
        max_position_embeddings=args.max_positions + FAIRSEQ_PAD + 1,
        type_vocab_size=max(1, len(langs)),
        layer_norm_eps=args.layernorm_eps,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        tie_word_embeddings=not args.untie_weights_roberta,
    )
    config.cxlm_langs = list(langs)  # our language ids, in order
    if input_lang:
        config.cxlm_input_lang = input_lang
        config.cxlm_token_types = types
    config.cxlm_pooling = str(args.ntxent_pooling)
    config.cxlm_layer = int(args.ntxent_layer)
    prefix = "roberta."
    state = {prefix + theirs: ours[mine] for theirs, mine in roberta_names(args.encoder_layers)}
    state[prefix + "embeddings.word_embeddings.weight"] = ours[SENTENCE_ENCODER + "embed_tokens.weight"][order]
    if langs:
        by_type = torch.tensor([langs.index(lang) for lang in types])
        rows = ours[SENTENCE_ENCODER + "embed_langs.weight"][by_type]
        state[prefix + "embeddings.token_type_embeddings.weight"] = rows
    else:
        state[prefix + "embeddings.token_type_embeddings.weight"] = torch.zeros(1, dim)
    if classify:
        head = model.classification_heads[CLASSIFIER]
        classes = head.out_proj.out_features
        names = list(label_names or [])[:classes]
        names = names if len(names) == classes else [f"LABEL_{i}" for i in range(classes)]
        config.num_labels = len(names)
        config.id2label = dict(enumerate(names))
        config.label2id = {name: i for i, name in enumerate(names)}
        config.architectures = ["XLMRobertaForSequenceClassification"]
        state.update({theirs: ours[mine] for theirs, mine in CLASSIFIER_NAMES})
    else:
        config.architectures = ["XLMRobertaForMaskedLM"]
        state.update({theirs: ours[mine] for theirs, mine in LM_HEAD})
        state["lm_head.bias"] = ours["encoder.lm_head.bias"][order]
        # --untie-weights-roberta: the output projection is a weight of its own, exported as such (untied).
        untied = args.untie_weights_roberta
        decoder = (
            ours["encoder.lm_head.weight"][order] if untied else state[prefix + "embeddings.word_embeddings.weight"]
        )
        state["lm_head.decoder.weight"] = decoder
        state["lm_head.decoder.bias"] = state["lm_head.bias"]
    return config, state


def ours_to_xlm(model, rows: List[int]):
    """(transformers config, state dict) of an XLMWithLMHeadModel, for a model with XLM's output layer."""
    XLMConfig = require("transformers").XLMConfig

    args = model.args
    if args.encoder_normalize_before or args.activation_fn not in ("gelu", "relu"):
        raise UserInputError("only post-LayerNorm models with gelu or relu have an XLMModel equivalent")
    if args.encoder_ffn_embed_dim != 4 * args.encoder_embed_dim:
        raise UserInputError("transformers' XLMModel needs --encoder-ffn-embed-dim = 4 x --encoder-embed-dim")
    ours = model.state_dict()
    order = torch.tensor(rows)
    langs = model.langs if model.encoder.sentence_encoder.embed_langs is not None else []
    config = XLMConfig(
        vocab_size=len(rows),
        emb_dim=args.encoder_embed_dim,
        n_layers=args.encoder_layers,
        n_heads=args.encoder_attention_heads,
        dropout=args.dropout,
        attention_dropout=args.attention_dropout,
        gelu_activation=args.activation_fn == "gelu",
        sinusoidal_embeddings=False,
        causal=False,
        asm=False,
        n_langs=max(1, len(langs)),
        use_lang_emb=bool(langs),
        max_position_embeddings=args.max_positions,
        layer_norm_eps=args.layernorm_eps,
        bos_index=0,
        pad_index=1,
        eos_index=2,
        unk_index=3,
        mask_index=len(rows) - 1,
        lang2id={lang: i for i, lang in enumerate(langs)} or None,
        id2lang=dict(enumerate(langs)) or None,
    )
    config.architectures = ["XLMWithLMHeadModel"]
    config.cxlm_langs = list(langs)
    parts = {"q_proj": "q_lin", "k_proj": "k_lin", "v_proj": "v_lin", "out_proj": "out_lin"}
    t = "transformer."
    tokens = ours[SENTENCE_ENCODER + "embed_tokens.weight"][order]
    state = {
        t + "embeddings.weight": tokens,
        t + "position_embeddings.weight": ours[SENTENCE_ENCODER + "embed_positions.weight"][FAIRSEQ_PAD + 1 :],
        t + "layer_norm_emb.weight": ours[SENTENCE_ENCODER + "layernorm_embedding.weight"],
        t + "layer_norm_emb.bias": ours[SENTENCE_ENCODER + "layernorm_embedding.bias"],
        "pred_layer.proj.weight": tokens,
        "pred_layer.proj.bias": ours["encoder.lm_head.bias"][order],
    }
    if langs:
        state[t + "lang_embeddings.weight"] = ours[SENTENCE_ENCODER + "embed_langs.weight"]
    for i in range(args.encoder_layers):
        layer = f"{SENTENCE_ENCODER}layers.{i}."
        for kind in ("weight", "bias"):
            for mine, theirs in parts.items():
                state[f"{t}attentions.{i}.{theirs}.{kind}"] = ours[f"{layer}self_attn.{mine}.{kind}"]
            state[f"{t}layer_norm1.{i}.{kind}"] = ours[f"{layer}self_attn_layer_norm.{kind}"]
            state[f"{t}ffns.{i}.lin1.{kind}"] = ours[f"{layer}fc1.{kind}"]
            state[f"{t}ffns.{i}.lin2.{kind}"] = ours[f"{layer}fc2.{kind}"]
            state[f"{t}layer_norm2.{i}.{kind}"] = ours[f"{layer}final_layer_norm.{kind}"]
    return config, state


def build_hf_model(config, state, **options):
    """The transformers model of config.architectures[0] (built with `options`) holding exactly `state`."""
    transformers = require("transformers")

    model = getattr(transformers, config.architectures[0])(config, **options)
    missing, unexpected = model.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
    if missing or unexpected:
        raise RuntimeError(f"export left parameters unset {missing} or unused {unexpected}")
    return model.eval()


def write_tokenizer(spm_model: str, out_dir: str, max_length: int):
    """XLM-R's tokenizer over our SentencePiece model: AutoTokenizer then encodes to our ids, and truncation=True
    cuts at max_length, the model's usable positions."""
    XLMRobertaTokenizer = require("transformers").XLMRobertaTokenizer

    staging = os.path.join(out_dir, ".spm")
    os.makedirs(staging)
    shutil.copy(spm_model, os.path.join(staging, HF_SPM_FILE))
    XLMRobertaTokenizer.from_pretrained(staging, model_max_length=max_length).save_pretrained(out_dir)
    os.replace(os.path.join(staging, HF_SPM_FILE), os.path.join(out_dir, HF_SPM_FILE))
    os.rmdir(staging)
