"""contrastive_xlm: RoBERTa/XLM-R with explicit positions, optional language embeddings, sentence pooling
and a SimCLR projection head for the NT-Xent loss.

The parameter names are RoBERTa's, so fairseq RoBERTa/XLM-R checkpoints load with --restore-file;
the parameters they lack (language embeddings, projection head) keep their initial values and are
listed in the log. fairseq's sentence_prediction task fine-tunes the model unchanged.
"""

import logging
from dataclasses import dataclass, field
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from fairseq import utils
from fairseq.dataclass import ChoiceEnum, FairseqDataclass
from fairseq.dataclass.utils import gen_parser_from_dataclass
from fairseq.models import register_model, register_model_architecture
from fairseq.models.roberta import RobertaEncoder, RobertaModel
from fairseq.models.roberta.model import base_architecture as roberta_base_architecture
from fairseq.models.transformer import DEFAULT_MIN_PARAMS_TO_WRAP, TransformerEncoder
from fairseq.modules.transformer_sentence_encoder import init_bert_params
from fairseq.utils import safe_getattr
from omegaconf import OmegaConf

from ..errors import UserInputError
from .momentum_queue import MomentumQueue

logger = logging.getLogger(__name__)

POOLING_CHOICES = ChoiceEnum(["first", "max", "mean"])
ACTIVATION_CHOICES = ChoiceEnum(utils.get_available_activation_fns())

# The 15 XNLI languages in XLM-15's order: the default language-id table.
XNLI_LANGS = "ar,bg,de,el,en,es,fr,hi,ru,sw,th,tr,ur,vi,zh"


@dataclass
class ContrastiveXLMConfig(FairseqDataclass):
    # --- Transformer shape; defaults are XLM-R base (architecture contrastive_xlm) ---
    encoder_layers: int = field(default=12, metadata={"help": "number of Transformer layers"})
    encoder_embed_dim: int = field(default=768, metadata={"help": "hidden size"})
    encoder_ffn_embed_dim: int = field(default=3072, metadata={"help": "feed-forward inner size"})
    encoder_attention_heads: int = field(default=12, metadata={"help": "attention heads per layer"})
    max_positions: int = field(default=512, metadata={"help": "number of learned positions (XLM-R: 512)"})
    activation_fn: ACTIVATION_CHOICES = field(default="gelu", metadata={"help": "feed-forward activation"})
    encoder_normalize_before: bool = field(
        default=False, metadata={"help": "pre-LayerNorm blocks (XLM-R and XLM are post-LayerNorm)"}
    )
    layernorm_embedding: bool = field(default=True, metadata={"help": "LayerNorm after the embeddings"})
    untie_weights_roberta: bool = field(
        default=False, metadata={"help": "separate input embeddings and MLM output projection"}
    )
    dropout: float = field(default=0.1, metadata={"help": "dropout probability"})
    attention_dropout: float = field(default=0.1, metadata={"help": "dropout on attention weights"})
    activation_dropout: float = field(default=0.0, metadata={"help": "dropout after the FFN activation"})
    encoder_layerdrop: float = field(default=0.0, metadata={"help": "LayerDrop probability"})
    encoder_layers_to_keep: Optional[str] = field(
        default=None, metadata={"help": "comma-separated layers to keep when pruning with LayerDrop"}
    )
    # --- classification heads (fairseq's sentence_prediction) ---
    pooler_activation_fn: ACTIVATION_CHOICES = field(
        default="tanh", metadata={"help": "activation of the classification head"}
    )
    pooler_dropout: float = field(default=0.0, metadata={"help": "dropout in the classification head"})
    load_checkpoint_heads: bool = field(
        default=False, metadata={"help": "(re-)register and load classification heads from the checkpoint"}
    )
    spectral_norm_classification_head: bool = field(
        default=False, metadata={"help": "spectral normalisation on the classification head"}
    )
    # --- fairseq engine options RoBERTa reads ---
    quant_noise_pq: float = field(default=0.0, metadata={"help": "iterative PQ quantization noise"})
    quant_noise_pq_block_size: int = field(default=8, metadata={"help": "block size of PQ noise"})
    quant_noise_scalar: float = field(default=0.0, metadata={"help": "scalar quantization noise"})
    checkpoint_activations: bool = field(
        default=False, metadata={"help": "recompute activations in backward to save memory"}
    )
    offload_activations: bool = field(
        default=False, metadata={"help": "offload checkpointed activations to CPU (implies checkpointing)"}
    )
    min_params_to_wrap: int = field(
        default=DEFAULT_MIN_PARAMS_TO_WRAP, metadata={"help": "FSDP: minimum parameters to wrap a layer"}
    )
    # --- ours ---
    use_lang_embeddings: bool = field(
        default=False, metadata={"help": "add a learned language embedding to every token (as XLM-15)"}
    )
    langs: str = field(
        default="",
        metadata={
            "help": "ordered languages of the language-embedding table; empty: taken from the task's "
            "--langs when training, and stored in checkpoints"
        },
    )
    input_lang: str = field(
        default="",
        metadata={
            "help": "language whose embedding is added when a batch carries no language ids, as with "
            "fairseq's sentence_prediction task (fine-tune XNLI with --input-lang en); empty: none"
        },
    )
    ntxent_pooling: POOLING_CHOICES = field(
        default="first",
        metadata={"help": "sentence embedding for NT-Xent: first token (SE), max-pool (ME) or mean over real tokens"},
    )
    ntxent_layer: int = field(
        default=-1,
        metadata={"help": "layer whose output is pooled: 0 = embeddings, 1..L = Transformer layers, -1 = last"},
    )
    ntxent_proj_dim: int = field(
        default=128,
        metadata={"help": "output size of the Linear-ReLU-Linear projection head used by NT-Xent; 0: no head"},
    )
    ntxent_queue_size: int = field(
        default=0,
        metadata={
            "help": "extra NT-Xent negatives kept from earlier batches, encoded by a momentum encoder "
            "(MoCo/InfoXLM); each costs ntxent_proj_dim floats; 0: in-batch negatives only"
        },
    )
    ntxent_momentum: float = field(
        default=0.999, metadata={"help": "EMA momentum of the encoder that fills the negatives queue"}
    )


