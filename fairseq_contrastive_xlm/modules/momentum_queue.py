"""Negatives beyond the batch for NT-Xent: a queue of earlier batches' views, encoded by a momentum encoder
(MoCo; InfoXLM's cross-lingual contrast uses the same device). As MoCo's builder, one class owns the
momentum encoder, the queue, the enqueue and the momentum update; the model's forward reads and fills it in
that order (snapshot, then enqueue), and the task triggers the update after each optimizer step.

In-batch negatives cost activation memory for every sentence; a queue entry costs one projection vector
(ntxent_proj_dim floats), so 65,536 negatives take 32 MB at 128 dimensions. The queue's entries must come from
an encoder that changes slowly, or old entries would no longer be comparable with new queries: the momentum
encoder's weights follow the model's as an exponential moving average, updated after every optimizer step.

It lives outside the model's module tree on purpose: it stays in float32 when the model is converted to
fp16 (an EMA step of (1 - momentum) = 0.001 is below fp16 resolution), DistributedDataParallel does not
synchronise it (every worker pushes the same gathered keys and applies the same update). Checkpoints carry
it all the same (state_dict/load_state_dict, which the model adds to its own under "ntxent_queue."), so that a
resumed run continues the run it resumes. The positives stay exactly the in-batch translation pairs. Each key
keeps its sentence's id beside it, so that NT-Xent can leave out a queued key that is the query's own sentence.
"""

import copy
from typing import Dict

import torch
import torch.nn as nn

from ..losses import gather_rows
from .sentence_encoder import encode_and_pool

# The id of a key whose sentence is not known: equals a real sentence's id with probability 2^-64.
NO_ID = -(2**63)


class MomentumQueue:
    """online: the modules the momentum encoder copies and follows, (sentence encoder, projection head). The model
    builds it with its own settings (--ntxent-queue-size, --ntxent-momentum, and its pooling and layer, so that
    keys are pooled as the queries are)."""

    def __init__(self, size: int, momentum: float, pooling: str, layer: int):
        if size <= 0 or not 0.0 <= momentum < 1.0:
            raise ValueError(f"queue size must be > 0 and momentum in [0, 1), got {size} and {momentum}")
        self.size = size
        self.momentum = momentum
        self.pooling = pooling
        self.layer = layer
        self.encoder = None  # ModuleList(sentence encoder, projection head), copied from online at first use
        self.keys = None
        self.ids = None  # the sentence id of every key (data/collate.sentence_id)
        self.next = 0  # where the next key goes (a ring buffer)
        self.filled = 0

    def _start(self, online: nn.ModuleList):
        device = next(online.parameters()).device
        self.encoder = copy.deepcopy(online).float().to(device).eval()
        for parameter in self.encoder.parameters():
            parameter.requires_grad_(False)

    @torch.no_grad()
    def encode(self, online: nn.ModuleList, src_tokens, **inputs) -> torch.Tensor:
        """Projections of the views (one a row, or packed) by the momentum encoder (float32, no gradient)."""
        if self.encoder is None:
            self._start(online)
        sentence_encoder, head = self.encoder
        features = encode_and_pool(sentence_encoder, src_tokens, self.pooling, self.layer, **inputs)[0]
        return head(features.float())

    @torch.no_grad()
    def enqueue(self, online: nn.ModuleList, sentence_ids: torch.Tensor, group=None, pairs=None, **net_input):
        """Encode the views (rows: the pairs' a sides, then their b sides, whose sentence ids are sentence_ids) with
        the momentum encoder and push every worker's keys, gathered side by side: all a sides, then all b sides,
        the order in which one process holding every worker's pairs would push them, so that the queue does not
        depend on the number of workers. pairs=0: this worker pushes nothing (fairseq's dummy batch), yet takes
        part in the gathers."""
        keys = self.encode(online, **net_input)
        total = keys.size(0) // 2
        pairs = total if pairs is None else pairs
        sides = [
            (keys[:pairs], sentence_ids[:pairs]),
            (keys[total : total + pairs], sentence_ids[total : total + pairs]),
        ]
        self.push(
            torch.cat([gather_rows(side, group) for side, _ in sides]),
            torch.cat([gather_rows(ids, group) for _, ids in sides]),
        )

    def negatives(self):
        return None if self.keys is None else self.keys[: self.filled]

    def negative_ids(self):
        return None if self.ids is None else self.ids[: self.filled]

    def snapshot(self):
        """(keys, their sentence ids) as they are now, copied: the enqueue that follows writes the ring in place,
        and the loss's backward still needs the keys it compared with. (None, None) before the first push."""
        if self.keys is None:
            return None, None
        return self.negatives().clone(), self.negative_ids().clone()

    @torch.no_grad()
    def push(self, keys: torch.Tensor, ids: torch.Tensor):
        """Add keys and their sentence ids (oldest out first). Every worker pushes the same gathered keys, so
        queues stay equal."""
        keys, ids = keys.detach().float()[-self.size :], ids[-self.size :]
        if self.keys is None:
            self.keys = keys.new_zeros(self.size, keys.size(1))
            self.ids = torch.full((self.size,), NO_ID, dtype=torch.long, device=keys.device)
        end = self.next + len(keys)
        if end <= self.size:
            self.keys[self.next : end] = keys
            self.ids[self.next : end] = ids
        else:
            split = self.size - self.next
            self.keys[self.next :] = keys[:split]
            self.keys[: end - self.size] = keys[split:]
            self.ids[self.next :] = ids[:split]
            self.ids[: end - self.size] = ids[split:]
        self.next = end % self.size
        self.filled = min(self.size, self.filled + len(keys))

    def state_dict(self) -> Dict[str, torch.Tensor]:
        """The momentum encoder's weights ("encoder.*"), the keys and the ring's position; empty before first use."""
        if self.encoder is None or self.keys is None:
            return {}
        state = {f"encoder.{name}": value for name, value in self.encoder.state_dict().items()}
        state["keys"] = self.keys
        state["ids"] = self.ids
        state["next"] = torch.tensor(self.next)
        state["filled"] = torch.tensor(self.filled)
        return state

    @torch.no_grad()
    def load_state_dict(self, state: Dict[str, torch.Tensor], online: nn.ModuleList):
        """Restore what state_dict saved. An empty state, or a queue of another size (the size was changed when
        continuing), restarts: the momentum encoder copies online at first use. Returns whether it was restored."""
        self.encoder, self.keys, self.ids, self.next, self.filled = None, None, None, 0, 0
        if not state or state["keys"].size(0) != self.size:
            return False
        self._start(online)
        encoder = {name[len("encoder.") :]: value for name, value in state.items() if name.startswith("encoder.")}
        self.encoder.load_state_dict(encoder)
        device = next(online.parameters()).device
        self.keys = state["keys"].to(device=device, dtype=torch.float32)
        # A queue saved before keys kept their sentence ids: none of its keys is masked as a duplicate.
        self.ids = state["ids"].to(device) if "ids" in state else torch.full((self.size,), NO_ID, device=device)
        self.next, self.filled = int(state["next"]), int(state["filled"])
        return True

    @torch.no_grad()
    def update(self, online: nn.ModuleList):
        """momentum * momentum weights + (1 - momentum) * online weights, after an optimizer step."""
        if self.encoder is None:
            return
        for slow, fast in zip(self.encoder.parameters(), online.parameters()):
            slow.mul_(self.momentum).add_(fast.detach().float(), alpha=1.0 - self.momentum)
