"""XLM's MLM output layer."""

import torch
import torch.nn as nn
import torch.nn.functional as F


class XLMLMHead(nn.Module):
    """XLM's pred_layer: logits = features @ embeddings^T + bias, with no dense layer or LayerNorm before it
    (RoBERTa's head has both). `weight` is the input embedding matrix, shared."""

    def __init__(self, weight: nn.Parameter, output_dim: int):
        super().__init__()
        self.weight = weight
        self.bias = nn.Parameter(torch.zeros(output_dim))

    def forward(self, features, masked_tokens=None, **unused):
        if masked_tokens is not None:
            features = features[masked_tokens, :]
        return F.linear(features, self.weight) + self.bias