def unwrap(model):
    """The model inside DistributedDataParallel-style wrappers."""
    while hasattr(model, "module"):
        model = model.module
    return model


def pooled_features(sentence_encoder, src_tokens, pooling: str, layer: int, **inputs):
    """Sentence embeddings from one layer (0 = embeddings, 1..L, -1 = last) of a sentence encoder."""
    return encode_and_pool(sentence_encoder, src_tokens, pooling, layer, **inputs)[0]


def encode_and_pool(sentence_encoder, src_tokens, pooling: str, layer: int, positions=None, lang_ids=None,
                    segments=None, view_index=None, view_padding=None, **unused):
    """One forward: (sentence embeddings pooled from `layer`, B x T x C output of the last layer).

    One sentence a row: B x C embeddings. Packed rows (data.collate.pack_views): each token attends only
    within its segment, and view_index / view_padding gather every sentence's tokens for pooling: V x C."""
    last = layer in (-1, len(sentence_encoder.layers))
    out = sentence_encoder(src_tokens, return_all_hiddens=not last, positions=positions, lang_ids=lang_ids,
                           segments=segments)
    final = out["encoder_out"][0].transpose(0, 1)
    features = final if last else out["encoder_states"][layer].transpose(0, 1)
    if view_index is None:
        return pool(features, out["encoder_padding_mask"][0], pooling), final
    per_view = features.reshape(-1, features.size(-1))[view_index]  # V x width x C
    return pool(per_view, view_padding, pooling), final


def segment_attention_mask(segments: torch.Tensor, heads: int) -> torch.Tensor:
    """(B * heads) x T x T, True where a query may not look: at a key of another segment (sentence).
    Padding (segment -1) may look anywhere, as in unpacked rows: a query with every key masked would give
    NaN in some attention kernels. Nothing reads the padding's outputs, and no real token sees padding
    (the key padding mask)."""
    other = segments.unsqueeze(2).ne(segments.unsqueeze(1)) & segments.unsqueeze(2).ge(0)
    return other.repeat_interleave(heads, dim=0)


def pool(features: torch.Tensor, padding_mask: torch.Tensor, how: str) -> torch.Tensor:
    """B x T x C features -> B x C sentence embeddings; padding never takes part."""
    if how == "first":
        return features[:, 0]
    real = ~padding_mask.unsqueeze(-1)
    if how == "max":
        return features.masked_fill(~real, float("-inf")).max(dim=1).values
    if how == "mean":
        real = real.type_as(features)
        return (features * real).sum(dim=1) / real.sum(dim=1).clamp(min=1)
    raise ValueError(f"unknown pooling '{how}' (expected first, max or mean)")


