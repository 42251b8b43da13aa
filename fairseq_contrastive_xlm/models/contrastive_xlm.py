"""contrastive_xlm: RoBERTa/XLM-R with explicit positions, optional language embeddings, sentence pooling
and a SimCLR projection head for the NT-Xent loss.

The parameter names are RoBERTa's, so fairseq RoBERTa/XLM-R checkpoints load with --restore-file;
the parameters they lack (language embeddings, projection head) keep their initial values and are
listed in the log. fairseq's sentence_prediction task fine-tunes the model unchanged.
"""

import logging
import math
from typing import Optional

import torch
import torch.nn as nn
from fairseq.dataclass.utils import gen_parser_from_dataclass
from fairseq.models import register_model, register_model_architecture
from fairseq.models.roberta import RobertaEncoder, RobertaModel
from fairseq.models.roberta.model import base_architecture as roberta_base_architecture
from fairseq.modules.transformer_sentence_encoder import init_bert_params
from fairseq.utils import safe_getattr
from omegaconf import OmegaConf

from ..errors import UserInputError
from ..languages import XNLI_LANGUAGES
from ..model_wrappers import data_parallel_group
from ..modules import (
    SENTENCE_ENCODER,
    ContrastiveXLMSentenceEncoder,
    MomentumQueue,
    ProjectionHead,
    XLMLMHead,
    encode_and_pool,
    views_dropout,
)
from .config import DEFAULTS, ContrastiveXLMConfig

logger = logging.getLogger(__name__)


