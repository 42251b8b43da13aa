"""NT-Xent (the SimCLR loss) over translation pairs, with negatives from every data-parallel worker.

Plain torch, independent of fairseq, so it can be tested on its own.

A batch of N translation pairs gives 2N views: a_1..a_N and b_1..b_N. The positive of a_i is exactly
b_i and the positive of b_i is exactly a_i; every other view, on this worker or any other, is a
negative. Each view is a query against all 2M gathered views but itself (M pairs on all workers):

    loss(q) = -log( exp(sim(q, pos(q)) / tau) / sum_{k != q} exp(sim(q, k) / tau) )

with cosine similarity. Each worker sums the loss over its own 2N views, so the sum over workers equals
the loss of one process holding the concatenated batch.

False negatives: given sentence ids (a hash of each view's tokens), a candidate k whose id equals q's own
or its positive's is the same sentence as one of them (a pair drawn twice, or one English sentence that a
multi-parallel corpus pairs with several languages). It is left out of q's denominator, as q itself is:
pushing a sentence away from itself teaches nothing.
"""

from dataclasses import dataclass
from typing import NamedTuple, Optional, Tuple, Union

import torch
import torch.distributed as dist
import torch.nn.functional as F


@dataclass
class NTXentResult:
    loss: torch.Tensor  # summed over this worker's 2N views, float32
    correct: torch.Tensor  # how many of those views rank their translation first
    views: int  # 2N
    temperature: Union[float, torch.Tensor]  # the temperature used (fixed, or the learned one's value, detached)
    masked: int = 0  # negatives left out of the denominators as the same sentence as the query or its positive


class SentenceIds(NamedTuple):
    """The sentence ids of the views in the layout of nt_xent_gathered: this worker's two sides, every worker's
    (gathered, in rank order), and those of the extra negatives (None: they have none)."""

    a: torch.Tensor
    b: torch.Tensor
    all_a: torch.Tensor
    all_b: torch.Tensor
    extra: Optional[torch.Tensor]


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


def _gather_padded(x: torch.Tensor, group, differentiable: bool):
    """Every worker's x (rows may differ in number), concatenated in rank order, and this worker's offset."""
    if _world(group) == 1:
        return x, 0
    rank = dist.get_rank(group=group)
    size = torch.tensor([x.size(0)], device=x.device, dtype=torch.long)
    sizes = [torch.zeros_like(size) for _ in range(_world(group))]
    dist.all_gather(sizes, size, group=group)
    sizes = [int(s.item()) for s in sizes]
    padding = [0, 0] * (x.dim() - 1) + [0, max(sizes) - x.size(0)]
    padded = F.pad(x, padding).contiguous()  # all_gather needs equal shapes
    if differentiable:
        parts = _AllGatherWithGrad.apply(padded, group)
    else:
        parts = [torch.empty_like(padded) for _ in sizes]
        dist.all_gather(parts, padded, group=group)
    gathered = torch.cat([part[:n] for part, n in zip(parts, sizes)])
    return gathered, sum(sizes[:rank])


def gather_with_grad(x: torch.Tensor, group=None):
    """Concatenate x (N_r x D, N_r may differ between workers) from every worker in rank order.

    Returns (gathered, offset): offset is where this worker's rows start in gathered. With one worker
    (or no process group) this is (x, 0).
    """
    return _gather_padded(x, group, differentiable=True)


def gather_rows(x: torch.Tensor, group=None) -> torch.Tensor:
    """As gather_with_grad for tensors that take no gradient (ids): every worker's rows, in rank order."""
    return _gather_padded(x, group, differentiable=False)[0]


