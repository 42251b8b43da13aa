"""Self-attention weights of one layer, per head, as the model computes them (for cxlm-attention's heatmaps)."""

import contextlib

import torch

from ..errors import UserInputError
from ..models.contrastive_xlm import language_ids


@contextlib.contextmanager
def per_head_weights(attn):
    """fairseq's MultiheadAttention returns weights per head only off its fused fast path, which can only give
    their mean; skip_embed_dim_check is the switch fairseq itself uses to stay off that path."""
    fast = attn.skip_embed_dim_check
    attn.skip_embed_dim_check = True
    try:
        yield
    finally:
        attn.skip_embed_dim_check = fast


def head_weights(attn, x: torch.Tensor, key_padding_mask=None) -> torch.Tensor:
    """B x heads x T x T self-attention weights of fairseq's MultiheadAttention `attn` for input x (T x B x C)."""
    with per_head_weights(attn):
        _, weights = attn(
            query=x, key=x, value=x, key_padding_mask=key_padding_mask, need_weights=True, need_head_weights=True
        )
    return weights.float().transpose(0, 1)  # fairseq gives heads x B x T x T


@torch.no_grad()
def attention(model, tokens: torch.Tensor, layer: int, lang: str) -> torch.Tensor:
    """Heads x T x T attention weights of one layer (1-based) for a single sequence."""
    layers = model.encoder.sentence_encoder.layers
    if not 1 <= layer <= len(layers):
        raise UserInputError(f"--layer {layer}: the model has layers 1..{len(layers)}")
    captured = {}

    def keep_inputs(module, args, kwargs):
        captured.update(kwargs)

    handle = layers[layer - 1].self_attn.register_forward_pre_hook(keep_inputs, with_kwargs=True)
    try:
        model(tokens, features_only=True, lang_ids=language_ids(model, lang, tokens))
    finally:
        handle.remove()
    return head_weights(layers[layer - 1].self_attn, captured["query"], captured.get("key_padding_mask"))[0]
