"""SimCLR's projection head."""

import torch.nn as nn
import torch.nn.functional as F


class ProjectionHead(nn.Module):
    """g(h) = W2 ReLU(W1 h): the loss is computed on g(h), the representation kept is h."""

    def __init__(self, dim: int, out_dim: int):
        super().__init__()
        self.dense = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, out_dim)

    def forward(self, x):
        return self.out_proj(F.relu(self.dense(x)))