class ProjectionHead(nn.Module):
    """SimCLR's g(h) = W2 ReLU(W1 h): the loss is computed on g(h), the representation kept is h."""

    def __init__(self, dim: int, out_dim: int):
        super().__init__()
        self.dense = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, out_dim)

    def forward(self, x):
        return self.out_proj(F.relu(self.dense(x)))


class ContrastiveXLMSentenceEncoder(TransformerEncoder):
    """fairseq's TransformerEncoder that also takes 0-based positions (restarting for TLM's second
    sentence) and language ids. Without them it computes exactly what TransformerEncoder computes."""

    def __init__(self, args, dictionary, embed_tokens, num_langs: int, default_lang_id: Optional[int] = None):
        super().__init__(args, dictionary, embed_tokens)
        self.embed_langs = nn.Embedding(num_langs, embed_tokens.embedding_dim) if num_langs else None
        self.default_lang_id = default_lang_id  # used when a batch carries no language ids

    def forward_embedding(self, src_tokens, token_embedding=None, positions=None, lang_ids=None):
        if token_embedding is None:
            token_embedding = self.embed_tokens(src_tokens)
        x = embed = self.embed_scale * token_embedding
        if self.embed_positions is not None:
            if positions is None:
                x = x + self.embed_positions(src_tokens)
            else:
                # fairseq numbers positions from padding_idx + 1 and gives padding the padding row.
                padded = positions + self.padding_idx + 1
                padded = padded.masked_fill(src_tokens.eq(self.padding_idx), self.padding_idx)
                x = x + F.embedding(padded, self.embed_positions.weight, self.padding_idx)
        if self.embed_langs is not None:
            if lang_ids is not None:
                x = x + self.embed_langs(lang_ids)
            elif self.default_lang_id is not None:
                x = x + self.embed_langs.weight[self.default_lang_id]
        if self.layernorm_embedding is not None:
            x = self.layernorm_embedding(x)
        x = self.dropout_module(x)
        if self.quant_noise is not None:
            x = self.quant_noise(x)
        return x, embed

    def forward(
        self,
        src_tokens,
        src_lengths=None,
        return_all_hiddens: bool = False,
        token_embeddings=None,
        positions=None,
        lang_ids=None,
        segments=None,
    ):
        padding_mask = src_tokens.eq(self.padding_idx)
        has_pads = bool(padding_mask.any())
        x, embed = self.forward_embedding(src_tokens, token_embeddings, positions, lang_ids)
        if has_pads:
            x = x * (1 - padding_mask.unsqueeze(-1).type_as(x))
        x = x.transpose(0, 1)  # B x T x C -> T x B x C
        attn_mask = None
        if segments is not None:  # packed sentences
            attn_mask = segment_attention_mask(segments, self.layers[0].self_attn.num_heads)
        states = [x] if return_all_hiddens else []
        for layer in self.layers:
            x = layer(x, encoder_padding_mask=padding_mask if has_pads else None, attn_mask=attn_mask)
            if return_all_hiddens:
                states.append(x)
        if self.layer_norm is not None:
            x = self.layer_norm(x)
        return {
            "encoder_out": [x],
            "encoder_padding_mask": [padding_mask],
            "encoder_embedding": [embed],
            "encoder_states": states,
            "src_tokens": [],
            "src_lengths": [],
        }


class ContrastiveXLMEncoder(RobertaEncoder):
    def build_encoder(self, args, dictionary, embed_tokens):
        langs = args.langs.split(",") if args.use_lang_embeddings else []
        default = langs.index(args.input_lang) if args.input_lang and langs else None
        encoder = ContrastiveXLMSentenceEncoder(args, dictionary, embed_tokens, len(langs), default)
        encoder.apply(init_bert_params)
        return encoder

    def forward(
        self,
        src_tokens,
        features_only=False,
        return_all_hiddens=False,
        masked_tokens=None,
        positions=None,
        lang_ids=None,
        **unused,
    ):
        x, extra = self.extract_features(src_tokens, return_all_hiddens, positions=positions, lang_ids=lang_ids)
        if not features_only:
            x = self.output_layer(x, masked_tokens=masked_tokens)
        return x, extra

    def extract_features(self, src_tokens, return_all_hiddens=False, positions=None, lang_ids=None, **kwargs):
        out = self.sentence_encoder(
            src_tokens,
            return_all_hiddens=return_all_hiddens,
            token_embeddings=kwargs.get("token_embeddings"),
            positions=positions,
            lang_ids=lang_ids,
        )
        features = out["encoder_out"][0].transpose(0, 1)  # T x B x C -> B x T x C
        return features, {
            "inner_states": out["encoder_states"] if return_all_hiddens else None,
            "padding_mask": out["encoder_padding_mask"][0],
        }


