"""MLM and TLM perplexity of one language's or one pair's dataset, from the criterion's own LM loss (never
the contrastive term), and bits per character. Validation and test masks are fixed (epoch 1), so the numbers are
reproducible."""

import json
import math
import os
from typing import Optional, Tuple

import numpy as np
import torch
from fairseq import utils


@torch.no_grad()
def masked_lm_loss(model, criterion, dataset, batch_size: int = 32) -> Tuple[float, int]:
    """(summed cross-entropy in nats, masked tokens) over every item of one MaskedBlocks/TLMPairs dataset."""
    device = next(model.parameters()).device
    order = np.argsort(dataset.sizes, kind="stable")  # similar lengths together: little padding
    total, tokens = 0.0, 0
    for start in range(0, len(order), batch_size):
        batch = dataset.collater([dataset[int(i)] for i in order[start : start + batch_size]])
        if device.type == "cuda":
            batch = utils.move_to_cuda(batch, device)
        loss, count = criterion.masked_lm_loss(model, batch)
        total += float(loss)
        tokens += int(count)
    return total, tokens


def perplexity(loss_nats: float, tokens: int) -> float:
    """2 ** (loss in bits per token), as fairseq derives perplexity; equal to exp(nats per token)."""
    try:
        return 2 ** (loss_nats / max(tokens, 1) / math.log(2))
    except OverflowError:
        return float("inf")


def split_lengths(data: str, kind: str, name: str, split: str) -> Optional[Tuple[int, int]]:
    """(tokens, characters) of one language's (mlm) or one pair's (tlm) split, as cxlm-prepare recorded them in
    DATA/manifest.json; None where it records no characters (an older directory, or one prepared elsewhere)."""
    path = os.path.join(data, "manifest.json")
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        manifest = json.load(f)
    corpora = manifest.get("monolingual" if kind == "mlm" else "parallel") or {}
    names = [name] if kind == "mlm" else [name, "-".join(reversed(name.split("-")))]
    for candidate in names:
        counts = ((corpora.get(candidate) or {}).get("splits") or {}).get(split) or {}
        if counts.get("characters"):
            return int(counts["tokens"]), int(counts["characters"])
    return None


def bits_per_character(loss_nats: float, masked: int, tokens: int, characters: int) -> float:
    """The masked tokens' mean loss in bits, times the split's tokens per character: what the model pays a
    character, comparable across tokenizations where perplexity is not (a token counts for the characters it
    spells; <unk> for a whole run of characters it does not model, so compare where neither tokenizer has many)."""
    return loss_nats / max(masked, 1) / math.log(2) * tokens / characters
