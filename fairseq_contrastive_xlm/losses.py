"""NT-Xent (the SimCLR loss) over translation pairs, with negatives from every data-parallel worker.

Plain torch, independent of fairseq, so it can be tested on its own.

A batch of N translation pairs gives 2N views: a_1..a_N and b_1..b_N. The positive of a_i is exactly
b_i and the positive of b_i is exactly a_i; every other view, on this worker or any other, is a
negative. Each view is a query against all 2M gathered views but itself (M pairs on all workers):

    loss(q) = -log( exp(sim(q, pos(q)) / tau) / sum_{k != q} exp(sim(q, k) / tau) )

with cosine similarity. Each worker sums the loss over its own 2N views, so the sum over workers equals
the loss of one process holding the concatenated batch.
"""

from dataclasses import dataclass
from typing import Optional

import torch
import torch.distributed as dist
import torch.nn.functional as F


@dataclass
class NTXentResult:
    loss: torch.Tensor  # summed over this worker's 2N views, float32
    correct: torch.Tensor  # how many of those views rank their translation first
    views: int  # 2N
    temperature: float = 0.0  # the temperature used (the criterion records it: fixed or learned)


def _world(group) -> int:
    if not (dist.is_available() and dist.is_initialized()):
        return 1
    return dist.get_world_size(group=group)


class _AllGatherWithGrad(torch.autograd.Function):
    """all_gather whose backward sends each worker the gradient that every worker's loss put on its rows.

    torch.distributed.all_gather is not differentiable: the gathered copies are constants, so a worker's
    embeddings would receive gradient only from its own loss. Backward sums the gradient of the gathered
    tensor over workers (all_reduce, available on every backend) and returns this worker's slice.
    """

    @staticmethod
    def forward(ctx, tensor, group):
        ctx.group = group
        gathered = [torch.empty_like(tensor) for _ in range(dist.get_world_size(group=group))]
        dist.all_gather(gathered, tensor.contiguous(), group=group)
        return tuple(gathered)

    @staticmethod
    def backward(ctx, *grads):
        stacked = torch.stack(grads)
        dist.all_reduce(stacked, op=dist.ReduceOp.SUM, group=ctx.group)
        return stacked[dist.get_rank(group=ctx.group)], None


def gather_with_grad(x: torch.Tensor, group=None):
    """Concatenate x (N_r x D, N_r may differ between workers) from every worker in rank order.

    Returns (gathered, offset): offset is where this worker's rows start in gathered. With one worker
    (or no process group) this is (x, 0).
    """
    if _world(group) == 1:
        return x, 0
    rank = dist.get_rank(group=group)
    size = torch.tensor([x.size(0)], device=x.device, dtype=torch.long)
    sizes = [torch.zeros_like(size) for _ in range(_world(group))]
    dist.all_gather(sizes, size, group=group)
    sizes = [int(s.item()) for s in sizes]
    padded = F.pad(x, (0, 0, 0, max(sizes) - x.size(0)))  # all_gather needs equal shapes
    parts = _AllGatherWithGrad.apply(padded, group)
    gathered = torch.cat([part[:n] for part, n in zip(parts, sizes)])
    return gathered, sum(sizes[:rank])


def nt_xent(
    z_a: torch.Tensor,
    z_b: torch.Tensor,
    temperature: float,
    group: Optional[object] = None,
    extra_negatives: Optional[torch.Tensor] = None,
) -> NTXentResult:
    """Symmetric NT-Xent of the pairs (z_a[i], z_b[i]) against all views on all workers.

    z_a, z_b: N x D projections of the two sides of N translation pairs (any float dtype). Similarities
    are computed in at least float32 so that fp16/bf16 training cannot overflow exp(sim / tau).
    extra_negatives: K x D embeddings that are nobody's positive (a queue of earlier batches' keys); they
    widen every view's candidates and receive no gradient.
    """
    if z_a.shape != z_b.shape:
        raise ValueError(f"the two views must have the same shape, got {tuple(z_a.shape)} and {tuple(z_b.shape)}")
    dtype = torch.promote_types(z_a.dtype, torch.float32)  # at least float32 (float64 stays float64)
    z_a = F.normalize(z_a.to(dtype), dim=-1)
    z_b = F.normalize(z_b.to(dtype), dim=-1)
    all_a, offset = gather_with_grad(z_a, group)
    all_b, _ = gather_with_grad(z_b, group)
    return nt_xent_gathered(z_a, z_b, all_a, all_b, offset, temperature, extra_negatives)


def nt_xent_gathered(
    z_a: torch.Tensor,
    z_b: torch.Tensor,
    all_a: torch.Tensor,
    all_b: torch.Tensor,
    offset: int,
    temperature: float,
    extra_negatives: Optional[torch.Tensor] = None,
) -> NTXentResult:
    """NT-Xent of this worker's pairs once every worker's views are gathered.

    z_a, z_b: N x D unit-length views of this worker, which are rows offset..offset+N of all_a, all_b
    (M x D, every worker's views in rank order, as gather_with_grad returns them).
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    n, m = z_a.size(0), all_a.size(0)
    queries = torch.cat([z_a, z_b])  # 2N x D: this worker's views
    candidates = [all_a, all_b]  # 2M x D: every worker's views
    if extra_negatives is not None and len(extra_negatives):
        candidates.append(F.normalize(extra_negatives.detach().to(z_a.dtype), dim=-1))
    candidates = torch.cat(candidates)
    logits = queries @ candidates.t() / temperature

    own = torch.arange(n, device=logits.device) + offset
    self_cols = torch.cat([own, own + m])
    positive_cols = torch.cat([own + m, own])  # a_i <-> b_i, and nothing else
    rows = torch.arange(2 * n, device=logits.device)
    logits = logits.index_put((rows, self_cols), logits.new_tensor(float("-inf")))

    loss = F.cross_entropy(logits, positive_cols, reduction="sum")
    correct = (logits.detach().argmax(dim=-1) == positive_cols).sum()
    return NTXentResult(loss=loss, correct=correct, views=2 * n)
