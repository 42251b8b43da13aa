"""MLM and TLM perplexity of one language's or one pair's dataset, from the criterion's own LM loss (never
the contrastive term). Validation and test masks are fixed (epoch 1), so the numbers are reproducible."""

import math
from typing import Tuple

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
