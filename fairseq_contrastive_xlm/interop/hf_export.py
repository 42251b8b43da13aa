"""Hugging Face folders out (cxlm-export-hf): contrastive_xlm as XLMRobertaForMaskedLM or
...ForSequenceClassification (a model with XLM's output layer as XLMWithLMHeadModel) that transformers loads with
no code of ours, and XLM-R's tokenizer over our SentencePiece model. The names: hf_layout.py; the whole folder:
export.py."""

import os
import shutil
from typing import List, Optional

import torch

from ..errors import UserInputError
from ..modules import SENTENCE_ENCODER
from ..optional import require
from ..tokenization.tokenizers import SPM_SPECIALS, load_sentencepiece
from . import FAIRSEQ_PAD
from .hf_layout import ACTIVATIONS, CLASSIFIER, CLASSIFIER_NAMES, HF_SPM_FILE, LM_HEAD, roberta_names


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


def ours_to_roberta(
    model,
    rows: List[int],
    label_names: Optional[List[str]],
    input_lang: Optional[str] = None,
    pooling: Optional[str] = None,
    layer: Optional[int] = None,
):
    """(transformers config, state dict) of an XLMRobertaForMaskedLM, or ...ForSequenceClassification when the
    model carries fairseq's sentence_prediction head. input_lang (default: the model's --input-lang) becomes
    token type 0, so that inputs without token_type_ids are read as that language, as our model reads them.
    pooling and layer (default: the model's NT-Xent ones) are recorded as the folder's sentence embeddings
    (config.cxlm_pooling, cxlm_layer: what its sentence-transformers modules do, and what cxlm-import hf reads)."""
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
    config.cxlm_pooling = str(pooling or args.ntxent_pooling)
    config.cxlm_layer = int(args.ntxent_layer if layer is None else layer)
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