@register_model("contrastive_xlm", dataclass=ContrastiveXLMConfig)
class ContrastiveXLMModel(RobertaModel):
    def __init__(self, args, encoder, with_ntxent_head=True):
        super().__init__(args, encoder)  # BERT initialisation of everything built so far
        dim = args.encoder_embed_dim
        with_ntxent_head = with_ntxent_head and args.ntxent_proj_dim > 0
        self.ntxent_head = ProjectionHead(dim, args.ntxent_proj_dim) if with_ntxent_head else None
        if self.ntxent_head is not None:
            self.ntxent_head.apply(init_bert_params)
        # Not a submodule: see momentum_queue.py for why it stays out of the module tree.
        size = getattr(args, "ntxent_queue_size", 0)
        self.ntxent_queue = MomentumQueue(size, args.ntxent_momentum) if size > 0 and self.ntxent_head is not None else None
        langs = self.encoder.sentence_encoder.embed_langs
        if langs is not None:
            # Zero: a pretrained XLM-R continued with language embeddings starts as exactly itself.
            nn.init.zeros_(langs.weight)

    @classmethod
    def add_args(cls, parser):
        # RobertaModel declares its options with argparse; every option of ours comes from the dataclass.
        # No defaults here, so that architecture functions can fill what the command line leaves unset.
        gen_parser_from_dataclass(parser, ContrastiveXLMConfig(), delete_default=True)

    @classmethod
    def build_model(cls, args, task):
        if OmegaConf.is_config(args):
            OmegaConf.set_struct(args, False)
        base_architecture(args)
        task_langs = getattr(task, "langs", None)
        if task_langs:
            if not args.langs:
                args.langs = ",".join(task_langs)
            elif args.langs.split(",") != list(task_langs):
                raise UserInputError(
                    f"the model's --langs ({args.langs}) differ from the task's --langs "
                    f"({','.join(task_langs)}): language ids would not match their embeddings"
                )
        if args.use_lang_embeddings and not args.langs:
            args.langs = XNLI_LANGS
        if args.use_lang_embeddings and args.input_lang and args.input_lang not in args.langs.split(","):
            raise UserInputError(f"--input-lang {args.input_lang} is not among the model's languages ({args.langs})")
        num_layers = args.encoder_layers
        if not -num_layers - 1 <= args.ntxent_layer <= num_layers:
            raise UserInputError(f"--ntxent-layer {args.ntxent_layer} is outside the model's layers 0..{num_layers}")
        encoder = ContrastiveXLMEncoder(args, task.source_dictionary)
        if OmegaConf.is_config(args):
            OmegaConf.set_struct(args, True)
        # A run without the contrastive objective builds no projection head: an unused head would make
        # DistributedDataParallel fail (it expects a gradient for every parameter).
        return cls(args, encoder, with_ntxent_head=getattr(task, "has_ntxent", True))

    @property
    def langs(self):
        return self.args.langs.split(",") if self.args.langs else []

    def forward(self, src_tokens, ntxent_projection=False, masked_tokens=None, **kwargs):
        """As RoBERTa (MLM logits, features or classification head), and with ntxent_projection=True the
        projected sentence embeddings that NT-Xent compares (of packed views too: see encode_and_pool); if
        masked_tokens is given, the same forward also returns the MLM logits of those tokens as
        extra["lm_logits"] (masked views, --mlm-on-views).
        Criterions call this through the (possibly DistributedDataParallel-wrapped) model, so every use of
        the weights is synchronised."""
        if ntxent_projection:
            embeddings, final = encode_and_pool(
                self.encoder.sentence_encoder, src_tokens, self.args.ntxent_pooling, self.args.ntxent_layer, **kwargs
            )
            extra = {}
            if masked_tokens is not None:
                extra["lm_logits"] = self.encoder.output_layer(final, masked_tokens=masked_tokens)
            return (self.ntxent_head(embeddings) if self.ntxent_head is not None else embeddings), extra
        return super().forward(src_tokens, masked_tokens=masked_tokens, **kwargs)

    def sentence_embedding(self, src_tokens, positions=None, lang_ids=None, pooling=None, layer=None, **unused):
        """B x C sentence embeddings (before the projection head) pooled from one layer's output."""
        return pooled_features(
            self.encoder.sentence_encoder,
            src_tokens,
            pooling or self.args.ntxent_pooling,
            self.args.ntxent_layer if layer is None else layer,
            positions=positions,
            lang_ids=lang_ids,
        )

    def upgrade_state_dict_named(self, state_dict, name):
        super().upgrade_state_dict_named(state_dict, name)
        prefix = name + "." if name else ""
        ours = ("encoder.sentence_encoder.embed_langs.", "ntxent_head.")
        current = self.state_dict()
        initialised = [k for k in current if k.startswith(ours) and prefix + k not in state_dict]
        for key in initialised:
            state_dict[prefix + key] = current[key]
        if initialised:
            logger.info("not in the checkpoint, keeping their initial values: %s", ", ".join(initialised))
        unused = [k for k in state_dict if k[len(prefix):].startswith(ours) and k[len(prefix):] not in current]
        for key in unused:
            del state_dict[key]
        if unused:
            logger.info("in the checkpoint but not in this model, not loaded: %s", ", ".join(unused))
        mismatched = [
            f"{key} {_shape(state_dict[prefix + key])} (model: {_shape(value)})"
            for key, value in current.items()
            if prefix + key in state_dict and state_dict[prefix + key].shape != value.shape
        ]
        if mismatched:
            raise UserInputError(
                "the checkpoint was made for another model shape; build this one with the checkpoint's sizes "
                "(--encoder-embed-dim, --encoder-ffn-embed-dim, --max-positions, --langs, the same dictionary): "
                + "; ".join(mismatched[:5])
                + (f"; and {len(mismatched) - 5} more" if len(mismatched) > 5 else "")
            )


