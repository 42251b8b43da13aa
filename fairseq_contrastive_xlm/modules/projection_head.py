"""SimCLR's projection head."""

import torch.nn as nn
import torch.nn.functional as F


class ProjectionHead(nn.Module):
    """g(h) = W2 ReLU(W1 h) (SimCLR), or g(h) = W h with hidden = 0: the loss is computed on g(h), the
    representation kept is h."""

    def __init__(self, dim: int, out_dim: int, hidden: int = None):
        super().__init__()
        hidden = dim if hidden is None else hidden
        self.dense = nn.Linear(dim, hidden) if hidden else None
        self.out_proj = nn.Linear(hidden or dim, out_dim)

    def forward(self, x):
        return self.out_proj(F.relu(self.dense(x)) if self.dense is not None else x)
