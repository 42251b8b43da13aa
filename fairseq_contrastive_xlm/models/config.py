"""The options of contrastive_xlm: one dataclass field each, with its help and its one default (the command line,
the Hydra configs and the architectures all read them from here)."""

import dataclasses
from dataclasses import dataclass, field
from typing import Optional

from fairseq import utils
from fairseq.dataclass import ChoiceEnum, FairseqDataclass
from fairseq.models.transformer import DEFAULT_MIN_PARAMS_TO_WRAP

from ..modules import POOLINGS

POOLING_CHOICES = ChoiceEnum(list(POOLINGS))
LM_HEAD_CHOICES = ChoiceEnum(["roberta", "xlm"])
HEAD_CHOICES = ChoiceEnum(["mlp", "linear", "none"])
ACTIVATION_CHOICES = ChoiceEnum(utils.get_available_activation_fns())


@dataclass
class ContrastiveXLMConfig(FairseqDataclass):
    # --- Transformer shape; defaults are XLM-R base (architecture contrastive_xlm) ---
    encoder_layers: int = field(default=12, metadata={"help": "number of Transformer layers"})
    encoder_embed_dim: int = field(default=768, metadata={"help": "hidden size"})
    encoder_ffn_embed_dim: int = field(default=3072, metadata={"help": "feed-forward inner size"})
    encoder_attention_heads: int = field(default=12, metadata={"help": "attention heads per layer"})
    max_positions: Optional[int] = field(
        default=None,
        metadata={
            "help": "number of learned positions (XLM-R, XLM: 512); default: the task's longest sample "
            "(--tokens-per-sample), as RobertaModel does"
        },
    )
    activation_fn: ACTIVATION_CHOICES = field(default="gelu", metadata={"help": "feed-forward activation"})
    encoder_normalize_before: bool = field(
        default=False, metadata={"help": "pre-LayerNorm blocks (XLM-R and XLM are post-LayerNorm)"}
    )
    layernorm_embedding: bool = field(default=True, metadata={"help": "LayerNorm after the embeddings"})
    layernorm_eps: float = field(
        default=1e-5, metadata={"help": "epsilon of every LayerNorm (fairseq, XLM-R: 1e-5; XLM: 1e-12)"}
    )
    lm_head: LM_HEAD_CHOICES = field(
        default="roberta",
        metadata={
            "help": "MLM output layer: 'roberta' (dense, activation, LayerNorm, then the tied projection and a bias) "
            "or 'xlm' (the tied projection and a bias alone, as XLM's pred_layer)"
        },
    )
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
        default="mean",
        metadata={
            "help": "sentence embedding for NT-Xent: mean over real tokens, the first token (the paper's SE) or "
            "max over real tokens (ME)"
        },
    )
    ntxent_layer: int = field(
        default=-1,
        metadata={"help": "layer whose output is pooled: 0 = embeddings, 1..L = Transformer layers, -1 = last"},
    )
    ntxent_proj_dim: int = field(
        default=128,
        metadata={"help": "output size of the projection head used by NT-Xent; 0: no head"},
    )
    ntxent_head: HEAD_CHOICES = field(
        default="linear",
        metadata={
            "help": "the projection head's shape: 'linear' (one Linear layer), 'mlp' (SimCLR's Linear-ReLU-Linear, "
            "the paper's) or 'none' (NT-Xent compares the pooled embeddings themselves)"
        },
    )
    ntxent_head_hidden: int = field(
        default=0, metadata={"help": "hidden width of the 'mlp' head; 0: the model's width (--encoder-embed-dim)"}
    )
    ntxent_dropout: float = field(
        default=0.0,
        metadata={
            "help": "dropout of the NT-Xent views' forward (hidden, attention and activation dropout alike), apart "
            "from the MLM/TLM forwards, which keep the model's. 0: no dropout in the views; > 0: every dropout of "
            "the views' forward at this probability (the model's --dropout, say)"
        },
    )
    ntxent_temperature: float = field(
        default=0.1, metadata={"help": "tau: temperature dividing the cosine similarities of NT-Xent (fixed)"}
    )
    ntxent_learned_temperature: float = field(
        default=0.0,
        metadata={
            "help": "> 0: NT-Xent's temperature is learned, starting here, as CLIP learns its logit scale (clamped "
            "at 0.01, CLIP's scale of 100); 0: the fixed --ntxent-temperature"
        },
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


# Every option's default, read from the dataclass: register_model() registers the architecture
# 'contrastive_xlm' with them, and base_architecture fills them into an older or partial config.
DEFAULTS = {f.name: f.default for f in dataclasses.fields(ContrastiveXLMConfig) if not f.name.startswith("_")}
