"""The building blocks of contrastive_xlm, apart from the registered model (as fairseq's linformer example
keeps modules/ apart from models/)."""

from .lm_head import XLMLMHead
from .momentum_queue import MomentumQueue
from .projection_head import ProjectionHead
from .sentence_encoder import (
    POOLINGS,
    SENTENCE_ENCODER,
    ContrastiveXLMSentenceEncoder,
    encode_and_pool,
    pool,
    segment_attention_mask,
    views_dropout,
)

__all__ = [
    "POOLINGS",
    "SENTENCE_ENCODER",
    "ContrastiveXLMSentenceEncoder",
    "MomentumQueue",
    "ProjectionHead",
    "encode_and_pool",
    "pool",
    "segment_attention_mask",
    "XLMLMHead",
    "views_dropout",
]