class ContrastiveXLMEncoder(RobertaEncoder):
    def build_encoder(self, args, dictionary, embed_tokens):
        langs = args.langs.split(",") if args.use_lang_embeddings else []
        default = langs.index(args.input_lang) if args.input_lang and langs else None
        encoder = ContrastiveXLMSentenceEncoder(args, dictionary, embed_tokens, len(langs), default)
        encoder.apply(init_bert_params)
        return encoder

    def build_lm_head(self, embed_dim, output_dim, activation_fn, weight):
        if self.args.lm_head == "xlm":
            return XLMLMHead(weight, output_dim)
        return super().build_lm_head(embed_dim, output_dim, activation_fn, weight)

    def forward(
        self,
        src_tokens,
        features_only=False,
        return_all_hiddens=False,
        masked_tokens=None,
        positions=None,
        lang_ids=None,
        segments=None,
        **unused,
    ):
        x, extra = self.extract_features(
            src_tokens, return_all_hiddens, positions=positions, lang_ids=lang_ids, segments=segments
        )
        if not features_only:
            x = self.output_layer(x, masked_tokens=masked_tokens)
        return x, extra

    def extract_features(
        self, src_tokens, return_all_hiddens=False, positions=None, lang_ids=None, segments=None, **kwargs
    ):
        """segments: packed rows (data.collate.pack_views), each token attending only within its own sentence."""
        out = self.sentence_encoder(
            src_tokens,
            return_all_hiddens=return_all_hiddens,
            token_embeddings=kwargs.get("token_embeddings"),
            positions=positions,
            lang_ids=lang_ids,
            segments=segments,
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
        for module in self.modules():  # fairseq builds its LayerNorms with its own epsilon (1e-5)
            if "LayerNorm" in type(module).__name__ and hasattr(module, "eps"):
                module.eps = args.layernorm_eps
        dim = args.encoder_embed_dim
        self.ntxent_head = None
        if with_ntxent_head and args.ntxent_proj_dim > 0 and args.ntxent_head != "none":
            hidden = args.ntxent_head_hidden or dim
            self.ntxent_head = ProjectionHead(dim, args.ntxent_proj_dim, hidden if args.ntxent_head == "mlp" else 0)
            self.ntxent_head.apply(init_bert_params)
        self.ntxent_log_scale = None
        if with_ntxent_head and args.ntxent_learned_temperature > 0:  # CLIP: the logit scale 1 / tau, as a logarithm
            self.ntxent_log_scale = nn.Parameter(torch.tensor(math.log(1.0 / args.ntxent_learned_temperature)))
        # Not a submodule: see modules/momentum_queue.py for why it stays out of the module tree.
        size = getattr(args, "ntxent_queue_size", 0)
        self.ntxent_queue = None
        if size > 0 and self.ntxent_head is not None:
            self.ntxent_queue = MomentumQueue(size, args.ntxent_momentum, args.ntxent_pooling, args.ntxent_layer)
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
        if safe_getattr(args, "max_positions") is None:  # as RobertaModel: the task's longest sample
            task_positions = task.max_positions()
            args.max_positions = task_positions if isinstance(task_positions, int) else 512
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
            args.langs = ",".join(XNLI_LANGUAGES)
        if args.use_lang_embeddings and args.input_lang and args.input_lang not in args.langs.split(","):
            raise UserInputError(f"--input-lang {args.input_lang} is not among the model's languages ({args.langs})")
        if args.ntxent_temperature <= 0:
            raise UserInputError(f"--ntxent-temperature must be > 0, got {args.ntxent_temperature}")
        num_layers = args.encoder_layers
        if not -num_layers - 1 <= args.ntxent_layer <= num_layers:
            raise UserInputError(f"--ntxent-layer {args.ntxent_layer} is outside the model's layers 0..{num_layers}")
        if args.offload_activations:  # as fairseq's transformer: offloading is a way of checkpointing
            args.checkpoint_activations = True
        encoder = ContrastiveXLMEncoder(args, task.source_dictionary)
        if OmegaConf.is_config(args):
            OmegaConf.set_struct(args, True)
        # A run without the contrastive objective builds no projection head: an unused head would make
        # DistributedDataParallel fail (it expects a gradient for every parameter).
        return cls(args, encoder, with_ntxent_head=getattr(task, "has_ntxent", True))

    @property
    def langs(self):
        return self.args.langs.split(",") if self.args.langs else []

    def forward(self, src_tokens, ntxent_projection=False, masked_tokens=None, sentence_ids=None, pairs=None, **kwargs):
        """As RoBERTa (MLM logits, features or classification head), and with ntxent_projection=True the
        projected sentence embeddings that NT-Xent compares (of packed views too: see encode_and_pool), with
        in extra:
        - "temperature", to compare them at (ntxent_temperature());
        - "lm_logits", the MLM logits of masked_tokens from the same forward (masked views, --mlm-on-views);
        - "negatives" and "negative_ids", with a negatives queue in training: the queue's keys and their sentence
          ids as they were before this batch; then this batch's views (rows: the a sides, then the b sides, whose
          ids are sentence_ids; only the first `pairs` of each side, None: all) join the queue, from every worker.
          The queue reads and writes in this one place, in MoCo's order (modules/momentum_queue.py).
        Criterions call this through the (possibly DistributedDataParallel-wrapped) model, so every use of
        the weights is synchronised."""
        if not ntxent_projection:
            return super().forward(src_tokens, masked_tokens=masked_tokens, **kwargs)
        with views_dropout(self.encoder.sentence_encoder, self.args.ntxent_dropout):
            embeddings, final = encode_and_pool(
                self.encoder.sentence_encoder, src_tokens, self.args.ntxent_pooling, self.args.ntxent_layer, **kwargs
            )
        # Through the (DDP-wrapped) forward, as every weight used: a learned temperature takes gradient.
        extra = {"temperature": self.ntxent_temperature()}
        if masked_tokens is not None:
            extra["lm_logits"] = self.encoder.output_layer(final, masked_tokens=masked_tokens)
        if self.ntxent_queue is not None and self.training and sentence_ids is not None:
            extra["negatives"], extra["negative_ids"] = self.ntxent_queue.snapshot()
            self.ntxent_queue.enqueue(
                self._ntxent_online(), sentence_ids, data_parallel_group(), pairs, src_tokens=src_tokens, **kwargs
            )
        return (self.ntxent_head(embeddings) if self.ntxent_head is not None else embeddings), extra

    def sentence_embedding(self, src_tokens, positions=None, lang_ids=None, pooling=None, layer=None, **unused):
        """B x C sentence embeddings (before the projection head) pooled from one layer's output."""
        return encode_and_pool(
            self.encoder.sentence_encoder,
            src_tokens,
            pooling or self.args.ntxent_pooling,
            self.args.ntxent_layer if layer is None else layer,
            positions=positions,
            lang_ids=lang_ids,
        )[0]

    def ntxent_temperature(self):
        """NT-Xent's temperature: the fixed --ntxent-temperature (a float), or the learned one (a tensor that takes
        gradient; --ntxent-learned-temperature). As CLIP, the logit scale 1 / tau is clamped at 100 (tau >= 0.01)."""
        if self.ntxent_log_scale is None:
            return self.args.ntxent_temperature
        return 1.0 / self.ntxent_log_scale.clamp(max=math.log(100.0)).exp()

    # The negatives queue (MoCo): forward reads and fills it; the task moves the momentum encoder after every
    # optimizer step, the one place that sees the weights change (once per update, whatever --update-freq).

    def _ntxent_online(self):
        return nn.ModuleList([self.encoder.sentence_encoder, self.ntxent_head])

    def momentum_update(self):
        """The momentum encoder takes a step towards the model's weights (after an optimizer step)."""
        if self.ntxent_queue is not None:
            self.ntxent_queue.update(self._ntxent_online())

    # The negatives queue travels in the model's state dict, so that fairseq's checkpoints carry it and a resumed run
    # continues the run it resumes; it stays out of the module tree all the same (modules/momentum_queue.py).

    def state_dict(self, *args, destination=None, prefix="", keep_vars=False):
        state = super().state_dict(*args, destination=destination, prefix=prefix, keep_vars=keep_vars)
        if self.ntxent_queue is not None:
            for key, value in self.ntxent_queue.state_dict().items():
                state[prefix + QUEUE_PREFIX + key] = value
        return state

    def load_state_dict(self, state_dict, strict=True, model_cfg=None, args=None):
        queue = {k[len(QUEUE_PREFIX) :]: v for k, v in state_dict.items() if k.startswith(QUEUE_PREFIX)}
        if queue:
            state_dict = {k: v for k, v in state_dict.items() if not k.startswith(QUEUE_PREFIX)}
        if self.ntxent_queue is not None:
            try:
                restored = self.ntxent_queue.load_state_dict(queue, self._ntxent_online())
            except (KeyError, RuntimeError) as err:
                raise UserInputError(f"the checkpoint's negatives queue does not fit this model: {err}") from None
            if not restored:
                logger.warning(
                    "the checkpoint carries no negatives queue of %d keys (written before checkpoints kept it, by a "
                    "run without one, or with another --ntxent-queue-size): the momentum encoder starts as a copy "
                    "of the model and the queue empty",
                    self.ntxent_queue.size,
                )
        return super().load_state_dict(state_dict, strict, model_cfg, args)

    def upgrade_state_dict_named(self, state_dict, name):
        super().upgrade_state_dict_named(state_dict, name)
        prefix = name + "." if name else ""
        ours = (SENTENCE_ENCODER + "embed_langs.", "ntxent_head.", "ntxent_log_scale")
        current = self.state_dict()
        initialised = [k for k in current if k.startswith(ours) and prefix + k not in state_dict]
        for key in initialised:
            state_dict[prefix + key] = current[key]
        if initialised:
            logger.info("not in the checkpoint, keeping their initial values: %s", ", ".join(initialised))
        unused = [k for k in state_dict if k[len(prefix) :].startswith(ours) and k[len(prefix) :] not in current]
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


QUEUE_PREFIX = "ntxent_queue."


def language_ids(model, lang: Optional[str], like: torch.Tensor) -> Optional[torch.Tensor]:
    """The language-id tensor for `lang` (shaped like `like`) if the model has language embeddings, else None
    (also for lang None with a model that has an --input-lang: the encoder adds that one)."""
    langs = getattr(model, "langs", [])
    encoder = getattr(model.encoder, "sentence_encoder", None)
    if getattr(encoder, "embed_langs", None) is None:
        return None
    if lang is None and encoder.default_lang_id is not None:
        return None  # the encoder adds its --input-lang's embedding
    if lang is None:
        raise UserInputError(f"the model has language embeddings: say which language (one of {','.join(langs)})")
    if lang not in langs:
        raise UserInputError(f"language {lang} is not among the model's languages ({','.join(langs)})")
    return torch.full_like(like, langs.index(lang))


def _shape(tensor) -> str:
    return "x".join(str(d) for d in tensor.shape)


def base_architecture(args):
    """XLM-R base (the dataclass defaults: 12 layers, 768 hidden, 12 heads, 3072 FFN) for whatever the
    command line, config or checkpoint leaves unset, then RoBERTa's fixed choices (learned positions, no
    scaling)."""
    for name, default in DEFAULTS.items():
        setattr(args, name, safe_getattr(args, name, default))
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
    """The original 15-language XLM (MLM+TLM): 12 layers, 1024 hidden, 8 heads, 4096 FFN, 512 positions, language
    embeddings for the 15 XNLI languages, XLM's output layer and LayerNorm epsilon (cxlm-import xlm's model)."""
    args.encoder_layers = safe_getattr(args, "encoder_layers", 12)
    args.encoder_embed_dim = safe_getattr(args, "encoder_embed_dim", 1024)
    args.encoder_ffn_embed_dim = safe_getattr(args, "encoder_ffn_embed_dim", 4096)
    args.encoder_attention_heads = safe_getattr(args, "encoder_attention_heads", 8)
    args.use_lang_embeddings = safe_getattr(args, "use_lang_embeddings", True)
    args.max_positions = safe_getattr(args, "max_positions", 512)
    args.lm_head = safe_getattr(args, "lm_head", "xlm")
    args.layernorm_eps = safe_getattr(args, "layernorm_eps", 1e-12)
    base_architecture(args)