def _shape(tensor) -> str:
    return "x".join(str(d) for d in tensor.shape)


def base_architecture(args):
    """XLM-R base: 12 layers, 768 hidden, 12 heads, 3072 FFN. register_model() already registered the
    architecture 'contrastive_xlm' with the dataclass defaults (the same shape); this fills whatever an
    older or partial config lacks, then RoBERTa's fixed choices (learned positions, no scaling)."""
    args.encoder_layers = safe_getattr(args, "encoder_layers", 12)
    args.encoder_embed_dim = safe_getattr(args, "encoder_embed_dim", 768)
    args.encoder_ffn_embed_dim = safe_getattr(args, "encoder_ffn_embed_dim", 3072)
    args.encoder_attention_heads = safe_getattr(args, "encoder_attention_heads", 12)
    args.use_lang_embeddings = safe_getattr(args, "use_lang_embeddings", False)
    args.langs = safe_getattr(args, "langs", "")
    args.input_lang = safe_getattr(args, "input_lang", "")
    args.ntxent_pooling = safe_getattr(args, "ntxent_pooling", "first")
    args.ntxent_layer = safe_getattr(args, "ntxent_layer", -1)
    args.ntxent_proj_dim = safe_getattr(args, "ntxent_proj_dim", 128)
    args.ntxent_queue_size = safe_getattr(args, "ntxent_queue_size", 0)
    args.ntxent_momentum = safe_getattr(args, "ntxent_momentum", 0.999)
    roberta_base_architecture(args)


@register_model_architecture("contrastive_xlm", "contrastive_xlm_large")
def large_architecture(args):
    """XLM-R large: 24 layers, 1024 hidden, 16 heads, 4096 FFN."""
    args.encoder_layers = safe_getattr(args, "encoder_layers", 24)
    args.encoder_embed_dim = safe_getattr(args, "encoder_embed_dim", 1024)
    args.encoder_ffn_embed_dim = safe_getattr(args, "encoder_ffn_embed_dim", 4096)
    args.encoder_attention_heads = safe_getattr(args, "encoder_attention_heads", 16)
    base_architecture(args)


@register_model_architecture("contrastive_xlm", "contrastive_xlm_15")
def xlm_15_architecture(args):
    """The original 15-language XLM (MLM+TLM): 12 layers, 1024 hidden, 8 heads, 4096 FFN, language
    embeddings for the 15 XNLI languages."""
    args.encoder_layers = safe_getattr(args, "encoder_layers", 12)
    args.encoder_embed_dim = safe_getattr(args, "encoder_embed_dim", 1024)
    args.encoder_ffn_embed_dim = safe_getattr(args, "encoder_ffn_embed_dim", 4096)
    args.encoder_attention_heads = safe_getattr(args, "encoder_attention_heads", 8)
    args.use_lang_embeddings = safe_getattr(args, "use_lang_embeddings", True)
    base_architecture(args)