def nt_xent(
    z_a: torch.Tensor,
    z_b: torch.Tensor,
    temperature: Union[float, torch.Tensor],
    group: Optional[object] = None,
    extra_negatives: Optional[torch.Tensor] = None,
    sentence_ids: Optional[Tuple[torch.Tensor, torch.Tensor]] = None,
    extra_ids: Optional[torch.Tensor] = None,
) -> NTXentResult:
    """Symmetric NT-Xent of the pairs (z_a[i], z_b[i]) against all views on all workers.

    z_a, z_b: N x D projections of the two sides of N translation pairs (any float dtype). Similarities
    are computed in at least float32 so that fp16/bf16 training cannot overflow exp(sim / tau).
    extra_negatives: K x D embeddings that are nobody's positive (a queue of earlier batches' keys); they
    widen every view's candidates and receive no gradient.
    sentence_ids: (ids_a, ids_b), N each, the ids of the two sides' sentences (and extra_ids, K, those of
    extra_negatives): candidates that are the same sentence as a query or its positive are left out of that
    query's denominator. None: every other view is a negative.
    """
    if z_a.shape != z_b.shape:
        raise ValueError(f"the two views must have the same shape, got {tuple(z_a.shape)} and {tuple(z_b.shape)}")
    dtype = torch.promote_types(z_a.dtype, torch.float32)  # at least float32 (float64 stays float64)
    z_a = F.normalize(z_a.to(dtype), dim=-1)
    z_b = F.normalize(z_b.to(dtype), dim=-1)
    all_a, offset = gather_with_grad(z_a, group)
    all_b, _ = gather_with_grad(z_b, group)
    ids = None
    if sentence_ids is not None:
        ids_a, ids_b = sentence_ids
        ids = SentenceIds(ids_a, ids_b, gather_rows(ids_a, group), gather_rows(ids_b, group), extra_ids)
    return nt_xent_gathered(z_a, z_b, all_a, all_b, offset, temperature, extra_negatives, ids)


def nt_xent_gathered(
    z_a: torch.Tensor,
    z_b: torch.Tensor,
    all_a: torch.Tensor,
    all_b: torch.Tensor,
    offset: int,
    temperature: Union[float, torch.Tensor],
    extra_negatives: Optional[torch.Tensor] = None,
    ids: Optional[SentenceIds] = None,
) -> NTXentResult:
    """NT-Xent of this worker's pairs once every worker's views are gathered.

    z_a, z_b: N x D unit-length views of this worker, which are rows offset..offset+N of all_a, all_b
    (M x D, every worker's views in rank order, as gather_with_grad returns them).
    ids: None, or the views' SentenceIds.
    temperature: a float, or a tensor (a learned temperature, positive by construction: not checked here, as
    that would wait for the device every step).
    """
    if not torch.is_tensor(temperature) and temperature <= 0:
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
    masked = 0
    if ids is not None:
        same = same_sentence(ids, m, candidates.size(0), rows, self_cols, positive_cols)
        logits = logits.masked_fill(same, float("-inf"))
        masked = same.sum()

    if n == 0:  # a worker with no pairs (fairseq's dummy batch): no loss, still a part of the graph and its gathers
        loss, correct = logits.sum(), logits.new_zeros((), dtype=torch.long)
    else:
        loss = F.cross_entropy(logits, positive_cols, reduction="sum")
        correct = (logits.detach().argmax(dim=-1) == positive_cols).sum()
    logged = temperature.detach() if torch.is_tensor(temperature) else float(temperature)  # no device sync
    return NTXentResult(loss=loss, correct=correct, views=2 * n, temperature=logged, masked=masked)


def same_sentence(ids, m, width, rows, self_cols, positive_cols) -> torch.Tensor:
    """2N x width: True where a candidate (neither the query itself nor its positive) has the id of the query's
    sentence or of its positive's. Candidates without an id (extra negatives given without ids) are kept."""
    ids_a, ids_b, all_a, all_b, extra = ids.a, ids.b, ids.all_a, ids.all_b, ids.extra
    known = torch.cat([all_a, all_b] + ([extra] if extra is not None and width > 2 * m else []))
    own, positive = torch.cat([ids_a, ids_b]), torch.cat([ids_b, ids_a])
    same = (known.unsqueeze(0) == own.unsqueeze(1)) | (known.unsqueeze(0) == positive.unsqueeze(1))
    same[rows, self_cols] = False
    same[rows, positive_cols] = False
    if known.size(0) < width:  # extra negatives without ids
        same = torch.cat([same, same.new_zeros(same.size(0), width - known.size(0))], dim=1)
    return same
