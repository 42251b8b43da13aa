"""The sentence encoder of contrastive_xlm: fairseq's TransformerEncoder with explicit 0-based positions
(restarting at TLM's second sentence), optional language embeddings and packed sentences (several to a row,
each attending only within itself), and sentence embeddings pooled from any layer."""

import contextlib
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from fairseq.models.transformer import TransformerEncoder
from fairseq.modules.fairseq_dropout import FairseqDropout


def segment_attention_mask(segments: torch.Tensor, heads: int) -> torch.Tensor:
    """(B * heads) x T x T, True where a query may not look: at a key of another segment (sentence).
    Padding (segment -1) may look anywhere, as in unpacked rows: a query with every key masked would give
    NaN in some attention kernels. Nothing reads the padding's outputs, and no real token sees padding
    (the key padding mask)."""
    other = segments.unsqueeze(2).ne(segments.unsqueeze(1)) & segments.unsqueeze(2).ge(0)
    return other.repeat_interleave(heads, dim=0)


# Where the sentence encoder's weights sit in the model's state dict (RoBERTa's names, so XLM-R's load as they are).
SENTENCE_ENCODER = "encoder.sentence_encoder."

# How a sentence embedding is pooled from one layer's token states: the first token (the paper's "SE"), the max
# over real tokens ("ME"), or their mean.
POOLINGS = ("first", "max", "mean")


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
    raise ValueError(f"unknown pooling '{how}' (expected one of {', '.join(POOLINGS)})")


def encode_and_pool(
    sentence_encoder,
    src_tokens,
    pooling: str,
    layer: int,
    positions=None,
    lang_ids=None,
    segments=None,
    view_index=None,
    view_padding=None,
    **unused,
):
    """One forward: (sentence embeddings pooled from `layer` (0 = embeddings, 1..L, -1 = last), B x T x C
    output of the last layer).

    One sentence a row: B x C embeddings. Packed rows (data.collate.pack_views): each token attends only
    within its segment, and view_index / view_padding gather every sentence's tokens for pooling: V x C."""
    last = layer in (-1, len(sentence_encoder.layers))
    out = sentence_encoder(
        src_tokens, return_all_hiddens=not last, positions=positions, lang_ids=lang_ids, segments=segments
    )
    final = out["encoder_out"][0].transpose(0, 1)
    features = final if last else out["encoder_states"][layer].transpose(0, 1)
    if view_index is None:
        return pool(features, out["encoder_padding_mask"][0], pooling), final
    per_view = features.reshape(-1, features.size(-1))[view_index]  # V x width x C
    return pool(per_view, view_padding, pooling), final


@contextlib.contextmanager
def views_dropout(module, p):
    """Every dropout in `module` at probability p for the duration."""
    dropouts = [m for m in module.modules() if isinstance(m, FairseqDropout)]
    configured = [m.p for m in dropouts]
    for m in dropouts:
        m.p = p
    try:
        yield
    finally:
        for m, q in zip(dropouts, configured):
            m.p = q


class ContrastiveXLMSentenceEncoder(TransformerEncoder):
    """fairseq's TransformerEncoder that also takes 0-based positions (restarting for TLM's second
    sentence), language ids and packed sentences. Without them it computes exactly what
    TransformerEncoder computes."""

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
